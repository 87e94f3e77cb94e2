//! One TCP connection to a server: write a batch of commands, read replies one frame at a
//! time, and remember when the bytes of the latest reply arrived (the latency clock).

use crate::resp::{encode_command, frame_len, parse, Reply};
use bytes::{Bytes, BytesMut};
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How every connection is opened.
#[derive(Debug, Clone)]
pub struct ConnOpts {
    /// Sent as `AUTH <password>` right after connecting.
    pub auth: Option<String>,
    /// Bound on connecting and on each request round: a stuck server fails the round.
    pub timeout: Duration,
}

pub struct Conn {
    pub addr: String,
    stream: TcpStream,
    rbuf: BytesMut,
    /// When the last read returned bytes: the reply time of every frame parsed from them.
    pub read_at: Instant,
}

impl Conn {
    /// Connects (and authenticates) within `opts.timeout`.
    pub async fn connect(addr: &str, opts: &ConnOpts) -> io::Result<Conn> {
        let stream = tokio::time::timeout(opts.timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        stream.set_nodelay(true)?;
        let mut conn = Conn {
            addr: addr.to_string(),
            stream,
            rbuf: BytesMut::with_capacity(64 * 1024),
            read_at: Instant::now(),
        };
        if let Some(pw) = &opts.auth {
            let reply = tokio::time::timeout(opts.timeout, conn.call(&[b"AUTH", pw.as_bytes()]))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "AUTH timed out"))??;
            if let Reply::Error(e) = reply {
                return Err(io::Error::new(io::ErrorKind::PermissionDenied, e));
            }
        }
        Ok(conn)
    }

    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// The next complete reply, exactly as received.
    pub async fn frame(&mut self) -> io::Result<Bytes> {
        loop {
            match frame_len(&self.rbuf) {
                Ok(Some(n)) => return Ok(self.rbuf.split_to(n).freeze()),
                Ok(None) => {}
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
            if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                self.rbuf.reserve(64 * 1024);
            }
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                ));
            }
            self.read_at = Instant::now();
        }
    }

    /// Sends one command and decodes its reply (setup and verification, not the hot path).
    pub async fn call(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        let mut out = Vec::new();
        encode_command(&mut out, args);
        self.write(&out).await?;
        let frame = self.frame().await?;
        parse(&frame).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}
