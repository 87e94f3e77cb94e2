//! The HTTP endpoint every tier serves on `--metrics-addr`: `GET /healthz` (the process
//! answers), `GET /readyz` (ready to serve, as the tier decides) and `GET /metrics` (the
//! Prometheus text format, rendered by the tier at scrape time); 404 otherwise. One request
//! per connection, enough for kubelets and Prometheus. No metrics library here: a tier hands
//! in a closure that returns the exposition text.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Content type of the Prometheus text exposition format (what `prometheus::TEXT_FORMAT`
/// says; spelled out so this crate needs no metrics library).
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4";

/// Produces the `/metrics` body.
pub type Render = Box<dyn Fn() -> String + Send + Sync>;
/// Says whether the process is ready to serve (`/readyz`).
pub type Check = Box<dyn Fn() -> bool + Send + Sync>;

/// Largest request head read; a longer one is answered as it stands.
const MAX_HEAD: usize = 8 * 1024;
/// A client that sends no complete request head in this time is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What the endpoint answers with.
pub struct Endpoints {
    ready: AtomicBool,
    check: Option<Check>,
    metrics: Option<Render>,
}

impl Endpoints {
    /// Not ready until `set_ready`; `/metrics` answers 404 without a renderer.
    pub fn new(metrics: Option<Render>) -> Arc<Endpoints> {
        Arc::new(Endpoints {
            ready: AtomicBool::new(false),
            check: None,
            metrics,
        })
    }

    /// Ready whenever `check` says so, asked on every `/readyz`.
    pub fn checked(check: Check, metrics: Option<Render>) -> Arc<Endpoints> {
        Arc::new(Endpoints {
            ready: AtomicBool::new(true),
            check: Some(check),
            metrics,
        })
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) && self.check.as_ref().is_none_or(|c| c())
    }
}

/// Serves until `stop` changes.
pub async fn serve(
    listener: TcpListener,
    endpoints: Arc<Endpoints>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => { tokio::spawn(answer(stream, endpoints.clone())); }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "metrics accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop.changed() => return,
        }
    }
}

/// `/healthz` and `/readyz` (ready at once) for a process without metrics, such as the
/// operator; serves forever.
pub async fn serve_probes(listener: TcpListener) {
    let endpoints = Endpoints::new(None);
    endpoints.set_ready();
    let (_keep, stop) = watch::channel(false);
    serve(listener, endpoints, stop).await
}

async fn answer(mut stream: TcpStream, endpoints: Arc<Endpoints>) {
    let Ok(Some(head)) = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await else {
        return;
    };
    let reply = route(&head, &endpoints);
    let _ = stream.write_all(&reply).await;
    let _ = stream.shutdown().await;
}

/// Reads up to the blank line ending the request head, so that closing the connection
/// leaves nothing unread (unread input would turn the close into a reset that can destroy
/// the reply in flight). None when the client leaves first.
async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    loop {
        let n = stream.read_buf(&mut head).await.ok()?;
        if n == 0 {
            return (!head.is_empty()).then_some(head);
        }
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.len() >= MAX_HEAD {
            return Some(head);
        }
    }
}

fn route(request: &[u8], endpoints: &Endpoints) -> Vec<u8> {
    let path = request
        .strip_prefix(b"GET ")
        .and_then(|rest| rest.split(|&b| b == b' ').next())
        .unwrap_or(b"");
    // Query strings (`/metrics?x=y`) select nothing here.
    let path = path.split(|&b| b == b'?').next().unwrap_or(b"");
    match path {
        b"/healthz" => response("200 OK", "text/plain", "ok\n"),
        b"/readyz" if endpoints.is_ready() => response("200 OK", "text/plain", "ok\n"),
        b"/readyz" => response("503 Service Unavailable", "text/plain", "not ready\n"),
        b"/metrics" => match &endpoints.metrics {
            Some(render) => response("200 OK", TEXT_FORMAT, &render()),
            None => not_found(),
        },
        _ => not_found(),
    }
}

fn not_found() -> Vec<u8> {
    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
}

fn response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, endpoints: &Endpoints) -> String {
        let req = format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n");
        String::from_utf8(route(req.as_bytes(), endpoints)).unwrap()
    }

    #[test]
    fn routes_by_path() {
        let e = Endpoints::new(Some(Box::new(|| "a 1\n".to_string())));
        assert!(get("/healthz", &e).ends_with("\r\n\r\nok\n"));
        assert!(get("/readyz", &e).starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        e.set_ready();
        assert!(get("/readyz", &e).starts_with("HTTP/1.1 200 OK\r\n"));
        let m = get("/metrics?x=1", &e);
        assert!(
            m.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\n"),
            "{m}"
        );
        assert!(m.ends_with("content-length: 4\r\nconnection: close\r\n\r\na 1\n"));
        assert!(get("/nope", &e).starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(get("/metrics", &Endpoints::new(None)).starts_with("HTTP/1.1 404 "));
    }

    #[test]
    fn readiness_follows_the_check() {
        let flag = Arc::new(AtomicBool::new(false));
        let seen = flag.clone();
        let e = Endpoints::checked(Box::new(move || seen.load(Ordering::Relaxed)), None);
        assert!(!e.is_ready());
        flag.store(true, Ordering::Relaxed);
        assert!(e.is_ready());
    }
}
