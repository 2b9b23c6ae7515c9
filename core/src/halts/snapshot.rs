//! The stops in force as a worker holds them: to check each send it starts, and to
//! keep the deliveries of a stopped channel instance out of its claims.

use std::collections::HashMap;
use std::fmt::Write;

use herald_channels::PluginKind;
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};

use super::HaltScope;
use crate::channel::ChannelKind;
use crate::entities::{channel_instance, halt};
use crate::error::Result;

/// The stops in force when they were loaded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Halts {
    ids: Vec<i64>,
    /// Why everything is stopped.
    all: Option<String>,
    /// Why each stopped campaign is stopped.
    campaigns: HashMap<i64, String>,
    /// Why each stopped channel instance is stopped, by name.
    instances: HashMap<String, String>,
    /// SQL that is true for a due delivery routed through a stopped instance.
    routed_to_stopped: Option<String>,
}

impl Halts {
    pub async fn load(conn: &impl ConnectionTrait) -> Result<Self> {
        let stops = halt::Entity::find()
            .order_by_asc(halt::Column::Id)
            .all(conn)
            .await?;
        let mut halts = Halts::default();
        if stops.is_empty() {
            return Ok(halts);
        }
        let instances = channel_instance::Entity::find()
            .order_by_asc(channel_instance::Column::Name)
            .all(conn)
            .await?;
        let mut stopped = Vec::new();
        for stop in stops {
            halts.ids.push(stop.id);
            let why = |what: &str| format!("stopped by the kill switch ({what}): {}", stop.reason);
            match HaltScope::parse(&stop.scope) {
                Some(HaltScope::All) | None => halts.all = Some(why("all sending")),
                Some(HaltScope::Campaign) => {
                    halts
                        .campaigns
                        .insert(stop.target_id, why(&format!("campaign {}", stop.target_id)));
                }
                Some(HaltScope::Channel) => {
                    if let Some(instance) = instances.iter().find(|i| i.id == stop.target_id) {
                        let reason = why(&format!("channel {}", instance.name));
                        halts.instances.insert(instance.name.clone(), reason);
                        stopped.push(instance);
                    }
                }
            }
        }
        halts.routed_to_stopped = routed_to(&stopped, &instances);
        Ok(halts)
    }

