//! One HTTP/1.1 connection per worker, for the measured requests: hyper's connection-level
//! client on a TCP stream the worker owns, with the request's fixed parts (URL, headers,
//! body) built once. The load generator shares the 2 cores it measures on with the server
//! and the database, so its own CPU per request comes off the server's figures: through a
//! shared `reqwest::Client` (its pool, a lock and a header map per request) it was 34-55 µs
//! per request, more than the in-memory axum ceiling's server (24 µs). Setup (the token,
//! the read scenario's patients) and the export scenario keep reqwest.

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use std::time::Duration;
use tokio::net::TcpStream;

/// Where the measured requests go, and their fixed headers.
pub struct Endpoint {
    /// `host:port` of the server.
    address: String,
    host: HeaderValue,
    /// `Bearer …`, or `None` without a token.
    auth: Option<HeaderValue>,
    timeout: Duration,
}

impl Endpoint {
    /// `base` is `http://host:port` (no TLS: the load generator only talks to 127.0.0.1).
    pub fn new(base: &str, auth: &str, timeout: Duration) -> Result<Endpoint> {
        let uri: Uri = base.parse().with_context(|| format!("--base-url {base}"))?;
        anyhow::ensure!(uri.scheme_str() == Some("http"), "--base-url {base}: only http:// is measured");
        let authority = uri.authority().context("--base-url has no host")?.as_str().to_string();
        Ok(Endpoint {
            host: HeaderValue::from_str(&authority)?,
            address: authority,
            auth: if auth.is_empty() { None } else { Some(HeaderValue::from_str(auth)?) },
            timeout,
        })
    }
}

/// A worker's connection, opened at its first request and again after a failure.
pub struct Conn {
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// A request's answer: its status and body.
pub type Answer = (u16, Bytes);

impl Conn {
    pub fn new() -> Conn {
        Conn { sender: None }
    }

    /// Sends one request (`path` with its query, `body` as JSON) and reads the whole answer.
    pub async fn send(&mut self, to: &Endpoint, method: Method, path: &str, body: Option<Bytes>) -> Result<Answer> {
        let answer = tokio::time::timeout(to.timeout, self.exchange(to, method, path, body)).await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(_) => Err(anyhow::anyhow!("no answer within {:?}", to.timeout)),
        };
        if answer.is_err() {
            // The connection's state is unknown: the next request opens a new one.
            self.sender = None;
        }
        answer
    }

    async fn exchange(&mut self, to: &Endpoint, method: Method, path: &str, body: Option<Bytes>) -> Result<Answer> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.sender = Some(open(to).await?);
        }
        let sender = self.sender.as_mut().expect("opened above");
        sender.ready().await?;
        let mut request = Request::builder().method(method).uri(path).header(HOST, to.host.clone());
        if let Some(auth) = &to.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        if body.is_some() {
            request = request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let request = request.body(Full::new(body.unwrap_or_default()))?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

async fn open(to: &Endpoint) -> Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(&to.address).await.with_context(|| format!("connecting to {}", to.address))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the connection closes; the next request then opens another.
        let _ = connection.await;
    });
    Ok(sender)
}
