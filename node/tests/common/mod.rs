//! Test harness: starts the real server (`autocache_node::run`) on an ephemeral loopback port
//! and offers two clients — the `redis` crate for typed calls and a raw TCP client for
//! byte-exact replies.
#![allow(dead_code)]

use autocache_node::Config;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// A server with default settings.
    pub async fn start() -> TestServer {
        Self::with(|_| {}).await
    }

    /// A server whose config `tweak` adjusts (e.g. `c.requirepass = "pw".into()`).
    pub async fn with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let mut config = Config::default_for_tests();
        tweak(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(autocache_node::run(listener, config, async {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// A server in tiered mode (RocksDB under `dir`).
    pub async fn tiered(dir: &std::path::Path) -> TestServer {
        let data_dir = dir.to_path_buf();
        Self::with(|c| {
            c.storage = autocache_node::config::Storage::Tiered;
            c.data_dir = data_dir;
        })
        .await
    }

    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// A `redis` crate connection (RESP2).
    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        connect(&self.url()).await
    }

    /// A raw connection for byte-exact checks.
    pub async fn raw(&self) -> Raw {
        Raw::connect(self.addr).await
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A `redis` crate connection with timeouts fit for debug builds on a busy 2-core box (the
/// crate's defaults, 500 ms per reply, fail a 20k-command pipeline there).
pub async fn connect(url: &str) -> redis::aio::MultiplexedConnection {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(10)))
        .set_response_timeout(Some(Duration::from_secs(30)));
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("connect")
}

/// One HTTP GET (the metrics endpoint answers and closes); the whole response, head included.
pub async fn http_get(addr: impl tokio::net::ToSocketAddrs, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// A plain TCP client speaking raw RESP.
pub struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub async fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Sends a command as a RESP array of bulk strings.
    pub async fn cmd(&mut self, args: &[&str]) {
        let b = encode(args);
        self.send(&b).await;
    }

    /// Reads until exactly `expected.len()` bytes arrived (or 5 s pass) and returns them.
    pub async fn read_exact_len(&mut self, n: usize) -> Vec<u8> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.buf.len() < n {
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf))
                .await
                .expect("timed out waiting for a reply")
                .expect("read");
            if read == 0 {
                break;
            }
        }
        let take = n.min(self.buf.len());
        self.buf.drain(..take).collect()
    }

    /// Asserts the next bytes from the server are exactly `expected`.
    pub async fn expect(&mut self, expected: &[u8]) {
        let got = self.read_exact_len(expected.len()).await;
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "reply bytes differ"
        );
    }

    /// Sends a command and asserts the exact reply bytes.
    pub async fn call(&mut self, args: &[&str], expected: &[u8]) {
        self.cmd(args).await;
        self.expect(expected).await;
    }

    /// Waits until the server closes the connection (EOF), failing after 5 s.
    pub async fn expect_closed(&mut self) {
        let mut chunk = vec![0u8; 1024];
        loop {
            let read = tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut chunk))
                .await
                .expect("connection was not closed");
            match read {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode(args: &[&str]) -> Vec<u8> {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    encode_bin(&args)
}

/// Encodes a command of binary arguments as a RESP array of bulk strings.
pub fn encode_bin(args: &[&[u8]]) -> Vec<u8> {
    let mut b = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        b.extend_from_slice(a);
        b.extend_from_slice(b"\r\n");
    }
    b
}

/// Polls `cond` every 10 ms until it holds, failing after `timeout`.
pub async fn wait_until<F, Fut>(timeout: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---- reply builders and constants shared by the command test suites ----

pub const OK: &[u8] = b"+OK\r\n";
pub const NIL: &[u8] = b"$-1\r\n";
pub const SYNTAX: &[u8] = b"-ERR syntax error\r\n";
pub const WRONGTYPE: &[u8] =
    b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
pub const NOT_INT: &[u8] = b"-ERR value is not an integer or out of range\r\n";
pub const NOT_FLOAT: &[u8] = b"-ERR value is not a valid float\r\n";

/// A RESP bulk string.
pub fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{s}\r\n", s.len()).into_bytes()
}

/// A RESP array of bulk strings.
pub fn bulks(items: &[&str]) -> Vec<u8> {
    let mut b = format!("*{}\r\n", items.len()).into_bytes();
    for i in items {
        b.extend(bulk(i));
    }
    b
}

/// A RESP integer.
pub fn int(n: i64) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}

/// A RESP error line (`msg` carries its code).
pub fn err(msg: &str) -> Vec<u8> {
    format!("-{msg}\r\n").into_bytes()
}

