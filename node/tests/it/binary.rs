//! The real `autocache-node` binary: flags and env vars, serving `redis-cli`, and a clean
//! exit on SIGTERM.

use crate::common::*;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_autocache-node");

/// A port nothing listens on right now (bound, then released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The binary with no `AUTOCACHE_*` variables inherited from the environment.
fn node() -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("AUTOCACHE_") {
            cmd.env_remove(k);
        }
    }
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Whether a PING on a new connection gets `expected`.
async fn ping_answers(addr: SocketAddr, expected: &[u8]) -> bool {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    if s.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut buf = vec![0u8; expected.len()];
    matches!(
        tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut buf)).await,
        Ok(Ok(_)) if buf == expected
    )
}

async fn wait_ready(addr: SocketAddr, expected: &'static [u8]) {
    wait_until(Duration::from_secs(20), || ping_answers(addr, expected)).await;
}

/// Sends SIGTERM and asserts a successful exit within 10 s.
async fn terminate(mut child: Child) {
    let pid = child.id().expect("still running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("running kill");
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("did not exit within 10 s of SIGTERM")
        .unwrap();
    assert!(exit.success(), "exit status {exit}");
}

/// `redis-cli -p PORT args…`, its stdout trimmed.
fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli is installed (make test installs redis-tools)");
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_lists_the_flags() {
    let out = node()
        .stdout(Stdio::piped())
        .arg("--help")
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--addr",
        "--port",
        "--bind",
        "--requirepass",
        "--maxclients",
        "--maxmemory",
        "--maxmemory-policy",
        "--data-dir",
        "--timeout",
        "--notify-keyspace-events",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
    assert!(
        help.contains("AUTOCACHE_PORT"),
        "env vars are documented:\n{help}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_redis_cli_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = node()
        .args([
            "--port",
            &port.to_string(),
            "--maxmemory",
            "64mb",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_ready(addr, b"+PONG\r\n").await;
    assert!(dir.path().join("data").is_dir(), "data dir created");

    assert_eq!(redis_cli(port, &["ping"]), "PONG");
    assert_eq!(redis_cli(port, &["set", "a", "b"]), "OK");
    assert_eq!(redis_cli(port, &["get", "a"]), "b");
    assert_eq!(redis_cli(port, &["dbsize"]), "1");
    assert_eq!(
        redis_cli(port, &["config", "get", "maxmemory"]),
        "maxmemory\n67108864"
    );
    let info = redis_cli(port, &["info", "server"]);
    assert!(info.contains("redis_version:7.0.15"), "{info}");
    assert!(info.contains(&format!("tcp_port:{port}")), "{info}");
    assert!(
        info.contains(&format!("process_id:{}", child.id().unwrap())),
        "{info}"
    );

    // An open, idle connection does not hold up the shutdown.
    let mut idle = Raw::connect(addr).await;
    idle.call(&["PING"], b"+PONG\r\n").await;
    terminate(child).await;
    idle.expect_closed().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_come_from_env_vars() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = node()
        .env("AUTOCACHE_PORT", port.to_string())
        .env("AUTOCACHE_REQUIREPASS", "pw")
        .env("AUTOCACHE_MAXCLIENTS", "77")
        .env("AUTOCACHE_NOTIFY_KEYSPACE_EVENTS", "KEx")
        .env("AUTOCACHE_DATA_DIR", dir.path())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_ready(addr, b"-NOAUTH Authentication required.\r\n").await;

    let mut c = Raw::connect(addr).await;
    c.call(&["GET", "a"], b"-NOAUTH Authentication required.\r\n")
        .await;
    c.call(&["AUTH", "pw"], b"+OK\r\n").await;
    c.call(
        &["CONFIG", "GET", "maxclients"],
        b"*2\r\n$10\r\nmaxclients\r\n$2\r\n77\r\n",
    )
    .await;
    c.call(
        &["CONFIG", "GET", "notify-keyspace-events"],
        b"*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nxKE\r\n",
    )
    .await;
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string(), "ping"])
        .output()
        .expect("redis-cli is installed");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("NOAUTH"),
        "{out:?}"
    );
    assert_eq!(
        redis_cli(port, &["-a", "pw", "--no-auth-warning", "ping"]),
        "PONG"
    );
    terminate(child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_override_env_vars() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = node()
        .env("AUTOCACHE_REQUIREPASS", "from-env")
        .args([
            "--port",
            &port.to_string(),
            "--requirepass",
            "from-flag",
            "--data-dir",
        ])
        .arg(dir.path())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_ready(addr, b"-NOAUTH Authentication required.\r\n").await;
    let mut c = Raw::connect(addr).await;
    c.call(
        &["AUTH", "from-env"],
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    )
    .await;
    c.call(&["AUTH", "from-flag"], b"+OK\r\n").await;
    terminate(child).await;
}
