//! A tiny HTTP endpoint answering `GET /healthz` with `200 ok` (and 404 otherwise), enough
//! for probes until the shared Prometheus endpoint lands.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub async fn serve(listener: TcpListener, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => { tokio::spawn(answer(stream)); }
                Err(e) => tracing::warn!(error = %e, "healthz accept failed"),
            },
            _ = stop.changed() => return,
        }
    }
}

async fn answer(mut stream: TcpStream) {
    let mut buf = [0u8; 1024];
    let n = match stream.read(&mut buf).await {
        Ok(n) => n,
        Err(_) => return,
    };
    let reply: &[u8] = if buf[..n].starts_with(b"GET /healthz ") {
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n"
    } else {
        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    };
    let _ = stream.write_all(reply).await;
}
