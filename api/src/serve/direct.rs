//! Long-lived inbox streams (SSE, the iframe stream) written straight to the socket.
//!
//! hyper gives every HTTP/1 connection an 8 KiB write buffer and a read buffer of at
//! least 8 KiB for as long as it stays open, with no smaller setting. For an idle stream
//! they were most of what a connected subscriber cost: 17.8 KiB over SSE against
//! 5.3 KiB over WebSocket, which leaves hyper at its upgrade. A stream is a GET whose
//! response is the last thing on its connection, so the connection loop peeks at a new
//! connection's first request head before hyper sees it. When that head is a complete
//! GET of a stream path, it is parsed here and handed to the same router (so
//! authentication, CORS, limits and tracing all apply), and the response is written
//! here, its body chunked, with `Connection: close`. Anything else goes to hyper
//! untouched, since the head was only peeked: a head split over several packets,
//! another method or path, a body, HTTP/1.0, or a later request on a kept-alive
//! connection.

use std::io::Write as _;
use std::time::{Duration, SystemTime};

use axum::body::{Body, HttpBody};
use axum::http::{HeaderName, HeaderValue, Method, Request, Response, Version, header};
use futures::{FutureExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// GETs of these paths answer with a stream that lasts as long as the connection.
const STREAM_PATHS: [&str; 2] = ["/v1/stream/sse", "/v1/stream/iframe"];
/// A longer head (a large cookie, say) is left to hyper.
const MAX_HEAD: usize = 8 * 1024;
const MAX_HEADERS: usize = 64;
/// Body data that is ready is gathered into one write up to this size.
const MAX_WRITE: usize = 64 * 1024;
/// Headers about the connection or the body's framing, which this writer sets itself.
const FRAMING: [HeaderName; 3] = [
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::CONTENT_LENGTH,
];

/// What the start of a new connection holds.
pub(super) enum FirstRequest {
    /// A stream request, now taken off the socket.
    Stream(Box<Request<Body>>),
    /// Something hyper serves; nothing was taken off the socket.
    Other,
    /// No request head within the wait, or the socket failed: close it.
    Gone,
}

/// Waits up to `wait` for the connection's first bytes and tells whether they are a
/// whole stream request.
pub(super) async fn first_request(stream: &mut TcpStream, wait: Duration) -> FirstRequest {
    let mut head = vec![0; MAX_HEAD];
    let peeked = match tokio::time::timeout(wait, stream.peek(&mut head)).await {
        Ok(Ok(peeked)) if peeked > 0 => peeked,
        _ => return FirstRequest::Gone,
    };
    let Some((request, length)) = parse_stream_request(&head[..peeked]) else {
        return FirstRequest::Other;
    };
    // The head is already in the socket's buffer: this read takes it off at once.
    match stream.read_exact(&mut head[..length]).await {
        Ok(_) => FirstRequest::Stream(Box::new(request)),
        Err(_) => FirstRequest::Gone,
    }
}

/// The request in `bytes` and the length of its head, if they hold a whole head of a
/// GET of a stream path without a body.
fn parse_stream_request(bytes: &[u8]) -> Option<(Request<Body>, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(length) = parsed.parse(bytes).ok()? else {
        return None;
    };
    if parsed.method? != Method::GET.as_str() || parsed.version? != 1 {
        return None;
    }
    let target = parsed.path?;
    let path = target.split('?').next().unwrap_or(target);
    if !STREAM_PATHS.contains(&path) {
        return None;
    }
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(target)
        .version(Version::HTTP_11);
    for field in parsed.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes()).ok()?;
        let unusual = [
            header::CONTENT_LENGTH,
            header::TRANSFER_ENCODING,
            header::UPGRADE,
            header::EXPECT,
        ];
        if unusual.contains(&name) {
            return None;
        }
        request = request.header(name, HeaderValue::from_bytes(field.value).ok()?);
    }
    Some((request.body(Body::empty()).ok()?, length))
}