    /// The stops' ids, oldest first: two snapshots with the same ids hold the same stops.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// How many stops are in force, by scope (`all`, `channel`, `campaign`).
    pub fn counts(&self) -> [(&'static str, usize); 3] {
        [
            ("all", usize::from(self.all.is_some())),
            ("channel", self.instances.len()),
            ("campaign", self.campaigns.len()),
        ]
    }

    /// Why all sending is stopped, if it is.
    pub fn everything(&self) -> Option<&str> {
        self.all.as_deref()
    }

    /// Why a send of `campaign` (none: a transactional message) through channel instance
    /// `instance` (none: the inbox) must wait, if it must.
    pub fn stops(&self, campaign: Option<i64>, instance: Option<&str>) -> Option<&str> {
        self.all
            .as_deref()
            .or_else(|| campaign.and_then(|id| self.campaigns.get(&id).map(String::as_str)))
            .or_else(|| instance.and_then(|name| self.instances.get(name).map(String::as_str)))
    }

    /// A condition for a claim's `WHERE` over `deliveries` that leaves out deliveries
    /// routed through a stopped channel instance (empty when none is stopped), so they
    /// wait in place instead of being claimed and handed back round after round.
    pub fn claim_filter(&self) -> String {
        self.routed_to_stopped
            .as_ref()
            .map(|routed| format!(" AND NOT ({routed})"))
            .unwrap_or_default()
    }
}

/// SQL true for a delivery that goes through one of `stopped`: a delivery goes through
/// the instance its message chose for the kind, or else the first enabled one by name
/// (as the worker's routes pick it).
fn routed_to(
    stopped: &[&channel_instance::Model],
    instances: &[channel_instance::Model],
) -> Option<String> {
    let mut any = Vec::new();
    for instance in stopped {
        let Some(kind) = PluginKind::parse(&instance.kind) else {
            continue;
        };
        let channel = ChannelKind::of_plugin(kind);
        let same_kind: Vec<&str> = instances
            .iter()
            .filter(|i| i.kind == instance.kind)
            .map(|i| i.name.as_str())
            .collect();
        let is_default = instances
            .iter()
            .find(|i| i.kind == instance.kind && i.enabled)
            .is_some_and(|first| first.id == instance.id);
        let mut condition = format!("deliveries.channel = {}", literal(channel.as_str()));
        if channel == ChannelKind::Push {
            let _ = write!(
                condition,
                " AND EXISTS (SELECT 1 FROM subscriber_endpoints he \
                 WHERE he.id = deliveries.endpoint_id AND he.provider = {})",
                literal(&instance.kind)
            );
        }
        let chose = |name: &str| {
            format!(
                "COALESCE(CAST(hm.instances AS TEXT), '') LIKE {}",
                literal(&format!("%\"{name}\"%"))
            )
        };
        let others: Vec<String> = same_kind
            .iter()
            .filter(|name| **name != instance.name)
            .map(|name| chose(name))
            .collect();
        let routed = match (is_default, others.is_empty()) {
            // The only instance of its kind: every delivery of the kind goes through it.
            (true, true) => None,
            (true, false) => Some(format!(
                "{} OR NOT ({})",
                chose(&instance.name),
                others.join(" OR ")
            )),
            (false, _) => Some(chose(&instance.name)),
        };
        if let Some(routed) = routed {
            let _ = write!(
                condition,
                " AND EXISTS (SELECT 1 FROM messages hm \
                 WHERE hm.id = deliveries.message_id AND ({routed}))"
            );
        }
        any.push(format!("({condition})"));
    }
    (!any.is_empty()).then(|| any.join(" OR "))
}

/// `text` as an SQL string literal. Instance names and kinds are lower-case letters,
/// digits and dashes; quotes are doubled anyway.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(id: i64, name: &str, kind: &str, enabled: bool) -> channel_instance::Model {
        channel_instance::Model {
            id,
            name: name.to_owned(),
            kind: kind.to_owned(),
            enabled,
            settings: serde_json::json!({}),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn the_only_instance_of_its_kind_holds_its_whole_channel() {
        let hooks = instance(1, "hooks", "webhook", true);
        let all = [hooks.clone(), instance(2, "mail", "smtp", true)];
        assert_eq!(
            routed_to(&[&hooks], &all).as_deref(),
            Some("(deliveries.channel = 'webhook')")
        );
    }

    #[test]
    fn a_default_instance_holds_what_chose_it_or_chose_no_other() {
        let a = instance(1, "a-hooks", "webhook", true);
        let b = instance(2, "b-hooks", "webhook", true);
        let sql = routed_to(&[&a], &[a.clone(), b.clone()]).expect("a condition");
        assert!(sql.contains(r#"LIKE '%"a-hooks"%' OR NOT (COALESCE(CAST(hm.instances AS TEXT), '') LIKE '%"b-hooks"%')"#), "{sql}");
        let sql = routed_to(&[&b], &[a, b.clone()]).expect("a condition");
        assert!(
            sql.contains(r#"LIKE '%"b-hooks"%'))"#) && !sql.contains("NOT"),
            "{sql}"
        );
    }

    #[test]
    fn a_push_provider_holds_only_its_own_devices() {
        let fcm = instance(1, "fcm", "fcm", true);
        let sql = routed_to(&[&fcm], &[fcm.clone(), instance(2, "apns", "apns", true)])
            .expect("a condition");
        assert!(
            sql.contains("deliveries.channel = 'push' AND EXISTS"),
            "{sql}"
        );
        assert!(sql.contains("he.provider = 'fcm'"), "{sql}");
    }
}
