//! SMTP results as delivery outcomes: 4xx replies and lost connections retry,
//! 5xx replies are permanent.

use lettre::transport::smtp::response::Response;

use super::connect::SmtpFailure;
use crate::DeliveryOutcome;

pub(super) fn classify_response(response: &Response) -> DeliveryOutcome {
    let text = response.message().collect::<Vec<_>>().join(" ");
    let queue_id = text
        .split_once("queued as ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .map(str::to_owned);
    DeliveryOutcome::delivered(queue_id, format!("{} {text}", response.code()))
}

pub(super) fn classify_error(failure: &SmtpFailure) -> DeliveryOutcome {
    let reason = format!("SMTP: {}", error_chain(failure));
    let SmtpFailure::Smtp(error) = failure else {
        // No connection or no TLS session: the relay may be back later.
        return DeliveryOutcome::retryable(reason, None);
    };
    if error.is_permanent() {
        DeliveryOutcome::permanent(reason)
    } else if error.is_client() {
        // lettre refused the message itself (e.g. no recipients): sending it again
        // changes nothing.
        DeliveryOutcome::permanent(reason)
    } else if error.is_timeout() || error.status().is_some_and(|code| code.to_string() == "421") {
        // 421: the relay is closing the channel on us (too many connections or
        // messages); a timeout: too slow to answer. Both are push-back.
        DeliveryOutcome::throttled(reason, None)
    } else {
        // Other 4xx replies, refused or dropped connections, TLS handshakes.
        DeliveryOutcome::retryable(reason, None)
    }
}

fn error_chain(error: &SmtpFailure) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(current) = source {
        text.push_str(": ");
        text.push_str(&current.to_string());
        source = current.source();
    }
    text
}
