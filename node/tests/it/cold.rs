//! The S3 cold tier with real parts: the node binary, RocksDB in a temp dir, and a local
//! S3-compatible server (moto) on loopback. `--warm-max-bytes 1` sends every value the warm
//! tier alone holds to S3, so after memory is squeezed the whole dataset is cold.
#![cfg(feature = "tiered")]

use crate::common::*;
use crate::tier_harness::*;
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use std::path::Path;
use std::time::{Duration, Instant};

const BUCKET: &str = "autocache-cold";

/// A node whose whole warm tier goes cold; `more` flags on top (`--s3-segment-bytes` is
/// 256kb unless given there).
async fn cold_node(dir: &Path, s3: &S3Server, more: &[&str]) -> Node {
    let mut flags = s3.flags(BUCKET);
    let mut defaults = vec!["--warm-max-bytes", "1"];
    if !more.contains(&"--s3-segment-bytes") {
        defaults.extend(["--s3-segment-bytes", "256kb"]);
    }
    flags.extend(defaults.iter().chain(more).map(|s| s.to_string()));
    Node::start_with(dir, "everysec", &flags).await
}

async fn set_maxmemory(c: &mut MultiplexedConnection, bytes: u64) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(bytes)
        .query_async(c)
        .await
        .unwrap();
}

