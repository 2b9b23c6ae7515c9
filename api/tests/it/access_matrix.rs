//! Every documented route, called by every role, an API key and nobody: the answer
//! must be what the route's declared scope and the role's grants say. The routes come
//! from the generated document, so a new route is covered (or refused, when it declares
//! no security) without touching this file. The matrix itself is committed in
//! `access_matrix.txt`, so a permission change shows up in review.

use std::collections::BTreeMap;

use herald_api::auth::AccessTable;
use herald_api::auth::access::{AccessRule, Scheme};
use herald_core::access::{Role, Scope};

use crate::helpers::spawn_app;

const MATRIX_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/access_matrix.txt");

fn table() -> AccessTable {
    AccessTable::from_openapi(&herald_api::openapi_document())
        .expect("every route declares its security")
}

/// A concrete path for a template: parameters get values that name nothing stored, so
/// that allowed calls answer 404/422 instead of changing the records the test uses.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "999999"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn allowed_roles(rule: &AccessRule) -> Vec<&'static str> {
    Role::ALL
        .into_iter()
        .filter(|role| match rule.scopes_for(Scheme::Session) {
            Some(scopes) => scopes.iter().all(|s| role.grants(*s)),
            None => false,
        })
        .map(Role::as_str)
        .collect()
}

/// Routes a subscriber's own token opens (and nothing else does).
fn for_subscribers(rule: &AccessRule) -> bool {
    matches!(rule, AccessRule::Require(_)) && rule.scopes_for(Scheme::SubscriberToken).is_some()
}

fn describe(table: &AccessTable) -> String {
    let mut lines = BTreeMap::new();
    for (method, path, rule) in table.iter() {
        let who = match rule {
            AccessRule::Public => "public".to_owned(),
            AccessRule::Require(_) => {
                let mut who = allowed_roles(rule).join(",");
                if let Some(scopes) = rule.scopes_for(Scheme::ApiKey) {
                    let names: Vec<_> = scopes.iter().map(|s| s.as_str()).collect();
                    who.push_str(&format!(" | api_key[{}]", names.join(",")));
                }
                if for_subscribers(rule) {
                    who.push_str("the subscriber's own token");
                }
                who
            }
        };
        lines.insert(format!("{path} {method}"), who);
    }
    lines
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}\n"))
        .collect()
}

#[test]
fn committed_matrix_matches_the_routes() {
    let generated = describe(&table());
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(MATRIX_FILE, &generated).expect("write matrix");
    }
    let committed = std::fs::read_to_string(MATRIX_FILE).unwrap_or_default();
    assert_eq!(
        committed, generated,
        "the access matrix changed; review it and run with UPDATE_SNAPSHOTS=1 to accept"
    );
}

fn denied(status: u16) -> bool {
    status == 401 || status == 403
}

#[tokio::test]
async fn every_route_answers_each_role_as_declared() {
    let app = spawn_app().await;
    let table = table();
    let mut routes: Vec<_> = table
        .iter()
        .map(|(m, p, r)| (m.clone(), p.to_owned(), r.clone()))
        .collect();
    // Logging out ends the session the rest of the loop uses: do it last.
    routes.sort_by_key(|(_, path, _)| path.contains("logout"));

    let anonymous = app.anonymous();
    let all_key_scopes: Vec<&str> = Scope::ALL
        .into_iter()
        .filter(|s| s.grantable_to_api_keys())
        .map(Scope::as_str)
        .collect();
    let key = app.api_key(&all_key_scopes).await;

    for role in Role::ALL {
        let session = app.operator(role).await;
        for (method, path, rule) in &routes {
            let url = concrete(path);
            let status = session
                .request(method.clone(), &url)
                .json(&serde_json::json!({}))
                .send()
                .await
                .expect("request")
                .status()
                .as_u16();
            let expected_allowed = match rule {
                AccessRule::Public => true,
                AccessRule::Require(_) => allowed_roles(rule).contains(&role.as_str()),
            };
            if for_subscribers(rule) {
                assert_eq!(
                    status, 401,
                    "a session is no subscriber token: {method} {path}"
                );
            } else if expected_allowed {
                assert!(
                    !denied(status),
                    "{role} should reach {method} {path}, got {status}"
                );
            } else {
                assert_eq!(status, 403, "{role} must be refused {method} {path}");
            }
        }
    }

    for (method, path, rule) in &routes {
        let url = app.url(&concrete(path));
        let status = anonymous
            .request(method.clone(), &url)
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("request")
            .status()
            .as_u16();
        match rule {
            AccessRule::Public => {
                assert!(!denied(status), "{method} {path} is public, got {status}")
            }
            AccessRule::Require(_) => {
                assert_eq!(status, 401, "{method} {path} without credentials")
            }
        }

        let status = anonymous
            .request(method.clone(), &url)
            .bearer_auth(&key)
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("request")
            .status()
            .as_u16();
        match rule.scopes_for(Scheme::ApiKey) {
            Some(_) => assert!(
                !denied(status),
                "an API key should reach {method} {path}, got {status}"
            ),
            None if for_subscribers(rule) => {
                assert_eq!(
                    status, 401,
                    "an API key is no subscriber token: {method} {path}"
                )
            }
            None => assert_eq!(status, 403, "an API key must be refused {method} {path}"),
        }
    }
}
