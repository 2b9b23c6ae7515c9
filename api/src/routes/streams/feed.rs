//! One connection's position in a subscriber's inbox, shared by every transport.
//!
//! A feed reads from the database after the last id it gave out whenever the bus says
//! something changed (or it lagged), so a resumed connection gets every missed item
//! once, in order, and a dropped signal costs a query, never an item.

use std::collections::VecDeque;

use axum::http::StatusCode;
use herald_core::inbox::store::{self, latest_id};
use herald_core::inbox::{InboxItem, Page, Signal, Unread};
use sea_orm::DatabaseConnection;
use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::state::AppState;

/// Items read from the database per query while catching up.
const REPLAY_PAGE: u64 = 200;

/// What a transport sends.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Update {
    /// A new item; its id is the resume cursor.
    Message { id: i64, item: InboxItem },
    /// The unread pair: keep the one with the highest version.
    Unread { count: i64, version: i64 },
    /// Read or archived elsewhere (no ids: everything was read).
    Read { ids: Vec<i64> },
}

pub struct Feed {
    db: DatabaseConnection,
    subscriber_id: i64,
    /// The last item id given out.
    after: i64,
    signals: broadcast::Receiver<Signal>,
    closing: CancellationToken,
    pending: VecDeque<Update>,
    caught_up: bool,
}

impl Feed {
    /// Starts listening, then positions the feed after `resume`, or after the newest
    /// item when the client has none. 429 when the subscriber has as many streams open
    /// here as allowed.
    pub async fn open(
        state: &AppState,
        subscriber_id: i64,
        resume: Option<i64>,
    ) -> Result<Self, ApiError> {
        if state.bus.listeners(subscriber_id) >= state.settings.max_streams_per_subscriber {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_streams",
                "this subscriber has too many open streams; close one first",
            ));
        }
        // Listen before reading, so nothing stored in between goes unannounced.
        let signals = state.bus.subscribe(subscriber_id);
        let after = match resume {
            Some(id) => id,
            None => latest_id(&state.db, subscriber_id).await?,
        };
        Ok(Self {
            db: state.db.clone(),
            closing: state.closing.clone(),
            subscriber_id,
            after,
            signals,
            pending: VecDeque::new(),
            caught_up: false,
        })
    }

    /// Continues after `id` instead (a client asking to resume on an open connection).
    pub fn resume_after(&mut self, id: i64) {
        self.after = id;
        self.pending.clear();
        self.caught_up = false;
    }

    /// The next update; `None` ends the connection (the server is shutting down or the
    /// database failed; the client resumes from its last id). Cancel-safe: an update
    /// read but not yet returned stays queued.
    pub async fn next(&mut self) -> Option<Update> {
        loop {
            if let Some(update) = self.pending.pop_front() {
                return Some(update);
            }
            if !self.caught_up {
                self.caught_up = true;
                self.read_new().await?;
                continue;
            }
            let signal = tokio::select! {
                () = self.closing.cancelled() => return None,
                signal = self.signals.recv() => signal,
            };
            match signal {
                Ok(Signal::Items) | Err(RecvError::Lagged(_)) => self.read_new().await?,
                Ok(Signal::Read { ids, unread }) => {
                    self.pending.push_back(Update::Read { ids });
                    self.pending.push_back(unread_update(unread));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    async fn read_new(&mut self) -> Option<()> {
        match self.try_read_new().await {
            Ok(()) => Some(()),
            Err(error) => {
                tracing::warn!(%error, subscriber_id = self.subscriber_id, "inbox stream ended");
                None
            }
        }
    }

    /// Queues every item after the last one given out, then the unread pair.
    async fn try_read_new(&mut self) -> herald_core::Result<()> {
        loop {
            let page = Page::After(self.after);
            let items = store::list(&self.db, self.subscriber_id, page, REPLAY_PAGE).await?;
            let full = items.len() as u64 == REPLAY_PAGE;
            for item in items {
                self.after = item.id;
                self.pending
                    .push_back(Update::Message { id: item.id, item });
            }
            if !full {
                break;
            }
        }
        let unread = store::unread(&self.db, self.subscriber_id).await?;
        self.pending.push_back(unread_update(unread));
        Ok(())
    }
}

fn unread_update(unread: Unread) -> Update {
    Update::Unread {
        count: unread.count,
        version: unread.version,
    }
}
