//! One session through an endpoint: PostgreSQL's protocol (version 3),
//! read just enough to see the client's statements and the server's
//! answers, and passed through byte for byte.
//!
//! Every message after the startup is a type byte and a length that counts
//! itself. Messages pgdrill reads are small (a query, an error, a key);
//! anything else, or anything larger than it reads, is streamed without
//! being held.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::{Seen, Typed, Upstream, dial, lock};

/// The largest startup packet PostgreSQL itself accepts.
const MAX_STARTUP: usize = 10_000;
/// Longest statement recorded whole; longer ones pass through and are
/// recorded by their start.
const MAX_READ: usize = 1 << 20;
/// Longest error message read.
const MAX_ERROR: usize = 64 * 1024;
/// Startup codes that are not a startup message.
const SSL_REQUEST: u32 = 80_877_103;
const GSS_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;

/// Cancel keys (the server's process id and secret) to the server that
/// gave them.
#[derive(Clone, Default)]
pub(super) struct Keys(Arc<Mutex<BTreeMap<(i32, i32), Upstream>>>);

/// Statements sent and not yet answered (a ReadyForQuery answers them).
#[derive(Default)]
struct Unanswered {
    queue: VecDeque<String>,
    /// The first error since the last ReadyForQuery.
    error: Option<String>,
}

/// Carries one client's session to `to`, reporting what it runs.
pub(super) async fn session(
    client: TcpStream,
    to: Upstream,
    via_service: bool,
    typed: mpsc::UnboundedSender<Seen>,
    keys: Keys,
) -> std::io::Result<()> {
    let _ = client.set_nodelay(true);
    let (client_read, mut client_write) = client.into_split();
    let mut client_read = BufReader::new(client_read);
    // The startup: encryption declined until a startup message or a
    // cancel comes.
    let startup = loop {
        let packet = read_startup(&mut client_read).await?;
        match code(&packet) {
            SSL_REQUEST | GSS_REQUEST => client_write.write_all(b"N").await?,
            CANCEL_REQUEST => {
                cancel(&packet, &to, &keys).await;
                return Ok(());
            }
            _ => break packet,
        }
    };
    let server = dial(&to).await?;
    let (server_read, mut server_write) = server.into_split();
    let mut server_read = BufReader::new(server_read);
    server_write.write_all(&startup).await?;
    let pending = Arc::new(Mutex::new(Unanswered::default()));
    let app = application_name(&startup);
    let upward = {
        let pending = pending.clone();
        async move {
            loop {
                let Some((kind, body)) = relay(&mut client_read, &mut server_write, |k| {
                    k == b'Q' || k == b'P'
                })
                .await?
                else {
                    return Ok::<(), std::io::Error>(());
                };
                if let Some(sql) = body.and_then(|b| statement(kind, &b)) {
                    lock(&pending).queue.push_back(sql);
                }
            }
        }
    };
    let downward = async move {
        let mut key = None;
        loop {
            let Some((kind, body)) = relay(&mut server_read, &mut client_write, |k| {
                matches!(k, b'E' | b'K' | b'Z')
            })
            .await?
            else {
                if let Some(key) = key {
                    lock(&keys.0).remove(&key);
                }
                return Ok::<(), std::io::Error>(());
            };
            let Some(body) = body else { continue };
            match kind {
                b'K' if body.len() >= 8 => {
                    let pid = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                    let secret = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
                    lock(&keys.0).insert((pid, secret), to.clone());
                    let _ = typed.send(Seen::Opened {
                        instance: to.name.clone(),
                        pid,
                    });
                    key = Some((pid, secret));
                }
                b'E' => {
                    let mut p = lock(&pending);
                    if p.error.is_none() {
                        p.error = Some(error_text(&body));
                    }
                }
                b'Z' => {
                    let (answered, error) = {
                        let mut p = lock(&pending);
                        (std::mem::take(&mut p.queue), p.error.take())
                    };
                    for sql in answered {
                        let _ = typed.send(Seen::Ran(Typed {
                            instance: to.name.clone(),
                            via_service,
                            app: app.clone(),
                            sql,
                            error: error.clone(),
                        }));
                    }
                }
                _ => {}
            }
        }
    };
    // Either side closing ends the session.
    tokio::select! {
        r = upward => r,
        r = downward => r,
    }
}

