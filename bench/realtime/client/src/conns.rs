//! The three kinds of connection: SSE over a streaming HTTP/1.1 response (parsed by
//! hand), WebSocket (tokio-tungstenite), and socket.io over its WebSocket transport
//! (engine.io v4 framing, done by hand: `0{…}` open, `40` connect, `42[…]` event,
//! ping `2` answered with pong `3`).
//!
//! Each `connect_*` returns once the connection is established (SSE: 200 and headers
//! read; WebSocket: 101; socket.io: `40` connect acknowledged); the caller then spawns
//! the matching `read_*` task, which lives until the server closes the connection.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::{Context, bail};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::stats::Shared;

pub type Ws = WebSocketStream<TcpStream>;

/// Where connections go, and from which local address.
#[derive(Clone)]
pub struct Dial {
    /// host:port of the server.
    pub addr: String,
    pub source: Option<IpAddr>,
}

async fn tcp(dial: &Dial) -> anyhow::Result<TcpStream> {
    let stream = match dial.source {
        None => TcpStream::connect(&dial.addr).await,
        Some(source) => {
            let server: SocketAddr = dial.addr.parse().context("--addr must be ip:port")?;
            let socket = if source.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            socket.bind(SocketAddr::new(source, 0))?;
            socket.connect(server).await
        }
    }
    .context("TCP connect")?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// An open SSE stream: the request handle is kept so the connection stays up.
pub struct Sse {
    _sender: SendRequest<Empty<Bytes>>,
    body: Incoming,
}

pub async fn connect_sse(dial: &Dial, path: &str) -> anyhow::Result<Sse> {
    let stream = tcp(dial).await?;
    let addr = dial.addr.as_str();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake")?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, addr)
        .header(hyper::header::ACCEPT, "text/event-stream")
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await.context("SSE request")?;
    if response.status() != hyper::StatusCode::OK {
        bail!("SSE answered {}", response.status());
    }
    Ok(Sse {
        _sender: sender,
        body: response.into_body(),
    })
}

pub async fn read_sse(shared: Arc<Shared>, conn: u32, mut sse: Sse) {
    let mut parser = SseParser::default();
    while let Some(Ok(frame)) = sse.body.frame().await {
        if let Some(data) = frame.data_ref() {
            parser.feed(data, |event| shared.on_message(conn, event));
        }
    }
    shared.connection_ended();
}

/// A `text/event-stream` parser: hands over the data of each dispatched event whose
/// type is `message` (the default). Comments, `id:` and `retry:` are skipped.
#[derive(Default)]
struct SseParser {
    /// A line not yet terminated by the last chunk.
    partial: Vec<u8>,
    data: Vec<u8>,
    /// The block named another event type (`unread`, `read`).
    other_event: bool,
}

impl SseParser {
    fn feed(&mut self, mut chunk: &[u8], mut on_event: impl FnMut(&[u8])) {
        while let Some(nl) = chunk.iter().position(|&b| b == b'\n') {
            let (head, tail) = chunk.split_at(nl);
            chunk = &tail[1..];
            if self.partial.is_empty() {
                self.line(head, &mut on_event);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(head);
                self.line(&line, &mut on_event);
                line.clear();
                self.partial = line;
            }
        }
        self.partial.extend_from_slice(chunk);
    }

    fn line(&mut self, line: &[u8], on_event: &mut impl FnMut(&[u8])) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if !self.data.is_empty() && !self.other_event {
                on_event(&self.data);
            }
            self.data.clear();
            self.other_event = false;
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"event" => self.other_event = value != b"message",
            b"data" => {
                if !self.data.is_empty() {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
            }
            _ => {}
        }
    }
}

/// Small buffers: the client holds thousands of these too.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// A WebSocket to `path` (Herald's `/v1/stream/ws?token=…` or the ws peer's `/?user=…`).
pub async fn connect_ws(dial: &Dial, path: &str) -> anyhow::Result<Ws> {
    let stream = tcp(dial).await?;
    let url = format!("ws://{}{path}", dial.addr);
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config()))
        .await
        .context("WebSocket handshake")?;
    Ok(ws)
}

/// Reads frames until the server closes; pings are answered by tungstenite itself.
pub async fn read_ws(shared: Arc<Shared>, conn: u32, mut ws: Ws) {
    while let Some(Ok(message)) = ws.next().await {
        match message {
            Message::Text(text) => shared.on_message(conn, text.as_bytes()),
            Message::Close(_) => break,
            _ => {}
        }
    }
    shared.connection_ended();
}

/// A socket.io client on the WebSocket transport, connected to the default namespace.
pub async fn connect_socketio(dial: &Dial, user: &str) -> anyhow::Result<Ws> {
    let path = format!("/socket.io/?EIO=4&transport=websocket&user={user}");
    let mut ws = connect_ws(dial, &path).await?;
    // Engine.io open packet: `0{"sid":…,"pingInterval":…}`.
    match ws.next().await {
        Some(Ok(Message::Text(text))) if text.starts_with('0') => {}
        other => bail!("expected an engine.io open packet, got {other:?}"),
    }
    ws.send(Message::text("40")).await?;
    // Socket.io connect acknowledgement: `40{"sid":…}`.
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.starts_with("40") => return Ok(ws),
            Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                ws.send(Message::text("3")).await?;
            }
            other => bail!("expected a socket.io connect packet, got {other:?}"),
        }
    }
}

pub async fn read_socketio(shared: Arc<Shared>, conn: u32, mut ws: Ws) {
    while let Some(Ok(message)) = ws.next().await {
        match message {
            Message::Text(text) => {
                let bytes = text.as_bytes();
                if bytes.starts_with(b"42") {
                    shared.on_message(conn, bytes);
                } else if bytes == b"2" && ws.send(Message::text("3")).await.is_err() {
                    break;
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    shared.connection_ended();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_split_across_chunks_are_reassembled() {
        let stream = b"retry: 3000\n\nevent: unread\ndata: {\"count\":1}\n\n: keep-alive\n\nevent: message\nid: 7\ndata: {\"a\":1}\n\ndata: plain\n\n";
        for split in 0..stream.len() {
            let mut parser = SseParser::default();
            let mut seen: Vec<Vec<u8>> = Vec::new();
            parser.feed(&stream[..split], |d| seen.push(d.to_vec()));
            parser.feed(&stream[split..], |d| seen.push(d.to_vec()));
            assert_eq!(seen, vec![b"{\"a\":1}".to_vec(), b"plain".to_vec()]);
        }
    }
}
