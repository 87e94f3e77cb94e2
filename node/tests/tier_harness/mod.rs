//! Shared by the tier tests (`tiered`, `cold`): a tiered node as a real process, INFO and
//! OBJECT TIER helpers, a dataset of every type, and a local S3 server (moto) on loopback.
#![allow(dead_code)]

use crate::common::*;
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_autocache-node");

/// Memory left for data above what the idle node uses.
pub const BUDGET: u64 = 2 * 1024 * 1024;

pub struct Node {
    pub child: Child,
    pub addr: SocketAddr,
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Node {
    /// A tiered node on `dir`, ready for clients.
    pub async fn start(dir: &Path, fsync: &str) -> Node {
        Node::start_with(dir, fsync, &[]).await
    }

    /// The same with more flags (the cold tier's).
    pub async fn start_with(dir: &Path, fsync: &str, extra: &[String]) -> Node {
        let port = free_port();
        let mut cmd = Command::new(BIN);
        for (k, _) in std::env::vars() {
            if k.starts_with("AUTOCACHE_") {
                cmd.env_remove(k);
            }
        }
        cmd.args([
            "--port",
            &port.to_string(),
            "--storage",
            "tiered",
            "--appendfsync",
            fsync,
        ])
        .arg("--data-dir")
        .arg(dir)
        .args(["--maxmemory-policy", "allkeys-lru"])
        // One serving thread (the current-thread scheduler), as the benchmarks pin it: cold
        // reads, the flusher and the demoter must never stall it.
        .args(["--threads", "1"])
        .args(extra)
        // Credentials for the local S3 server only; never the instance metadata service.
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
        let child = cmd.spawn().expect("starting the node");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        wait_until(Duration::from_secs(30), || async move {
            redis::Client::open(format!("redis://{addr}/"))
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .is_ok()
        })
        .await;
        Node { child, addr }
    }

    pub async fn client(&self) -> MultiplexedConnection {
        connect(&format!("redis://{}/", self.addr)).await
    }

    pub async fn raw(&self) -> Raw {
        Raw::connect(self.addr).await
    }

    /// SIGTERM, then a clean exit.
    pub async fn terminate(mut self) {
        let pid = self.child.id().expect("running").to_string();
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(ok.success());
        let exit = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("no exit within 30 s of SIGTERM")
            .unwrap();
        assert!(exit.success(), "exit status {exit}");
    }

    /// kill -9.
    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }
}

/// `INFO` of the given sections, whole.
pub async fn info_text(c: &mut MultiplexedConnection, sections: &[&str]) -> String {
    redis::cmd("INFO")
        .arg(sections)
        .query_async(c)
        .await
        .unwrap()
}

pub async fn info_field(c: &mut MultiplexedConnection, section: &str, field: &str) -> String {
    info_text(c, &[section])
        .await
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} missing from INFO {section}"))
        .trim()
        .to_string()
}

pub async fn dbsize(c: &mut MultiplexedConnection) -> u64 {
    redis::cmd("DBSIZE").query_async(c).await.unwrap()
}

pub async fn info_u64(c: &mut MultiplexedConnection, section: &str, field: &str) -> u64 {
    info_field(c, section, field).await.parse().unwrap()
}

/// Limits memory to the idle figure plus [`BUDGET`].
pub async fn shrink_memory(c: &mut MultiplexedConnection) -> u64 {
    let used = info_u64(c, "memory", "used_memory").await;
    let max = used + BUDGET;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(max)
        .query_async(c)
        .await
        .unwrap();
    max
}

pub async fn tier(c: &mut MultiplexedConnection, key: &str) -> Option<String> {
    redis::cmd("OBJECT")
        .arg("TIER")
        .arg(key)
        .query_async(c)
        .await
        .unwrap()
}

/// What a key of each type holds, as the test wrote it.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Str(Vec<u8>),
    Hash(BTreeMap<String, String>),
    List(Vec<String>),
    Set(BTreeSet<String>),
    ZSet(Vec<(String, f64)>),
}

