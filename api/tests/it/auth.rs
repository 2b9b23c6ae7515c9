use herald_core::access::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, Session, error_of, spawn_app, spawn_app_with};

#[tokio::test]
async fn login_sets_a_strict_http_only_session_cookie() {
    let app = spawn_app().await;
    let session = app.operator(Role::Viewer).await;
    let me: serde_json::Value = session
        .get("/v1/auth/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "viewer");
    let scopes = me["scopes"].as_array().unwrap();
    assert!(scopes.contains(&json!("audit:read")), "{scopes:?}");
    assert!(!scopes.contains(&json!("campaigns:write")), "{scopes:?}");

    let response = app
        .anonymous()
        .post(app.url("/v1/auth/login"))
        .json(&json!({ "username": me["username"], "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let cookies: Vec<_> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("herald_session="))
        .expect("session cookie");
    assert!(session_cookie.contains("HttpOnly"));
    assert!(session_cookie.contains("SameSite=Strict"));
    let csrf_cookie = cookies
        .iter()
        .find(|c| c.starts_with("herald_csrf="))
        .expect("csrf cookie");
    assert!(
        !csrf_cookie.contains("HttpOnly"),
        "the UI must be able to read the CSRF cookie"
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_user_answer_the_same() {
    let app = spawn_app().await;
    let _ = app.operator(Role::Editor).await;
    for (username, password) in [("editor-0", "wrong password!"), ("nobody", PASSWORD)] {
        let response = app
            .anonymous()
            .post(app.url("/v1/auth/login"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap();
        let error = error_of(response, 401).await;
        assert_eq!(error["code"], "invalid_credentials");
    }
}

#[tokio::test]
async fn state_changing_cookie_requests_need_the_csrf_header() {
    let app = spawn_app().await;
    let session = app.operator(Role::Editor).await;
    let body = json!({ "email": "ada@example.com" });

    let missing = session
        .client
        .put(app.url("/v1/subscribers/ada"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(missing, 403).await["code"], "csrf_failed");

    let wrong = session
        .client
        .put(app.url("/v1/subscribers/ada"))
        .header("x-csrf-token", "forged")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(wrong, 403).await["code"], "csrf_failed");

    let ok = session
        .put("/v1/subscribers/ada")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::CREATED);
    // Reads need no token.
    assert_eq!(
        session
            .client
            .get(app.url("/v1/subscribers/ada"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let session = app.operator(Role::Viewer).await;
    let response = session.post("/v1/auth/logout").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // The browser forgot the cookie; replaying it must not work either.
    let error = error_of(session.get("/v1/auth/me").send().await.unwrap(), 401).await;
    assert_eq!(error["code"], "unauthenticated");
}

#[tokio::test]
async fn a_disabled_operator_loses_sessions_and_cannot_log_in() {
    let app = spawn_app().await;
    let admin = app.operator(Role::Admin).await;
    let editor = app.operator(Role::Editor).await;
    let me: serde_json::Value = editor
        .get("/v1/auth/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = me["id"].as_i64().unwrap();

    let response = admin
        .patch(&format!("/v1/operators/{id}"))
        .json(&json!({ "disabled": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let error = error_of(editor.get("/v1/auth/me").send().await.unwrap(), 401).await;
    assert_eq!(error["code"], "session_expired");
    let username = me["username"].as_str().unwrap();
    assert_eq!(
        Session::login(app.url(""), username, PASSWORD).await.err(),
        Some(401)
    );
}

async fn username_of(session: &Session) -> String {
    let me: serde_json::Value = session
        .get("/v1/auth/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    me["username"].as_str().unwrap().to_owned()
}

async fn try_login(
    app: &crate::helpers::TestApp,
    username: &str,
    password: &str,
) -> reqwest::Response {
    app.anonymous()
        .post(app.url("/v1/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_account_is_locked_out_after_its_failures_even_for_the_right_password() {
    use herald_core::entities::audit_log;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let app = spawn_app_with(|config| {
        config.auth.login_max_failures = 3;
        config.auth.login_lockout_secs = 120;
    })
    .await;
    let username = username_of(&app.operator(Role::Editor).await).await;
    for _ in 0..3 {
        let refused = try_login(&app, &username, "not the password").await;
        assert_eq!(error_of(refused, 401).await["code"], "invalid_credentials");
    }
    let locked = try_login(&app, &username, PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=120).contains(&retry_after), "{retry_after}");
    assert_eq!(error_of(locked, 429).await["code"], "too_many_attempts");
    // Another letter case is the same account.
    let shouted = try_login(&app, &username.to_uppercase(), PASSWORD).await;
    assert_eq!(shouted.status(), StatusCode::TOO_MANY_REQUESTS);

    let lockouts = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("auth.lockout"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(lockouts.len(), 1, "{lockouts:?}");
    assert_eq!(
        lockouts[0].target_id.as_deref(),
        Some(format!("account {username}").as_str())
    );
    let after = lockouts[0].after.clone().unwrap();
    assert_eq!(
        (
            after["failures"].as_u64(),
            after["locked_for_secs"].as_u64()
        ),
        (Some(3), Some(120))
    );
}

#[tokio::test]
async fn one_address_guessing_across_accounts_is_locked_out() {
    let app = spawn_app_with(|config| {
        config.auth.login_max_failures = 100;
        config.auth.login_max_failures_per_address = 4;
    })
    .await;
    let username = username_of(&app.operator(Role::Viewer).await).await;
    for guess in ["root", "admin", "test", "guest"] {
        let refused = try_login(&app, guess, "password123!").await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{guess}");
    }
    // The address is locked now, for a real account with its right password too.
    let locked = try_login(&app, &username, PASSWORD).await;
    assert_eq!(error_of(locked, 429).await["code"], "too_many_attempts");
}

#[tokio::test]
async fn behind_a_proxy_the_configured_header_names_the_client() {
    let app = spawn_app_with(|config| {
        config.auth.login_max_failures = 100;
        config.auth.login_max_failures_per_address = 2;
        config.http.client_address_header = "x-forwarded-for".into();
    })
    .await;
    let from = |address: &'static str| {
        app.anonymous()
            .post(app.url("/v1/auth/login"))
            .header("x-forwarded-for", format!("203.0.113.250, {address}"))
            .json(&json!({ "username": "nobody", "password": "password123!" }))
            .send()
    };
    for _ in 0..2 {
        assert_eq!(
            from("198.51.100.1").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        from("198.51.100.1").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy is not locked out with it.
    assert_eq!(
        from("198.51.100.2").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

/// Logs `username` in; returns the Set-Cookie headers.
async fn login_cookies(app: &crate::helpers::TestApp, username: &str) -> Vec<String> {
    let response = try_login(app, username, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn cookie_value(cookies: &[String], name: &str) -> String {
    let cookie = cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {cookies:?}"));
    cookie[name.len() + 1..]
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

async fn me_with(app: &crate::helpers::TestApp, cookie: &str) -> reqwest::Response {
    app.anonymous()
        .get(app.url("/v1/auth/me"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn served_over_https_the_cookies_are_secure_and_host_bound() {
    let app =
        spawn_app_with(|config| config.public_url = "https://herald.example.com".into()).await;
    let username = username_of(&app.operator(Role::Viewer).await).await;
    let cookies = login_cookies(&app, &username).await;
    for name in ["__Host-herald_session", "__Host-herald_csrf"] {
        let cookie = cookies.iter().find(|c| c.starts_with(name)).unwrap();
        assert!(cookie.contains("Secure"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
        assert!(!cookie.to_lowercase().contains("domain="), "{cookie}");
    }
    let token = cookie_value(&cookies, "__Host-herald_session");
    let me = me_with(&app, &format!("__Host-herald_session={token}")).await;
    assert_eq!(me.status(), StatusCode::OK);
    // The unprefixed name (which a sibling subdomain could set) is not accepted.
    let planted = me_with(&app, &format!("herald_session={token}")).await;
    assert_eq!(planted.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_session_ends_when_idle_too_long_and_at_its_absolute_expiry() {
    use herald_core::entities::session;
    use sea_orm::{EntityTrait, sea_query::Expr};

    let app = spawn_app().await;
    let username = username_of(&app.operator(Role::Viewer).await).await;
    let move_back = |column: session::Column, hours: i64| {
        let db = app.db.clone();
        async move {
            session::Entity::update_many()
                .col_expr(
                    column,
                    Expr::value(chrono::Utc::now() - chrono::Duration::hours(hours)),
                )
                .exec(&db)
                .await
                .unwrap();
        }
    };

    // Idle: last seen an hour ago, longer than the 30-minute default.
    let cookies = login_cookies(&app, &username).await;
    let cookie = format!(
        "herald_session={}",
        cookie_value(&cookies, "herald_session")
    );
    assert_eq!(me_with(&app, &cookie).await.status(), StatusCode::OK);
    move_back(session::Column::LastSeenAt, 1).await;
    let idle = me_with(&app, &cookie).await;
    assert_eq!(error_of(idle, 401).await["code"], "session_expired");

    // Absolute: in use a moment ago, but past its expiry.
    let cookies = login_cookies(&app, &username).await;
    let cookie = format!(
        "herald_session={}",
        cookie_value(&cookies, "herald_session")
    );
    move_back(session::Column::ExpiresAt, 1).await;
    let expired = me_with(&app, &cookie).await;
    assert_eq!(error_of(expired, 401).await["code"], "session_expired");
}