/// Switches a raw connection to RESP3, skipping HELLO's map (read up to a PING's reply).
pub async fn hello3(c: &mut Raw) {
    c.cmd(&["HELLO", "3"]).await;
    c.cmd(&["PING"]).await;
    let mut seen = Vec::new();
    while !seen.ends_with(b"+PONG\r\n") {
        seen.extend(c.read_exact_len(1).await);
    }
    assert!(seen.starts_with(b"%"), "HELLO 3 answers a map");
}

/// Reads one complete reply (any RESP2/RESP3 type) and returns its bytes.
pub async fn read_reply(c: &mut Raw) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pending = 1i64;
    while pending > 0 {
        pending -= 1;
        let start = out.len();
        loop {
            out.extend(c.read_exact_len(1).await);
            if out.ends_with(b"\r\n") {
                break;
            }
        }
        let line = String::from_utf8_lossy(&out[start + 1..out.len() - 2]).to_string();
        let n: i64 = line.parse().unwrap_or(0);
        match out[start] {
            b'*' | b'~' | b'>' => pending += n.max(0),
            b'%' => pending += 2 * n,
            b'|' => pending += 2 * n + 1,
            b'$' | b'=' | b'!' if n >= 0 => out.extend(c.read_exact_len(n as usize + 2).await),
            _ => {}
        }
    }
    out
}

/// Sends a command and returns its integer reply.
pub async fn int_of(c: &mut Raw, args: &[&str]) -> i64 {
    c.cmd(args).await;
    let r = read_reply(c).await;
    let s = String::from_utf8_lossy(&r).to_string();
    s.strip_prefix(':')
        .and_then(|v| v.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("{args:?}: not an integer reply: {s:?}"))
}

/// Waits until the server counts `n` blocked clients (INFO's `blocked_clients`).
pub async fn wait_blocked(s: &TestServer, n: usize) {
    let c = s.client().await;
    let want = format!("blocked_clients:{n}\r\n");
    wait_until(Duration::from_secs(5), || {
        let (mut c, want) = (c.clone(), want.clone());
        async move {
            let info: String = redis::cmd("INFO")
                .arg("clients")
                .query_async(&mut c)
                .await
                .unwrap();
            info.contains(&want)
        }
    })
    .await;
}

/// Reads one CRLF-terminated line (without the CRLF).
pub async fn read_line(c: &mut Raw) -> String {
    let mut line = Vec::new();
    while !line.ends_with(b"\r\n") {
        let b = c.read_exact_len(1).await;
        assert!(!b.is_empty(), "connection closed mid-line: {line:?}");
        line.extend(b);
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).unwrap()
}

/// Sends a command and reads a bulk (RESP2) or verbatim (RESP3, `txt:` stripped) reply.
pub async fn call_text(c: &mut Raw, args: &[&str]) -> String {
    c.cmd(args).await;
    let header = read_line(c).await;
    let (tag, len) = header.split_at(1);
    assert!(
        tag == "$" || tag == "=",
        "not a bulk/verbatim reply: {header}"
    );
    let len: usize = len.parse().unwrap();
    let body = c.read_exact_len(len + 2).await;
    let text = String::from_utf8(body[..len].to_vec()).unwrap();
    match tag {
        "=" => text
            .strip_prefix("txt:")
            .expect("verbatim format")
            .to_string(),
        _ => text,
    }
}

/// A redis-server on an ephemeral loopback port, killed on drop.
pub struct RedisServer {
    child: std::process::Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    pub async fn start() -> RedisServer {
        // The port is free when picked but could be taken before redis-server binds it: a
        // server that exits is retried on another port.
        for _ in 0..3 {
            let addr = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let child = std::process::Command::new("redis-server")
                .args(["--port", &addr.port().to_string()])
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--enable-debug-command", "yes"])
                .arg("--dir")
                .arg(dir.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("redis-server (7.0) must be on PATH");
            let mut server = RedisServer {
                child,
                addr,
                _dir: dir,
            };
            if server.wait_ready().await {
                return server;
            }
        }
        panic!("redis-server did not start");
    }

    /// Waits (at most 10 s) until the server answers PING; false if it exited.
    async fn wait_ready(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if ping(self.addr).await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a server at `addr` answers PING within a second.
pub async fn ping(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return false;
    };
    if s.write_all(b"*1\r\n$4\r\nPING\r\n").await.is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    let read = tokio::time::timeout(Duration::from_secs(1), s.read_exact(&mut buf)).await;
    matches!(read, Ok(Ok(_))) && &buf == b"+PONG\r\n"
}