pub fn dataset(n: usize) -> BTreeMap<String, Val> {
    let mut d = BTreeMap::new();
    for i in 0..n {
        let pad = |j: usize| format!("{i}-{j}-{}", "x".repeat(150));
        let v = match i % 5 {
            0 | 1 => Val::Str(format!("{i}:{}", "v".repeat(2000)).into_bytes()),
            2 => Val::Hash((0..10).map(|j| (format!("f{j}"), pad(j))).collect()),
            3 => Val::List((0..10).map(pad).collect()),
            _ if i % 10 == 4 => Val::Set((0..10).map(pad).collect()),
            _ => Val::ZSet((0..10).map(|j| (pad(j), j as f64 * 1.5 - 3.0)).collect()),
        };
        d.insert(format!("key:{i}"), v);
    }
    d
}

pub async fn write(c: &mut MultiplexedConnection, data: &BTreeMap<String, Val>) {
    for chunk in data.iter().collect::<Vec<_>>().chunks(50) {
        let mut p = redis::pipe();
        for (k, v) in chunk {
            match v {
                Val::Str(s) => p.set(k, s).ignore(),
                Val::Hash(h) => p.hset_multiple(k, &h.iter().collect::<Vec<_>>()).ignore(),
                Val::List(l) => p.rpush(k, l).ignore(),
                Val::Set(s) => p.sadd(k, s.iter().collect::<Vec<_>>()).ignore(),
                Val::ZSet(z) => p
                    .zadd_multiple(k, &z.iter().map(|(m, s)| (*s, m)).collect::<Vec<_>>())
                    .ignore(),
            };
        }
        let _: () = p.query_async(c).await.unwrap();
    }
}

pub async fn read(c: &mut MultiplexedConnection, key: &str, like: &Val) -> Val {
    match like {
        Val::Str(_) => Val::Str(c.get(key).await.unwrap()),
        Val::Hash(_) => Val::Hash(c.hgetall(key).await.unwrap()),
        Val::List(_) => Val::List(c.lrange(key, 0, -1).await.unwrap()),
        Val::Set(_) => Val::Set(c.smembers(key).await.unwrap()),
        Val::ZSet(_) => Val::ZSet(c.zrange_withscores(key, 0, -1).await.unwrap()),
    }
}

pub async fn check_all(c: &mut MultiplexedConnection, data: &BTreeMap<String, Val>) {
    for (k, v) in data {
        assert_eq!(&read(c, k, v).await, v, "value of {k}");
    }
}

/// A local S3-compatible server (`moto_server` from PyPI) on a free loopback port; killed on
/// drop. It keeps objects in memory, so it is paused (SIGSTOP), not stopped, to play an
/// unreachable S3.
pub struct S3Server {
    child: Child,
    pub port: u16,
}

impl S3Server {
    pub async fn start() -> S3Server {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("starting moto_server (pip install 'moto[server]')");
        let s = S3Server { child, port };
        wait_until(Duration::from_secs(60), || async {
            s.http("GET", "/").await.is_some()
        })
        .await;
        s
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One HTTP request; the status line's code and the body, `None` if unreachable.
    pub async fn http(&self, method: &str, path: &str) -> Option<(u16, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .ok()?;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
            .await
            .ok()?
            .ok()?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let code = text.split(' ').nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map_or("", |x| x.1).to_string();
        Some((code, body))
    }

    pub async fn create_bucket(&self, bucket: &str) {
        let (code, body) = self.http("PUT", &format!("/{bucket}")).await.unwrap();
        assert_eq!(code, 200, "creating bucket {bucket}: {body}");
    }

    /// Objects in `bucket` (up to 1000).
    pub async fn object_count(&self, bucket: &str) -> usize {
        let (code, body) = self
            .http("GET", &format!("/{bucket}?list-type=2"))
            .await
            .unwrap();
        assert_eq!(code, 200, "{body}");
        body.matches("<Key>").count()
    }

    /// The node flags for this server.
    pub fn flags(&self, bucket: &str) -> Vec<String> {
        [
            "--s3-bucket",
            bucket,
            "--s3-endpoint",
            &self.endpoint(),
            "--s3-path-style",
            "--s3-region",
            "us-east-1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.id().expect("running").to_string();
        let ok = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Stops answering (requests hang), as an unreachable S3.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }
}
