//! Control's `/metrics`, `/readyz` and `/healthz` on `--metrics-addr`: a running control is
//! scraped over HTTP and the series follow membership, assignment, migrations, failures and
//! watch streams.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use autocache_proto::pb::control as cpb;
use common::{slot_range, wait_until, FakeNode, Mode, TestControl};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// The value of one series (`name{labels}`) in a scrape; panics when absent.
async fn series(addr: SocketAddr, name: &str) -> i64 {
    let page = http_get(addr, "/metrics").await;
    let prefix = format!("{name} ");
    page.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in:\n{page}"))
        .parse()
        .unwrap()
}

async fn wait_series(addr: SocketAddr, name: &str, want: i64) {
    wait_until(&format!("{name} == {want}"), || async {
        series(addr, name).await == want
    })
    .await;
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

async fn start(dir: &std::path::Path) -> (TestControl, SocketAddr) {
    let metrics = free_addr();
    let control = TestControl::with(dir, |c| {
        c.metrics_addr = Some(metrics);
        // Fakes without keep-alive fail quickly; the others heartbeat every 30 ms.
        c.node_timeout = Duration::from_secs(3);
    })
    .await;
    wait_until("control ready", || async {
        match tokio::net::TcpStream::connect(metrics).await {
            Ok(_) => http_get(metrics, "/readyz")
                .await
                .starts_with("HTTP/1.1 200 OK\r\n"),
            Err(_) => false,
        }
    })
    .await;
    (control, metrics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_and_metrics_use_the_text_format() {
    let dir = tempfile::tempdir().unwrap();
    let (control, metrics) = start(dir.path()).await;
    let ready = http_get(metrics, "/readyz").await;
    assert!(ready.ends_with("\r\n\r\nok\n"), "{ready}");
    let health = http_get(metrics, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
    let page = http_get(metrics, "/metrics").await;
    assert!(
        page.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\n"),
        "{page}"
    );
    assert!(
        page.contains("# TYPE autocache_control_epoch gauge\n"),
        "{page}"
    );
    assert!(page.contains("\nautocache_control_epoch 0\n"), "{page}");
    assert!(page.contains("\nautocache_control_slots{state=\"unassigned\"} 16384\n"));
    assert!(page.contains("\nautocache_control_nodes{health=\"up\"} 0\n"));
    assert!(http_get(metrics, "/nope")
        .await
        .starts_with("HTTP/1.1 404 Not Found\r\n"));
    control.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_follow_nodes_slots_migrations_and_watchers() {
    let dir = tempfile::tempdir().unwrap();
    let (control, m) = start(dir.path()).await;

    let a = FakeNode::start(&control, "a", Mode::Done).await;
    let _a_alive = a.keep_alive();
    assert_eq!(series(m, "autocache_control_nodes{health=\"up\"}").await, 1);
    assert_eq!(series(m, "autocache_control_epoch").await, 1);
    let b = FakeNode::start(&control, "b", Mode::Fail).await;
    let _b_alive = b.keep_alive();
    assert_eq!(series(m, "autocache_control_nodes{health=\"up\"}").await, 2);
    assert_eq!(series(m, "autocache_control_epoch").await, 2);

    let mut client = control.client().await;
    for (range, node) in [(slot_range(0, 8191), "a"), (slot_range(8192, 16383), "b")] {
        let req = cpb::AssignSlotsRequest {
            ranges: vec![range],
            node: node.into(),
        };
        client.assign_slots(req).await.unwrap();
    }
    assert_eq!(
        series(m, "autocache_control_slots{state=\"assigned\"}").await,
        16384
    );
    assert_eq!(
        series(m, "autocache_control_slots{state=\"unassigned\"}").await,
        0
    );
    assert_eq!(series(m, "autocache_control_epoch").await, 4);

    // a streams and reports done; b reports failure.
    let moves = [
        (slot_range(0, 2), "a", "b"),
        (slot_range(8192, 8193), "b", "a"),
    ];
    for (range, source, target) in moves {
        let req = cpb::MigrateSlotsRequest {
            ranges: vec![range],
            source: source.into(),
            target: target.into(),
        };
        client.migrate_slots(req).await.unwrap();
    }
    wait_series(m, "autocache_control_migrations{state=\"done\"}", 3).await;
    wait_series(m, "autocache_control_migrations{state=\"failed\"}", 2).await;
    assert_eq!(
        series(m, "autocache_control_migrations{state=\"running\"}").await,
        0
    );
    assert!(series(m, "autocache_control_epoch").await > 4);

    // Watch streams are counted while open.
    let mut stream = client
        .watch_slot_map(cpb::WatchRequest {
            watcher: "test".into(),
        })
        .await
        .unwrap()
        .into_inner();
    stream.message().await.unwrap().expect("the current map");
    assert_eq!(series(m, "autocache_control_watchers").await, 1);
    drop(stream);
    wait_series(m, "autocache_control_watchers", 0).await;

    // A node that stops heartbeating goes down.
    let _c = FakeNode::start(&control, "c", Mode::Done).await;
    wait_series(m, "autocache_control_nodes{health=\"down\"}", 1).await;
    assert_eq!(series(m, "autocache_control_nodes{health=\"up\"}").await, 2);
    control.stop().await;
}
