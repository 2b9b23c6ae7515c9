//! Subscribers, recipients and endpoints read on the delivery path, by column position.
//!
//! sea-orm finds every column of a row by name and formats an error text for each NULL
//! it meets, which an optional field then throws away. For the thousand subscribers
//! and endpoints of a page that was about 6% of a sending worker's CPU (profiled during
//! `bench/deliver`), and reading a thousand recipients by name was a fifth of a SQLite
//! API batch's work for a broadcast. These rows are read by position instead, from a
//! select that names its columns in the order the decoder reads them.

use sea_orm::sqlx::Row;
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::sqlx::sqlite::SqliteRow;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QuerySelect, QueryTrait};

use super::{subscriber, subscriber_endpoint};
use crate::rules::engine::Recipient;

/// A model read from a row by the position of its columns.
pub trait ByPosition: FromQueryResult + Sized {
    type Entity: EntityTrait;
    /// The columns selected, in the order the decoders read them.
    const COLUMNS: &'static [<Self::Entity as EntityTrait>::Column];
    fn from_pg_row(row: &PgRow) -> Result<Self, sea_orm::sqlx::Error>;
    fn from_sqlite_row(row: &SqliteRow) -> Result<Self, sea_orm::sqlx::Error>;
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
    let decoded = |row: &sea_orm::QueryResult| {
        if let Some(pg) = row.try_as_pg_row() {
            M::from_pg_row(pg).map_err(|e| DbErr::Type(e.to_string()))
        } else if let Some(lite) = row.try_as_sqlite_row() {
            M::from_sqlite_row(lite).map_err(|e| DbErr::Type(e.to_string()))
        } else {
            M::from_query_result(row, "")
        }
    };
    rows.into_iter().map(|row| decoded(&row)).collect()
}

/// Implements [`ByPosition`] for an entity's model from one list of its fields and
/// columns, so the select and the decoder cannot disagree on the order.
macro_rules! by_position {
    // The model from `row`'s columns in the list's order (struct fields are evaluated
    // in the order written), for either database's row type.
    (@decode $row:ident; $($field:ident),+) => {{
        let mut position = 0_usize..;
        Ok(Self {
            $($field: $row.try_get(position.next().unwrap_or_default())?),+
        })
    }};
    ($entity:ident { $($field:ident: $column:ident),+ $(,)? }) => {
        by_position!($entity::Model: $entity { $($field: $column),+ });
    };
    ($model:ty: $entity:ident { $($field:ident: $column:ident),+ $(,)? }) => {
        impl ByPosition for $model {
            type Entity = $entity::Entity;
            const COLUMNS: &'static [$entity::Column] = &[$($entity::Column::$column),+];

            fn from_pg_row(row: &PgRow) -> Result<Self, sea_orm::sqlx::Error> {
                by_position!(@decode row; $($field),+)
            }

            fn from_sqlite_row(row: &SqliteRow) -> Result<Self, sea_orm::sqlx::Error> {
                by_position!(@decode row; $($field),+)
            }
        }
    };
}

by_position!(subscriber {
    id: Id,
    external_id: ExternalId,
    email: Email,
    phone: Phone,
    timezone: Timezone,
    locale: Locale,
    tags: Tags,
    attributes: Attributes,
    created_at: CreatedAt,
    updated_at: UpdatedAt,
    tokens_revoked_before: TokensRevokedBefore,
});

// What the rules read of a recipient.
by_position!(Recipient: subscriber {
    id: Id,
    external_id: ExternalId,
    email: Email,
    phone: Phone,
    timezone: Timezone,
});

by_position!(subscriber_endpoint {
    id: Id,
    subscriber_id: SubscriberId,
    channel: Channel,
    provider: Provider,
    address: Address,
    enabled: Enabled,
    disabled_reason: DisabledReason,
    created_at: CreatedAt,
    updated_at: UpdatedAt,
});

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
