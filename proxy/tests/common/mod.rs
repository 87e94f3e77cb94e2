//! Test harness: the proxy run in-process on 127.0.0.1:0 (`TestProxy`), the control service
//! in-process and storage nodes as real `autocache-node` processes in cluster mode
//! (`TestCluster`), and `Raw`, a byte-exact RESP client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use autocache_proto::pb::control::{
    control_client::ControlClient, AssignSlotsRequest, MigrateSlotsRequest, SlotRange,
    StatusRequest,
};
use autocache_proxy::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Polls `cond` every 20 ms until it holds; panics after `limit` (a hang guard).
pub async fn wait_until<F, Fut>(what: &str, limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub struct TestProxy {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestProxy {
    pub async fn start(control: Option<String>) -> TestProxy {
        Self::with(control, |_| {}).await
    }

    pub async fn with(control: Option<String>, tweak: impl FnOnce(&mut Config)) -> TestProxy {
        let mut config = Config::new(control);
        tweak(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(autocache_proxy::run(listener, config, async move {
            let _ = rx.await;
        }));
        TestProxy {
            addr,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// A plain (non-cluster) `redis` crate connection.
    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .expect("connect")
    }

    pub async fn raw(&self) -> Raw {
        Raw::connect(self.addr).await
    }

    /// Waits until the proxy routes every slot (its map came from control).
    pub async fn wait_all_slots(&self) {
        let mut c = self.client().await;
        wait_until("the proxy's slot map", Duration::from_secs(30), || {
            let mut c = c.clone();
            async move {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut c)
                    .await
                    .unwrap();
                info.contains("cluster_slots_ok:16384")
            }
        })
        .await;
        let _ = &mut c;
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(15), task)
            .await
            .expect("proxy did not stop")
            .unwrap()
            .unwrap();
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
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

    pub async fn cmd(&mut self, args: &[&str]) {
        self.send(&encode(args)).await;
    }

    /// Reads until `n` bytes arrived (10 s hang guard) and returns them.
    pub async fn read_exact_len(&mut self, n: usize) -> Vec<u8> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
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

    /// Reads one CRLF-terminated line (with its CRLF).
    pub async fn read_line(&mut self) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).collect();
                return String::from_utf8_lossy(&line).into_owned();
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf))
                .await
                .expect("timed out waiting for a line")
                .expect("read");
            assert!(read > 0, "connection closed");
        }
    }

    pub async fn expect(&mut self, expected: &[u8]) {
        let got = self.read_exact_len(expected.len()).await;
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "reply bytes differ"
        );
    }

    pub async fn call(&mut self, args: &[&str], expected: &[u8]) {
        self.cmd(args).await;
        self.expect(expected).await;
    }

    /// Waits until the server closes the connection.
    pub async fn expect_closed(&mut self) {
        let mut chunk = vec![0u8; 1024];
        loop {
            let read = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
                .await
                .expect("connection was not closed");
            match read {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    }
}

pub fn encode(args: &[&str]) -> Vec<u8> {
    let mut b = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        b.extend_from_slice(a.as_bytes());
        b.extend_from_slice(b"\r\n");
    }
    b
}

// ---- cluster: control in-process, nodes as processes ----

/// `autocache-node` built by `cargo build -p autocache-node` in the shared target dir.
fn node_bin() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    let bin = target.join("debug").join("autocache-node");
    assert!(
        bin.exists(),
        "{} missing: run `cargo build -p autocache-node` first",
        bin.display()
    );
    bin
}

pub struct TestNode {
    pub resp_addr: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl TestNode {
    /// SIGSTOP / SIGCONT: the node keeps its connections but answers nothing.
    pub fn pause(&self, paused: bool) {
        let sig = if paused { "-STOP" } else { "-CONT" };
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} failed");
        if paused {
            // SIGSTOP lands asynchronously: a worker running on another core answers on
            // until it is interrupted. Wait until every thread shows state T.
            let pid = self.child.id();
            let stopped = || {
                let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
                tasks.flatten().all(|t| {
                    let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
                    // "pid (comm) STATE ...": the state follows the last ')'.
                    stat.rsplit_once(") ")
                        .is_none_or(|(_, rest)| rest.starts_with('T'))
                })
            };
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !stopped() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "node {pid} never stopped"
                );
                std::thread::yield_now();
            }
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct TestCluster {
    pub control_addr: SocketAddr,
    pub nodes: Vec<TestNode>,
    control_stop: Option<oneshot::Sender<()>>,
    _control_dir: tempfile::TempDir,
}

impl TestCluster {
    /// Control plus `n` nodes, the slots split evenly between them in node order.
    pub async fn start(n: usize) -> TestCluster {
        let control_dir = tempfile::tempdir().unwrap();
        let mut config = autocache_control::Config::with_data_dir(control_dir.path());
        config.node_timeout = Duration::from_secs(600);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let control_addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(autocache_control::run(listener, config, async move {
            let _ = rx.await;
        }));
        let mut nodes = Vec::new();
        for _ in 0..n {
            nodes.push(spawn_node(control_addr));
        }
        let cluster = TestCluster {
            control_addr,
            nodes,
            control_stop: Some(tx),
            _control_dir: control_dir,
        };
        cluster.assign_evenly().await;
        cluster
    }