/// Writes `response` and closes the connection: the head, then the body as it comes,
/// chunked unless its length is known. Stops when the client goes away, which only a
/// read notices while the stream is idle, or when a write waits longer than `stall`:
/// a client that stopped reading would otherwise hold the stream, and its place among
/// the subscriber's streams, for as long as its connection stays open.
pub(super) async fn write_response(
    mut stream: TcpStream,
    response: Response<Body>,
    stall: Duration,
) {
    let (parts, body) = response.into_parts();
    let length = body.size_hint().exact();
    let mut head = Vec::with_capacity(256);
    // Writing into a Vec cannot fail.
    let _ = write!(
        head,
        "HTTP/1.1 {} {}\r\n",
        parts.status.as_u16(),
        parts.status.canonical_reason().unwrap_or("")
    );
    for (name, value) in &parts.headers {
        if FRAMING.contains(name) {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    let _ = write!(
        head,
        "date: {}\r\n",
        httpdate::fmt_http_date(SystemTime::now())
    );
    let _ = match length {
        Some(length) => write!(head, "content-length: {length}\r\n"),
        None => write!(head, "transfer-encoding: chunked\r\n"),
    };
    head.extend_from_slice(b"connection: close\r\n\r\n");
    if !written_within(stall, stream.write_all(&head)).await {
        return;
    }
    drop(head);

    let chunked = length.is_none();
    let mut data = body.into_data_stream();
    let (mut reader, mut writer) = stream.split();
    let mut probe = [0u8; 16];
    loop {
        let next = tokio::select! {
            next = data.next() => next,
            // A client has nothing to send on a stream; reading sees it leave.
            read = reader.read(&mut probe) => {
                if matches!(read, Ok(0) | Err(_)) {
                    return;
                }
                continue;
            }
        };
        // What else is ready goes in the same write (a broadcast brings an item and
        // the new unread count at once): one system call, as hyper would make.
        let mut out = Vec::new();
        let mut next = next;
        let end = loop {
            match next {
                Some(Ok(bytes)) => frame(&mut out, &bytes, chunked),
                // The body failed: end without its last chunk, so the client sees it cut.
                Some(Err(error)) => {
                    tracing::debug!(%error, "a stream's body failed");
                    break End::Failed;
                }
                None => {
                    if chunked {
                        out.extend_from_slice(b"0\r\n\r\n");
                    }
                    break End::Done;
                }
            }
            if out.len() >= MAX_WRITE {
                break End::More;
            }
            match data.next().now_or_never() {
                Some(ready) => next = ready,
                None => break End::More,
            }
        };
        if !out.is_empty() && !written_within(stall, writer.write_all(&out)).await {
            tracing::debug!("a stream's client stopped reading or left; cut off");
            return;
        }
        match end {
            End::More => {}
            End::Done => break,
            End::Failed => return,
        }
    }
    let _ = writer.shutdown().await;
}

/// Whether `write` went through within `stall` (this writer's counterpart of
/// [`super::stall::StallGuard`], which guards the connections hyper serves).
async fn written_within(stall: Duration, write: impl Future<Output = std::io::Result<()>>) -> bool {
    matches!(tokio::time::timeout(stall, write).await, Ok(Ok(())))
}

/// Where the body stands after a write.
enum End {
    More,
    Done,
    Failed,
}

/// Appends `bytes` to `out` as the body goes: a chunk of its own, or as they are.
fn frame(out: &mut Vec<u8>, bytes: &[u8], chunked: bool) {
    if bytes.is_empty() {
        return;
    }
    if chunked {
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{:X}\r\n", bytes.len());
    }
    out.extend_from_slice(bytes);
    if chunked {
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_whole_get_of_a_stream_path_without_a_body_is_taken() {
        let sse = b"GET /v1/stream/sse?token=abc HTTP/1.1\r\nHost: h\r\nLast-Event-ID: 7\r\n\r\n";
        let (request, length) = parse_stream_request(sse).expect("a stream request");
        assert_eq!(length, sse.len());
        assert_eq!(request.uri(), "/v1/stream/sse?token=abc");
        assert_eq!(request.headers()["last-event-id"], "7");
        let iframe = b"GET /v1/stream/iframe?token=abc HTTP/1.1\r\n\r\n";
        assert!(parse_stream_request(iframe).is_some());

        for other in [
            &b"GET /v1/stream/sse?token=abc HTTP/1.1\r\nHost: h\r\n"[..],
            b"GET /v1/stream/ws?token=abc HTTP/1.1\r\n\r\n",
            b"GET /v1/stream/sse HTTP/1.0\r\n\r\n",
            b"HEAD /v1/stream/sse HTTP/1.1\r\n\r\n",
            b"POST /v1/stream/sse HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}",
            b"GET /v1/stream/sse HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n",
            b"GET /v1/stream/sse HTTP/1.1\r\nupgrade: websocket\r\n\r\n",
            b"GET /v1/stream/ssefoo HTTP/1.1\r\n\r\n",
            b"GET /v1/inbox HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                parse_stream_request(other).is_none(),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }
}
