//! The node's `/metrics`, `/healthz` and `/readyz` on `--metrics-addr`: a running node is
//! scraped over HTTP while real clients send traffic, and the series follow it exactly
//! (commands, errors, latency, clients, keys, hits/misses, expiry, eviction, the warm tier,
//! and in cluster mode the slot map, owned slots and migrated keys).

use crate::cluster_harness::{wait_for, Control};
use crate::common::{http_get, TestServer, OK};
use std::net::SocketAddr;
use std::time::Duration;

/// The value of one series (`name{labels}`), or None when the scrape lacks it.
async fn try_series(addr: SocketAddr, name: &str) -> Option<f64> {
    let page = http_get(addr, "/metrics").await;
    let prefix = format!("{name} ");
    page.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse().unwrap())
}

async fn series(addr: SocketAddr, name: &str) -> f64 {
    match try_series(addr, name).await {
        Some(v) => v,
        None => panic!("no {name} in:\n{}", http_get(addr, "/metrics").await),
    }
}

async fn wait_series(addr: SocketAddr, name: &str, want: f64) {
    wait_for(
        &format!("{name} == {want}"),
        Duration::from_secs(30),
        || async { try_series(addr, name).await == Some(want) },
    )
    .await;
}

/// The `(le, cumulative count)` of each latency bucket of `cmd`, in scrape order.
async fn latency_buckets(addr: SocketAddr, cmd: &str) -> Vec<(String, f64)> {
    let page = http_get(addr, "/metrics").await;
    let prefix = format!("autocache_node_command_duration_seconds_bucket{{cmd=\"{cmd}\",le=\"");
    page.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|rest| {
            let (le, n) = rest.split_once("\"} ").unwrap();
            (le.to_string(), n.parse().unwrap())
        })
        .collect()
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Waits until the endpoint answers at all.
async fn wait_listening(addr: SocketAddr) {
    wait_for("the metrics endpoint", Duration::from_secs(30), || async {
        tokio::net::TcpStream::connect(addr).await.is_ok()
    })
    .await;
}

