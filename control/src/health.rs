//! A tiny HTTP endpoint for probes and scrapes: `GET /healthz` (the process answers),
//! `GET /readyz` (state loaded, gRPC serving) and `GET /metrics` (Prometheus text format);
//! 404 otherwise. One request per connection, enough for kubelets and Prometheus.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

type Render = Box<dyn Fn() -> String + Send + Sync>;

/// What the endpoint answers with.
pub struct Endpoints {
    ready: AtomicBool,
    metrics: Option<Render>,
}

impl Endpoints {
    /// Not ready until `set_ready`; `/metrics` answers 404 without a renderer.
    pub fn new(metrics: Option<Render>) -> Arc<Endpoints> {
        Arc::new(Endpoints {
            ready: AtomicBool::new(false),
            metrics,
        })
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
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
                Err(e) => tracing::warn!(error = %e, "metrics accept failed"),
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
    let mut buf = [0u8; 1024];
    let n = match stream.read(&mut buf).await {
        Ok(n) => n,
        Err(_) => return,
    };
    let reply = route(&buf[..n], &endpoints);
    let _ = stream.write_all(&reply).await;
}

fn route(request: &[u8], endpoints: &Endpoints) -> Vec<u8> {
    let path = request
        .strip_prefix(b"GET ")
        .and_then(|rest| rest.split(|&b| b == b' ').next())
        .unwrap_or(b"");
    match path {
        b"/healthz" => response("200 OK", "text/plain", "ok\n"),
        b"/readyz" if endpoints.ready.load(Ordering::Acquire) => {
            response("200 OK", "text/plain", "ok\n")
        }
        b"/readyz" => response("503 Service Unavailable", "text/plain", "not ready\n"),
        b"/metrics" if endpoints.metrics.is_some() => {
            let body = (endpoints.metrics.as_ref().expect("checked"))();
            response("200 OK", prometheus::TEXT_FORMAT, &body)
        }
        _ => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
    }
}

fn response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
