//! What happened, written beside the record of it for every endpoint that wants it.
//! With no endpoint registered this costs one small query per recorded batch and
//! writes nothing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, FromQueryResult, Statement};

use super::EventType;
use crate::channel::ChannelKind;
use crate::entities::event_outbox;
use crate::error::Result;

/// The filter value that stands for every channel.
pub const EVERY_CHANNEL: &str = "*";

/// One thing that happened, for the endpoints that want its type on its channel.
#[derive(Debug, Clone)]
pub struct Occurred {
    pub event: EventType,
    pub message_id: i64,
    /// 0 for an event about the message as a whole.
    pub subscriber_id: i64,
    pub channel: &'static str,
    pub detail: Option<String>,
}

impl Occurred {
    /// What a delivery's outcome says happened: delivered, failed or dead-lettered.
    pub fn outcome(
        event: EventType,
        message_id: i64,
        subscriber_id: i64,
        channel: &str,
        detail: &str,
    ) -> Self {
        Occurred {
            event,
            message_id,
            subscriber_id,
            channel: ChannelKind::parse(channel).map_or("unknown", ChannelKind::as_str),
            detail: Some(detail.to_owned()),
        }
    }
}

/// Which enabled endpoints want which event types, on which channels.
#[derive(Debug, Default)]
pub struct Interest {
    /// (event type, channel or `*`) → endpoints.
    wants: HashMap<(String, String), Vec<i64>>,
}

#[derive(FromQueryResult)]
struct Want {
    endpoint_id: i64,
    event_type: String,
    channel: String,
}

impl Interest {
    pub async fn load(conn: &impl ConnectionTrait) -> Result<Self> {
        let wants = Want::find_by_statement(Statement::from_string(
            conn.get_database_backend(),
            "SELECT f.endpoint_id, f.event_type, f.channel FROM event_endpoint_filters f \
             JOIN event_endpoints e ON e.id = f.endpoint_id WHERE e.enabled",
        ))
        .all(conn)
        .await?;
        let mut interest = Interest::default();
        for want in wants {
            interest
                .wants
                .entry((want.event_type, want.channel))
                .or_default()
                .push(want.endpoint_id);
        }
        Ok(interest)
    }

    pub fn is_empty(&self) -> bool {
        self.wants.is_empty()
    }

    /// Whether any endpoint wants one of `events`.
    pub fn wants_any(&self, events: &[EventType]) -> bool {
        self.wants
            .keys()
            .any(|(kind, _)| events.iter().any(|event| event.as_str() == kind))
    }

    fn endpoints_for<'a>(&'a self, occurred: &Occurred) -> impl Iterator<Item = i64> + 'a {
        let kind = occurred.event.as_str().to_owned();
        let on_channel = self.wants.get(&(kind.clone(), occurred.channel.to_owned()));
        let everywhere = self.wants.get(&(kind, EVERY_CHANNEL.to_owned()));
        on_channel.into_iter().chain(everywhere).flatten().copied()
    }
}

/// Writes `occurred` to the outbox of each endpoint `interest` names for it, in
/// fixed-size multi-row inserts. Returns the rows written.
pub async fn record(
    conn: &impl ConnectionTrait,
    interest: &Interest,
    occurred: &[Occurred],
    now: DateTime<Utc>,
) -> Result<u64> {
    if interest.is_empty() {
        return Ok(0);
    }
    let mut rows = Vec::new();
    for event in occurred {
        let mut endpoints: Vec<i64> = interest.endpoints_for(event).collect();
        endpoints.sort_unstable();
        endpoints.dedup();
        for endpoint_id in endpoints {
            rows.push(event_outbox::ActiveModel {
                endpoint_id: Set(endpoint_id),
                event_type: Set(event.event.as_str().to_owned()),
                message_id: Set(event.message_id),
                subscriber_id: Set(event.subscriber_id),
                channel: Set(event.channel.to_owned()),
                detail: Set(event.detail.clone()),
                occurred_at: Set(now),
                ..Default::default()
            });
        }
    }
    let written = rows.len() as u64;
    crate::bulk::insert_all(conn, rows, &[]).await?;
    Ok(written)
}

/// Loads who wants what and records `occurred` for them: for callers inside a
/// transaction that records something that happened.
pub async fn emit(
    conn: &impl ConnectionTrait,
    occurred: &[Occurred],
    now: DateTime<Utc>,
) -> Result<u64> {
    if occurred.is_empty() {
        return Ok(0);
    }
    let interest = Interest::load(conn).await?;
    record(conn, &interest, occurred, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occurred(event: EventType, channel: &'static str) -> Occurred {
        Occurred {
            event,
            message_id: 1,
            subscriber_id: 2,
            channel,
            detail: None,
        }
    }

    #[test]
    fn an_endpoint_gets_what_it_asked_for_on_its_channels_once() {
        let mut interest = Interest::default();
        let mut want = |kind: EventType, channel: &str, endpoint: i64| {
            interest
                .wants
                .entry((kind.as_str().to_owned(), channel.to_owned()))
                .or_default()
                .push(endpoint);
        };
        want(EventType::Delivered, "email", 1);
        want(EventType::Delivered, EVERY_CHANNEL, 2);
        want(EventType::Delivered, EVERY_CHANNEL, 1);
        want(EventType::Read, "inbox", 3);
        let on = |event, channel| {
            let mut found: Vec<i64> = interest.endpoints_for(&occurred(event, channel)).collect();
            found.sort_unstable();
            found
        };
        assert_eq!(on(EventType::Delivered, "email"), [1, 1, 2]);
        assert_eq!(on(EventType::Delivered, "webhook"), [1, 2]);
        assert_eq!(on(EventType::Read, "inbox"), [3]);
        assert!(on(EventType::Failed, "email").is_empty());
        assert!(interest.wants_any(&[EventType::Failed, EventType::Read]));
        assert!(!interest.wants_any(&[EventType::Recalled]));
    }
}
