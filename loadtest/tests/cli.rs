//! The `autocache-loadtest` binary: JSON report, exit codes and one-line errors.

mod common;

use common::Node;
use std::process::Output;
use tokio::process::Command;

/// Runs the binary with whitespace-separated `flags`, then `extra` arguments as they are.
async fn loadtest(flags: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autocache-loadtest"))
        .args(flags.split_whitespace())
        .args(extra)
        .arg("--no-progress")
        .output()
        .await
        .expect("run autocache-loadtest")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_report_has_the_expected_fields() {
    let node = Node::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let port = node.addr.port();
    let flags = format!("--port {port} -n 500 -c 5 -P 4 --ratio 1:4 --keyspace 100 --verify");
    let out = loadtest(&flags, &["--json", path.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("TOTAL"), "{table}");

    let v = read_json(&path);
    assert_eq!(v["target"], format!("127.0.0.1:{port}"));
    assert_eq!(v["clients"], 5);
    assert_eq!(v["pipeline"], 4);
    assert_eq!(v["total"]["count"], 500);
    let commands = v["commands"].as_array().unwrap();
    let names: Vec<&str> = commands
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["SET", "GET"]);
    let sum: u64 = commands.iter().map(|c| c["count"].as_u64().unwrap()).sum();
    assert_eq!(sum, 500);
    for field in ["mean", "p50", "p90", "p99", "p99.9", "max"] {
        assert!(
            v["total"]["latency_ms"][field].as_f64().unwrap() > 0.0,
            "{field}"
        );
    }
    assert!(v["total"]["ops_per_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(v["verify"]["lost"], 0);
    assert!(v["verify"]["keys_checked"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_failures_exit_1() {
    let node = Node::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let flags = format!(
        "--port {} -n 1000 -c 1 --seed 9 --keyspace 50 --verify",
        node.addr.port()
    );
    // GETDEL is not a write the verifier tracks: keys vanish behind its back.
    let templates = [
        "--command",
        "SET __key__ __data__",
        "--command",
        "GETDEL __key__",
    ];
    let out = loadtest(
        &flags,
        &[&templates[..], &["--json", path.to_str().unwrap()]].concat(),
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = read_json(&path);
    assert!(v["verify"]["lost"].as_u64().unwrap() > 0, "{}", v["verify"]);
    assert_eq!(v["verify"]["stale"], 0);
    assert_eq!(v["verify"]["resurrected"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_exits_2_with_one_line() {
    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = loadtest(&format!("--port {port} -n 10"), &[]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    let expected = format!("autocache-loadtest: cannot connect to 127.0.0.1:{port}: ");
    assert!(err.starts_with(&expected), "{err}");
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_cluster_seed_exits_2() {
    let node = Node::start().await;
    let out = loadtest(&format!("--cluster {} -n 10", node.addr), &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "autocache-loadtest: cannot connect to {}: CLUSTER SLOTS: \
             ERR This instance has cluster support disabled\n",
            node.addr
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_exit_2_with_one_line() {
    for (flags, expected) in [
        ("--ratio abc", "invalid value 'abc' for '--ratio <RATIO>'"),
        (
            "--key-pattern zipf:",
            "invalid value 'zipf:' for '--key-pattern",
        ),
        ("--bogus", "unexpected argument '--bogus' found"),
        (
            "--pipeline 0",
            "--clients, --threads and --pipeline must be at least 1",
        ),
        (
            "--verify -d 4",
            "--verify needs --data-size of at least 16 bytes",
        ),
    ] {
        let out = loadtest(flags, &[]).await;
        assert_eq!(out.status.code(), Some(2), "{flags}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{flags}: {err}");
        assert!(err.starts_with("autocache-loadtest: "), "{err}");
        assert!(err.contains(expected), "{flags}: {err}");
    }
}
