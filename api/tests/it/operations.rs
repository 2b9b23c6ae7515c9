use herald_core::access::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{error_of, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_readiness_metrics_and_docs_answer() {
    let app = spawn_app().await;
    let client = app.anonymous();
    for path in ["/healthz", "/readyz"] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(
            response.headers().contains_key("x-request-id"),
            "{path} carries a request id"
        );
    }
    let docs = client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(
        docs.text().await.unwrap().contains("swagger"),
        "Swagger UI is served"
    );
    let spec: serde_json::Value = client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["info"]["title"], "Herald");
    // Without a configured token, the API port does not serve metrics at all.
    let hidden = client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(error_of(hidden, 404).await["code"], "not_found");
    // The separate listener serves them, counting the API's requests.
    let metrics = client
        .get(format!("http://{}/metrics", app.metrics_addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("herald_http_requests_total"), "{metrics}");
    assert!(metrics.contains("route=\"/healthz\""));
    // The database pool, read at the scrape.
    assert!(
        metrics.contains("herald_db_pool_connections{state=\"in_use\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("herald_db_pool_max_connections "),
        "{metrics}"
    );
    // ... and the wait for a connection, probed from start-up on.
    assert!(
        metrics.contains("herald_db_pool_acquire_seconds_count "),
        "{metrics}"
    );
}

#[tokio::test]
async fn metrics_on_the_api_port_need_the_configured_token() {
    let app = spawn_app_with(|config| {
        config.metrics.token = "metrics-token-0123456789".to_owned().into();
    })
    .await;
    let client = app.anonymous();
    client.get(app.url("/healthz")).send().await.unwrap();
    let get = |token: Option<&str>| {
        let request = client.get(app.url("/metrics"));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
    };
    for wrong in [None, Some("metrics-token-0123456788"), Some("")] {
        let refused = get(wrong).await.unwrap();
        assert_eq!(
            error_of(refused, 401).await["code"],
            "unauthenticated",
            "{wrong:?}"
        );
    }
    let allowed = get(Some("metrics-token-0123456789")).await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert!(
        allowed
            .text()
            .await
            .unwrap()
            .contains("herald_http_requests_total")
    );
}

#[tokio::test]
async fn a_request_id_sent_by_the_client_is_kept() {
    let app = spawn_app().await;
    let response = app
        .anonymous()
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let app = spawn_app_with(|config| config.http.body_limit_bytes = 2048).await;
    let editor = app.operator(Role::Editor).await;

    let unknown = app
        .anonymous()
        .get(app.url("/no/such/route"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(unknown, 404).await["code"], "not_found");

    let wrong_method = app
        .anonymous()
        .post(app.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(wrong_method, 405).await["code"],
        "method_not_allowed"
    );

    let broken = editor
        .put("/v1/subscribers/x")
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(broken, 400).await["code"], "malformed_json");

    let not_json = editor
        .put("/v1/subscribers/x")
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(not_json, 415).await["code"],
        "unsupported_media_type"
    );

    // A path parameter that does not parse names nothing: 404, naming the parameter.
    let not_an_id = editor.get("/v1/audiences/abc").send().await.unwrap();
    let error = error_of(not_an_id, 404).await;
    assert_eq!(
        (&error["code"], &error["field"]),
        (&json!("not_found"), &json!("id"))
    );

    let huge = json!({ "attributes": { "blob": "x".repeat(4096) } });
    let too_big = editor
        .put("/v1/subscribers/x")
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(too_big, 413).await["code"], "payload_too_large");
}

/// A client that opens a connection and trickles a request head (slow loris) is cut
/// off once `http.header_read_timeout_secs` passes; so is a keep-alive connection left
/// idle that long. A request sent in time is answered.
#[tokio::test]
async fn a_connection_that_sends_no_full_request_head_in_time_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = spawn_app_with(|config| config.http.header_read_timeout_secs = 1).await;
    let closed_within = |mut stream: tokio::net::TcpStream| async move {
        let mut rest = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(20),
            stream.read_to_end(&mut rest),
        )
        .await
        .expect("the server closes the connection")
        .expect("read until closed");
        String::from_utf8_lossy(&rest).into_owned()
    };

    let mut trickling = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    trickling
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    let answer = closed_within(trickling).await;
    assert!(
        !answer.contains("200 OK"),
        "no answer to a partial head: {answer}"
    );

    let mut idle = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: herald\r\n\r\n")
        .await
        .unwrap();
    let answer = closed_within(idle).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
}

#[tokio::test]
async fn head_is_answered_like_get_without_a_body() {
    let app = spawn_app().await;
    let viewer = app.operator(Role::Viewer).await;
    for path in ["/healthz", "/v1/audiences", "/v1/campaigns"] {
        let get = viewer.get(path).send().await.unwrap();
        let head = viewer
            .request(reqwest::Method::HEAD, path)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(head.status(), StatusCode::OK, "{path}");
        assert!(head.bytes().await.unwrap().is_empty(), "{path}: no body");
    }
    // Without credentials, HEAD is refused as GET is.
    let anonymous = app
        .anonymous()
        .head(app.url("/v1/audiences"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
