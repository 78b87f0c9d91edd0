//! The other end of `api.rs`, for `pgdrill join` and `pgdrill act`: who
//! am I, send a line, follow the feed. No terminal here; the CLI prints.

use std::time::Duration;

use futures::{Stream, StreamExt};

use super::api::{Answer, ErrorBody, Me, MoveBody};
use super::feed::Item;

/// Why a request did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL is not an http:// address.
    #[error(
        "`{0}` is not a server address: give the URL `pgdrill serve` printed (http://HOST:PORT/)"
    )]
    BadUrl(String),
    /// Nothing answers there.
    #[error("cannot reach the drill's server at {url}: {message}")]
    Unreachable {
        /// Where.
        url: String,
        /// Why, in words.
        message: String,
    },
    /// The server said no.
    #[error("{message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's sentence.
        message: String,
    },
}

/// A participant's connection to a served drill.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    /// A client for the server at `url`, with `token`.
    pub fn new(url: &str, token: &str) -> Result<Client, Error> {
        let base = url.trim().trim_end_matches('/').to_string();
        if !base.starts_with("http://") || base.len() <= "http://".len() {
            return Err(Error::BadUrl(url.to_string()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| Error::Unreachable {
                url: base.clone(),
                message: e.to_string(),
            })?;
        Ok(Client {
            http,
            base,
            token: token.trim().to_string(),
        })
    }

    fn unreachable(&self, e: &reqwest::Error) -> Error {
        // reqwest's sentence hides the cause (connection refused) in its
        // source chain.
        let mut message = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            message = s.to_string();
            source = s.source();
        }
        Error::Unreachable {
            url: self.base.clone(),
            message,
        }
    }

    async fn refused(response: reqwest::Response) -> Error {
        let status = response.status().as_u16();
        let message = match response.json::<ErrorBody>().await {
            Ok(body) => body.error,
            Err(_) => format!("the server answered HTTP {status}"),
        };
        Error::Refused { status, message }
    }

    /// Sends a request with the token; a response that is not a success
    /// becomes the server's sentence.
    async fn call(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, Error> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        if !response.status().is_success() {
            return Err(Self::refused(response).await);
        }
        Ok(response)
    }

    /// Who the token belongs to.
    pub async fn me(&self) -> Result<Me, Error> {
        let response = self
            .call(self.http.get(format!("{}/api/me", self.base)))
            .await?;
        response.json().await.map_err(|e| self.unreachable(&e))
    }

    /// Plays a line and waits for its answer (a `wait 2m` takes its time).
    pub async fn send(&self, line: &str) -> Result<Answer, Error> {
        let body = MoveBody {
            line: line.to_string(),
        };
        let response = self
            .call(
                self.http
                    .post(format!("{}/api/moves", self.base))
                    .json(&body),
            )
            .await?;
        response.json().await.map_err(|e| self.unreachable(&e))
    }

    /// The feed from its start: every event the participant may see, as
    /// it happens, then the summary. Ends when the server closes it.
    pub async fn follow(&self) -> Result<impl Stream<Item = Item> + use<>, Error> {
        let response = self
            .call(self.http.get(format!("{}/api/events", self.base)))
            .await?;
        let mut parser = SseParser::default();
        Ok(response
            .bytes_stream()
            .take_while(|chunk| std::future::ready(chunk.is_ok()))
            .flat_map(move |chunk| {
                let items: Vec<Item> = chunk
                    .map(|bytes| parser.push(&bytes))
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|data| serde_json::from_str(&data).ok())
                    .collect();
                futures::stream::iter(items)
            }))
    }
}

/// Server-sent events read from a byte stream: the `data:` of each event,
/// whatever the chunks' boundaries.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
}

impl SseParser {
    /// Takes a chunk; returns the data of the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.buffer.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = find_blank_line(&self.buffer) {
            let block: Vec<u8> = self.buffer.drain(..end.1).collect();
            let text = String::from_utf8_lossy(&block[..end.0]);
            let data: Vec<&str> = text
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if !data.is_empty() {
                out.push(data.join("\n"));
            }
        }
        out
    }
}

/// Where the first event ends: (end of its text, start of the next).
fn find_blank_line(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = buffer
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| (i, i + 2));
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 < b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_whatever_the_chunks() {
        let stream = b"id: 0\ndata: {\"seq\":0}\n\n: keep-alive\n\nid: 1\r\ndata: {\"seq\":1}\r\n\r\ndata: a\ndata: b\n\n";
        for size in [1, 2, 3, 7, stream.len()] {
            let mut parser = SseParser::default();
            let got: Vec<String> = stream.chunks(size).flat_map(|c| parser.push(c)).collect();
            assert_eq!(
                got,
                ["{\"seq\":0}", "{\"seq\":1}", "a\nb"],
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn only_an_http_address_is_a_server() {
        assert!(Client::new("http://127.0.0.1:8080/", "t").is_ok());
        for bad in [
            "127.0.0.1:8080",
            "https://x",
            "http://",
            "file:///etc/passwd",
        ] {
            assert!(
                matches!(Client::new(bad, "t"), Err(Error::BadUrl(_))),
                "{bad}"
            );
        }
    }
}