/// Reads one message from `from` and writes it to `to`: its type and, for
/// the types `read` picks and sizes pgdrill reads, its body. `None` at the
/// end of the stream.
async fn relay<R, W>(
    from: &mut R,
    to: &mut W,
    read: impl Fn(u8) -> bool,
) -> std::io::Result<Option<(u8, Option<Vec<u8>>)>>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut head = [0u8; 5];
    match from.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let kind = head[0];
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let body_len = len
        .checked_sub(4)
        .ok_or_else(|| bad("a message shorter than its length"))?;
    to.write_all(&head).await?;
    let limit = if kind == b'E' { MAX_ERROR } else { MAX_READ };
    if read(kind) && body_len <= limit {
        let mut body = vec![0u8; body_len];
        from.read_exact(&mut body).await?;
        to.write_all(&body).await?;
        return Ok(Some((kind, Some(body))));
    }
    let copied = tokio::io::copy(&mut from.take(body_len as u64), to).await?;
    if copied < body_len as u64 {
        return Ok(None);
    }
    Ok(Some((kind, None)))
}

/// A startup-phase packet: a length that counts itself, then the rest.
async fn read_startup<R: AsyncRead + Unpin>(from: &mut R) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    from.read_exact(&mut len).await?;
    let n = u32::from_be_bytes(len) as usize;
    if !(8..=MAX_STARTUP).contains(&n) {
        return Err(bad("a startup packet of a size PostgreSQL refuses"));
    }
    let mut packet = vec![0u8; n];
    packet[..4].copy_from_slice(&len);
    from.read_exact(&mut packet[4..]).await?;
    Ok(packet)
}

/// The code after a startup packet's length.
fn code(packet: &[u8]) -> u32 {
    u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]])
}

/// Sends a cancel request to the server whose key it carries (or to the
/// endpoint's, when the key is unknown).
async fn cancel(packet: &[u8], to: &Upstream, keys: &Keys) {
    let target = (packet.len() >= 16)
        .then(|| {
            let word = |i: usize| {
                i32::from_be_bytes([packet[i], packet[i + 1], packet[i + 2], packet[i + 3]])
            };
            lock(&keys.0).get(&(word(8), word(12))).cloned()
        })
        .flatten()
        .unwrap_or_else(|| to.clone());
    if let Ok(mut server) = dial(&target).await {
        let _ = server.write_all(packet).await;
        let _ = server.shutdown().await;
    }
}

/// The `application_name` in a startup message, or empty.
fn application_name(startup: &[u8]) -> String {
    let mut fields = startup.get(8..).unwrap_or_default().split(|b| *b == 0);
    while let Some(name) = fields.next() {
        let value = fields.next().unwrap_or_default();
        if name == b"application_name" {
            return String::from_utf8_lossy(value).into_owned();
        }
        if name.is_empty() {
            break;
        }
    }
    String::new()
}

/// The SQL of a simple query (`Q`) or of a statement being prepared
/// (`P`: its name, then its text).
fn statement(kind: u8, body: &[u8]) -> Option<String> {
    let mut parts = body.split(|b| *b == 0);
    let text = match kind {
        b'Q' => parts.next()?,
        b'P' => {
            parts.next()?;
            parts.next()?
        }
        _ => return None,
    };
    let sql = String::from_utf8_lossy(text).trim().to_string();
    (!sql.is_empty()).then_some(sql)
}

/// An ErrorResponse as `SQLSTATE: message`.
fn error_text(body: &[u8]) -> String {
    let (mut code, mut message) = (String::new(), String::new());
    let mut rest = body;
    while let Some((&field, tail)) = rest.split_first() {
        if field == 0 {
            break;
        }
        let end = tail.iter().position(|b| *b == 0).unwrap_or(tail.len());
        let value = String::from_utf8_lossy(&tail[..end]).into_owned();
        match field {
            b'C' => code = value,
            b'M' => message = value,
            _ => {}
        }
        rest = tail.get(end + 1..).unwrap_or_default();
    }
    format!("{code}: {message}")
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_errors_and_names_are_read_from_their_messages() {
        assert_eq!(statement(b'Q', b"SELECT 1\0").as_deref(), Some("SELECT 1"));
        assert_eq!(
            statement(b'P', b"s1\0SELECT $1\0\0\0").as_deref(),
            Some("SELECT $1")
        );
        assert_eq!(statement(b'Q', b"  \0"), None);
        assert_eq!(statement(b'Q', b""), None);
        assert_eq!(
            error_text(b"SERROR\0C42703\0Mcolumn \"x\" does not exist\0\0"),
            "42703: column \"x\" does not exist"
        );
        let mut startup = vec![0, 0, 0, 0, 0, 3, 0, 0];
        startup.extend_from_slice(b"user\0app\0application_name\0psql\0\0");
        assert_eq!(application_name(&startup), "psql");
        assert_eq!(application_name(&startup[..8]), "");
    }
}
