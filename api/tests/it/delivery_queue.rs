//! The delivery queue under concurrency at size: claims and recordings of several
//! workers side by side on 200,000 rows must all finish, with no statement stalled.

use std::time::Duration;

use chrono::Utc;
use herald_channels::DeliveryOutcome;
use herald_core::deliveries::{Attempt, RetryPolicy, claim_due, record};
use herald_core::entities::delivery;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, TransactionTrait,
};

use crate::helpers::{spawn_app, test_config};

const ROWS: u64 = 200_000;
const BATCH: u64 = 1_000;

/// One message to `ROWS` subscribers, every delivery queued: set-based, as planning is.
async fn queue_deliveries(db: &DatabaseConnection) {
    let subscribers = format!(
        "INSERT INTO subscribers (external_id, tags, attributes, created_at, updated_at) \
         SELECT 'user-' || n, '[]', '{{}}', now(), now() FROM generate_series(1, {ROWS}) n"
    );
    for sql in [
        "INSERT INTO messages (kind, category, data, channels, sender, created_at) \
         VALUES ('transactional', 'news', '{}', '[]', 'test', now())",
        subscribers.as_str(),
        "INSERT INTO deliveries (message_id, subscriber_id, channel, status, attempts, \
             created_at, updated_at) \
         SELECT (SELECT max(id) FROM messages), id, 'webhook', 'queued', 0, now(), now() \
         FROM subscribers",
        "ANALYZE deliveries",
    ] {
        db.execute_unprepared(sql).await.expect("seed");
    }
}

