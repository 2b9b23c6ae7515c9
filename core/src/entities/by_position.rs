//! Subscribers and endpoints read on the delivery path, by column position.
//!
//! sea-orm finds every column of a row by name and formats an error text for each NULL
//! it meets, which an optional field then throws away. For the thousand subscribers
//! and endpoints of a page that was about 6% of a sending worker's CPU (profiled during
//! `bench/deliver`). On Postgres these rows are read by position instead, from a select
//! that names its columns in the order the decoder reads them; SQLite rows go through
//! sea-orm as before.

use sea_orm::sqlx::Row;
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QuerySelect, QueryTrait};

use super::{subscriber, subscriber_endpoint};

/// A model read from a Postgres row by the position of its columns.
pub trait ByPosition: FromQueryResult + Sized {
    type Entity: EntityTrait;
    /// The columns selected, in the order [`ByPosition::from_pg_row`] reads them.
    const COLUMNS: &'static [<Self::Entity as EntityTrait>::Column];
    fn from_pg_row(row: &PgRow) -> Result<Self, sea_orm::sqlx::Error>;
}

/// Every row `select` finds, as `M`.
pub async fn all_by_position<M: ByPosition>(
    conn: &impl ConnectionTrait,
    select: sea_orm::Select<M::Entity>,
) -> Result<Vec<M>, DbErr> {
    let statement = select
        .select_only()
        .columns(M::COLUMNS.iter().copied())
        .build(conn.get_database_backend());
    // Each row is dropped once decoded: a page's rows and its models never all
    // coexist.
    let rows = conn.query_all_raw(statement).await?;
    rows.into_iter()
        .map(|row| match row.try_as_pg_row() {
            Some(pg) => M::from_pg_row(pg).map_err(|e| DbErr::Type(e.to_string())),
            None => M::from_query_result(&row, ""),
        })
        .collect()
}

impl ByPosition for subscriber::Model {
    type Entity = subscriber::Entity;
    const COLUMNS: &'static [subscriber::Column] = &[
        subscriber::Column::Id,
        subscriber::Column::ExternalId,
        subscriber::Column::Email,
        subscriber::Column::Phone,
        subscriber::Column::Timezone,
        subscriber::Column::Locale,
        subscriber::Column::Tags,
        subscriber::Column::Attributes,
        subscriber::Column::CreatedAt,
        subscriber::Column::UpdatedAt,
        subscriber::Column::TokensRevokedBefore,
    ];

    fn from_pg_row(row: &PgRow) -> Result<Self, sea_orm::sqlx::Error> {
        Ok(Self {
            id: row.try_get(0)?,
            external_id: row.try_get(1)?,
            email: row.try_get(2)?,
            phone: row.try_get(3)?,
            timezone: row.try_get(4)?,
            locale: row.try_get(5)?,
            tags: row.try_get(6)?,
            attributes: row.try_get(7)?,
            created_at: row.try_get(8)?,
            updated_at: row.try_get(9)?,
            tokens_revoked_before: row.try_get(10)?,
        })
    }
}

impl ByPosition for subscriber_endpoint::Model {
    type Entity = subscriber_endpoint::Entity;
    const COLUMNS: &'static [subscriber_endpoint::Column] = &[
        subscriber_endpoint::Column::Id,
        subscriber_endpoint::Column::SubscriberId,
        subscriber_endpoint::Column::Channel,
        subscriber_endpoint::Column::Provider,
        subscriber_endpoint::Column::Address,
        subscriber_endpoint::Column::Enabled,
        subscriber_endpoint::Column::DisabledReason,
        subscriber_endpoint::Column::CreatedAt,
        subscriber_endpoint::Column::UpdatedAt,
    ];

    fn from_pg_row(row: &PgRow) -> Result<Self, sea_orm::sqlx::Error> {
        Ok(Self {
            id: row.try_get(0)?,
            subscriber_id: row.try_get(1)?,
            channel: row.try_get(2)?,
            provider: row.try_get(3)?,
            address: row.try_get(4)?,
            enabled: row.try_get(5)?,
            disabled_reason: row.try_get(6)?,
            created_at: row.try_get(7)?,
            updated_at: row.try_get(8)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::Iterable;

    use super::*;

    fn names<C: sea_orm::IdenStatic>(columns: impl IntoIterator<Item = C>) -> Vec<&'static str> {
        columns.into_iter().map(|c| c.as_str()).collect()
    }

    /// A column added to either table must be added to its decoder too.
    #[test]
    fn every_column_is_read() {
        assert_eq!(
            names(subscriber::Column::iter()),
            names(subscriber::Model::COLUMNS.iter().copied())
        );
        assert_eq!(
            names(subscriber_endpoint::Column::iter()),
            names(subscriber_endpoint::Model::COLUMNS.iter().copied())
        );
    }
}
