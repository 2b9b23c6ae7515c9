//! Turning an [`EmailMessage`] into a MIME message lettre can send.

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use sha2::{Digest, Sha256};

use crate::{EmailMessage, IdempotencyKey};

/// A message that cannot be built; retrying it cannot help.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("invalid {field} address `{address}`: {source}")]
    Address {
        field: &'static str,
        address: String,
        #[source]
        source: lettre::address::AddressError,
    },
    #[error("invalid header `{0}`")]
    Header(String),
    #[error("invalid List-Unsubscribe URL `{0}`")]
    UnsubscribeUrl(String),
    #[error("cannot build the message: {0}")]
    Build(#[from] lettre::error::Error),
}

/// `<key@domain>`. The key is used as it is when it is a valid dot-atom;
/// otherwise a hash of it stands in, so the id stays stable and well-formed.
pub fn message_id_for(key: &IdempotencyKey, domain: &str) -> String {
    let key = key.as_str();
    let dot_atom = key
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&byte))
        && !key.starts_with('.')
        && !key.ends_with('.')
        && !key.contains("..");
    if dot_atom {
        format!("<{key}@{domain}>")
    } else {
        let digest = Sha256::digest(key.as_bytes());
        format!("<h{}@{domain}>", hex_encode(&digest[..16]))
    }
}

/// Builds the MIME message: From, Reply-To, To, Subject, a Message-ID derived from
/// the idempotency key, RFC 8058 unsubscribe headers, and text (+ html) parts.
pub fn compose(
    message: &EmailMessage,
    key: &IdempotencyKey,
    message_id_domain: Option<&str>,
) -> Result<lettre::Message, ComposeError> {
    let from = parse_mailbox("from", &message.from)?;
    let domain = message_id_domain
        .unwrap_or_else(|| from.email.domain())
        .to_owned();
    let mut builder = lettre::Message::builder()
        .from(from)
        .subject(message.subject.as_str())
        .message_id(Some(message_id_for(key, &domain)));
    if let Some(reply_to) = &message.reply_to {
        builder = builder.reply_to(parse_mailbox("reply_to", reply_to)?);
    }
    for recipient in &message.to {
        builder = builder.to(parse_mailbox("to", recipient)?);
    }
    if let Some(url) = &message.list_unsubscribe_url {
        let url = url::Url::parse(url).map_err(|_| ComposeError::UnsubscribeUrl(url.clone()))?;
        builder = builder
            .raw_header(header("List-Unsubscribe", format!("<{url}>"))?)
            .raw_header(header(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".to_owned(),
            )?);
    }
    for (name, value) in &message.headers {
        builder = builder.raw_header(header(name, value.clone())?);
    }
    let text = SinglePart::plain(message.text.clone());
    let built = match &message.html {
        Some(html) => builder.multipart(
            MultiPart::alternative()
                .singlepart(text)
                .singlepart(SinglePart::html(html.clone())),
        )?,
        None => builder.singlepart(text)?,
    };
    Ok(built)
}

fn parse_mailbox(field: &'static str, address: &str) -> Result<Mailbox, ComposeError> {
    address.parse().map_err(|source| ComposeError::Address {
        field,
        address: address.to_owned(),
        source,
    })
}

/// A raw header; line breaks in names or values would let content inject headers.
fn header(name: &str, value: String) -> Result<HeaderValue, ComposeError> {
    if value.contains(['\r', '\n']) {
        return Err(ComposeError::Header(name.to_owned()));
    }
    let name = HeaderName::new_from_ascii(name.to_owned())
        .map_err(|_| ComposeError::Header(name.to_owned()))?;
    Ok(HeaderValue::new(name, value))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
