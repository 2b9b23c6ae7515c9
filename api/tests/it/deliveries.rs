//! Planning deliveries: frequency caps hold when several planners work on the same
//! subscribers at once, and planning a batch twice plans nothing twice.

use chrono::Utc;
use herald_core::access::Role;
use herald_core::deliveries::ledger::slots_taken;
use herald_core::deliveries::{PlanSummary, plan_batch};
use herald_core::entities::{delivery, message};
use herald_core::rules::engine::{Recipient, RuleSet};
use herald_core::subscribers::SubscriberIn;
use herald_core::subscribers::store::upsert_batch;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::helpers::{TestApp, insert_message, spawn_app};

const SUBSCRIBERS: usize = 60;
const PLANNERS: usize = 4;

async fn new_message(app: &TestApp) -> message::Model {
    insert_message(&app.db, "news", None, json!(["email", "inbox"])).await
}

async fn recipients(app: &TestApp) -> Vec<Recipient> {
    let rows = (0..SUBSCRIBERS)
        .map(|i| {
            let input = SubscriberIn {
                email: Some(format!("user{i}@example.com")),
                ..Default::default()
            };
            (format!("user-{i}"), input.into_valid().unwrap())
        })
        .collect();
    upsert_batch(&app.db, rows).await.unwrap();
    herald_core::entities::subscriber::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(Recipient::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn caps_hold_with_concurrent_planners_and_replanning_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let response = admin
        .post("/v1/rules")
        .json(&json!({ "name": "2 emails a day", "scope": "channel", "scope_value": "email",
                       "kind": "frequency_cap", "params": { "max": 2, "window": "day", "per": "channel" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let recipients = recipients(&app).await;
    let rules = std::sync::Arc::new(RuleSet::load(&app.db).await.unwrap());
    let mut messages = Vec::new();
    for _ in 0..PLANNERS {
        messages.push(new_message(&app).await);
    }

    // Each planner sends its own message to everyone, in batches, all at once.
    let mut tasks = tokio::task::JoinSet::new();
    for (index, message) in messages.iter().cloned().enumerate() {
        let db = app.db.clone();
        let rules = std::sync::Arc::clone(&rules);
        let mut batches: Vec<Vec<Recipient>> = recipients.chunks(15).map(<[_]>::to_vec).collect();
        // Half the planners go backwards: batches meet in different orders.
        if index % 2 == 1 {
            batches.reverse();
        }
        tasks.spawn(async move {
            let mut total = PlanSummary::default();
            for batch in batches {
                let summary = plan_batch(&db, &rules, &message, &batch, Utc::now())
                    .await
                    .unwrap();
                total.queued += summary.queued;
                total.filtered += summary.filtered;
            }
            total
        });
    }
    let mut queued = 0;
    while let Some(summary) = tasks.join_next().await {
        queued += summary.unwrap().queued;
    }

    // Every subscriber got exactly two emails queued (the cap) and every inbox message.
    let email = |status: &'static str| {
        delivery::Entity::find()
            .filter(delivery::Column::Channel.eq("email"))
            .filter(delivery::Column::Status.eq(status))
    };
    for recipient in &recipients {
        let emails = email("queued")
            .filter(delivery::Column::SubscriberId.eq(recipient.id))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(emails, 2, "subscriber {}", recipient.external_id);
    }
    let filtered = email("filtered").count(&app.db).await.unwrap();
    assert_eq!(filtered as usize, SUBSCRIBERS * (PLANNERS - 2));
    assert_eq!(queued as usize, SUBSCRIBERS * 2 + SUBSCRIBERS * PLANNERS);
    let slots = slots_taken(&app.db, None, None).await.unwrap();
    assert_eq!(slots, queued);

    // A retried job plans the same batch again: nothing new, no slot taken twice.
    let again = plan_batch(&app.db, &rules, &messages[0], &recipients, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        again,
        PlanSummary {
            already_planned: (SUBSCRIBERS * 2) as u64,
            ..Default::default()
        }
    );
    assert_eq!(slots_taken(&app.db, None, None).await.unwrap(), slots);
    let all = delivery::Entity::find().count(&app.db).await.unwrap();
    assert_eq!(all as usize, SUBSCRIBERS * 2 * PLANNERS);
}
