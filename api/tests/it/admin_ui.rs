//! The admin console is served at `/` and for its own pages, without taking over the
//! API's routes. Whether `admin-ui/dist` was built or not, these pages are HTML (the
//! app, or a page saying how to build it).

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};

use crate::helpers::{TestApp, error_of, spawn_app};

/// What a browser sends when it navigates to a page.
const NAVIGATION: &str = "text/html,application/xhtml+xml,*/*;q=0.8";

/// GETs `path` the way a browser navigating to it does.
async fn navigate(client: &reqwest::Client, app: &TestApp, path: &str) -> reqwest::Response {
    client
        .get(app.url(path))
        .header(ACCEPT, NAVIGATION)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_front_page_and_app_pages_are_html() {
    let app = spawn_app().await;
    let client = app.anonymous();
    for path in ["/", "/campaigns/12", "/login"] {
        let response = navigate(&client, &app, path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let content_type = response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("text/html"),
            "{path}: {content_type}"
        );
        assert_eq!(response.headers()[CACHE_CONTROL], "no-cache", "{path}");
        let body = response.text().await.unwrap();
        assert!(body.contains("<html"), "{path}: {body}");
    }
}

#[tokio::test]
async fn api_paths_keep_their_json_errors() {
    let app = spawn_app().await;
    let client = app.anonymous();
    for path in ["/v1/nope", "/v1/campaigns/12/nope", "/metrics/nope"] {
        let response = navigate(&client, &app, path).await;
        assert_eq!(error_of(response, 404).await["code"], "not_found", "{path}");
    }
    // An API client asking for an unknown page gets the JSON 404 too, and so does a
    // missing script (never the HTML page in its place).
    let unknown = client.get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(error_of(unknown, 404).await["code"], "not_found");
    let script = navigate(&client, &app, "/assets/missing-0000.js").await;
    assert_eq!(error_of(script, 404).await["code"], "not_found");
    let posted = client.post(app.url("/campaigns/12")).send().await.unwrap();
    assert_eq!(error_of(posted, 404).await["code"], "not_found");
}
