//! A subscriber's inbox, for the subscriber's own client (short-poll transport): items,
//! the unread pair, and marking read, archiving and acknowledging. Every route takes a
//! subscriber token and sees only that subscriber's items.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use herald_core::inbox::{Action, InboxItem, Page, Signal, Unread, act_now};
use herald_core::inbox::{pairs, store};
use herald_core::subscribers::store as subscribers;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use validator::Validate;

use super::pagination::DEFAULT_LIMIT;
use crate::auth::SubscriberCaller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, ValidJson, ValidQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_inbox))
        .routes(routes!(subscriber_inbox))
        .routes(routes!(unread_count))
        .routes(routes!(read_item))
        .routes(routes!(read_all))
        .routes(routes!(archive_item))
        .routes(routes!(acknowledge_item))
}

/// Long-poll: the poll route waits, so it lives beside the streams (no request timeout).
pub fn long_poll() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(poll))
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PollQuery {
    /// Answer with items newer than this id (the last one the client has; 0 for all).
    #[validate(range(min = 0))]
    after: i64,
    /// Seconds to wait for something new before answering 204: 1 to 60 (default 25).
    #[validate(range(min = 1, max = 60))]
    timeout: Option<u64>,
}

/// Long-poll: answers as soon as there is an item newer than `after` (all of them, up
/// to 200, oldest first, with the unread pair), or 204 when `timeout` passes first.
#[utoipa::path(get, path = "/v1/inbox/poll", tag = "inbox",
    security(("subscriber_token" = [])),
    params(PollQuery),
    responses((status = 200, body = InboxPage), (status = 204, description = "Nothing new before the timeout"),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "The subscriber holds as many streams and polls as allowed")))]
async fn poll(
    State(state): State<AppState>,
    subscriber: SubscriberCaller,
    ValidQuery(query): ValidQuery<PollQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    // Listen before reading, so an item stored in between still wakes this poll. A
    // waiting poll holds a place among the subscriber's streams.
    let mut signals = super::streams::feed::listen(&state, subscriber.id)?;
    let deadline =
        tokio::time::Instant::now() + std::time::Duration::from_secs(query.timeout.unwrap_or(25));
    loop {
        let items = store::list(&state.db, subscriber.id, Page::After(query.after), 200).await?;
        if !items.is_empty() {
            let unread = pairs::unread(&state.db, subscriber.id).await?;
            return Ok(Json(InboxPage {
                as_of: Utc::now(),
                items,
                unread,
                recalled: Vec::new(),
            })
            .into_response());
        }
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => break,
            () = state.closing.cancelled() => break,
            // Any signal (or a lag) is worth a look; a recall is answered at once; a
            // closed bus ends the wait.
            signal = signals.recv() => match signal {
                Ok(Signal::Recalled { ids, unread }) => {
                    let page = InboxPage {
                        items: Vec::new(),
                        unread,
                        recalled: ids,
                        as_of: Utc::now(),
                    };
                    return Ok(Json(page).into_response());
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                _ => {}
            },
        }
    }
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Items older than this id, newest first (scrolling back). The default page is
    /// the newest items.
    before: Option<i64>,
    /// Items newer than this id, oldest first (catching up after a reconnect).
    after: Option<i64>,
    /// 1 to 200 (default 50).
    #[validate(range(min = 1, max = 200))]
    limit: Option<u64>,
    /// Polling clients: the `as_of` of the previous answer. The answer's `recalled`
    /// then names the items recalled since (an id may come twice; removing it again
    /// is harmless).
    recalled_since: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxPage {
    items: Vec<InboxItem>,
    unread: Unread,
    /// Items recalled by their sender: remove them. A long-poll names those recalled
    /// while it waited; a page asked with `recalled_since`, those recalled since then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    recalled: Vec<i64>,
    /// When this answer was read: pass it as `recalled_since` on the next poll.
    as_of: DateTime<Utc>,
}

/// How far back a poll's `recalled_since` looks before the time it names: a recall
/// stamps its items before it commits, so one that commits while a poll is answered
/// is still named by the next.
const RECALL_GRACE: chrono::Duration = chrono::Duration::seconds(60);

/// The subscriber's items (archived ones left out) and unread pair.
#[utoipa::path(get, path = "/v1/inbox", tag = "inbox",
    security(("subscriber_token" = [])),
    params(InboxQuery),
    responses((status = 200, body = InboxPage), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_inbox(
    State(state): State<AppState>,
    subscriber: SubscriberCaller,
    ValidQuery(query): ValidQuery<InboxQuery>,
) -> Result<Json<InboxPage>, ApiError> {
    Ok(Json(inbox_page(&state, subscriber.id, &query).await?))
}

/// A subscriber's inbox as the subscriber sees it (archived items left out), with read
/// times and the unread pair: for operators answering "did they see it?".
#[utoipa::path(get, path = "/v1/subscribers/{external_id}/inbox", tag = "inbox",
    security(("session" = ["subscribers:read"]), ("api_key" = ["subscribers:read"])),
    params(("external_id" = String, Path, description = "The product's id for the user"), InboxQuery),
    responses((status = 200, body = InboxPage), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn subscriber_inbox(
    State(state): State<AppState>,
    Path(external_id): Path<String>,
    ValidQuery(query): ValidQuery<InboxQuery>,
) -> Result<Json<InboxPage>, ApiError> {
    let subscriber =
        subscribers::find(&state.db, super::subscribers::external_id(&external_id)?).await?;
    Ok(Json(inbox_page(&state, subscriber.id, &query).await?))
}

async fn inbox_page(
    state: &AppState,
    subscriber_id: i64,
    query: &InboxQuery,
) -> Result<InboxPage, ApiError> {
    let page = match (query.after, query.before) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "after",
                "give `after` or `before`, not both",
            ));
        }
        (Some(after), None) => Page::After(after),
        (None, before) => Page::Before(before),
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let as_of = Utc::now();
    let items = store::list(&state.db, subscriber_id, page, limit).await?;
    let unread = pairs::unread(&state.db, subscriber_id).await?;
    let recalled = match query.recalled_since {
        Some(since) => {
            store::recalled_since(&state.db, subscriber_id, since - RECALL_GRACE).await?
        }
        None => Vec::new(),
    };
    Ok(InboxPage {
        items,
        unread,
        recalled,
        as_of,
    })
}

