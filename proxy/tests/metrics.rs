//! The proxy's `/metrics`, `/healthz` and `/readyz` on `--metrics-addr`, in front of a real
//! control and node: client traffic moves the command, batch and latency series exactly,
//! a paused node shows up as upstream timeouts, and readiness follows the map and the node.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{wait_until, TestCluster, TestProxy};
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

fn status(reply: &str) -> &str {
    reply.lines().next().unwrap_or("")
}

/// The value of the one sample whose name and labels start with `prefix` (so
/// `name{node=` finds a node's series without knowing its address); None when absent.
async fn try_series(addr: SocketAddr, prefix: &str) -> Option<f64> {
    let page = http_get(addr, "/metrics").await;
    let mut found = page.lines().filter(|l| l.starts_with(prefix));
    let line = found.next()?;
    assert!(found.next().is_none(), "several {prefix}… in:\n{page}");
    Some(line.rsplit(' ').next().unwrap().parse().unwrap())
}

async fn series(addr: SocketAddr, prefix: &str) -> f64 {
    match try_series(addr, prefix).await {
        Some(v) => v,
        None => panic!("no {prefix} in:\n{}", http_get(addr, "/metrics").await),
    }
}

async fn wait_series(addr: SocketAddr, prefix: &str, want: f64) {
    wait_until(
        &format!("{prefix} == {want}"),
        Duration::from_secs(30),
        || async { try_series(addr, prefix).await == Some(want) },
    )
    .await;
}

async fn wait_status(addr: SocketAddr, path: &str, want: &str) {
    wait_until(
        &format!("{path} answering {want}"),
        Duration::from_secs(30),
        || async {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(_) => status(&http_get(addr, path).await) == want,
                Err(_) => false,
            }
        },
    )
    .await;
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_map_the_proxy_is_alive_but_not_ready() {
    let m = free_addr();
    let proxy = TestProxy::with(None, |c| c.metrics_addr = Some(m)).await;
    wait_status(m, "/healthz", "HTTP/1.1 200 OK").await;
    assert_eq!(
        status(&http_get(m, "/readyz").await),
        "HTTP/1.1 503 Service Unavailable"
    );
    let page = http_get(m, "/metrics").await;
    assert!(
        page.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\n"),
        "{page}"
    );
    assert_eq!(series(m, "autocache_proxy_map_epoch ").await, 0.0);
    assert_eq!(series(m, "autocache_proxy_connected_clients ").await, 0.0);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_follow_traffic_through_the_proxy() {
    let cluster = TestCluster::start(1).await;
    let m = free_addr();
    let proxy = TestProxy::with(Some(cluster.control_url()), |c| {
        c.metrics_addr = Some(m);
        c.request_timeout = Duration::from_millis(300);
    })
    .await;
    proxy.wait_all_slots().await;
    wait_status(m, "/readyz", "HTTP/1.1 200 OK").await;
    assert!(series(m, "autocache_proxy_map_epoch ").await > 0.0);

    // wait_all_slots's client has gone; this one stays.
    let mut c = proxy.raw().await;
    c.call(&["PING"], b"+PONG\r\n").await;
    wait_series(m, "autocache_proxy_connected_clients ", 1.0).await;
    for i in 0..5 {
        c.call(&["SET", &format!("k{i}"), "v"], b"+OK\r\n").await;
    }
    assert_eq!(
        series(m, "autocache_proxy_commands_total{cmd=\"set\"}").await,
        5.0
    );
    assert_eq!(
        series(m, "autocache_proxy_commands_total{cmd=\"ping\"}").await,
        1.0
    );
    // The readiness probe opened the node's stream before any command; PING is answered
    // by the proxy itself: only the SETs went upstream, one batch each (each waited).
    let node = "autocache_proxy_upstream_batch_size_sum{node=";
    assert_eq!(series(m, node).await, 5.0);
    assert_eq!(
        series(m, "autocache_proxy_upstream_batch_size_count{node=").await,
        5.0
    );
    assert_eq!(
        series(m, "autocache_proxy_upstream_latency_seconds_count{node=").await,
        5.0
    );
    assert!(series(m, "autocache_proxy_upstream_latency_seconds_sum{node=").await > 0.0);

    // A pipeline of ten GETs: ten commands upstream, in one batch or a few.
    let mut pipeline = Vec::new();
    for i in 0..10 {
        pipeline.extend(common::encode(&["GET", &format!("k{}", i % 5)]));
    }
    c.send(&pipeline).await;
    c.expect(&b"$1\r\nv\r\n".repeat(10)).await;
    assert_eq!(series(m, node).await, 15.0);
    let batches = series(m, "autocache_proxy_upstream_batch_size_count{node=").await;
    assert!((6.0..=15.0).contains(&batches), "{batches} batches");
    assert_eq!(
        series(m, "autocache_proxy_commands_total{cmd=\"get\"}").await,
        10.0
    );
    assert_eq!(
        nonzero(m, "autocache_proxy_upstream_errors_total{").await,
        ""
    );
    assert_eq!(series(m, "autocache_proxy_redirects_total ").await, 0.0);

    // A node that stops answering: the command times out, counted against the node.
    cluster.nodes[0].pause(true);
    c.cmd(&["GET", "k0"]).await;
    let reply = c.read_line().await;
    assert!(reply.starts_with("-TRYAGAIN node "), "{reply}");
    cluster.nodes[0].pause(false);
    let errors = nonzero(m, "autocache_proxy_upstream_errors_total{").await;
    assert!(
        errors.starts_with("autocache_proxy_upstream_errors_total{error=\"timeout\",node=\"")
            && errors.ends_with("\"} 1\n"),
        "{errors}"
    );
    assert_eq!(errors.lines().count(), 1, "{errors}");
    c.call(&["GET", "k0"], b"$1\r\nv\r\n").await;

    // A second client, then both leave.
    let c2 = proxy.raw().await;
    wait_series(m, "autocache_proxy_connected_clients ", 2.0).await;
    drop((c, c2));
    wait_series(m, "autocache_proxy_connected_clients ", 0.0).await;
    // wait_all_slots's, c and c2.
    assert_eq!(
        series(m, "autocache_proxy_connections_received_total ").await,
        3.0
    );

    // The node gone: no stream can open, the proxy is no longer ready.
    let mut cluster = cluster;
    cluster.nodes[0].kill();
    wait_status(m, "/readyz", "HTTP/1.1 503 Service Unavailable").await;
    assert_eq!(status(&http_get(m, "/healthz").await), "HTTP/1.1 200 OK");
    proxy.stop().await;
}

/// The sample lines starting with `prefix` whose value is not 0, each ending in a newline.
async fn nonzero(addr: SocketAddr, prefix: &str) -> String {
    let page = http_get(addr, "/metrics").await;
    page.lines()
        .filter(|l| l.starts_with(prefix) && !l.ends_with(" 0"))
        .map(|l| format!("{l}\n"))
        .collect()
}
