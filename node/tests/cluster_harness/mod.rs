//! Multi-process cluster harness: the control service runs in-process (`autocache_control::
//! run` on 127.0.0.1:0), nodes are real `autocache-node` processes with `--control`, each
//! with its own data dir. Shared by the `cluster_*` tests.
#![allow(dead_code)]

use autocache_proto::pb::control::{self as cpb, control_client::ControlClient};
use autocache_proto::slotmap::SlotMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tonic::transport::Channel;

/// Polls `cond` until it holds; panics after `limit` (a hang guard, not a timing check).
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut cond: F)
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
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub struct Control {
    pub addr: SocketAddr,
    pub dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), autocache_control::Error>>>,
}

impl Control {
    /// Starts (or restarts, on the same address and data dir) the control service.
    pub async fn start_at(dir: &Path, addr: SocketAddr) -> Control {
        let mut config = autocache_control::Config::with_data_dir(dir);
        config.node_timeout = Duration::from_secs(15);
        let listener = bind_retry(addr).await;
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(autocache_control::run(listener, config, async move {
            let _ = rx.await;
        }));
        Control {
            addr,
            dir: dir.to_path_buf(),
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub fn client(&self) -> ControlClient<Channel> {
        let ch = tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect_lazy();
        ControlClient::new(ch).max_decoding_message_size(usize::MAX)
    }

    pub async fn status(&self) -> cpb::StatusReply {
        self.client()
            .status(cpb::StatusRequest {})
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn map(&self) -> SlotMap {
        SlotMap::from_proto(self.status().await.map.as_ref().unwrap()).unwrap()
    }

    pub async fn rebalance(&self) {
        self.client()
            .rebalance(cpb::RebalanceRequest {})
            .await
            .unwrap();
    }

    pub async fn migrate(&self, slot: u16, source: &str, target: &str) {
        let r = cpb::MigrateSlotsRequest {
            ranges: vec![cpb::SlotRange {
                start: slot.into(),
                end: slot.into(),
            }],
            source: source.into(),
            target: target.into(),
        };
        self.client().migrate_slots(r).await.unwrap();
    }

    pub async fn drain(&self, node: &str) {
        self.client()
            .drain(cpb::DrainRequest { node: node.into() })
            .await
            .unwrap();
    }

    /// Waits until no move is active or queued.
    pub async fn wait_moves_done(&self) {
        wait_for("migrations to finish", Duration::from_secs(240), || async {
            self.status().await.moves.is_empty()
        })
        .await;
    }

    /// Waits until control lists `n` nodes.
    pub async fn wait_nodes(&self, n: usize) {
        wait_for("nodes to register", Duration::from_secs(30), || async {
            self.status().await.nodes.len() == n
        })
        .await;
    }

    /// Stops the service (a restart is `Control::start_at` with the same address and dir).
    /// Stops control abruptly, as a crash would: its task is dropped at its next await, with
    /// no shutdown step (state it already wrote is all a restart finds).
    pub async fn kill(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        self.stop.take();
    }

    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

/// Binds `addr`, retrying while a previous listener on it is still closing.
async fn bind_retry(addr: SocketAddr) -> TcpListener {
    for _ in 0..200 {
        if let Ok(l) = TcpListener::bind(addr).await {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("cannot bind {addr}");
}

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real `autocache-node` process in cluster mode.
pub struct Node {
    pub addr: SocketAddr,
    pub grpc: SocketAddr,
    pub dir: PathBuf,
    pub id: String,
    child: Child,
}

impl Node {
    pub async fn start(control: SocketAddr, dir: &Path) -> Node {
        Node::start_with_env(control, dir, &[]).await
    }

    /// With extra `AUTOCACHE_*` settings (e.g. `--storage tiered` as AUTOCACHE_STORAGE).
    /// A port from `free_port` can be taken by another process before the node binds it: the
    /// node then exits ("Address already in use") and starts again on fresh ports.
    pub async fn start_with_env(control: SocketAddr, dir: &Path, env: &[(&str, &str)]) -> Node {
        for _ in 0..5 {
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let grpc: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            if let Some(node) = Node::launch(control, dir, env, addr, grpc).await {
                return node;
            }
        }
        panic!("autocache-node exited before listening, 5 times");
    }

    /// On given addresses (a restart where it ran before, as a StatefulSet pod keeps its name).
    /// Meanwhile another test's socket may have taken one of the ports (they come from the
    /// ephemeral range, as client connections' do): wait until both bind, then start, again
    /// if the node still lost the race.
    pub async fn start_on(
        control: SocketAddr,
        dir: &Path,
        env: &[(&str, &str)],
        addr: SocketAddr,
        grpc: SocketAddr,
    ) -> Node {
        for _ in 0..20 {
            drop((bind_retry(addr).await, bind_retry(grpc).await));
            if let Some(node) = Node::launch(control, dir, env, addr, grpc).await {
                return node;
            }
        }
        panic!("autocache-node exited before listening on {addr} / {grpc}, 20 times");
    }

    /// Starts the node; None if it exits before it listens.
    async fn launch(
        control: SocketAddr,
        dir: &Path,
        env: &[(&str, &str)],
        addr: SocketAddr,
        grpc: SocketAddr,
    ) -> Option<Node> {
        std::fs::create_dir_all(dir).unwrap();
        // Every second node launched serves on one thread (the current-thread scheduler),
        // the others on a worker per core: clusters mix both, as the benchmarks' do.
        static LAUNCHED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let threads = if LAUNCHED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 2 == 1 {
            "1"
        } else {
            "0"
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_autocache-node"))
            .args(["--threads", threads])
            .arg("--addr")
            .arg(addr.to_string())
            .arg("--grpc-addr")
            .arg(grpc.to_string())
            .arg("--control")
            .arg(control.to_string())
            .arg("--data-dir")
            .arg(dir)
            .arg("--heartbeat-interval")
            .arg("200ms")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn autocache-node");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).await.is_err() {
            if child.try_wait().unwrap().is_some() {
                return None;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for node to listen"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let mut node = Node {
            addr,
            grpc,
            dir: dir.to_path_buf(),
            id: String::new(),
            child,
        };
        wait_for("node id file", Duration::from_secs(10), || async {
            dir.join("node-id").exists()
        })
        .await;
        node.id = std::fs::read_to_string(dir.join("node-id"))
            .unwrap()
            .trim()
            .to_string();
        Some(node)
    }

    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    pub async fn raw(&self) -> Raw {
        Raw::connect(self.addr).await
    }

    /// The node's map epoch, from CLUSTER INFO.
    pub async fn epoch(&self) -> u64 {
        let info = self.cmd_string(&["CLUSTER", "INFO"]).await;
        info.lines()
            .find_map(|l| l.strip_prefix("cluster_my_epoch:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    pub async fn cmd_string(&self, args: &[&str]) -> String {
        let mut c = crate::common::connect(&self.url()).await;
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query_async(&mut c).await.unwrap()
    }

    pub async fn dbsize(&self) -> u64 {
        let mut c = crate::common::connect(&self.url()).await;
        redis::cmd("DBSIZE").query_async(&mut c).await.unwrap()
    }

    /// Suspends / resumes the process (SIGSTOP / SIGCONT).
    pub fn signal(&self, sig: &str) {
        let pid = self.child.id().expect("running").to_string();
        let ok = std::process::Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid)
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }
}

/// A control and `n` nodes, every node registered.
pub struct Cluster {
    pub tmp: tempfile::TempDir,
    pub control: Control,
    pub nodes: Vec<Node>,
    /// Settings every node starts with.
    pub node_env: Vec<(&'static str, &'static str)>,
}

impl Cluster {
    pub async fn start(n: usize) -> Cluster {
        Cluster::start_with_env(n, &[]).await
    }

    pub async fn start_with_env(n: usize, node_env: &[(&'static str, &'static str)]) -> Cluster {
        let tmp = tempfile::tempdir().unwrap();
        let control =
            Control::start_at(&tmp.path().join("control"), "127.0.0.1:0".parse().unwrap()).await;
        let mut c = Cluster {
            tmp,
            control,
            nodes: Vec::new(),
            node_env: node_env.to_vec(),
        };
        for _ in 0..n {
            c.add_node().await;
        }
        c
    }

    pub async fn add_node(&mut self) -> usize {
        let i = self.nodes.len();
        let dir = self.tmp.path().join(format!("node{i}"));
        let node = Node::start_with_env(self.control.addr, &dir, &self.node_env).await;
        self.nodes.push(node);
        self.control.wait_nodes(self.nodes.len()).await;
        i
    }

    /// Waits until every node runs with control's current epoch.
    pub async fn wait_converged(&self) {
        wait_for(
            "nodes to reach control's epoch",
            Duration::from_secs(60),
            || async {
                let epoch = self.control.status().await.map.unwrap().epoch;
                for n in &self.nodes {
                    if n.epoch().await != epoch {
                        return false;
                    }
                }
                true
            },
        )
        .await;
    }

    /// Rebalances and waits until the moves are done and every node has the final map.
    pub async fn rebalance(&self) {
        self.control.rebalance().await;
        self.control.wait_moves_done().await;
        self.wait_converged().await;
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.url()).collect()
    }

    /// The node owning `slot` in control's map.
    pub async fn owner_of(&self, slot: u16) -> &Node {
        let map = self.control.map().await;
        let owner = map.owner_node(slot).expect("slot owned");
        self.nodes.iter().find(|n| n.id == owner.id).unwrap()
    }

    pub async fn cluster_client(&self) -> redis::cluster_async::ClusterConnection {
        redis::cluster::ClusterClient::new(self.urls())
            .unwrap()
            .get_async_connection()
            .await
            .unwrap()
    }
}

/// A plain TCP client speaking raw RESP, for byte-exact replies.
pub struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub async fn connect(addr: SocketAddr) -> Raw {
        Raw {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, args: &[&str]) {
        let mut b = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            b.extend_from_slice(a.as_bytes());
            b.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&b).await.unwrap();
    }

    /// Reads one full line-terminated reply line (errors, simple strings, integers).
    pub async fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).collect();
                return String::from_utf8_lossy(&line).into_owned();
            }
            let n =
                tokio::time::timeout(Duration::from_secs(10), self.stream.read_buf(&mut self.buf))
                    .await
                    .expect("reply timed out")
                    .unwrap();
            assert!(n > 0, "connection closed");
        }
    }

    pub async fn call(&mut self, args: &[&str], expected: &str) {
        self.send(args).await;
        let mut got = String::new();
        while got.len() < expected.len() {
            got.push_str(&self.line().await);
        }
        assert_eq!(got, expected, "reply to {args:?}");
    }

    /// Sends and returns the first reply line.
    pub async fn first_line(&mut self, args: &[&str]) -> String {
        self.send(args).await;
        self.line().await
    }
}
