//! Channel instances through the API, sending to a real HTTP receiver that checks the
//! Standard Webhooks signature with its own HMAC.

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use herald_core::access::Role;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::receiver::{Answer, Receiver};
use crate::helpers::{error_of, spawn_app, spawn_app_with, test_config};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn signature_valid(headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let key = STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", header("webhook-id"), header("webhook-timestamp")).as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    header("webhook-signature")
        .split(' ')
        .any(|s| s == expected)
}

/// `/hook` accepts; `/gone` answers 410 (the endpoint no longer exists).
async fn receiver() -> (String, Receiver) {
    let receiver = Receiver::start(|hook, _| match hook.path.as_str() {
        "gone" => Answer::status(410),
        _ => Answer::ok(),
    })
    .await;
    (receiver.base().to_owned(), receiver)
}

#[tokio::test]
async fn secrets_are_write_only_and_a_test_send_reaches_a_real_receiver() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, received) = receiver().await;

    let created = admin
        .post("/v1/channels")
        .json(&json!({ "name": "hooks", "settings": { "kind": "webhook", "secret": SECRET, "allow_list": ["127.0.0.0/8"] } }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["kind"], "webhook");
    assert_eq!(created["secrets_set"], json!(["secret"]));
    assert!(
        !created.to_string().contains("MfKQ9r8"),
        "the secret is never returned: {created}"
    );

    // An update without the secret keeps it: the receiver still verifies the signature.
    let updated = admin
        .put("/v1/channels/hooks")
        .json(&json!({ "name": "hooks", "settings": { "kind": "webhook", "allow_list": ["127.0.0.0/8"], "max_concurrency": 4 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), StatusCode::OK);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["settings"]["max_concurrency"], 4);
    assert_eq!(updated["secrets_set"], json!(["secret"]));

    let sent: Value = admin
        .post("/v1/channels/hooks/test")
        .json(&json!({ "to": format!("{base}/hook"), "subject": "Hi" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sent["outcome"], "delivered", "{sent}");
    let hooks = received.hooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        hooks[0].webhook_id(),
        sent["idempotency_key"].as_str().unwrap()
    );
    assert!(
        signature_valid(&hooks[0].headers, &hooks[0].body),
        "signature checked by the receiver's own HMAC"
    );
    assert_eq!(hooks[0].json()["subject"], "Hi");

    let gone: Value = admin
        .post("/v1/channels/hooks/test")
        .json(&json!({ "to": format!("{base}/gone") }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(gone["outcome"], "permanent", "{gone}");

    // The audit log holds the change without the secret.
    let audit: Value = admin
        .get("/v1/audit-log?target_kind=channel")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(audit.to_string().contains("channel.update"), "{audit}");
    assert!(!audit.to_string().contains("MfKQ9r8"), "{audit}");

    let listed: Value = admin
        .get("/v1/channels")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let response = admin.delete("/v1/channels/hooks").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    error_of(admin.get("/v1/channels/hooks").send().await.unwrap(), 404).await;
}

#[tokio::test]
async fn bad_settings_name_the_field_and_names_are_unique() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let post = |body: Value| admin.post("/v1/channels").json(&body).send();

    let error = error_of(
        post(json!({ "name": "x", "settings": { "kind": "pigeon" } }))
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(
        error["field"].as_str().unwrap().starts_with("settings"),
        "{error}"
    );
    let error = error_of(
        post(json!({ "name": "mail", "settings": { "kind": "smtp" } }))
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(error["field"], "settings", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("host"),
        "{error}"
    );
    let error = error_of(
        post(json!({ "name": "Bad Name", "settings": { "kind": "webhook", "secret": SECRET } }))
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(error["field"], "name");
    let error = error_of(
        post(json!({ "name": "hooks", "settings": { "kind": "webhook", "secret": "short" } }))
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(
        error["field"].as_str().unwrap().starts_with("settings"),
        "{error}"
    );

    let good = json!({ "name": "hooks", "settings": { "kind": "webhook", "secret": SECRET } });
    assert_eq!(
        post(good.clone()).await.unwrap().status(),
        StatusCode::CREATED
    );
    let error = error_of(post(good).await.unwrap(), 409).await;
    assert_eq!(error["code"], "name_taken");

    let error = error_of(
        admin
            .post("/v1/channels/hooks/test")
            .json(&json!({ "to": "" }))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(error["field"], "to");
}

/// The stored settings of the instance `name`, as the database holds them.
async fn stored_settings(app: &crate::helpers::TestApp, name: &str) -> Value {
    use herald_core::entities::channel_instance;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    channel_instance::Entity::find()
        .filter(channel_instance::Column::Name.eq(name))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .settings
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_a_rotated_key_reseals_them() {
    use herald_core::channel_instances;
    use herald_core::config::SecretsConfig;
    use herald_core::sealing::Sealer;

    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let (base, received) = receiver().await;
    let created = admin
        .post("/v1/channels")
        .json(&json!({ "name": "hooks", "settings": { "kind": "webhook", "secret": SECRET, "allow_list": ["127.0.0.0/8"] } }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let stored = stored_settings(&app, "hooks").await;
    let sealed = stored["secret"].as_str().unwrap().to_owned();
    assert!(sealed.starts_with("sealed:v1:"), "{sealed}");
    assert!(
        !stored
            .to_string()
            .contains(SECRET.trim_start_matches("whsec_"))
    );
    assert_eq!(
        stored["allow_list"],
        json!(["127.0.0.0/8"]),
        "other settings stay plain"
    );

    // Rotate: a new key, the old one kept as previous; reseal; the old key can go.
    let new_key = STANDARD.encode([9u8; 32]);
    let rotated = Sealer::from_config(
        &SecretsConfig {
            key: new_key.clone().into(),
            previous_keys: vec![crate::helpers::TEST_SEALING_KEY.to_owned().into()],
        },
        &std::env::temp_dir(),
    )
    .unwrap();
    assert_eq!(
        channel_instances::reseal_all(&app.db, &rotated)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        channel_instances::reseal_all(&app.db, &rotated)
            .await
            .unwrap(),
        0
    );
    let resealed = stored_settings(&app, "hooks").await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(resealed, sealed);
    let only_new = Sealer::from_config(
        &SecretsConfig {
            key: new_key.into(),
            previous_keys: Vec::new(),
        },
        &std::env::temp_dir(),
    )
    .unwrap();
    let sent = channel_instances::test_send(
        &app.db,
        &only_new,
        &test_config().channel_destinations(),
        "hooks",
        serde_json::from_value(json!({ "to": format!("{base}/hook") })).unwrap(),
    )
    .await
    .unwrap();
    let outcome = serde_json::to_value(&sent).unwrap();
    assert_eq!(outcome["outcome"], "delivered", "{outcome}");
    let hook = &received.hooks()[0];
    assert!(
        signature_valid(&hook.headers, &hook.body),
        "signed with the opened secret"
    );

    // The server's own key no longer opens it: a test send says why, naming the setting.
    let refused = admin
        .post("/v1/channels/hooks/test")
        .json(&json!({ "to": format!("{base}/hook") }))
        .send()
        .await
        .unwrap();
    let error = error_of(refused, 422).await;
    assert_eq!(error["field"], "settings.secret");
}

#[tokio::test]
async fn moving_an_instance_to_another_host_needs_its_secret_again() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let settings = |base_url: &str, secret: Option<&str>| {
        let mut settings = json!({ "kind": "jpush", "app_key": "app", "base_url": base_url });
        if let Some(secret) = secret {
            settings["master_secret"] = json!(secret);
        }
        json!({ "name": "jpush", "settings": settings })
    };
    let created = admin
        .post("/v1/channels")
        .json(&settings("https://api.jpush.cn", Some("master-1")))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    // Same host (another path): the stored secret is kept.
    let same_host = admin
        .put("/v1/channels/jpush")
        .json(&settings("https://api.jpush.cn/v3", None))
        .send()
        .await
        .unwrap();
    assert_eq!(same_host.status(), StatusCode::OK);
    let before = stored_settings(&app, "jpush").await;

    // Another host without the secret: refused, and nothing changes.
    let moved = admin
        .put("/v1/channels/jpush")
        .json(&settings("https://collector.example.net", None))
        .send()
        .await
        .unwrap();
    let error = error_of(moved, 422).await;
    assert_eq!(error["field"], "settings.master_secret");
    let after = stored_settings(&app, "jpush").await;
    assert_eq!(after["base_url"], "https://api.jpush.cn/v3");
    assert_eq!(
        after["master_secret"], before["master_secret"],
        "secret untouched"
    );

    // With its secret given again, the move is accepted.
    let given = admin
        .put("/v1/channels/jpush")
        .json(&settings("https://collector.example.net", Some("master-2")))
        .send()
        .await
        .unwrap();
    assert_eq!(given.status(), StatusCode::OK);
}

#[tokio::test]
async fn hosts_an_admin_sets_cannot_reach_private_addresses_unless_the_server_allows_them() {
    // A server allowing a relay on this machine and one private network, nothing else.
    let app = spawn_app_with(|config| {
        config.channels.allowed_private_destinations = vec![
            "127.0.0.1:2525".parse().unwrap(),
            "10.9.0.0/16".parse().unwrap(),
        ];
    })
    .await;
    let admin = app.operator(Role::Admin).await;
    let create = |name: &str, settings: Value| {
        admin
            .post("/v1/channels")
            .json(&json!({ "name": name, "settings": settings }))
            .send()
    };
    let refused = [
        (
            json!({ "kind": "smtp", "host": "10.0.0.5" }),
            "settings.host",
        ),
        // A name is judged by the addresses it resolves to.
        (
            json!({ "kind": "smtp", "host": "localhost", "port": 2525 }),
            "settings.host",
        ),
        (
            json!({ "kind": "mqtt", "host": "127.0.0.2", "port": 1883 }),
            "settings.host",
        ),
        (
            json!({ "kind": "jpush", "app_key": "a", "master_secret": "s",
                    "base_url": "http://169.254.169.254/latest" }),
            "settings.base_url",
        ),
        (
            json!({ "kind": "jpush", "app_key": "a", "master_secret": "s",
                    "base_url": "http://[64:ff9b::a00:1]/" }),
            "settings.base_url",
        ),
        // A webhook's own allow-list may only narrow the server's.
        (
            json!({ "kind": "webhook", "secret": SECRET, "allow_list": ["127.0.0.0/8"] }),
            "settings.allow_list",
        ),
    ];
    for (n, (settings, field)) in refused.into_iter().enumerate() {
        let response = create(&format!("refused-{n}"), settings.clone())
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{settings}"
        );
        let error = error_of(response, 422).await;
        assert_eq!(error["field"], field, "{settings}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("allowed_private_destinations"),
            "{error}"
        );
    }
    assert!(
        herald_core::channel_instances::list(&app.db)
            .await
            .unwrap()
            .is_empty(),
        "nothing refused was stored"
    );
    // What the server allows, and public hosts, are accepted.
    for (name, settings) in [
        (
            "relay",
            json!({ "kind": "smtp", "host": "127.0.0.1", "port": 2525 }),
        ),
        (
            "broker",
            json!({ "kind": "mqtt", "host": "10.9.0.7", "port": 1883 }),
        ),
        (
            "hooks",
            json!({ "kind": "webhook", "secret": SECRET, "allow_list": ["10.9.1.0/24"] }),
        ),
        (
            "jpush",
            json!({ "kind": "jpush", "app_key": "a", "master_secret": "s",
                          "base_url": "https://api.jpush.cn" }),
        ),
    ] {
        let response = create(name, settings).await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{name}");
    }
    // Moving an instance to a forbidden host is refused like creating it there.
    let moved = admin
        .put("/v1/channels/relay")
        .json(&json!({ "name": "relay", "settings": { "kind": "smtp", "host": "192.168.1.1" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(moved, 422).await["field"], "settings.host");
    // A worker whose configuration no longer allows loopback skips those instances.
    let sealer = app_sealer();
    let built =
        herald_core::channel_instances::build_enabled(&app.db, &sealer, &Default::default())
            .await
            .unwrap();
    let names: Vec<String> = built.into_iter().map(|(model, _)| model.name).collect();
    assert_eq!(names, ["jpush"]);
}

/// The sealer test apps use.
fn app_sealer() -> herald_core::sealing::Sealer {
    herald_core::sealing::Sealer::from_config(
        &test_config().secrets,
        std::path::Path::new("/nonexistent"),
    )
    .unwrap()
}