    pub fn control_url(&self) -> String {
        self.control_addr.to_string()
    }

    async fn control(&self) -> ControlClient<tonic::transport::Channel> {
        ControlClient::connect(format!("http://{}", self.control_addr))
            .await
            .unwrap()
    }

    async fn assign_evenly(&self) {
        let mut c = self.control().await;
        let want = self.nodes.len();
        wait_until("nodes to register", Duration::from_secs(60), || {
            let mut c = c.clone();
            async move {
                let s = c.status(StatusRequest {}).await.unwrap().into_inner();
                s.nodes.len() == want
            }
        })
        .await;
        let per = 16384 / want as u32;
        for (i, node) in self.nodes.iter().enumerate() {
            let start = i as u32 * per;
            let end = if i + 1 == want {
                16383
            } else {
                start + per - 1
            };
            c.assign_slots(AssignSlotsRequest {
                ranges: vec![SlotRange { start, end }],
                node: node.resp_addr.clone(),
            })
            .await
            .unwrap();
        }
        // Every node must run with the final map before tests rely on it.
        wait_until("nodes to adopt the map", Duration::from_secs(60), || {
            let mut c = c.clone();
            async move {
                let s = c.status(StatusRequest {}).await.unwrap().into_inner();
                let epoch = s.map.as_ref().map_or(0, |m| m.epoch);
                s.nodes.iter().all(|n| n.node_epoch >= epoch)
            }
        })
        .await;
    }

    /// Moves `slot` from node `from` to node `to` and waits until control is done with it.
    pub async fn migrate(&self, slot: u16, from: usize, to: usize) {
        let mut c = self.control().await;
        c.migrate_slots(MigrateSlotsRequest {
            ranges: vec![SlotRange {
                start: slot as u32,
                end: slot as u32,
            }],
            source: self.nodes[from].resp_addr.clone(),
            target: self.nodes[to].resp_addr.clone(),
        })
        .await
        .unwrap();
        let target = self.nodes[to].resp_addr.clone();
        wait_until("the migration", Duration::from_secs(60), || {
            let mut c = c.clone();
            let target = target.clone();
            async move {
                let s = c.status(StatusRequest {}).await.unwrap().into_inner();
                let Some(map) = s.map.as_ref() else {
                    return false;
                };
                let owner = map
                    .owners
                    .iter()
                    .find(|r| r.start <= slot as u32 && slot as u32 <= r.end)
                    .map(|r| map.nodes[r.node as usize].resp_addr.clone());
                s.moves.is_empty() && owner.as_deref() == Some(target.as_str())
            }
        })
        .await;
    }

    /// Stops the control service; nodes and proxies keep their last map.
    pub fn stop_control(&mut self) {
        if let Some(tx) = self.control_stop.take() {
            let _ = tx.send(());
        }
    }

    /// Index of the node owning `slot` (slots are split evenly in node order).
    pub fn node_of_slot(&self, slot: u16) -> usize {
        let per = 16384 / self.nodes.len();
        (slot as usize / per).min(self.nodes.len() - 1)
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Some(tx) = self.control_stop.take() {
            let _ = tx.send(());
        }
    }
}

fn spawn_node(control: SocketAddr) -> TestNode {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(node_bin())
        .args([
            "--port",
            &port.to_string(),
            "--control",
            &control.to_string(),
            "--grpc-addr",
            "127.0.0.1:0",
            "--heartbeat-interval",
            "100ms",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start autocache-node");
    TestNode {
        resp_addr: format!("127.0.0.1:{port}"),
        child,
        _dir: dir,
    }
}