/// Squeezes memory so that every key is demoted to the warm tier, waits until the cold tier
/// holds `n` keys, then gives memory back (reads promote and keep what they read).
async fn make_cold(c: &mut MultiplexedConnection, n: u64) {
    let budget = info_u64(c, "memory", "used_memory").await;
    set_maxmemory(c, 1).await;
    wait_until(Duration::from_secs(60), || {
        let mut c = c.clone();
        async move {
            info_u64(&mut c, "tiers", "memory_keys").await == 0
                && info_u64(&mut c, "tiers", "dirty_keys").await == 0
                && info_u64(&mut c, "tiers", "cold_keys").await >= n
        }
    })
    .await;
    set_maxmemory(c, budget + BUDGET).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_values_read_back_exactly_with_ttls_and_survive_restart() {
    let s3 = S3Server::start().await;
    s3.create_bucket(BUCKET).await;
    let dir = tempfile::tempdir().unwrap();
    let node = cold_node(dir.path(), &s3, &[]).await;
    let mut c = node.client().await;
    let data = dataset(600);
    write(&mut c, &data).await;
    // TTLs survive the trip; a short value stays warm (not worth a pointer).
    for k in ["key:0", "key:2", "key:3"] {
        let _: () = c.expire(k, 5000).await.unwrap();
    }
    let expire_set = Instant::now();
    // What TTL may report now (the clock runs while the test does; debug builds are slow).
    let ttl_ok = |ttl: i64| ttl <= 5000 && ttl >= 4999 - expire_set.elapsed().as_secs() as i64;
    let _: () = c.set("small", "x").await.unwrap();
    make_cold(&mut c, data.len() as u64).await;
    assert!(s3.object_count(BUCKET).await > 0);
    assert_eq!(tier(&mut c, "key:1").await.as_deref(), Some("cold"));
    assert_eq!(tier(&mut c, "key:2").await.as_deref(), Some("cold"));
    assert_eq!(tier(&mut c, "small").await.as_deref(), Some("warm"));
    assert_eq!(dbsize(&mut c).await, data.len() as u64 + 1);
    let ttl: i64 = c.ttl("key:2").await.unwrap();
    assert!(ttl_ok(ttl), "TTL {ttl}");
    check_all(&mut c, &data).await;
    assert_eq!(c.get::<_, String>("small").await.unwrap(), "x");
    assert!(info_u64(&mut c, "tiers", "cold_promotions").await >= data.len() as u64);
    assert_eq!(tier(&mut c, "key:1").await.as_deref(), Some("memory"));
    let ttl: i64 = c.ttl("key:3").await.unwrap();
    assert!(ttl_ok(ttl), "TTL {ttl}");
    node.terminate().await;

    // A restart finds the pointers and the segment table: still every value, byte-exact.
    let node = cold_node(dir.path(), &s3, &[]).await;
    let mut c = node.client().await;
    assert_eq!(tier(&mut c, "key:5").await.as_deref(), Some("cold"));
    assert_eq!(dbsize(&mut c).await, data.len() as u64 + 1);
    check_all(&mut c, &data).await;
    let ttl: i64 = c.ttl("key:0").await.unwrap();
    assert!(ttl_ok(ttl), "TTL {ttl}");
    node.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_on_cold_keys_behave_as_on_memory_keys() {
    let s3 = S3Server::start().await;
    s3.create_bucket(BUCKET).await;
    let dir = tempfile::tempdir().unwrap();
    let node = cold_node(dir.path(), &s3, &[]).await;
    let mut c = node.client().await;
    let big = "v".repeat(500);
    for i in 0..20 {
        let _: () = c.set(format!("s{i}"), format!("{i}{big}")).await.unwrap();
    }
    let _: () = c.rpush("list", vec![big.clone(); 3]).await.unwrap();
    make_cold(&mut c, 21).await;
    let mut raw = node.raw().await;
    for k in ["s0", "s1", "s2", "s3", "s4", "s5", "list"] {
        assert_eq!(tier(&mut c, k).await.as_deref(), Some("cold"), "{k}");
    }
    raw.call(&["EXISTS", "s0", "s1", "nope"], b":2\r\n").await;
    raw.call(&["TYPE", "list"], b"+list\r\n").await;
    // Writes that need the old value: APPEND, SETNX (must see the key), GETDEL.
    raw.call(&["APPEND", "s0", "!"], format!(":{}\r\n", 502).as_bytes())
        .await;
    raw.call(&["SETNX", "s1", "other"], b":0\r\n").await;
    raw.call(&["GETDEL", "s2"], &bulk(&format!("2{big}"))).await;
    raw.call(&["EXISTS", "s2"], b":0\r\n").await;
    raw.call(&["LPOP", "list"], &bulk(&big)).await;
    raw.call(&["LLEN", "list"], b":2\r\n").await;
    // Transactions fetch what their queued commands name before EXEC runs.
    raw.call(&["MULTI"], b"+OK\r\n").await;
    raw.call(&["STRLEN", "s3"], b"+QUEUED\r\n").await;
    raw.call(&["DEL", "s4"], b"+QUEUED\r\n").await;
    raw.call(&["EXEC"], b"*2\r\n:501\r\n:1\r\n").await;
    // RENAME of a cold key.
    raw.call(&["RENAME", "s5", "moved"], b"+OK\r\n").await;
    raw.call(&["GET", "moved"], &bulk(&format!("5{big}"))).await;
    // A pipeline mixing cold and fresh keys answers in order.
    let mut p = redis::pipe();
    p.get("s6").set("fresh", "1").get("s7").get("fresh");
    let (a, (), b, d): (String, (), String, String) = p.query_async(&mut c).await.unwrap();
    assert_eq!(
        (a, b, d),
        (format!("6{big}"), format!("7{big}"), "1".to_string())
    );
    node.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_reclaims_segments_after_overwrites() {
    let s3 = S3Server::start().await;
    s3.create_bucket(BUCKET).await;
    let dir = tempfile::tempdir().unwrap();
    let node = cold_node(dir.path(), &s3, &["--s3-segment-bytes", "64kb"]).await;
    let mut c = node.client().await;
    let n = 400u64;
    for i in 0..n {
        let _: () = c.set(format!("k{i}"), "a".repeat(1000)).await.unwrap();
    }
    make_cold(&mut c, n).await;
    let first = info_u64(&mut c, "tiers", "cold_segments_written").await;
    assert!(first >= 4, "{first} segments");
    // Every old value becomes garbage; the new ones go cold in new segments.
    for i in 0..n {
        let _: () = c.set(format!("k{i}"), "b".repeat(1000)).await.unwrap();
    }
    make_cold(&mut c, n).await;
    // Every old segment goes, and what remains is mostly live.
    wait_until(Duration::from_secs(60), || {
        let mut c = c.clone();
        async move {
            let live = info_u64(&mut c, "tiers", "cold_live_bytes").await;
            let total = info_u64(&mut c, "tiers", "cold_segment_bytes").await;
            info_u64(&mut c, "tiers", "cold_segments_deleted").await >= first && live * 2 >= total
        }
    })
    .await;
    let segments = info_u64(&mut c, "tiers", "cold_segments").await;
    assert_eq!(s3.object_count(BUCKET).await as u64, segments);
    let total = info_u64(&mut c, "tiers", "cold_segment_bytes").await;
    assert!(total < 2 * n * 1100, "{total} bytes in {segments} segments");
    for i in (0..n).step_by(37) {
        let v: String = c.get(format!("k{i}")).await.unwrap();
        assert_eq!(v, "b".repeat(1000));
    }
    node.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_unreachable_fails_only_cold_reads_then_recovers() {
    let s3 = S3Server::start().await;
    s3.create_bucket(BUCKET).await;
    let dir = tempfile::tempdir().unwrap();
    let metrics = format!("127.0.0.1:{}", free_port());
    let node = cold_node(
        dir.path(),
        &s3,
        &["--s3-timeout", "1s", "--metrics-addr", &metrics],
    )
    .await;
    let mut c = node.client().await;
    for i in 0..10 {
        let _: () = c.set(format!("c{i}"), "z".repeat(300)).await.unwrap();
    }
    make_cold(&mut c, 10).await;
    s3.pause();
    let mut raw = node.raw().await;
    let start = Instant::now();
    raw.send(&encode(&["GET", "c1"])).await;
    let reply = read_line(&mut raw).await;
    assert!(
        reply.starts_with("-ERR cold tier: "),
        "unexpected reply {reply}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    // Everything else keeps working meanwhile.
    raw.call(&["SET", "hot", "1"], b"+OK\r\n").await;
    raw.call(&["GET", "hot"], b"$1\r\n1\r\n").await;
    raw.call(&["EXISTS", "c1"], b":1\r\n").await;
    raw.call(&["PING"], b"+PONG\r\n").await;
    assert!(info_u64(&mut c, "tiers", "cold_errors").await >= 1);
    s3.resume();
    raw.call(&["GET", "c1"], &bulk(&"z".repeat(300))).await;
    raw.call(&["GET", "c2"], &bulk(&"z".repeat(300))).await;
    // The cold tier's series: the values still point into segments; errors were counted.
    let text = http_get(metrics.as_str(), "/metrics").await;
    assert!(text.contains("\nautocache_node_cold_keys 10\n"), "{text}");
    let errors = series(&text, "autocache_node_s3_errors_total");
    assert!(errors >= 1.0, "{text}");
    assert!(series(&text, "autocache_node_s3_requests_total") > errors);
    assert!(series(&text, "autocache_node_cold_promotions_total") >= 2.0);
    node.terminate().await;
}

/// The value of an unlabelled series in a scrape.
fn series(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_cold_keys_never_resurface() {
    let s3 = S3Server::start().await;
    s3.create_bucket(BUCKET).await;
    let dir = tempfile::tempdir().unwrap();
    let node = cold_node(dir.path(), &s3, &[]).await;
    let mut c = node.client().await;
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("q".repeat(300))
        .arg("PX")
        .arg(3000)
        .query_async(&mut c)
        .await
        .unwrap();
    let _: () = c.set("long", "q".repeat(300)).await.unwrap();
    make_cold(&mut c, 2).await;
    assert_eq!(tier(&mut c, "short").await.as_deref(), Some("cold"));
    wait_until(Duration::from_secs(10), || {
        let mut c = c.clone();
        async move { tier(&mut c, "short").await.is_none() }
    })
    .await;
    let mut raw = node.raw().await;
    raw.call(&["GET", "short"], b"$-1\r\n").await;
    raw.call(&["TTL", "short"], b":-2\r\n").await;
    raw.call(&["EXISTS", "short", "long"], b":1\r\n").await;
    let keys: Vec<String> = c.keys("*").await.unwrap();
    assert_eq!(keys, vec!["long".to_string()]);
    node.terminate().await;
    // Nor after a restart.
    let node = cold_node(dir.path(), &s3, &[]).await;
    let mut raw = node.raw().await;
    raw.call(&["GET", "short"], b"$-1\r\n").await;
    raw.call(&["GET", "long"], &bulk(&"q".repeat(300))).await;
    node.terminate().await;
}

/// Segments are built in memory; those buffers are not data, so they are left out of
/// maxmemory (INFO's mem_not_counted_for_evict), and under a small maxmemory segments shrink
/// to a sixteenth of it: writes keep being accepted with a configured segment size twice
/// the whole memory budget. The budget is 8 MiB, not the harness's 2 MiB: under a starved
/// box (load average 16) about 3 MiB that are not keys (the S3 client's requests in flight
/// to a slow moto) was once alive mid-demotion with every key already evicted, and a 2 MiB
/// budget then refused a write with OOM, as redis-server would with that much overhead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_buffers_do_not_count_against_maxmemory() {
    let s3 = S3Server::start().await;
    s3.create_bucket(BUCKET).await;
    let dir = tempfile::tempdir().unwrap();
    let budget = 4 * BUDGET;
    let node = cold_node(dir.path(), &s3, &["--s3-segment-bytes", "16mb"]).await;
    let mut c = node.client().await;
    let base = info_u64(&mut c, "memory", "used_memory").await;
    set_maxmemory(&mut c, base + budget).await;
    // 32 MiB of 4 KiB values, four times the budget: demotion runs while we write.
    let value = "v".repeat(4096);
    for i in 0..8192 {
        let r: redis::RedisResult<()> = c.set(format!("big:{i}"), &value).await;
        if r.is_err() {
            let info = info_text(&mut c, &["memory", "tiers"]).await;
            panic!(
                "SET big:{i}: {r:?} (maxmemory {}, used_memory at start {base})\n{info}",
                base + budget
            );
        }
    }
    wait_until(Duration::from_secs(60), || {
        let mut c = c.clone();
        async move { info_u64(&mut c, "tiers", "cold_keys").await > 0 }
    })
    .await;
    let mut raw = node.raw().await;
    raw.call(&["STRLEN", "big:0"], b":4096\r\n").await;
    raw.call(&["STRLEN", "big:8191"], b":4096\r\n").await;
    raw.call(&["DBSIZE"], b":8192\r\n").await;
    node.terminate().await;
}

/// `--warm-max-bytes` at half the data sends about half of it cold, not nearly all of it: the
/// demoter stops on the node's own count of warm value bytes (the engine's live-data
/// estimate read about 1.5x and fell only with compaction, and ~93% went cold). The count
/// survives a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_max_bytes_keeps_about_that_much_warm() {
    let s3 = S3Server::start().await;
    s3.create_bucket(BUCKET).await;
    let dir = tempfile::tempdir().unwrap();
    let n = 2000u64;
    let value = "w".repeat(2000);
    // What one key counts for: store key (slot + key) and value (13-byte header, tag, bytes).
    let per_key = 2 + "half:0000".len() as u64 + 14 + value.len() as u64;
    let max = (n * per_key / 2).to_string();
    let mut flags = s3.flags(BUCKET);
    flags.extend(
        ["--warm-max-bytes", &max, "--s3-segment-bytes", "64kb"]
            .iter()
            .map(|s| s.to_string()),
    );
    let node = Node::start_with(dir.path(), "everysec", &flags).await;
    let mut c = node.client().await;
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let mut p = redis::pipe();
        for i in chunk {
            p.set(format!("half:{i:04}"), &value).ignore();
        }
        let _: () = p.query_async(&mut c).await.unwrap();
    }
    // Everything leaves memory, so every value is a candidate; then the demoter settles
    // (no more keys going cold for 1.5 s, six of its passes).
    set_maxmemory(&mut c, 1).await;
    wait_until(Duration::from_secs(60), || {
        let mut c = c.clone();
        async move {
            info_u64(&mut c, "tiers", "memory_keys").await == 0
                && info_u64(&mut c, "tiers", "dirty_keys").await == 0
                && info_u64(&mut c, "tiers", "cold_keys").await > 0
        }
    })
    .await;
    let (mut last, mut stable) = (u64::MAX, 0);
    for _ in 0..90 {
        let now = info_u64(&mut c, "tiers", "cold_keys").await;
        stable = if now == last { stable + 1 } else { 0 };
        if stable == 3 {
            break;
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let max: u64 = max.parse().unwrap();
    let cold = info_u64(&mut c, "tiers", "cold_keys").await;
    let live = info_u64(&mut c, "tiers", "warm_live_bytes").await;
    let share = cold as f64 / n as f64;
    assert!(
        (0.35..=0.65).contains(&share),
        "{cold} of {n} keys cold ({share:.2}); warm_live_bytes {live}, max {max}"
    );
    // The count is exact: what stayed warm, key by key.
    assert_eq!(live, (n - cold) * per_key, "warm_live_bytes");
    node.terminate().await;

    let node = Node::start_with(dir.path(), "everysec", &flags).await;
    let mut c = node.client().await;
    assert_eq!(info_u64(&mut c, "tiers", "warm_live_bytes").await, live);
    assert_eq!(info_u64(&mut c, "tiers", "cold_keys").await, cold);
    assert_eq!(dbsize(&mut c).await, n);
    let v: String = c.get("half:0007").await.unwrap();
    assert_eq!(v, value);
    node.terminate().await;
}
