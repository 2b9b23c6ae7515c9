//! An inbox item as the bus carries it to open connections: one allocation shared by
//! every connection it reaches, with its JSON encoded once, by the first connection
//! that writes it. A broadcast to 10,000 connections then serialises its item once.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::store::InboxItem;

#[derive(Debug)]
struct Shared {
    item: InboxItem,
    json: OnceLock<String>,
}

/// A shared, lazily encoded [`InboxItem`]; reads as the item itself.
#[derive(Debug, Clone)]
pub struct Announced(Arc<Shared>);

impl Announced {
    pub fn new(item: InboxItem) -> Self {
        Self(Arc::new(Shared {
            item,
            json: OnceLock::new(),
        }))
    }

    /// The item as JSON, encoded on first use.
    pub fn json(&self) -> &str {
        self.0
            .json
            .get_or_init(|| serde_json::to_string(&self.0.item).unwrap_or_default())
    }
}

impl From<InboxItem> for Announced {
    fn from(item: InboxItem) -> Self {
        Self::new(item)
    }
}

impl std::ops::Deref for Announced {
    type Target = InboxItem;

    fn deref(&self) -> &InboxItem {
        &self.0.item
    }
}

impl PartialEq for Announced {
    fn eq(&self, other: &Self) -> bool {
        self.0.item == other.0.item
    }
}

impl Eq for Announced {}

impl Serialize for Announced {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.item.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Announced {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        InboxItem::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_encoding_that_matches_the_item() {
        let item = InboxItem {
            id: 7,
            category: "news".to_owned(),
            title: "Sale \"now\"".to_owned(),
            body: "Half price".to_owned(),
            data: serde_json::json!({ "link": "/sale" }),
            created_at: chrono::Utc::now(),
            read_at: None,
            archived_at: None,
            recalled_at: None,
        };
        let announced = Announced::new(item.clone());
        let copy = announced.clone();
        assert_eq!(announced.json(), serde_json::to_string(&item).unwrap());
        assert!(std::ptr::eq(announced.json(), copy.json()), "encoded once");
        assert_eq!(
            serde_json::to_string(&copy).unwrap(),
            announced.json(),
            "serialises as the item"
        );
        assert_eq!(copy.title, "Sale \"now\"");
    }
}
