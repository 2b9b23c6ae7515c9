//! Upgrades keep what is stored: data written under an older schema reads the same after
//! the migrations that change its shape.

use chrono::{DateTime, Utc};
use herald_core::channel::ChannelKind;
use herald_core::deliveries::ledger::slots_taken;
use herald_core::rules::engine::facts::{LedgerScope, ledger_counts, ledger_sends};
use herald_migrations::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;

use crate::helpers::TestDatabase;

/// Applies the migrations that come before `name`.
async fn migrate_up_to(db: &DatabaseConnection, name: &str) {
    let before = Migrator::migrations()
        .iter()
        .position(|migration| migration.name() == name)
        .expect("the migration exists");
    Migrator::up(db, Some(u32::try_from(before).unwrap()))
        .await
        .expect("earlier migrations apply");
}

/// A slot as written before bitmaps: subscriber, channel, category, message, when.
type OldSlot = (i64, &'static str, &'static str, Option<i64>, DateTime<Utc>);

/// A slot as budgets read it: subscriber, channel, category, when, message.
type Seen = (i64, Option<ChannelKind>, String, DateTime<Utc>, Option<i64>);

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Slots written one row each, as before m20261206_000017, are carried over as bitmaps:
/// every slot is still there, caps count the same, and budgets see each slot's message,
/// category and time. Subscriber 63 is the sign bit of its block.
#[tokio::test]
async fn ledger_slots_written_before_bitmaps_are_all_kept() {
    let database = TestDatabase::empty().await;
    let db = database.connect().await;
    migrate_up_to(&db, "m20261206_000017_ledger_bitmaps").await;
    let early = at("2026-12-01T08:00:00Z");
    let late = at("2026-12-02T09:30:00Z");
    let slots: [OldSlot; 10] = [
        (1, "email", "news", Some(7), early),
        (2, "email", "news", Some(7), early),
        (63, "email", "news", Some(7), early),
        (64, "email", "news", Some(7), early),
        (200, "email", "news", Some(7), early),
        (1, "inbox", "news", Some(7), early),
        (2, "email", "alerts", Some(8), late),
        (63, "email", "alerts", Some(8), late),
        // Slots from before messages were recorded.
        (1, "push", "news", None, early),
        (64, "push", "news", None, early),
    ];
    let mut insert = Query::insert();
    insert.into_table(Alias::new("send_ledger")).columns(
        [
            "subscriber_id",
            "channel",
            "category",
            "sent_at",
            "message_id",
        ]
        .map(Alias::new),
    );
    for (subscriber, channel, category, message, sent_at) in slots {
        insert.values_panic([
            subscriber.into(),
            channel.into(),
            category.into(),
            sent_at.into(),
            message.into(),
        ]);
    }
    db.execute(&insert).await.unwrap();

    Migrator::up(&db, None).await.expect("the upgrade applies");

    assert_eq!(slots_taken(&db, None, None).await.unwrap(), 10);
    assert_eq!(slots_taken(&db, Some(7), None).await.unwrap(), 6);
    assert_eq!(slots_taken(&db, Some(8), None).await.unwrap(), 2);
    assert_eq!(slots_taken(&db, None, Some(63)).await.unwrap(), 2);
    let ids = [1, 2, 63, 64, 200];
    let channels = [ChannelKind::Email, ChannelKind::Push];
    let counts = ledger_counts(&db, &ids, &LedgerScope::Channels(&channels), early)
        .await
        .unwrap();
    let count = |id: i64, channel: ChannelKind| counts.get(&(id, Some(channel))).copied();
    assert_eq!(count(1, ChannelKind::Email), Some(1));
    assert_eq!(count(2, ChannelKind::Email), Some(2));
    assert_eq!(count(63, ChannelKind::Email), Some(2));
    assert_eq!(count(64, ChannelKind::Email), Some(1));
    assert_eq!(count(200, ChannelKind::Email), Some(1));
    assert_eq!(count(1, ChannelKind::Push), Some(1));
    assert_eq!(count(64, ChannelKind::Push), Some(1));
    assert_eq!(counts.len(), 7, "{counts:?}");
    // Asked about subscribers in a hundred blocks, the ledger reads those blocks whole
    // and still counts only who was asked about.
    let mut many = ids.to_vec();
    many.extend((3..100).map(|block| block * 64 + 10));
    let wide = ledger_counts(&db, &many, &LedgerScope::Channels(&channels), early)
        .await
        .unwrap();
    assert_eq!(wide, counts);
    let since_late = ledger_counts(&db, &ids, &LedgerScope::Category("alerts"), late)
        .await
        .unwrap();
    assert_eq!(since_late.len(), 2, "{since_late:?}");

    let mut sends: Vec<Seen> = ledger_sends(&db, &[2, 63], early)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.subscriber_id, s.channel, s.category, s.at, s.message_id))
        .collect();
    sends.sort_by_key(|s| (s.0, s.3));
    assert_eq!(
        sends,
        vec![
            (2, Some(ChannelKind::Email), "news".into(), early, Some(7)),
            (2, Some(ChannelKind::Email), "alerts".into(), late, Some(8)),
            (63, Some(ChannelKind::Email), "news".into(), early, Some(7)),
            (63, Some(ChannelKind::Email), "alerts".into(), late, Some(8)),
        ]
    );
}

/// Pairs stored before the lazy fold (m20261207_000019) already count every shared
/// item: the upgrade marks them folded, so none is counted twice.
#[tokio::test]
async fn unread_pairs_stored_before_the_lazy_fold_count_each_shared_item_once() {
    let database = TestDatabase::empty().await;
    let db = database.connect().await;
    migrate_up_to(&db, "m20261207_000019_lazy_unread_fold").await;
    let now = at("2026-12-06T10:00:00Z");
    let rows = |table: &str, columns: &[&str], values: Vec<sea_orm::Value>| {
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new(table))
            .columns(columns.iter().map(|column| Alias::new(*column)))
            .values_panic(values.into_iter().map(Into::into));
        insert
    };
    let statements = [
        rows(
            "subscribers",
            &[
                "id",
                "external_id",
                "tags",
                "attributes",
                "created_at",
                "updated_at",
            ],
            vec![
                70.into(),
                "ana".into(),
                json!([]).into(),
                json!({}).into(),
                now.into(),
                now.into(),
            ],
        ),
        rows(
            "inbox_items",
            &["id", "category", "title", "body", "data", "created_at"],
            vec![
                5.into(),
                "news".into(),
                "Sale".into(),
                "".into(),
                json!({}).into(),
                now.into(),
            ],
        ),
        // Subscriber 70 is bit 6 of block 1.
        rows(
            "inbox_shares",
            &["block", "item_id", "bits"],
            vec![1.into(), 5.into(), (1_i64 << 6).into()],
        ),
        rows(
            "inbox_states",
            &["subscriber_id", "unread", "version"],
            vec![70.into(), 1.into(), 1.into()],
        ),
    ];
    for statement in statements {
        db.execute(&statement).await.unwrap();
    }

    Migrator::up(&db, None).await.expect("the upgrade applies");

    let pair = herald_core::inbox::pairs::unread(&db, 70).await.unwrap();
    assert_eq!((pair.count, pair.version), (1, 1));
}
