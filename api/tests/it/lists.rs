//! Every list the console manages searches by name (any case, pattern characters taken
//! literally), sorts, and pages by offset: campaigns and templates, and the short lists
//! (audiences, rules, operators, API keys, channel instances, event endpoints).
use herald_core::access::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, error_of, spawn_app};

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap())
        .collect()
}

async fn template(admin: &Session, name: &str) -> i64 {
    let created = admin
        .ok(
            Method::POST,
            "/v1/templates",
            &json!({ "name": name, "content": { "inbox": { "title": "Hi" } } }),
        )
        .await;
    created["template"]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn campaigns_and_templates_are_searched_sorted_and_paged() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let mut template_id = 0;
    for name in ["Spring sale", "autumn SALE", "Welcome", "100%_off"] {
        template_id = template(&admin, name).await;
    }
    let audience = admin
        .ok(
            Method::POST,
            "/v1/audiences",
            &json!({ "name": "all", "kind": "all" }),
        )
        .await;
    for name in ["Spring sale", "autumn SALE", "Welcome", "100%_off"] {
        admin
            .ok(
                Method::POST,
                "/v1/campaigns",
                &json!({ "name": name, "audience_id": audience["id"], "category": "news",
                    "template_id": template_id, "channels": ["inbox"], "schedule": { "kind": "now" } }),
            )
            .await;
    }

    // Templates: by name by default; newest first; searched in any case.
    let all = admin.get_json("/v1/templates").await;
    assert_eq!(
        names(&all),
        ["100%_off", "Spring sale", "Welcome", "autumn SALE"]
    );
    let newest = admin.get_json("/v1/templates?sort=newest&limit=2").await;
    assert_eq!(names(&newest), ["100%_off", "Welcome"]);
    let next = admin
        .get_json("/v1/templates?sort=newest&limit=2&offset=2")
        .await;
    assert_eq!(names(&next), ["autumn SALE", "Spring sale"]);
    let sale = admin.get_json("/v1/templates?search=sAlE").await;
    assert_eq!(names(&sale), ["Spring sale", "autumn SALE"]);
    // `%` and `_` are literal, not wildcards.
    assert_eq!(
        names(&admin.get_json("/v1/templates?search=%25_").await),
        ["100%_off"]
    );
    assert!(
        admin
            .get_json("/v1/templates?search=_f")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Campaigns: newest first by default; by name; paged; with the status filter.
    let all = admin.get_json("/v1/campaigns").await;
    assert_eq!(
        names(&all),
        ["100%_off", "Welcome", "autumn SALE", "Spring sale"]
    );
    let by_name = admin.get_json("/v1/campaigns?sort=name&limit=3").await;
    assert_eq!(names(&by_name), ["100%_off", "Spring sale", "Welcome"]);
    let last = admin
        .get_json("/v1/campaigns?sort=name&limit=3&offset=3")
        .await;
    assert_eq!(names(&last), ["autumn SALE"]);
    let sale = admin
        .get_json("/v1/campaigns?search=sale&status=draft&sort=oldest")
        .await;
    assert_eq!(names(&sale), ["Spring sale", "autumn SALE"]);

    for (path, field) in [
        ("/v1/campaigns?limit=0", "limit"),
        ("/v1/campaigns?sort=random", "sort"),
        ("/v1/templates?limit=501", "limit"),
        ("/v1/templates?search=", "search"),
    ] {
        let error = error_of(admin.get(path).send().await.unwrap(), 422).await;
        assert!(
            error["field"] == field || error["message"].as_str().unwrap().contains(field),
            "{path}: {error}"
        );
    }
}

/// A short list the console manages: where it is, how to create an item named `name`,
/// and which field of an item carries the name.
struct ShortList {
    path: &'static str,
    body: fn(&str) -> Value,
    named_by: &'static str,
}

const SHORT_LISTS: [ShortList; 6] = [
    ShortList {
        path: "/v1/audiences",
        body: |name| json!({ "name": name, "kind": "all" }),
        named_by: "name",
    },
    ShortList {
        path: "/v1/rules",
        body: |name| {
            json!({ "name": name, "scope": "global", "kind": "frequency_cap",
                "params": { "max": 2, "window": "day", "per": "channel" } })
        },
        named_by: "name",
    },
    ShortList {
        path: "/v1/operators",
        body: |name| json!({ "username": name, "password": "a long enough password", "role": "viewer" }),
        named_by: "username",
    },
    ShortList {
        path: "/v1/api-keys",
        body: |name| json!({ "name": name, "scopes": ["subscribers:read"] }),
        named_by: "name",
    },
    ShortList {
        path: "/v1/channels",
        body: |name| {
            json!({ "name": name, "settings": { "kind": "webhook",
                "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" } })
        },
        named_by: "name",
    },
    ShortList {
        path: "/v1/event-endpoints",
        body: |name| json!({ "url": format!("http://127.0.0.1:9/{name}"), "event_types": ["delivery.failed"] }),
        named_by: "url",
    },
];

#[tokio::test]
async fn every_short_list_is_searched_sorted_and_paged() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    for list in &SHORT_LISTS {
        for name in ["list-beta-one", "list-alpha-two", "list-gamma-one"] {
            admin.ok(Method::POST, list.path, &(list.body)(name)).await;
        }
        let names = |found: Value| -> Vec<String> {
            found
                .as_array()
                .unwrap()
                .iter()
                .map(|item| {
                    let name = item[list.named_by].as_str().unwrap();
                    name.rsplit('/').next().unwrap().to_owned()
                })
                .collect()
        };
        let path = |query: &str| format!("{}?search=list-&{query}", list.path);
        assert_eq!(
            names(admin.get_json(&path("sort=name")).await),
            ["list-alpha-two", "list-beta-one", "list-gamma-one"],
            "{}",
            list.path
        );
        assert_eq!(
            names(admin.get_json(&path("sort=newest&limit=2")).await),
            ["list-gamma-one", "list-alpha-two"],
            "{}",
            list.path
        );
        assert_eq!(
            names(admin.get_json(&path("sort=newest&limit=2&offset=2")).await),
            ["list-beta-one"],
            "{}",
            list.path
        );
        let one = admin
            .get_json(&format!("{}?search=ONE&sort=oldest", list.path))
            .await;
        assert_eq!(
            names(one),
            ["list-beta-one", "list-gamma-one"],
            "{}",
            list.path
        );
        for (query, field) in [("sort=random", "sort"), ("limit=0", "limit")] {
            let response = admin
                .get(&format!("{}?{query}", list.path))
                .send()
                .await
                .unwrap();
            let error = error_of(response, 422).await;
            assert!(
                error["field"] == field || error["message"].as_str().unwrap().contains(field),
                "{}?{query}: {error}",
                list.path
            );
        }
    }
}
