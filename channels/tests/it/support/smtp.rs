//! A small SMTP server on tokio, enough for lettre: it records each message's
//! envelope and raw content, can be told to refuse recipients with a given reply,
//! and speaks STARTTLS or implicit TLS when given a certificate. Shared with the
//! benchmark (included there by path).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// How the server protects its sessions.
#[derive(Clone)]
pub enum Security {
    Plain,
    /// Plain greeting, `STARTTLS` advertised and required before `MAIL`.
    Starttls(TlsAcceptor),
    /// TLS from the first byte.
    Implicit(TlsAcceptor),
}

/// One message as the server received it.
#[derive(Clone, Debug, Default)]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// Headers and body as sent, dot-unstuffed, CRLF line ends.
    pub data: String,
}

impl ReceivedMail {
    /// The value of the first header called `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(value) = found.as_mut() {
                    value.push_str(line.trim_start());
                    continue;
                }
            } else if found.is_some() {
                break;
            }
            if let Some((key, value)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                found = Some(value.trim().to_owned());
            }
        }
        found
    }
}

#[derive(Default)]
struct State {
    mails: Vec<ReceivedMail>,
    connections: usize,
    rcpt_reply: Option<String>,
    keep_mails: bool,
    /// Messages that arrived over TLS.
    encrypted_mails: usize,
    /// How long accepting a message takes, like a relay writing its queue file.
    queue_delay: std::time::Duration,
    mail_count: usize,
}

/// A running server; it stops with the runtime that started it.
#[derive(Clone)]
pub struct SmtpServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

#[allow(dead_code)]
impl SmtpServer {
    /// Starts a server on 127.0.0.1 (port 0) that keeps every message.
    pub async fn start() -> Self {
        Self::start_with(true, Security::Plain).await
    }

    /// A sink for benchmarks: counts messages without keeping them, and takes
    /// `queue_delay` to accept each one.
    pub async fn start_sink(queue_delay: std::time::Duration) -> Self {
        let sink = Self::start_with(false, Security::Plain).await;
        sink.state.lock().unwrap().queue_delay = queue_delay;
        sink
    }

    pub async fn start_tls(security: Security) -> Self {
        Self::start_with(true, security).await
    }

    async fn start_with(keep_mails: bool, security: Security) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            keep_mails,
            ..State::default()
        }));
        let accept_state = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accept_state.lock().unwrap().connections += 1;
                let state = Arc::clone(&accept_state);
                let security = security.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, state, security).await;
                });
            }
        });
        Self { addr, state }
    }

    /// From now on, answer every `RCPT TO` with this reply (e.g. `550 5.1.1 No such user`).
    pub fn refuse_recipients_with(&self, reply: &str) {
        self.state.lock().unwrap().rcpt_reply = Some(reply.to_owned());
    }

    pub fn mails(&self) -> Vec<ReceivedMail> {
        self.state.lock().unwrap().mails.clone()
    }

    pub fn mail_count(&self) -> usize {
        self.state.lock().unwrap().mail_count
    }

    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }

    pub fn encrypted_mails(&self) -> usize {
        self.state.lock().unwrap().encrypted_mails
    }
}

fn address_of(argument: &str) -> String {
    let start = argument.find('<').map_or(0, |index| index + 1);
    let end = argument.find('>').unwrap_or(argument.len());
    argument[start..end].to_owned()
}

async fn serve(
    stream: tokio::net::TcpStream,
    state: Arc<Mutex<State>>,
    security: Security,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let fresh = Session {
        greet: true,
        offer_starttls: false,
        encrypted: false,
    };
    match security {
        Security::Plain => session(stream, &state, fresh).await.map(drop),
        Security::Implicit(acceptor) => {
            let stream = acceptor.accept(stream).await?;
            session(
                stream,
                &state,
                Session {
                    encrypted: true,
                    ..fresh
                },
            )
            .await
            .map(drop)
        }
        Security::Starttls(acceptor) => {
            // Two sessions with two stream types rather than a recursive call: one
            // upgrade per connection, and after it the client speaks first (EHLO).
            let plain = Session {
                offer_starttls: true,
                ..fresh
            };
            if let Some(stream) = session(stream, &state, plain).await? {
                let stream = acceptor.accept(stream).await?;
                let upgraded = Session {
                    greet: false,
                    offer_starttls: false,
                    encrypted: true,
                };
                session(stream, &state, upgraded).await?;
            }
            Ok(())
        }
    }
}

#[derive(Clone, Copy)]
struct Session {
    greet: bool,
    offer_starttls: bool,
    encrypted: bool,
}

/// Runs SMTP commands until QUIT or EOF; hands the stream back when the client
/// asks for STARTTLS.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    state: &Mutex<State>,
    session: Session,
) -> std::io::Result<Option<S>> {
    let mut stream = BufReader::new(stream);
    if session.greet {
        stream
            .get_mut()
            .write_all(b"220 sink.test ESMTP\r\n")
            .await?;
    }
    let mut mail = ReceivedMail::default();
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") {
            let starttls = if session.offer_starttls {
                "250-STARTTLS\r\n"
            } else {
                ""
            };
            format!("250-sink.test\r\n{starttls}250-8BITMIME\r\n250 SMTPUTF8\r\n")
        } else if upper == "STARTTLS" && session.offer_starttls {
            stream
                .get_mut()
                .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                .await?;
            // The client waits for this reply before its handshake, so nothing is
            // left in the read buffer.
            return Ok(Some(stream.into_inner()));
        } else if upper.starts_with("HELO") || upper == "NOOP" {
            "250 Ok\r\n".into()
        } else if upper.starts_with("MAIL FROM:") {
            if session.offer_starttls {
                "530 5.7.0 Must issue a STARTTLS command first\r\n".into()
            } else {
                mail = ReceivedMail {
                    mail_from: address_of(&command[10..]),
                    ..ReceivedMail::default()
                };
                "250 2.1.0 Ok\r\n".into()
            }
        } else if upper.starts_with("RCPT TO:") {
            match state.lock().unwrap().rcpt_reply.clone() {
                Some(refusal) => format!("{refusal}\r\n"),
                None => {
                    mail.rcpt_to.push(address_of(&command[8..]));
                    "250 2.1.5 Ok\r\n".into()
                }
            }
        } else if upper == "DATA" {
            stream
                .get_mut()
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            loop {
                line.clear();
                if stream.read_line(&mut line).await? == 0 {
                    return Ok(None);
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            mail.data = data;
            let (queue_id, queue_delay) = {
                let mut state = state.lock().unwrap();
                state.mail_count += 1;
                state.encrypted_mails += usize::from(session.encrypted);
                if state.keep_mails {
                    state.mails.push(std::mem::take(&mut mail));
                }
                (state.mail_count, state.queue_delay)
            };
            if !queue_delay.is_zero() {
                tokio::time::sleep(queue_delay).await;
            }
            format!("250 2.0.0 Ok: queued as Q{queue_id}\r\n")
        } else if upper == "RSET" {
            mail = ReceivedMail::default();
            "250 2.0.0 Ok\r\n".into()
        } else if upper == "QUIT" {
            stream.get_mut().write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(None);
        } else {
            "502 5.5.2 Command not recognized\r\n".into()
        };
        stream.get_mut().write_all(reply.as_bytes()).await?;
    }
}
