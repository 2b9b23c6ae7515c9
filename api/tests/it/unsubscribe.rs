//! One-click unsubscribe links (RFC 8058): signed, public, and recorded as an opt-out
//! that the rules engine then applies.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use herald_core::access::Role;
use herald_core::channel::ChannelKind;
use herald_core::rules::engine::{Candidate, Decision, FilterKind, Message, Recipient, RuleSet};
use herald_core::subscribers::store::find;
use herald_core::unsubscribe::LinkSigner;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{error_of, spawn_app};

#[tokio::test]
async fn a_signed_link_opts_out_on_post_only_and_cannot_be_forged() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    for id in ["ana", "ben"] {
        let response = admin
            .put(&format!("/v1/subscribers/{id}"))
            .json(&json!({ "email": format!("{id}@example.com") }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    let ana = find(&app.db, "ana").await.unwrap();
    let ben = find(&app.db, "ben").await.unwrap();
    let signer = LinkSigner::load(&app.db, &app.url("")).await.unwrap();
    let url = signer.link(ana.id, "newsletter");
    assert!(url.starts_with(&app.url("/v1/unsubscribe/")), "{url}");
    let client = app.anonymous();

    // Opening the link (or a scanner fetching it) changes nothing.
    let page = client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        page.text()
            .await
            .unwrap()
            .contains(r#"<form method="post">"#)
    );
    let preferences = |id: &'static str| {
        let admin = &admin;
        async move {
            admin
                .get(&format!("/v1/subscribers/{id}/preferences"))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(preferences("ana").await["preferences"], json!([]));

    // The one-click POST, as a mail client sends it; a repeat is harmless.
    for _ in 0..2 {
        let response = client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({ "channel": "email", "category": "newsletter" })
        );
    }
    assert_eq!(
        preferences("ana").await["preferences"],
        json!([{ "channel": "email", "category": "newsletter", "opted_out": true }])
    );

    // The engine now filters ana's newsletter email, and nothing else.
    let rules = RuleSet::load(&app.db).await.unwrap();
    let recipient = Recipient::from(&ana);
    let candidates = [ChannelKind::Email, ChannelKind::Inbox].map(|channel| Candidate {
        recipient: &recipient,
        channel,
    });
    let message = Message {
        category: "newsletter",
        template_id: None,
        dedup_key: None,
    };
    let decided = rules
        .evaluate(&app.db, message, Utc::now(), &candidates)
        .await
        .unwrap();
    assert!(
        matches!(
            decided[0],
            Decision::Filtered {
                filter: FilterKind::OptedOut,
                ..
            }
        ),
        "{decided:?}"
    );
    assert_eq!(decided[1], Decision::Allow);

    // Forged links: another category, another subscriber, or garbage.
    let token = url.rsplit('/').next().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let other_category = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode("marketing"),
        parts[2]
    );
    let other_subscriber = format!("{}.{}.{}", ben.id, parts[1], parts[2]);
    for forged in [
        other_category.as_str(),
        other_subscriber.as_str(),
        "nonsense",
        "1.2.3.4",
    ] {
        let response = client
            .post(app.url(&format!("/v1/unsubscribe/{forged}")))
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(response, 422).await["field"], "token", "{forged}");
    }
    assert_eq!(preferences("ben").await["preferences"], json!([]));

    // Recorded as the subscriber's own action.
    let audit: Value = admin
        .get("/v1/audit-log?action=subscriber.unsubscribe")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = audit.to_string();
    assert!(text.contains(r#""actor_kind":"subscriber""#), "{text}");
    assert!(
        !text.contains("ana@example.com"),
        "no personal data in the audit log"
    );
}
