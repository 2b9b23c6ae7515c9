//! One connection's position in a subscriber's inbox, shared by every transport.
//!
//! A feed takes new items straight from the bus when a signal is the very next change
//! of the subscriber's inbox (see [`herald_core::inbox::bus`]; whichever process stored
//! them, as the relay carries items), and otherwise reads
//! from the database after the last id it gave out, so a resumed connection gets every
//! missed item once, in order, and a dropped signal costs a query, never an item. A
//! connection that falls more than the bus's buffer behind is ended with
//! [`End::Overflow`]; its client resumes from its last id.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use herald_core::ErrorCode;
use herald_core::inbox::pairs;
use herald_core::inbox::store::{self, latest_id};
use herald_core::inbox::{Announced, Page, Signal, Unread};
use sea_orm::DatabaseConnection;
use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::auth::SubscriberCaller;
use crate::error::ApiError;
use crate::metrics::{OpenStream, StreamCounters};
use crate::state::AppState;

/// Items read from the database per query while catching up.
const REPLAY_PAGE: u64 = 200;
/// How often a streamed body that sent nothing since the last tick sends its heartbeat,
/// so proxies and clients see it alive: an idle stream sends one every 10 to 20 s.
const HEARTBEAT: Duration = Duration::from_secs(10);

/// What a transport sends.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Update {
    /// A new item; its id is the resume cursor. Shared with every connection the item
    /// reaches, its JSON encoded once.
    Message { id: i64, item: Announced },
    /// The unread pair: keep the one with the highest version.
    Unread { count: i64, version: i64 },
    /// Read or archived elsewhere (no ids: everything was read).
    Read { ids: Vec<i64> },
    /// Recalled by the sender: remove them.
    Recalled { ids: Vec<i64> },
}

/// Why a feed ended; the client resumes from its last id in every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The server is shutting down.
    Closing,
    /// The client fell behind by more signals than its buffer holds (it reads too
    /// slowly): it is cut off rather than buffered for without bound.
    Overflow,
    /// The database failed.
    Failed,
    /// The token the connection opened with expired or was revoked: the client
    /// reconnects with a new one.
    TokenEnded,
}

pub struct Feed {
    db: DatabaseConnection,
    counters: StreamCounters,
    /// Counts this stream among the open ones while it lives.
    _open: OpenStream,
    subscriber_id: i64,
    /// The last item id given out.
    after: i64,
    /// The unread version this feed has caught up with: every item stored at this
    /// version or before has an id of at most `after`.
    version: i64,
    signals: broadcast::Receiver<Signal>,
    /// The server's shutdown and the token's expiry, kept across waits: a broadcast
    /// wakes every connection, and futures made anew on each wait would register with
    /// the shutdown token and the timer wheel, and leave them, once per delivery.
    closing: Pin<Box<WaitForCancellationFutureOwned>>,
    token_expires: Pin<Box<Sleep>>,
    pending: VecDeque<Update>,
    caught_up: bool,
    ended: Option<End>,
}

/// A place among the subscriber's connections on this node (streams and long-polls
/// alike): 429 when they hold as many as allowed.
pub fn listen(
    state: &AppState,
    subscriber_id: i64,
) -> Result<broadcast::Receiver<Signal>, ApiError> {
    state
        .bus
        .subscribe_within(subscriber_id, state.settings.max_streams_per_subscriber)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::TooManyStreams,
                "this subscriber has too many open streams; close one first",
            )
        })
}

impl Feed {
    /// Starts listening, then positions the feed after `resume`, or after the newest
    /// item when the client has none; counted as open over `transport` while it lives.
    /// 429 when the subscriber has as many streams open here as allowed.
    pub async fn open(
        state: &AppState,
        subscriber: &SubscriberCaller,
        resume: Option<i64>,
        transport: &'static str,
    ) -> Result<Self, ApiError> {
        let subscriber_id = subscriber.id;
        // Listen before reading, so nothing stored in between goes unannounced.
        let signals = listen(state, subscriber_id)?;
        // Tokens live at most 30 days, well within `Instant`'s range.
        let lifetime = (subscriber.token_expires_at - chrono::Utc::now())
            .to_std()
            .unwrap_or_default();
        let token_expires = Box::pin(tokio::time::sleep_until(Instant::now() + lifetime));
        let after = match resume {
            Some(id) => id,
            None => latest_id(&state.db, subscriber_id).await?,
        };
        Ok(Self {
            db: state.db.clone(),
            counters: state.metrics.streams.clone(),
            _open: state.metrics.streams.opened(transport),
            closing: Box::pin(state.closing.clone().cancelled_owned()),
            token_expires,
            subscriber_id,
            after,
            version: 0,
            signals,
            pending: VecDeque::new(),
            caught_up: false,
            ended: None,
        })
    }

    /// Continues after `id` instead (a client asking to resume on an open connection).
    pub fn resume_after(&mut self, id: i64) {
        self.after = id;
        self.pending.clear();
        self.caught_up = false;
    }

    /// An update already queued, without waiting for one.
    pub fn next_queued(&mut self) -> Option<Update> {
        self.pending.pop_front()
    }

    /// Why the feed ended, once `next` returned `None`.
    pub fn ended(&self) -> Option<End> {
        self.ended
    }

