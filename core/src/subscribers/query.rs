//! Listing subscribers with filters, evaluated in SQL on both databases.

use sea_orm::sea_query::{Condition, Expr, LikeExpr, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::audiences::sql::{Dialect, has_tag};
use crate::db::is_postgres;
use crate::entities::subscriber::{self, Column};
use crate::error::Result;

#[derive(Debug, Default, Clone)]
pub struct SubscriberFilter {
    /// Subscribers carrying this tag.
    pub tag: Option<String>,
    /// Subscribers whose attribute `key` equals `value` (compared as text).
    pub attribute: Option<(String, String)>,
    pub timezone: Option<String>,
    /// Subscribers whose external id or email starts with this text.
    pub search: Option<String>,
}

/// `LIKE 'text%'` with the pattern characters of `text` taken literally.
fn starts_with(text: &str) -> LikeExpr {
    LikeExpr::new(format!("{}%", crate::listing::like_literal(text))).escape('\\')
}

/// `key` is an identifier (checked by the caller), so it is safe inside a JSON path.
fn attribute_equals(postgres: bool, key: &str, value: &str) -> SimpleExpr {
    if postgres {
        Expr::cust_with_values(
            "subscribers.attributes ->> $1 = $2",
            [key.to_owned(), value.to_owned()],
        )
    } else {
        // Text form as Postgres' ->> gives it: booleans read true/false, not 1/0.
        let path = format!("$.{key}");
        Expr::cust_with_values(
            "(CASE json_type(subscribers.attributes, ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
             ELSE CAST(json_extract(subscribers.attributes, ?) AS TEXT) END) = ?",
            [path.clone(), path, value.to_owned()],
        )
    }
}

/// One page in id order; `after_id` is the cursor (the last id of the previous page).
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &SubscriberFilter,
    after_id: Option<i64>,
    limit: u64,
) -> Result<Vec<subscriber::Model>> {
    let postgres = is_postgres(conn);
    let mut query = subscriber::Entity::find();
    if let Some(tag) = &filter.tag {
        query = query.filter(has_tag(tag, Dialect::of(conn)));
    }
    if let Some((key, value)) = &filter.attribute {
        query = query.filter(attribute_equals(postgres, key, value));
    }
    if let Some(zone) = &filter.timezone {
        query = query.filter(Column::Timezone.eq(zone.as_str()));
    }
    if let Some(text) = &filter.search {
        query = query.filter(
            Condition::any()
                .add(Column::ExternalId.like(starts_with(text)))
                .add(Column::Email.like(starts_with(text))),
        );
    }
    if let Some(id) = after_id {
        query = query.filter(Column::Id.gt(id));
    }
    Ok(query
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}
