//! One-click unsubscribe links from emails (RFC 8058). No login: the signed token is
//! the authority. A GET only shows a confirmation page, because mail scanners follow
//! links; the POST (what mail clients send for one-click) opts the subscriber out.

use axum::Json;
use axum::extract::State;
use axum::response::Html;
use herald_core::unsubscribe::{self, Unsubscribed};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, ErrorBody};
use crate::extract::Path;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(confirm_page, unsubscribe))
}

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Unsubscribe</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; padding: 0 1rem">
<h1>Unsubscribe</h1>
<p>Stop receiving these emails?</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button></form>
</body></html>"#;

/// The page a person sees when they open the link: a button that sends the POST.
#[utoipa::path(get, path = "/v1/unsubscribe/{token}", tag = "subscribers", security(()),
    params(("token" = String, Path, description = "The signed token from the link")),
    responses((status = 200, content_type = "text/html", description = "A confirmation page"),
        (status = 422, body = ErrorBody, description = "Not a valid link")))]
async fn confirm_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Html<&'static str>, ApiError> {
    unsubscribe::check(&state.db, &token).await?;
    Ok(Html(PAGE))
}

/// Opts the subscriber out of the message's category on email. Mail clients send this
/// with the body `List-Unsubscribe=One-Click`; any body is accepted. Idempotent.
#[utoipa::path(post, path = "/v1/unsubscribe/{token}", tag = "subscribers", security(()),
    params(("token" = String, Path, description = "The signed token from the link")),
    responses((status = 200, body = Unsubscribed),
        (status = 404, body = ErrorBody, description = "The subscriber no longer exists"),
        (status = 422, body = ErrorBody, description = "Not a valid link")))]
async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<Unsubscribed>, ApiError> {
    Ok(Json(unsubscribe::apply(&state.db, &token).await?))
}