    /// The next update; `None` ends the connection (see [`Feed::ended`]; the client
    /// resumes from its last id). Cancel-safe: an update read but not yet returned
    /// stays queued.
    pub async fn next(&mut self) -> Option<Update> {
        loop {
            if let Some(update) = self.pending.pop_front() {
                return Some(update);
            }
            if self.ended.is_some() {
                return None;
            }
            if !self.caught_up {
                self.caught_up = true;
                Box::pin(self.read_new()).await;
                continue;
            }
            // Biased, a waiting signal first: a broadcast wakes every connection, and
            // polling the shutdown and expiry futures on each wake-up costs more than a
            // signal's own work. They are polled whenever no signal waits, which a
            // connection reaches after every burst.
            let signal = tokio::select! {
                biased;
                signal = self.signals.recv() => signal.map_err(|error| match error {
                    RecvError::Lagged(_) => End::Overflow,
                    RecvError::Closed => End::Closing,
                }),
                () = self.closing.as_mut() => Err(End::Closing),
                () = self.token_expires.as_mut() => Err(End::TokenEnded),
            };
            match signal.map(|signal| self.apply_from_memory(signal)) {
                Ok(None) => {}
                // Boxed: the database reads behind it are large futures, and an idle
                // connection should not carry their space while it waits for a signal.
                Ok(Some(signal)) => Box::pin(self.apply(signal)).await,
                Err(end) => self.ended = Some(end),
            }
        }
    }

    /// Queues what a signal says when it needs no database read (a live item, the
    /// very next change this feed expects: what a broadcast brings); hands any other
    /// signal back.
    fn apply_from_memory(&mut self, signal: Signal) -> Option<Signal> {
        match signal {
            Signal::Items { unread, .. } if unread.version <= self.version => {}
            Signal::Items {
                unread,
                items: Some(items),
            } if unread.version == self.version + 1 => {
                let seen = self.after;
                let before = self.pending.len();
                for item in items.iter().filter(|item| item.id > seen) {
                    self.after = item.id;
                    let (id, item) = (item.id, item.clone());
                    self.pending.push_back(Update::Message { id, item });
                }
                self.counters.from_memory(self.pending.len() - before);
                self.version = unread.version;
                self.pending.push_back(unread_update(unread));
            }
            other => return Some(other),
        }
        None
    }

    /// Queues what a signal [`Self::apply_from_memory`] handed back says, reading from
    /// the database where it must.
    async fn apply(&mut self, signal: Signal) {
        match signal {
            Signal::Revoked => self.ended = Some(End::TokenEnded),
            Signal::Read { ids, unread } => self.changed(Update::Read { ids }, unread).await,
            Signal::Recalled { ids, unread } => {
                self.changed(Update::Recalled { ids }, unread).await;
            }
            Signal::Items { .. } | Signal::Recheck => self.read_new().await,
        }
    }

    /// Queues a change to items the client may hold, then the unread pair after it
    /// (read from the database when a change in between was missed).
    async fn changed(&mut self, update: Update, unread: Unread) {
        self.pending.push_back(update);
        let next_version = self.version + 1;
        if unread.version == next_version {
            self.version = unread.version;
            self.pending.push_back(unread_update(unread));
        } else if unread.version > next_version {
            self.read_new().await;
        }
    }

    async fn read_new(&mut self) {
        if let Err(error) = self.try_read_new().await {
            tracing::warn!(%error, subscriber_id = self.subscriber_id, "inbox stream ended");
            self.ended = Some(End::Failed);
        }
    }

    /// Queues every item after the last one given out, then the unread pair. The pair
    /// is read first: every item stored at its version is then among the items read.
    async fn try_read_new(&mut self) -> herald_core::Result<()> {
        let unread = pairs::unread(&self.db, self.subscriber_id).await?;
        let before = self.pending.len();
        loop {
            let page = Page::After(self.after);
            let items = store::list(&self.db, self.subscriber_id, page, REPLAY_PAGE).await?;
            let full = items.len() as u64 == REPLAY_PAGE;
            for item in items {
                self.after = item.id;
                self.pending.push_back(Update::Message {
                    id: item.id,
                    item: item.into(),
                });
            }
            if !full {
                break;
            }
        }
        self.counters.from_database(self.pending.len() - before);
        self.version = self.version.max(unread.version);
        self.pending.push_back(unread_update(unread));
        Ok(())
    }
}

/// A streamed response body (SSE, the iframe stream): `opening`, then each wake-up's
/// updates as one chunk written by `write` (an item and the unread pair after it go out
/// together), and `heartbeat` after a [`HEARTBEAT`] tick with nothing sent. A broadcast
/// reaches every connection at once, so the chunk is built in one buffer and no timer
/// is re-armed per update.
pub fn streamed_body(
    feed: Feed,
    opening: String,
    heartbeat: &'static str,
    write: impl Fn(&mut String, &Update) + Send + 'static,
) -> Body {
    let mut ticks = tokio::time::interval(HEARTBEAT);
    ticks.reset();
    let chunks = futures::stream::unfold(
        (feed, ticks, false, write),
        move |(mut feed, mut ticks, mut sent, write)| async move {
            loop {
                let update = tokio::select! {
                    biased;
                    update = feed.next() => update?,
                    _ = ticks.tick() => {
                        if std::mem::take(&mut sent) {
                            continue;
                        }
                        let beat = Bytes::from_static(heartbeat.as_bytes());
                        return Some((beat, (feed, ticks, sent, write)));
                    }
                };
                let mut chunk = String::new();
                write(&mut chunk, &update);
                while let Some(next) = feed.next_queued() {
                    write(&mut chunk, &next);
                }
                sent = true;
                return Some((Bytes::from(chunk), (feed, ticks, sent, write)));
            }
        },
    );
    let body = futures::stream::once(async move { Bytes::from(opening) }).chain(chunks);
    Body::from_stream(body.map(Ok::<_, Infallible>))
}

fn unread_update(unread: Unread) -> Update {
    Update::Unread {
        count: unread.count,
        version: unread.version,
    }
}