fn status(reply: &str) -> &str {
    reply.lines().next().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_and_series_follow_traffic() {
    let m = free_addr();
    let server = TestServer::with(|c| {
        c.metrics_addr = Some(m);
        c.hz = 100;
    })
    .await;
    wait_listening(m).await;
    assert_eq!(status(&http_get(m, "/healthz").await), "HTTP/1.1 200 OK");
    // Standalone, storage open: ready at once.
    assert_eq!(status(&http_get(m, "/readyz").await), "HTTP/1.1 200 OK");
    assert_eq!(
        status(&http_get(m, "/nope").await),
        "HTTP/1.1 404 Not Found"
    );
    let page = http_get(m, "/metrics").await;
    assert!(
        page.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\n"),
        "{page}"
    );
    assert!(page.contains("# TYPE autocache_node_connected_clients gauge\n"));
    assert_eq!(series(m, "autocache_node_connected_clients").await, 0.0);
    assert_eq!(series(m, "autocache_node_keys{tier=\"memory\"}").await, 0.0);
    assert!(series(m, "autocache_node_memory_bytes").await > 0.0);
    // Nothing ran yet: no per-command series.
    assert!(!page.contains("autocache_node_commands_total{"), "{page}");

    let mut c = server.raw().await;
    assert_eq!(series(m, "autocache_node_connected_clients").await, 1.0);
    for i in 0..5 {
        c.call(&["SET", &format!("k{i}"), "v"], OK).await;
    }
    for key in ["k0", "k1", "nope"] {
        c.cmd(&["GET", key]).await;
    }
    c.expect(b"$1\r\nv\r\n$1\r\nv\r\n$-1\r\n").await;
    assert_eq!(series(m, "autocache_node_keyspace_hits_total").await, 2.0);
    assert_eq!(series(m, "autocache_node_keyspace_misses_total").await, 1.0);
    c.call(
        &["INCR", "k0"],
        b"-ERR value is not an integer or out of range\r\n",
    )
    .await;
    assert_eq!(
        series(m, "autocache_node_commands_total{cmd=\"set\"}").await,
        5.0
    );
    assert_eq!(
        series(m, "autocache_node_commands_total{cmd=\"get\"}").await,
        3.0
    );
    assert_eq!(
        series(m, "autocache_node_command_errors_total{cmd=\"incr\"}").await,
        1.0
    );
    assert_eq!(
        series(m, "autocache_node_command_errors_total{cmd=\"set\"}").await,
        0.0
    );
    assert_eq!(
        series(
            m,
            "autocache_node_command_duration_seconds_count{cmd=\"set\"}"
        )
        .await,
        5.0
    );
    assert!(
        series(
            m,
            "autocache_node_command_duration_seconds_sum{cmd=\"set\"}"
        )
        .await
            >= 0.0
    );
    // Latency is a histogram: every bound from 1 µs to 5 s, cumulative, all calls in +Inf.
    for (cmd, calls) in [("set", 5), ("get", 3), ("incr", 1)] {
        let buckets = latency_buckets(m, cmd).await;
        let le: Vec<&str> = buckets.iter().map(|(le, _)| le.as_str()).collect();
        assert_eq!(le.len(), 22, "{cmd}: {le:?}");
        assert_eq!(le[..3], ["0.000001", "0.0000025", "0.000005"], "{cmd}");
        assert_eq!(le[20..], ["5", "+Inf"], "{cmd}");
        assert!(
            buckets.windows(2).all(|w| w[0].1 <= w[1].1),
            "{cmd} not cumulative: {buckets:?}"
        );
        assert_eq!(buckets[21].1, calls as f64, "{cmd}");
        let count = format!("autocache_node_command_duration_seconds_count{{cmd=\"{cmd}\"}}");
        assert_eq!(series(m, &count).await, calls as f64);
        // Local commands take well under a second.
        assert_eq!(buckets[18], ("1".to_string(), calls as f64), "{cmd}");
    }
    assert_eq!(series(m, "autocache_node_keys{tier=\"memory\"}").await, 5.0);

    // A second client, then the first leaves.
    let c2 = server.raw().await;
    wait_series(m, "autocache_node_connected_clients", 2.0).await;
    drop(c);
    wait_series(m, "autocache_node_connected_clients", 1.0).await;

    // Active expiry reclaims a key nobody touches.
    let mut c = c2;
    c.call(&["SET", "gone", "v", "PX", "1"], OK).await;
    c.call(&["EXPIRE", "k1", "100"], b":1\r\n").await;
    wait_series(m, "autocache_node_expired_keys_total", 1.0).await;
    assert_eq!(series(m, "autocache_node_keys{tier=\"memory\"}").await, 5.0);
    assert_eq!(series(m, "autocache_node_keys_with_ttl").await, 1.0);
    assert_eq!(
        series(m, "autocache_node_connections_received_total").await,
        2.0
    );

    // CONFIG RESETSTAT empties the buckets with the other command counters.
    c.call(&["CONFIG", "RESETSTAT"], OK).await;
    c.call(&["GET", "k0"], b"$1\r\nv\r\n").await;
    assert_eq!(latency_buckets(m, "set").await, []);
    let get = latency_buckets(m, "get").await;
    assert_eq!(get.last(), Some(&("+Inf".to_string(), 1.0)));
    assert_eq!(get[18], ("1".to_string(), 1.0));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evictions_count_every_key_that_left() {
    let m = free_addr();
    let server = TestServer::with(|c| c.metrics_addr = Some(m)).await;
    wait_listening(m).await;
    let mut c = server.client().await;
    let used = series(m, "autocache_node_memory_bytes").await as u64;
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory-policy", "allkeys-random"])
        .query_async(&mut c)
        .await
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(used + (1 << 20))
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(
        series(m, "autocache_node_maxmemory_bytes").await as u64,
        used + (1 << 20)
    );
    let value = vec![b'x'; 10_000];
    for i in 0..400 {
        let _: () = redis::cmd("SET")
            .arg(format!("big{i}"))
            .arg(&value)
            .query_async(&mut c)
            .await
            .unwrap();
    }
    let evicted = series(m, "autocache_node_evicted_keys_total").await;
    let kept = series(m, "autocache_node_keys{tier=\"memory\"}").await;
    assert!(evicted > 0.0, "4 MB into a 1 MB budget evicted nothing");
    assert_eq!(evicted + kept, 400.0);
    server.stop().await;
}

#[cfg(feature = "tiered")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_tier_series_follow_write_behind() {
    let dir = tempfile::tempdir().unwrap();
    let m = free_addr();
    let data_dir = dir.path().to_path_buf();
    let server = TestServer::with(|c| {
        c.metrics_addr = Some(m);
        c.storage = autocache_node::config::Storage::Tiered;
        c.data_dir = data_dir;
    })
    .await;
    wait_listening(m).await;
    wait_for("the node ready", Duration::from_secs(30), || async {
        status(&http_get(m, "/readyz").await) == "HTTP/1.1 200 OK"
    })
    .await;
    let mut c = server.raw().await;
    for i in 0..3 {
        c.call(&["SET", &format!("w{i}"), "v"], OK).await;
    }
    wait_series(m, "autocache_node_writebehind_flushed_keys_total", 3.0).await;
    wait_series(m, "autocache_node_writebehind_pending_keys", 0.0).await;
    assert_eq!(series(m, "autocache_node_keys{tier=\"memory\"}").await, 3.0);
    assert_eq!(series(m, "autocache_node_keys{tier=\"warm\"}").await, 0.0);
    assert!(series(m, "autocache_node_writebehind_batches_total").await >= 1.0);
    assert!(series(m, "autocache_node_tier_bytes{tier=\"warm\"}").await >= 0.0);
    assert_eq!(
        series(m, "autocache_node_tier_loads_total{tier=\"warm\"}").await,
        0.0
    );
    server.stop().await;
}

/// A cluster-mode node in this process, with its own metrics address.
async fn cluster_node(control: SocketAddr, dir: &std::path::Path) -> (TestServer, SocketAddr) {
    let m = free_addr();
    let dir = dir.to_path_buf();
    let server = TestServer::with(|c| {
        c.metrics_addr = Some(m);
        c.control = Some(control.to_string());
        c.grpc_addr = Some("127.0.0.1:0".into());
        c.data_dir = dir;
        c.heartbeat_interval = Duration::from_millis(100);
    })
    .await;
    wait_listening(m).await;
    (server, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_readiness_slots_epoch_and_migrated_keys() {
    use autocache_proto::pb::control as cpb;
    let tmp = tempfile::tempdir().unwrap();
    let control_addr = free_addr();
    // Control is not up yet: the nodes have no map, so they are alive but not ready.
    let (a, ma) = cluster_node(control_addr, &tmp.path().join("a")).await;
    let (b, mb) = cluster_node(control_addr, &tmp.path().join("b")).await;
    assert_eq!(status(&http_get(ma, "/healthz").await), "HTTP/1.1 200 OK");
    assert_eq!(
        status(&http_get(ma, "/readyz").await),
        "HTTP/1.1 503 Service Unavailable"
    );
    assert_eq!(series(ma, "autocache_node_slots_owned").await, 0.0);

    let mut control = Control::start_at(&tmp.path().join("control"), control_addr).await;
    control.wait_nodes(2).await;
    for m in [ma, mb] {
        wait_for("a node ready", Duration::from_secs(30), || async {
            status(&http_get(m, "/readyz").await) == "HTTP/1.1 200 OK"
        })
        .await;
    }
    let mut client = control.client();
    client
        .assign_slots(cpb::AssignSlotsRequest {
            ranges: vec![cpb::SlotRange {
                start: 0,
                end: 16383,
            }],
            node: a.addr.to_string(),
        })
        .await
        .unwrap();
    let epoch = control.status().await.map.unwrap().epoch as f64;
    wait_series(ma, "autocache_node_map_epoch", epoch).await;
    wait_series(mb, "autocache_node_map_epoch", epoch).await;
    assert_eq!(series(ma, "autocache_node_slots_owned").await, 16384.0);
    assert_eq!(series(mb, "autocache_node_slots_owned").await, 0.0);

    // Five keys of one slot move from a to b.
    let mut c = a.raw().await;
    for i in 0..5 {
        c.call(&["SET", &format!("{{m}}k{i}"), "v"], OK).await;
    }
    let slot = autocache_proto::slot::key_slot(b"{m}");
    control
        .migrate(slot, &a.addr.to_string(), &b.addr.to_string())
        .await;
    control.wait_moves_done().await;
    let epoch = control.status().await.map.unwrap().epoch as f64;
    wait_series(ma, "autocache_node_map_epoch", epoch).await;
    wait_series(mb, "autocache_node_map_epoch", epoch).await;
    assert_eq!(
        series(ma, "autocache_node_migration_keys_total{direction=\"out\"}").await,
        5.0
    );
    assert_eq!(
        series(mb, "autocache_node_migration_keys_total{direction=\"in\"}").await,
        5.0
    );
    assert_eq!(
        series(ma, "autocache_node_migration_keys_total{direction=\"in\"}").await,
        0.0
    );
    assert_eq!(series(ma, "autocache_node_slots_owned").await, 16383.0);
    assert_eq!(series(mb, "autocache_node_slots_owned").await, 1.0);
    assert_eq!(series(ma, "autocache_node_migrations_running").await, 0.0);
    assert_eq!(
        series(mb, "autocache_node_keys{tier=\"memory\"}").await,
        5.0
    );
    wait_series(ma, "autocache_node_keys{tier=\"memory\"}", 0.0).await;
    a.stop().await;
    b.stop().await;
    control.stop().await;
}