/// The unread count and the version it belongs to: keep the pair with the highest
/// version, whichever transport it came over.
#[utoipa::path(get, path = "/v1/inbox/unread-count", tag = "inbox",
    security(("subscriber_token" = [])),
    responses((status = 200, body = Unread), (status = 401, body = ErrorBody)))]
async fn unread_count(
    State(state): State<AppState>,
    subscriber: SubscriberCaller,
) -> Result<Json<Unread>, ApiError> {
    Ok(Json(pairs::unread(&state.db, subscriber.id).await?))
}

/// Marks one item read (again is harmless); answers the new unread pair.
#[utoipa::path(post, path = "/v1/inbox/{id}/read", tag = "inbox",
    security(("subscriber_token" = [])),
    params(("id" = i64, Path, description = "Inbox item id")),
    responses((status = 200, body = Unread), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn read_item(
    State(state): State<AppState>,
    subscriber: SubscriberCaller,
    Path(id): Path<i64>,
) -> Result<Json<Unread>, ApiError> {
    act(&state, &subscriber, Action::Read(id)).await
}

/// Carries out the action; the subscriber's other connections (another tab, the phone)
/// hear of it.
async fn act(
    state: &AppState,
    subscriber: &SubscriberCaller,
    action: Action,
) -> Result<Json<Unread>, ApiError> {
    Ok(Json(
        act_now(&state.db, &state.bus, subscriber.id, action).await?,
    ))
}

/// Marks every unread item read.
#[utoipa::path(post, path = "/v1/inbox/read-all", tag = "inbox",
    security(("subscriber_token" = [])),
    responses((status = 200, body = Unread), (status = 401, body = ErrorBody)))]
async fn read_all(
    State(state): State<AppState>,
    subscriber: SubscriberCaller,
) -> Result<Json<Unread>, ApiError> {
    act(&state, &subscriber, Action::ReadAll).await
}

/// Archives an item: it leaves the list and, if unread, the count.
#[utoipa::path(post, path = "/v1/inbox/{id}/archive", tag = "inbox",
    security(("subscriber_token" = [])),
    params(("id" = i64, Path, description = "Inbox item id")),
    responses((status = 200, body = Unread), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn archive_item(
    State(state): State<AppState>,
    subscriber: SubscriberCaller,
    Path(id): Path<i64>,
) -> Result<Json<Unread>, ApiError> {
    act(&state, &subscriber, Action::Archive(id)).await
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reported {
    /// The client has the item.
    Received,
    /// The item was shown to the user.
    Displayed,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckIn {
    status: Reported,
}

/// Reports that the client received or displayed an item; the delivery log records it.
#[utoipa::path(post, path = "/v1/inbox/{id}/ack", tag = "inbox",
    security(("subscriber_token" = [])),
    params(("id" = i64, Path, description = "Inbox item id")),
    request_body = AckIn,
    responses((status = 200, body = Unread), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn acknowledge_item(
    State(state): State<AppState>,
    subscriber: SubscriberCaller,
    Path(id): Path<i64>,
    ValidJson(input): ValidJson<AckIn>,
) -> Result<Json<Unread>, ApiError> {
    let action = match input.status {
        Reported::Received => Action::Received(id),
        Reported::Displayed => Action::Displayed(id),
    };
    act(&state, &subscriber, action).await
}
