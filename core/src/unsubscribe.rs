//! One-click unsubscribe (RFC 8058). An email's `List-Unsubscribe` header carries a
//! link signed with a server key; a POST to it opts the subscriber out of the message's
//! category on email. The token names the subscriber by internal id and the category,
//! so it works without a login and cannot be forged or pointed at someone else.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use hmac::{Hmac, Mac};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, EntityTrait, TransactionSession, TransactionTrait,
};
use serde::Serialize;
use serde_json::json;
use sha2::Sha256;
use utoipa::ToSchema;

use crate::audit::{self, Actor, AuditContext, Change};
use crate::entities::{subscriber, subscriber_preference};
use crate::error::{Error, Result};
use crate::events::{EventType, Occurred};

const KEY_NAME: &str = "unsubscribe";
/// Opting out applies to the channel the link came from.
const CHANNEL: &str = "email";

/// The unsubscribe signing key, created once and shared by every node.
async fn signing_key(conn: &impl ConnectionTrait) -> Result<Vec<u8>> {
    crate::secrets::stored_key(conn, KEY_NAME).await
}

fn mac(key: &[u8], subscriber_id: i64, category: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(format!("unsubscribe:{subscriber_id}:{category}").as_bytes());
    mac
}

/// Makes unsubscribe links; load it once per run, not per email.
pub struct LinkSigner {
    key: Vec<u8>,
    base: String,
}

impl LinkSigner {
    pub async fn load(conn: &impl ConnectionTrait, public_url: &str) -> Result<Self> {
        Ok(Self {
            key: signing_key(conn).await?,
            base: public_url.trim_end_matches('/').to_owned(),
        })
    }

    /// `{public_url}/v1/unsubscribe/{token}` for a subscriber and category.
    pub fn link(&self, subscriber_id: i64, category: &str) -> String {
        let signature = mac(&self.key, subscriber_id, category)
            .finalize()
            .into_bytes();
        format!(
            "{}/v1/unsubscribe/{subscriber_id}.{}.{}",
            self.base,
            URL_SAFE_NO_PAD.encode(category),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Unsubscribed {
    pub channel: String,
    pub category: String,
}

fn bad_token() -> Error {
    Error::invalid("token", "is not a valid unsubscribe link")
}

/// Checks a token and returns the subscriber id and category it names.
async fn verify(conn: &impl ConnectionTrait, token: &str) -> Result<(i64, String)> {
    let mut parts = token.split('.');
    let (Some(id), Some(category), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad_token());
    };
    let id: i64 = id.parse().map_err(|_| bad_token())?;
    let category = URL_SAFE_NO_PAD
        .decode(category)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(bad_token)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| bad_token())?;
    let key = signing_key(conn).await?;
    mac(&key, id, &category)
        .verify_slice(&signature)
        .map_err(|_| bad_token())?;
    Ok((id, category))
}

/// Opts the token's subscriber out of its category on email, and records who did it.
/// Repeating it changes nothing.
pub async fn apply(conn: &impl TransactionTrait, token: &str) -> Result<Unsubscribed> {
    let txn = crate::db::begin_write(conn).await?;
    let (subscriber_id, category) = verify(&txn, token).await?;
    let subscriber = subscriber::Entity::find_by_id(subscriber_id)
        .one(&txn)
        .await?
        .ok_or(Error::NotFound {
            entity: "subscriber",
        })?;
    subscriber_preference::Entity::insert(subscriber_preference::ActiveModel {
        subscriber_id: Set(subscriber_id),
        channel: Set(CHANNEL.to_owned()),
        category: Set(category.clone()),
        opted_out: Set(true),
        updated_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([
            subscriber_preference::Column::SubscriberId,
            subscriber_preference::Column::Channel,
            subscriber_preference::Column::Category,
        ])
        .update_columns([
            subscriber_preference::Column::OptedOut,
            subscriber_preference::Column::UpdatedAt,
        ])
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let ctx = AuditContext::new(Actor::Subscriber {
        external_id: subscriber.external_id.clone(),
    });
    audit::record(
        &txn,
        &ctx,
        Change {
            action: "subscriber.unsubscribe",
            target_kind: "subscriber",
            target_id: Some(subscriber.external_id),
            before: None,
            after: Some(json!({ "channel": CHANNEL, "category": category })),
        },
    )
    .await?;
    let occurred = Occurred {
        event: EventType::Unsubscribed,
        message_id: 0,
        subscriber_id,
        channel: CHANNEL,
        detail: Some(format!("category {category}")),
    };
    crate::events::outbox::emit(&txn, &[occurred], Utc::now()).await?;
    txn.commit().await?;
    Ok(Unsubscribed {
        channel: CHANNEL.to_owned(),
        category,
    })
}

/// Whether a token is genuine, without acting on it (the confirmation page).
pub async fn check(conn: &impl ConnectionTrait, token: &str) -> Result<()> {
    verify(conn, token).await.map(|_| ())
}
