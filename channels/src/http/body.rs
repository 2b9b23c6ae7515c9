//! Reading what a receiver or provider answers, never more than a cap: a server that
//! streams gigabytes (or promises them in `Content-Length`) costs Herald at most
//! [`MAX_BODY_BYTES`] of memory. The whole exchange is also bounded in time by the
//! client's request timeout, which covers reading the body.

/// The most of a response body Herald reads. Provider answers Herald parses (tokens,
/// ids, error reasons) are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A body read up to a cap.
pub(crate) struct CappedBody {
    pub bytes: Vec<u8>,
    /// The server had more to send than the cap; the rest was never read.
    pub truncated: bool,
}

/// Reads `response`'s body up to `limit` bytes. A longer body is cut off there: the
/// response is dropped unread, which closes its connection instead of pooling it.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<CappedBody, reqwest::Error> {
    let promised = response
        .content_length()
        .and_then(|length| usize::try_from(length).ok());
    let mut bytes = Vec::with_capacity(promised.unwrap_or(0).min(limit));
    while let Some(chunk) = response.chunk().await? {
        let room = limit - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok(CappedBody {
                bytes,
                truncated: true,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(CappedBody {
        bytes,
        truncated: false,
    })
}
