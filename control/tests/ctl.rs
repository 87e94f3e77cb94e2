//! `autocachectl` as a real process: cluster commands against an in-process control with fake
//! nodes, and `cli` against a real `redis-server`.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};

use autocache_proto::pb::control as cpb;
use common::*;
use serde_json::{json, Value};

/// Runs autocachectl with `args` (off the async runtime: it blocks).
async fn ctl(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_autocachectl"))
            .args(&args)
            .env_remove("AUTOCACHE_CONTROL")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_matches_control() {
    let dir = tempfile::tempdir().unwrap();
    let control = TestControl::with(dir.path(), |c| c.max_migrations = 8).await;
    let a = FakeNode::start(&control, "node-a", Mode::Manual).await;
    let b = FakeNode::start(&control, "node-b", Mode::Manual).await;
    let mut client = control.client().await;
    for (start, end, node) in [
        (0, 99, "node-a"),
        (200, 200, "node-a"),
        (100, 199, "node-b"),
    ] {
        let req = cpb::AssignSlotsRequest {
            ranges: vec![slot_range(start, end)],
            node: node.into(),
        };
        client.assign_slots(req).await.unwrap();
    }
    let req = cpb::MigrateSlotsRequest {
        ranges: vec![slot_range(0, 9)],
        source: "node-a".into(),
        target: "node-b".into(),
    };
    client.migrate_slots(req).await.unwrap();
    wait_until("8 calls", || async { a.calls().len() == 8 }).await;
    let epoch = control.map().await.epoch;

    let addr = control.addr.to_string();
    let out = ctl(&["--control", &addr, "status", "--json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["epoch"], json!(epoch));
    assert_eq!(v["assigned_slots"], json!(201));
    let nodes = v["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0]["id"], json!("node-a"));
    assert_eq!(nodes[0]["health"], json!("healthy"));
    assert_eq!(nodes[0]["slots"], json!(101));
    assert_eq!(nodes[0]["ranges"], json!(["0-99", "200"]));
    assert_eq!(nodes[0]["grpc_addr"], json!(a.grpc_addr.to_string()));
    assert_eq!(nodes[1]["resp_addr"], json!(b.resp_addr));
    assert_eq!(nodes[1]["ranges"], json!(["100-199"]));
    let moves = v["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 10);
    assert_eq!(
        moves[0],
        json!({"slot": 0, "source": "node-a", "target": "node-b", "state": "active", "keys_sent": 0})
    );
    assert_eq!(
        moves[8],
        json!({"slot": 8, "source": "node-a", "target": "node-b", "state": "queued", "keys_sent": 0})
    );

    // The human form shows the same facts.
    let out = ctl(&["--control", &addr, "status"]).await;
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!(
            "epoch {epoch}, 2 nodes, 201/16384 slots assigned\n"
        )),
        "{text}"
    );
    assert!(text.contains("migrations: 8 active, 2 queued\n"), "{text}");
    assert!(
        text.contains("  slot     0  node-a -> node-b  0 keys sent\n"),
        "{text}"
    );
    let line_a = text.lines().find(|l| l.starts_with("node-a")).unwrap();
    assert!(line_a.ends_with("0-99,200"), "{line_a}");
    control.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_change_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let control = TestControl::start(dir.path()).await;
    for id in ["node-a", "node-b", "node-c"] {
        FakeNode::start(&control, id, Mode::Done).await;
    }
    let addr = control.addr.to_string();
    let out = ctl(&[
        "--control",
        &addr,
        "assign",
        "--slots",
        "0-99,200",
        "--to",
        "node-a",
    ])
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "101 slots assigned (epoch 4)\n");

    let out = ctl(&[
        "--control",
        &addr,
        "assign",
        "--slots",
        "50",
        "--to",
        "node-b",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: slot 50 is already owned by node node-a\n"
    );
    let out = ctl(&[
        "--control",
        &addr,
        "assign",
        "--slots",
        "9-1",
        "--to",
        "node-b",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "error: invalid slot range '9-1'\n");

    // The env var names the control too.
    let out = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_autocachectl"))
                .args([
                    "--json", "migrate", "--slots", "0-9", "--from", "node-a", "--to", "node-c",
                ])
                .env("AUTOCACHE_CONTROL", addr)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["slots_queued"], json!(10));
    // It waited: the migrations are over when it returns.
    let map = control.map().await;
    assert_eq!(ranges_of(&map, "node-c"), vec![(0, 9)]);
    assert_eq!(v["epoch"], json!(map.epoch));

    let out = ctl(&["--control", &addr, "drain", "node-c"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("0 slots reassigned, 10 slots queued for migration (epoch "));
    let map = control.map().await;
    assert!(ranges_of(&map, "node-c").is_empty());
    assert!(control.status().await.moves.is_empty());

    let out = ctl(&["--control", &addr, "forget", "node-c"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("node node-c forgotten (epoch {})\n", map.epoch + 1)
    );
    assert_eq!(control.map().await.nodes.len(), 2);

    // Rebalance: the unassigned rest is assigned directly, then a and b are moved level.
    let out = ctl(&["--control", &addr, "--json", "rebalance"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["slots_assigned"], json!(16384 - 101));
    assert_eq!(v["slots_queued"], json!(0));
    let map = control.map().await;
    assert_eq!(map.slot_count(0), 8192);
    assert_eq!(map.slot_count(1), 8192);

    let out = ctl(&["--control", "127.0.0.1:1", "status"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot connect to control at 127.0.0.1:1"),
        "{}",
        stderr(&out)
    );
    control.stop().await;
}

/// A redis-server on a free port, killed on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn redis_server() -> Redis {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (make test-deps)");
    let redis = Redis { child, port };
    wait_until("redis-server to listen", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    redis
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_prints_replies_like_redis_cli() {
    let redis = redis_server().await;
    let port = redis.port.to_string();
    let cli = |args: &'static [&'static str]| {
        let port = port.clone();
        async move {
            let mut all = vec!["cli", "-h", "127.0.0.1", "-p", &port];
            all.extend_from_slice(args);
            let out = ctl(&all).await;
            (stdout(&out), out.status.code())
        }
    };
    assert_eq!(cli(&["SET", "foo", "bar"]).await, ("OK\n".into(), Some(0)));
    assert_eq!(cli(&["GET", "foo"]).await, ("\"bar\"\n".into(), Some(0)));
    assert_eq!(cli(&["GET", "nosuch"]).await, ("(nil)\n".into(), Some(0)));
    assert_eq!(
        cli(&["APPEND", "foo", "\n\"x"]).await,
        ("(integer) 6\n".into(), Some(0))
    );
    assert_eq!(
        cli(&["GET", "foo"]).await,
        ("\"bar\\n\\\"x\"\n".into(), Some(0))
    );
    assert_eq!(
        cli(&["RPUSH", "l", "a", "b", "-1"]).await,
        ("(integer) 3\n".into(), Some(0))
    );
    assert_eq!(
        cli(&["LRANGE", "l", "0", "-1"]).await,
        ("1) \"a\"\n2) \"b\"\n3) \"-1\"\n".into(), Some(0))
    );
    assert_eq!(
        cli(&["LRANGE", "nosuch", "0", "-1"]).await,
        ("(empty array)\n".into(), Some(0))
    );
    assert_eq!(
        cli(&["MGET", "foo", "nosuch"]).await,
        ("1) \"bar\\n\\\"x\"\n2) (nil)\n".into(), Some(0))
    );
    assert_eq!(
        cli(&["INCR", "l"]).await,
        (
            "(error) WRONGTYPE Operation against a key holding the wrong kind of value\n".into(),
            Some(1)
        )
    );
    assert_eq!(
        cli(&["HSET", "h", "f", "v"]).await,
        ("(integer) 1\n".into(), Some(0))
    );
    assert_eq!(
        cli(&["-3", "HGETALL", "h"]).await,
        ("1# \"f\" => \"v\"\n".into(), Some(0))
    );
    assert_eq!(
        cli(&["-3", "GET", "nosuch"]).await,
        ("(nil)\n".into(), Some(0))
    );
    assert_eq!(
        cli(&["HGETALL", "h"]).await,
        ("1) \"f\"\n2) \"v\"\n".into(), Some(0))
    );

    drop(redis);
    let out = ctl(&["cli", "-p", &port, "PING"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("Could not connect to Redis at 127.0.0.1:{port}: Connection refused\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_binary_serves_healthz_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let free = || {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    };
    let (addr, metrics) = (free(), free());
    let mut child = Command::new(env!("CARGO_BIN_EXE_autocache-control"))
        .args([
            "--addr",
            &addr.to_string(),
            "--metrics-addr",
            &metrics.to_string(),
        ])
        .env("AUTOCACHE_CONTROL_DATA_DIR", dir.path())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("control to listen", || async {
        tokio::net::TcpStream::connect(addr).await.is_ok()
    })
    .await;
    let out = ctl(&["--control", &addr.to_string(), "--json", "status"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        v,
        json!({"epoch": 0, "assigned_slots": 0, "nodes": [], "moves": []})
    );

    let health = http_get(metrics, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
    assert!(health.ends_with("\r\n\r\nok\n"), "{health}");
    assert!(http_get(metrics, "/nope")
        .await
        .starts_with("HTTP/1.1 404 Not Found\r\n"));

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    // Nothing changed, so nothing was written.
    assert!(!dir.path().join("control-state.json").exists());
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}
