//! Turning HTTP answers and transport errors into delivery outcomes, the same way
//! for every HTTP plugin: 429, 408 and 5xx retry (honouring `Retry-After`), other
//! 4xx and unfollowed redirects are permanent, timeouts and lost connections retry.

use std::error::Error as _;
use std::time::SystemTime;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::DeliveryOutcome;
use crate::http::body::{MAX_BODY_BYTES, read_capped};
use crate::http::parse_retry_after;
use crate::http::ssrf::Refused;

/// How much of a response body is kept for the delivery log.
const BODY_SUMMARY_LIMIT: usize = 512;

/// Classifies a non-2xx answer. `provider` prefixes the reason ("FCM", "webhook").
pub(crate) fn classify_failure_status(
    provider: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body_summary: &str,
) -> DeliveryOutcome {
    let reason = format!("{provider} answered {status}: {body_summary}");
    if status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
    {
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        // A 5xx alone is a fault; asked to wait, or told too many, is push-back.
        if status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
            || retry_after.is_some()
        {
            return DeliveryOutcome::throttled(reason, retry_after);
        }
        return DeliveryOutcome::retryable(reason, retry_after);
    }
    if status.is_redirection() {
        return DeliveryOutcome::permanent(format!("{reason} (redirects are not followed)"));
    }
    DeliveryOutcome::permanent(reason)
}

/// Classifies a request that got no HTTP answer. A refusal by the SSRF guard is
/// permanent; every other transport failure (timeout, refused or reset
/// connection, TLS hiccup) may pass on a later attempt.
pub(crate) fn classify_transport_error(provider: &str, error: &reqwest::Error) -> DeliveryOutcome {
    if let Some(refused) = find_refusal(error) {
        return DeliveryOutcome::permanent(refused.to_string());
    }
    if error.is_timeout() {
        // A receiver too slow to answer is pushing back too.
        return DeliveryOutcome::throttled(
            format!("{provider} timed out: {}", error_chain(error)),
            None,
        );
    }
    let what = if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    DeliveryOutcome::retryable(format!("{provider} {what}: {}", error_chain(error)), None)
}

/// The first [`BODY_SUMMARY_LIMIT`] bytes of the body as lossy UTF-8, for the log.
/// The body is read no further than [`super::body::MAX_BODY_BYTES`].
pub(crate) async fn read_body_summary(response: reqwest::Response) -> String {
    match read_capped(response, MAX_BODY_BYTES).await {
        Ok(body) => {
            let end = body.bytes.len().min(BODY_SUMMARY_LIMIT);
            let mut summary = String::from_utf8_lossy(&body.bytes[..end])
                .trim()
                .to_owned();
            if body.truncated || body.bytes.len() > end {
                summary.push_str(" …");
            }
            summary
        }
        Err(error) => format!("(body unreadable: {error})"),
    }
}

fn find_refusal(error: &reqwest::Error) -> Option<&Refused> {
    let mut source = error.source();
    while let Some(current) = source {
        if let Some(refused) = current.downcast_ref::<Refused>() {
            return Some(refused);
        }
        source = current.source();
    }
    None
}

/// `error: cause: cause`, because reqwest's top-level message alone rarely says why.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(current) = source {
        text.push_str(": ");
        text.push_str(&current.to_string());
        source = current.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn outcome(status: u16, retry_after: Option<&str>) -> DeliveryOutcome {
        let mut headers = HeaderMap::new();
        if let Some(value) = retry_after {
            headers.insert(RETRY_AFTER, value.parse().unwrap());
        }
        classify_failure_status("test", StatusCode::from_u16(status).unwrap(), &headers, "")
    }

    #[test]
    fn throttling_and_server_errors_retry_and_honour_retry_after() {
        assert!(matches!(
            outcome(429, Some("7")),
            DeliveryOutcome::Retryable { retry_after: Some(d), .. } if d == Duration::from_secs(7)
        ));
        assert!(matches!(
            outcome(503, None),
            DeliveryOutcome::Retryable {
                retry_after: None,
                ..
            }
        ));
        assert!(matches!(
            outcome(408, None),
            DeliveryOutcome::Retryable { .. }
        ));
    }

    #[test]
    fn other_client_errors_and_redirects_are_permanent() {
        for status in [400, 401, 403, 404, 301] {
            assert!(
                matches!(
                    outcome(status, None),
                    DeliveryOutcome::Permanent {
                        endpoint_dead: false,
                        ..
                    }
                ),
                "{status}"
            );
        }
    }
}
