//! The rules engine and campaign simulation over one scenario in which every check
//! decides something: opt-outs, missing addresses, block/allow lists with expiry, dedup,
//! quiet hours in several zones, and frequency caps counted in each subscriber's own day.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use herald_core::access::Role;
use herald_core::channel::ChannelKind;
use herald_core::entities::{list_entry, send_ledger};
use herald_core::rules::engine::{Candidate, Decision, FilterKind, Message, Recipient, RuleSet};
use herald_core::rules::revision::RulesCache;
use herald_core::subscribers::store::find;
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, error_of, spawn_app};

/// A Wednesday noon (UTC) after every entry below was created.
const AT: &str = "2027-06-09T12:00:00Z";

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

async fn created(session: &Session, path: &str, body: Value) -> Value {
    let response = session.post(path).json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{path} {body}");
    response.json().await.unwrap()
}

async fn deleted(session: &Session, path: &str) {
    let response = session.delete(path).send().await.unwrap();
    assert!(response.status().is_success(), "{path}");
}

async fn subscriber(session: &Session, id: &str, body: Value) {
    let response = session
        .put(&format!("/v1/subscribers/{id}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{id}");
}

async fn ledger(
    app: &TestApp,
    external_id: &str,
    channel: &str,
    category: &str,
    template: Option<i64>,
    at: &str,
) {
    let subscriber = find(&app.db, external_id).await.unwrap();
    let (block, bits) = herald_core::blocks::block_of(subscriber.id);
    send_ledger::ActiveModel {
        block: Set(block),
        bits: Set(bits),
        channel: Set(channel.into()),
        category: Set(category.into()),
        template_id: Set(template),
        dedup_key: Set(None),
        sent_at: Set(utc(at)),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
}

struct Scenario {
    campaign_id: i64,
    template_id: i64,
    email_cap: i64,
    category_cap: i64,
    quiet: i64,
    dedup: i64,
}

async fn scenario(app: &TestApp, admin: &Session) -> Scenario {
    for (id, body) in [
        (
            "ana",
            json!({ "email": "ana@example.com", "timezone": "Europe/Berlin" }),
        ),
        ("ben", json!({})),
        ("cy", json!({ "email": "cy@example.com" })),
        ("dee", json!({ "email": "dee@spam.test" })),
        ("eve", json!({ "email": "eve@spam.test" })),
        (
            "fay",
            json!({ "email": "fay@example.com", "timezone": "America/Los_Angeles" }),
        ),
        (
            "gus",
            json!({ "email": "gus@example.com", "timezone": "Asia/Tokyo" }),
        ),
        (
            "hal",
            json!({ "email": "hal@example.com", "timezone": "Europe/Berlin" }),
        ),
        ("ivy", json!({ "email": "ivy@example.com" })),
        ("jo", json!({ "email": "jo@example.com" })),
        ("kim", json!({ "email": "kim@example.com" })),
        (
            "lou",
            json!({ "email": "lou@example.com", "timezone": "Asia/Dubai" }),
        ),
    ] {
        subscriber(admin, id, body).await;
    }
    let response = admin
        .put("/v1/subscribers/cy/preferences")
        .json(&json!({ "preferences": [{ "channel": "email", "category": "newsletter", "opted_out": true }] }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());

    for entry in [
        // cy is blocked on every channel, but on email the opt-out is checked first.
        json!({ "list": "block", "kind": "email", "value": "cy@example.com" }),
        json!({ "list": "block", "kind": "email_domain", "value": "spam.test", "channel": "email", "reason": "trap domain" }),
        json!({ "list": "allow", "kind": "subscriber", "value": "eve" }),
        json!({ "list": "block", "kind": "subscriber", "value": "jo", "expires_at": "2027-06-01T00:00:00Z" }),
        json!({ "list": "block", "kind": "subscriber", "value": "kim", "expires_at": "2027-12-31T00:00:00Z" }),
    ] {
        created(admin, "/v1/list-entries", entry).await;
    }

    let rule = |body: Value| created(admin, "/v1/rules", body);
    let email_cap = rule(
        json!({ "name": "2 emails a day", "scope": "channel", "scope_value": "email",
        "kind": "frequency_cap", "params": { "max": 2, "window": "day", "per": "channel" } }),
    )
    .await;
    let category_cap = rule(json!({ "name": "1 newsletter an hour", "scope": "category", "scope_value": "newsletter",
        "kind": "frequency_cap", "params": { "max": 1, "window": "rolling", "rolling_secs": 3600, "per": "category" } })).await;
    let quiet = rule(json!({ "name": "daytime email", "scope": "channel", "scope_value": "email", "exempt_categories": ["security"],
        "kind": "quiet_hours", "params": { "allowed_from": "08:00", "allowed_until": "21:00",
                                           "default_timezone": "Europe/Berlin", "action": "defer" } })).await;
    let dedup = rule(json!({ "name": "once a day", "scope": "global",
        "kind": "dedup", "params": { "window_secs": 86400, "by": "template" } }))
    .await;
    rule(
        json!({ "name": "no alerts at night", "scope": "category", "scope_value": "alerts",
        "kind": "quiet_hours", "params": { "allowed_from": "07:00", "allowed_until": "22:00",
                                           "default_timezone": "UTC", "action": "drop" } }),
    )
    .await;
    rule(
        json!({ "name": "disabled", "scope": "global", "enabled": false,
        "kind": "frequency_cap", "params": { "max": 1, "window": "week", "per": "channel" } }),
    )
    .await;

    let template = created(admin, "/v1/templates", json!({ "name": "news",
        "content": { "email": { "subject": "News", "text": "Hello" }, "inbox": { "title": "News", "body": "Hello" } } })).await;
    let template_id = template["template"]["id"].as_i64().unwrap();
    let audience = created(
        admin,
        "/v1/audiences",
        json!({ "name": "all", "kind": "all" }),
    )
    .await;
    let campaign = created(admin, "/v1/campaigns", json!({ "name": "June news", "template_id": template_id,
        "audience_id": audience["id"], "channels": ["email", "inbox"], "schedule": { "kind": "now" },
        "category": "newsletter" })).await;

    // hal already had two emails today in Berlin; lou's two were yesterday in Dubai
    // (whose day began at 20:00 UTC); ivy got this very template ten hours ago.
    ledger(app, "hal", "email", "other", None, "2027-06-09T06:00:00Z").await;
    ledger(app, "hal", "email", "other", None, "2027-06-09T07:00:00Z").await;
    ledger(app, "lou", "email", "other", None, "2027-06-08T18:00:00Z").await;
    ledger(app, "lou", "email", "other", None, "2027-06-08T19:00:00Z").await;
    ledger(
        app,
        "ivy",
        "email",
        "newsletter",
        Some(template_id),
        "2027-06-09T02:00:00Z",
    )
    .await;

    let id = |v: &Value| v["id"].as_i64().unwrap();
    Scenario {
        campaign_id: id(&campaign),
        template_id,
        email_cap: id(&email_cap),
        category_cap: id(&category_cap),
        quiet: id(&quiet),
        dedup: id(&dedup),
    }
}

/// The short form the assertions below compare: `allow`, `deferred <until>`, or the filter.
fn short(decision: &Decision) -> String {
    match decision {
        Decision::Allow => "allow".into(),
        Decision::Deferred { until, .. } => format!("deferred {}", until.to_rfc3339()),
        Decision::Filtered { filter, .. } => filter.as_str().into(),
    }
}

async fn recipient(app: &TestApp, external_id: &str) -> Recipient {
    Recipient::from(&find(&app.db, external_id).await.unwrap())
}

/// The engine asked about one recipient at a time, on the campaign's channels.
async fn decide_each(
    app: &TestApp,
    rules: &RuleSet,
    message: Message<'_>,
    ids: &[&str],
) -> Vec<(String, String, Decision)> {
    let mut decided = Vec::new();
    for id in ids {
        let recipient = recipient(app, id).await;
        let candidates: Vec<Candidate<'_>> = [ChannelKind::Email, ChannelKind::Inbox]
            .into_iter()
            .map(|channel| Candidate {
                recipient: &recipient,
                channel,
            })
            .collect();
        let decisions = rules
            .evaluate(&app.db, message, utc(AT), &candidates)
            .await
            .unwrap();
        for (candidate, decision) in candidates.iter().zip(decisions) {
            decided.push((id.to_string(), candidate.channel.to_string(), decision));
        }
    }
    decided
}

#[tokio::test]
async fn every_check_decides_and_simulate_counts_what_the_engine_decides() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let s = scenario(&app, &admin).await;
    let rules = RuleSet::load(&app.db).await.unwrap();
    let message = Message {
        category: "newsletter",
        template_id: Some(s.template_id),
        dedup_key: None,
    };
    let ids = [
        "ana", "ben", "cy", "dee", "eve", "fay", "gus", "hal", "ivy", "jo", "kim", "lou",
    ];
    let decided = decide_each(&app, &rules, message, &ids).await;
    // Lists held in memory and lists looked up per batch decide alike.
    let queried = RuleSet::load_with_list_limit(&app.db, 0).await.unwrap();
    assert_eq!(decide_each(&app, &queried, message, &ids).await, decided);

    let expected = [
        ("ana", "allow", "frequency_cap"),
        ("ben", "no_address", "allow"),
        ("cy", "opted_out", "blocked"),
        ("dee", "blocked", "allow"),
        ("eve", "allow", "frequency_cap"),
        ("fay", "deferred 2027-06-09T15:00:00+00:00", "allow"),
        ("gus", "deferred 2027-06-09T23:00:00+00:00", "allow"),
        ("hal", "frequency_cap", "allow"),
        ("ivy", "dedup", "allow"),
        ("jo", "allow", "frequency_cap"),
        ("kim", "blocked", "blocked"),
        ("lou", "allow", "frequency_cap"),
    ];
    for (index, (id, email, inbox)) in expected.iter().enumerate() {
        assert_eq!(
            short(&decided[2 * index].2),
            *email,
            "{id} email: {:?}",
            decided[2 * index].2
        );
        assert_eq!(
            short(&decided[2 * index + 1].2),
            *inbox,
            "{id} inbox: {:?}",
            decided[2 * index + 1].2
        );
    }
    // A sparse batch (ids far apart) is looked up by id rather than by id range, and
    // decides the same.
    let (ana, lou) = (recipient(&app, "ana").await, recipient(&app, "lou").await);
    let sparse: Vec<Candidate<'_>> = [&ana, &lou]
        .into_iter()
        .flat_map(|recipient| {
            [ChannelKind::Email, ChannelKind::Inbox].map(|channel| Candidate { recipient, channel })
        })
        .collect();
    let batch = rules
        .evaluate(&app.db, message, utc(AT), &sparse)
        .await
        .unwrap();
    let one_by_one: Vec<Decision> = [0, 1, 22, 23].map(|i| decided[i].2.clone()).into();
    assert_eq!(batch, one_by_one);

    let rule_of = |index: usize| match &decided[index].2 {
        Decision::Filtered {
            rule_id, reason, ..
        } => (*rule_id, reason.clone()),
        Decision::Deferred { rule_id, .. } => (Some(*rule_id), String::new()),
        Decision::Allow => (None, String::new()),
    };
    assert_eq!(rule_of(1).0, Some(s.category_cap));
    assert_eq!(rule_of(14).0, Some(s.email_cap));
    assert!(
        rule_of(14).1.contains("2 per day reached"),
        "{}",
        rule_of(14).1
    );
    assert_eq!(rule_of(16).0, Some(s.dedup));
    assert_eq!(rule_of(10).0, Some(s.quiet));
    assert!(rule_of(6).1.contains("trap domain"), "{}", rule_of(6).1);

    // The same recipients as one batch, through the API.
    let response = admin
        .post(&format!("/v1/campaigns/{}/simulate", s.campaign_id))
        .json(&json!({ "at": AT, "sample": 100 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let simulation: Value = response.json().await.unwrap();
    let count =
        |wanted: &dyn Fn(&Decision) -> bool| decided.iter().filter(|d| wanted(&d.2)).count() as u64;
    assert_eq!(simulation["subscribers"], 12);
    assert_eq!(simulation["deliveries"], 24);
    assert_eq!(
        simulation["allowed"],
        count(&|d| matches!(d, Decision::Allow))
    );
    assert_eq!(
        simulation["filtered"],
        count(&|d| matches!(d, Decision::Filtered { .. }))
    );
    assert_eq!(
        simulation["deferred"],
        count(&|d| matches!(d, Decision::Deferred { .. }))
    );
    assert_eq!(simulation["allowed"], 10);
    assert_eq!(simulation["filtered"], 12);
    assert_eq!(
        simulation["channels"],
        json!([
            { "channel": "email", "allowed": 4, "filtered": 6, "deferred": 2 },
            { "channel": "inbox", "allowed": 6, "filtered": 6, "deferred": 0 },
        ])
    );
    for channel in simulation["channels"].as_array().unwrap() {
        let name = channel["channel"].as_str().unwrap();
        let of = |wanted: &dyn Fn(&Decision) -> bool| {
            decided
                .iter()
                .filter(|d| d.1 == name && wanted(&d.2))
                .count() as u64
        };
        assert_eq!(
            channel["allowed"],
            of(&|d| matches!(d, Decision::Allow)),
            "{name}"
        );
        assert_eq!(
            channel["filtered"],
            of(&|d| matches!(d, Decision::Filtered { .. })),
            "{name}"
        );
        assert_eq!(
            channel["deferred"],
            of(&|d| matches!(d, Decision::Deferred { .. })),
            "{name}"
        );
    }
    let filters: Vec<(String, Option<i64>, u64)> = simulation["filtered_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["filter"].as_str().unwrap().to_owned(),
                f["rule_id"].as_i64(),
                f["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        filters,
        [
            ("opted_out".to_owned(), None, 1),
            ("no_address".to_owned(), None, 1),
            ("blocked".to_owned(), None, 4),
            ("dedup".to_owned(), Some(s.dedup), 1),
            ("frequency_cap".to_owned(), Some(s.email_cap), 1),
            ("frequency_cap".to_owned(), Some(s.category_cap), 4),
        ]
    );
    assert_eq!(
        simulation["deferred_by"],
        json!([
            { "rule_id": s.quiet, "rule_name": "daytime email", "hour": "2027-06-09T15:00:00Z", "count": 1 },
            { "rule_id": s.quiet, "rule_name": "daytime email", "hour": "2027-06-09T23:00:00Z", "count": 1 },
        ])
    );
    let sample = simulation["sample"].as_array().unwrap();
    assert_eq!(sample.len(), 24);
    assert_eq!(
        sample[0]["decision"], "filtered",
        "unusual decisions come first"
    );
    let kim: Vec<&Value> = sample
        .iter()
        .filter(|d| d["external_id"] == "kim")
        .collect();
    assert!(
        kim.iter()
            .all(|d| d["filter"] == "blocked" && d["list_entry_id"].is_i64())
    );
}

#[tokio::test]
async fn exemptions_drops_and_endpoint_entries() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let s = scenario(&app, &admin).await;
    let rules = RuleSet::load(&app.db).await.unwrap();
    let fay = recipient(&app, "fay").await;
    let at = utc(AT);
    let email = |recipient| Candidate {
        recipient,
        channel: ChannelKind::Email,
    };

    // `security` is exempt from the quiet hours; `alerts` at 05:00 in Los Angeles is
    // dropped: her own zone counts, not the rule's default.
    let security = Message {
        category: "security",
        template_id: None,
        dedup_key: None,
    };
    let alerts = Message {
        category: "alerts",
        template_id: None,
        dedup_key: None,
    };
    let decided = rules
        .evaluate(&app.db, security, at, &[email(&fay)])
        .await
        .unwrap();
    assert_eq!(decided, [Decision::Allow]);
    let decided = rules
        .evaluate(&app.db, alerts, at, &[email(&fay)])
        .await
        .unwrap();
    assert!(
        matches!(&decided[0], Decision::Filtered { filter: FilterKind::QuietHours, reason, .. } if reason.contains("America/Los_Angeles")),
        "{decided:?}"
    );

    // Webhook endpoints: no endpoint is no address; one of two blocked still delivers;
    // all blocked is blocked; a channel-scoped entry leaves other channels alone.
    for (id, url) in [
        ("ana", "https://a.example/hook"),
        ("ana", "https://b.example/hook"),
        ("ben", "https://b.example/hook"),
    ] {
        let response = admin
            .post(&format!("/v1/subscribers/{id}/endpoints"))
            .json(&json!({ "channel": "webhook", "address": url }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    created(&admin, "/v1/list-entries",
        json!({ "list": "block", "kind": "endpoint", "value": "https://b.example/hook", "channel": "webhook" })).await;
    // A rule set is a snapshot: load it again to see the new entry, held in memory or
    // looked up per batch.
    for rules in [
        RuleSet::load(&app.db).await.unwrap(),
        RuleSet::load_with_list_limit(&app.db, 0).await.unwrap(),
    ] {
        let (ana, ben, cy) = (
            recipient(&app, "ana").await,
            recipient(&app, "ben").await,
            recipient(&app, "cy").await,
        );
        let webhook = |recipient| Candidate {
            recipient,
            channel: ChannelKind::Webhook,
        };
        let decided = rules
            .evaluate(
                &app.db,
                alerts,
                utc("2027-06-09T09:00:00Z"),
                &[webhook(&ana), webhook(&ben), webhook(&cy)],
            )
            .await
            .unwrap();
        assert_eq!(decided[0], Decision::Allow);
        assert!(
            matches!(
                decided[1],
                Decision::Filtered {
                    filter: FilterKind::Blocked,
                    ..
                }
            ),
            "{decided:?}"
        );
        assert!(
            matches!(
                decided[2],
                Decision::Filtered {
                    filter: FilterKind::NoAddress,
                    ..
                }
            ),
            "{decided:?}"
        );
    }

    // A second candidate for the same delivery inside one batch is a duplicate.
    let news = Message {
        category: "newsletter",
        template_id: Some(s.template_id),
        dedup_key: None,
    };
    let ben = recipient(&app, "ben").await;
    let inbox = Candidate {
        recipient: &ben,
        channel: ChannelKind::Inbox,
    };
    let decided = rules
        .evaluate(&app.db, news, at, &[inbox, inbox])
        .await
        .unwrap();
    assert_eq!(decided[0], Decision::Allow);
    assert!(
        matches!(
            decided[1],
            Decision::Filtered {
                filter: FilterKind::Dedup,
                ..
            }
        ),
        "{decided:?}"
    );
}

#[tokio::test]
async fn simulate_rejects_bad_input_and_unknown_campaigns() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let s = scenario(&app, &admin).await;
    let response = admin
        .post(&format!("/v1/campaigns/{}/simulate", s.campaign_id))
        .json(&json!({ "sample": 1000 }))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response, 422).await["field"], "sample");
    let response = admin
        .post("/v1/campaigns/999999/simulate")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    error_of(response, 404).await;
    // A viewer may simulate (it changes nothing) but not edit.
    let viewer = app.operator(Role::Viewer).await;
    let response = viewer
        .post(&format!("/v1/campaigns/{}/simulate", s.campaign_id))
        .json(&json!({ "at": AT }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_send_to_a_few_recipients_looks_large_lists_up_instead_of_reading_them_all() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    for n in 0..20 {
        created(
            &admin,
            "/v1/list-entries",
            json!({ "list": "block", "kind": "email", "value": format!("spam{n}@example.com") }),
        )
        .await;
    }
    // 16 entries per recipient are worth reading whole; a campaign's batches hold them all.
    assert!(
        !RuleSet::load_for(&app.db, 1)
            .await
            .unwrap()
            .holds_list_entries()
    );
    assert!(
        RuleSet::load_for(&app.db, 2)
            .await
            .unwrap()
            .holds_list_entries()
    );
    assert!(RuleSet::load(&app.db).await.unwrap().holds_list_entries());
}

/// A worker holds the rules between pages and loads them again only after a change to a
/// rule or a list entry, whoever made it: the API or plain SQL.
#[tokio::test]
async fn a_worker_holds_the_rules_until_a_rule_or_list_entry_changes() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    subscriber(&admin, "ana", json!({ "email": "ana@example.com" })).await;
    let message = Message {
        category: "news",
        template_id: None,
        dedup_key: None,
    };
    let cache = RulesCache::default();
    let on_email = |rules: Arc<RuleSet>| {
        let app = &app;
        async move { short(&decide_each(app, &rules, message, &["ana"]).await[0].2) }
    };

    let first = cache.current(&app.db).await.unwrap();
    let again = cache.current(&app.db).await.unwrap();
    assert!(Arc::ptr_eq(&first.rules, &again.rules), "nothing changed");
    assert_eq!(on_email(again.rules).await, "allow");

    // Through the API: an entry blocks ana from the next page on; removing it frees her.
    let entry = created(
        &admin,
        "/v1/list-entries",
        json!({ "list": "block", "kind": "subscriber", "value": "ana" }),
    )
    .await;
    let blocked = cache.current(&app.db).await.unwrap();
    assert_eq!(on_email(Arc::clone(&blocked.rules)).await, "blocked");
    deleted(&admin, &format!("/v1/list-entries/{}", entry["id"])).await;
    assert_eq!(
        on_email(cache.current(&app.db).await.unwrap().rules).await,
        "allow"
    );

    // A rule's creation and deletion.
    let rule = created(
        &admin,
        "/v1/rules",
        json!({ "name": "no news", "scope": "channel", "scope_value": "email",
                "kind": "keyword", "params": { "words": ["sale"] } }),
    )
    .await;
    let with_rule = cache.current(&app.db).await.unwrap();
    assert!(!Arc::ptr_eq(&blocked.keywords, &with_rule.keywords));
    deleted(&admin, &format!("/v1/rules/{}", rule["id"])).await;
    let without = cache.current(&app.db).await.unwrap();
    assert!(!Arc::ptr_eq(&with_rule.keywords, &without.keywords));

    // Plain SQL, past every code path of Herald's own.
    list_entry::ActiveModel {
        list: Set("block".into()),
        kind: Set("subscriber".into()),
        value: Set("ana".into()),
        channel: Set(None),
        reason: Set("by hand".into()),
        expires_at: Set(None),
        created_by: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    assert_eq!(
        on_email(cache.current(&app.db).await.unwrap().rules).await,
        "blocked"
    );
}