/// A worker's loop without the sending: claim a batch, record it delivered, until
/// nothing is due. Every statement must succeed (none may hit the queue's statement
/// timeout).
async fn drain(db: DatabaseConnection, policy: RetryPolicy) -> u64 {
    let mut claims = 0;
    loop {
        // A lease of zero makes every claimed row due again at once, so each claim
        // meets rows the other worker is recording: the case that once stalled.
        let claimed = claim_due(&db, Utc::now(), Duration::ZERO, BATCH, &Default::default())
            .await
            .expect("a claim finishes");
        if claimed.is_empty() {
            return claims;
        }
        claims += 1;
        let attempts = claimed
            .into_iter()
            .map(|delivery| Attempt {
                delivery,
                started_at: Utc::now(),
                duration: Duration::ZERO,
                outcome: DeliveryOutcome::delivered(None, "202 Accepted"),
            })
            .collect();
        record(&db, attempts, &policy, Utc::now())
            .await
            .expect("a recording finishes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_and_recordings_side_by_side_finish_at_two_hundred_thousand_rows() {
    let app = spawn_app().await;
    // SQLite has one writer at a time: nothing runs side by side there.
    if app.db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    queue_deliveries(&app.db).await;
    let policy = RetryPolicy::from_config(&test_config().delivery);
    let workers: Vec<_> = (0..2)
        .map(|_| tokio::spawn(drain(app.db.clone(), policy.clone())))
        .collect();
    let mut claims = 0;
    for worker in workers {
        claims += worker.await.expect("the worker ran");
    }
    assert!(claims >= ROWS / BATCH, "{claims} claims");
    let delivered = delivery::Entity::find()
        .filter(delivery::Column::Status.eq("delivered"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(delivered, ROWS, "every delivery ended delivered");
}

/// Prepares the claim as `claim` on `txn`'s connection, planned generically (as a
/// prepared statement is after a few runs).
async fn prepare_generic_claim(txn: &impl ConnectionTrait) {
    txn.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan")
        .await
        .unwrap();
    let prepare = format!(
        "PREPARE claim(timestamptz, timestamptz) AS {}",
        herald_core::deliveries::postgres_claim_sql(500, "")
    );
    txn.execute_unprepared(&prepare).await.unwrap();
}

/// The plan the prepared `claim` runs with, as text.
async fn claim_plan(txn: &impl ConnectionTrait) -> String {
    txn.query_all_raw(sea_orm::Statement::from_string(
        DbBackend::Postgres,
        "EXPLAIN EXECUTE claim(now(), now())",
    ))
    .await
    .unwrap()
    .iter()
    .map(|row| row.try_get_by_index::<String>(0).unwrap())
    .collect::<Vec<_>>()
    .join("\n")
}

#[tokio::test]
async fn a_claim_looks_its_rows_up_by_key_even_in_a_generic_plan() {
    let app = spawn_app().await;
    if app.db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    queue_deliveries(&app.db).await;
    // Prepared statements switch to a generic plan after a few runs; force it, and the
    // claim must still touch only the rows it picked (no scan of the whole table).
    // One connection for the setting, the prepared statement and its plan.
    let txn = app.db.begin().await.unwrap();
    prepare_generic_claim(&txn).await;
    let plan = claim_plan(&txn).await;
    txn.rollback().await.unwrap();
    assert!(!plan.contains("Seq Scan on deliveries"), "{plan}");
    assert!(
        plan.contains("Index Scan using deliveries_pkey on deliveries d"),
        "{plan}"
    );
    assert!(plan.contains("Index Cond: (id = ANY ("), "{plan}");
}

#[tokio::test]
async fn a_claim_planned_while_the_log_was_empty_still_reads_only_the_queue_indexes() {
    let app = spawn_app().await;
    if app.db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    // A worker's connection keeps the claim's plan from its first polls, made when the
    // log was empty (a first campaign after an install); the campaign then fills the
    // log with finished deliveries before anything plans the claim again.
    app.db
        .execute_unprepared("ANALYZE deliveries")
        .await
        .unwrap();
    let txn = app.db.begin().await.unwrap();
    herald_core::deliveries::claim_settings(&txn).await.unwrap();
    prepare_generic_claim(&txn).await;
    txn.execute_unprepared("EXECUTE claim(now(), now())")
        .await
        .unwrap();
    let delivered = format!(
        "INSERT INTO deliveries (message_id, subscriber_id, channel, status, attempts, \
             created_at, updated_at) \
         SELECT 1, n, 'webhook', 'delivered', 1, now(), now() FROM generate_series(1, {ROWS}) n"
    );
    txn.execute_unprepared(&delivered).await.unwrap();
    let plan = claim_plan(&txn).await;
    txn.rollback().await.unwrap();
    assert!(!plan.contains("Seq Scan on deliveries"), "{plan}");
    assert!(plan.contains("using idx_deliveries_claimable"), "{plan}");
    assert!(plan.contains("Index Cond: (id = ANY ("), "{plan}");
}

/// A page's sends are written once each by `record_first` (one `COPY` on Postgres):
/// text with tabs, newlines and backslashes arrives intact, and a batch holding a
/// delivery written before (a page run twice at once) keeps the earlier row and still
/// writes the rest.
#[tokio::test]
async fn first_attempts_are_written_once_with_their_text_intact() {
    use herald_core::deliveries::page::record_first;

    let app = spawn_app().await;
    for sql in [
        "INSERT INTO messages (kind, category, data, channels, sender, created_at) \
         VALUES ('campaign', 'news', '{}', '[\"webhook\"]', 'test', CURRENT_TIMESTAMP)",
        "INSERT INTO subscribers (external_id, tags, attributes, created_at, updated_at) \
         VALUES ('a', '[]', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), \
                ('b', '[]', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    ] {
        app.db.execute_unprepared(sql).await.unwrap();
    }
    let subscribers: Vec<i64> = herald_core::entities::subscriber::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    let now = Utc::now();
    let sent = |subscriber_id: i64, outcome: DeliveryOutcome| Attempt {
        delivery: delivery::Model {
            id: 0,
            message_id: 1,
            subscriber_id,
            channel: "webhook".to_owned(),
            endpoint_id: 0,
            status: "sending".to_owned(),
            filter: None,
            rule_id: None,
            list_entry_id: None,
            reason: None,
            not_before: None,
            attempts: 1,
            first_attempt_at: None,
            first_attempt_ms: None,
            first_attempt_detail: None,
            created_at: now,
            updated_at: now,
        },
        started_at: now,
        duration: Duration::from_millis(12),
        outcome,
    };
    let awkward = "line one\n\tindented \\ back\\slash\r\nend";
    let policy = RetryPolicy::from_config(&test_config().delivery);
    let first = record_first(
        &app.db,
        vec![sent(
            subscribers[0],
            DeliveryOutcome::permanent(awkward.to_owned()),
        )],
        &policy,
        now,
    )
    .await
    .unwrap();
    assert_eq!(first.failed, 1);

    // The same delivery again, beside a new one: the first row stays as written.
    let again = record_first(
        &app.db,
        vec![
            sent(
                subscribers[0],
                DeliveryOutcome::Delivered {
                    provider_message_id: None,
                    response: "200".to_owned(),
                },
            ),
            sent(
                subscribers[1],
                DeliveryOutcome::Delivered {
                    provider_message_id: Some("m-1".to_owned()),
                    response: "200 OK".to_owned(),
                },
            ),
        ],
        &policy,
        now,
    )
    .await
    .unwrap();
    assert_eq!(again.delivered, 2);
    let rows = delivery::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(rows.len(), 2);
    let of = |id: i64| rows.iter().find(|d| d.subscriber_id == id).unwrap();
    let failed = of(subscribers[0]);
    assert_eq!(failed.status, "failed");
    assert_eq!(failed.reason.as_deref(), Some(awkward));
    assert_eq!(failed.first_attempt_detail.as_deref(), Some(awkward));
    assert_eq!(failed.first_attempt_ms, Some(12));
    // Times arrive to the microsecond the database keeps.
    assert_eq!(
        failed.first_attempt_at.map(|at| at.timestamp_micros()),
        Some(now.timestamp_micros())
    );
    let delivered = of(subscribers[1]);
    assert_eq!(delivered.status, "delivered");
    assert_eq!(
        delivered.first_attempt_detail.as_deref(),
        Some("m-1: 200 OK")
    );
}
