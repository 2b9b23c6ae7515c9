//! The admin console: the single-page app built from `admin-ui/` into `admin-ui/dist`.
//!
//! A release build embeds the built files; a debug build reads them from disk on each
//! request, so `npm run build` shows up without recompiling. When the app was never
//! built, `/` says how to build it instead of failing to compile.
//!
//! The app routes in the browser, so a page such as `/campaigns/12` must load
//! `index.html` too. Only browser navigations (`Accept: text/html`) outside the
//! server's own prefixes get it: API clients keep the JSON 404 for unknown routes.

use std::future::Future;

use axum::extract::Request;
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "../admin-ui/dist/"]
#[allow_missing = true]
struct Assets;

/// Paths the server answers itself; the app never claims them.
const SERVER_PREFIXES: [&str; 8] = [
    "/v1",
    "/docs",
    "/openapi.json",
    "/metrics",
    "/sdk",
    "/demo",
    "/healthz",
    "/readyz",
];

/// Vite puts content-hashed files here: a new build gives them new names.
const HASHED_DIR: &str = "assets/";

const NOT_BUILT: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Herald</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2933}
code{background:#eef2f6;padding:.1rem .3rem;border-radius:4px}</style></head>
<body><h1>Herald</h1>
<p>The admin console has not been built into this binary.</p>
<p>Build it with <code>scripts/run</code>, or by hand with
<code>cd admin-ui &amp;&amp; npm ci &amp;&amp; npm run build</code> and then rebuild Herald
(a debug build picks it up without rebuilding).</p>
<p>Meanwhile the API and its documentation are at <a href="/docs/">/docs/</a>.</p>
</body></html>"#;

/// `GET /`: the app's entry page.
pub async fn index(headers: HeaderMap) -> Response {
    entry_page(&headers)
}

/// Everything no route matched: a built file, the entry page for an app route, or
/// `otherwise` (the API's JSON 404).
pub async fn fallback<F, E>(request: Request, otherwise: impl FnOnce() -> F) -> Response
where
    F: Future<Output = E>,
    E: IntoResponse,
{
    let method = request.method();
    let path = request.uri().path();
    if !matches!(*method, Method::GET | Method::HEAD) || is_server_path(path) {
        return otherwise().await.into_response();
    }
    let name = path.trim_start_matches('/');
    if let Some(file) = Assets::get(name) {
        return file_response(name, file, request.headers());
    }
    if looks_like_a_file(name) || !wants_html(request.headers()) {
        return otherwise().await.into_response();
    }
    entry_page(request.headers())
}

fn is_server_path(path: &str) -> bool {
    SERVER_PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// A missing `/assets/x.js` or `/favicon.ico` is a 404, never the HTML page (which a
/// browser would try to run as a script).
fn looks_like_a_file(name: &str) -> bool {
    name.starts_with(HASHED_DIR)
        || name
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

fn entry_page(headers: &HeaderMap) -> Response {
    match Assets::get("index.html") {
        Some(file) => file_response("index.html", file, headers),
        None => (
            [
                (
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            NOT_BUILT,
        )
            .into_response(),
    }
}

/// A built file with its type and caching: hashed assets forever, everything else
/// revalidated (cheaply, by ETag) so a new build is seen at once.
fn file_response(name: &str, file: rust_embed::EmbeddedFile, headers: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()));
    let cache = if name.starts_with(HASHED_DIR) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    let mut response = if headers
        .get(IF_NONE_MATCH)
        .is_some_and(|tag| tag.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(CONTENT_TYPE, mime.as_ref())], file.data.into_owned()).into_response()
    };
    let out = response.headers_mut();
    out.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out.insert(ETAG, value);
    }
    response
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_prefixes_match_whole_segments() {
        assert!(is_server_path("/v1"));
        assert!(is_server_path("/v1/nope"));
        assert!(is_server_path("/docs/"));
        assert!(!is_server_path("/v1x"));
        assert!(!is_server_path("/demography"));
        assert!(!is_server_path("/campaigns/12"));
    }

    #[test]
    fn file_names_are_not_app_routes() {
        assert!(looks_like_a_file("assets/index-abc.js"));
        assert!(looks_like_a_file("favicon.ico"));
        assert!(!looks_like_a_file("campaigns/12"));
        assert!(!looks_like_a_file(""));
    }
}
