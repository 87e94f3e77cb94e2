//! maxmemory and every eviction policy. One test function on purpose: used_memory is the
//! process's allocator figure, so servers measured here must not share the process with
//! other tests running at the same time.

use crate::common::*;
use redis::AsyncCommands;

const LIMIT_ABOVE_BASELINE: u64 = 3 * 1024 * 1024;

async fn start(policy: &str) -> TestServer {
    let baseline = autocache_node::memory::allocated_now();
    let policy = policy.parse().unwrap();
    TestServer::with(|c| {
        c.maxmemory = baseline + LIMIT_ABOVE_BASELINE;
        c.maxmemory_policy = policy;
    })
    .await
}

async fn info_u64(c: &mut redis::aio::MultiplexedConnection, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").query_async(c).await.unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} missing from INFO"))
        .trim()
        .parse()
        .unwrap()
}

fn value(i: usize) -> String {
    format!("{i:0>1000}")
}

/// Writes `n` keys with 1000-byte values; every write must succeed (an evicting policy).
async fn fill(c: &mut redis::aio::MultiplexedConnection, prefix: &str, n: usize, ex: Option<u64>) {
    for i in 0..n {
        let key = format!("{prefix}:{i}");
        let mut cmd = redis::cmd("SET");
        cmd.arg(&key).arg(value(i));
        if let Some(ex) = ex {
            cmd.arg("EX").arg(ex);
        }
        let r: String = cmd.query_async(c).await.unwrap();
        assert_eq!(r, "OK");
    }
}

async fn exists(c: &mut redis::aio::MultiplexedConnection, prefix: &str, n: usize) -> usize {
    let mut found = 0;
    for i in 0..n {
        let e: bool = c.exists(format!("{prefix}:{i}")).await.unwrap();
        found += e as usize;
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_policies() {
    // noeviction: writes fail with Redis's exact OOM error, reads and deletes still work.
    {
        let s = start("noeviction").await;
        let mut raw = s.raw().await;
        let big = "x".repeat(64 * 1024);
        let mut oom_at = None;
        for i in 0..200 {
            raw.cmd(&["SET", &format!("big:{i}"), &big]).await;
            let reply = raw.read_exact_len(5).await;
            if reply == b"+OK\r\n" {
                continue;
            }
            let rest = b"command not allowed when used memory > 'maxmemory'.\r\n";
            assert_eq!(reply, b"-OOM ");
            raw.expect(rest).await;
            oom_at = Some(i);
            break;
        }
        let oom_at = oom_at.expect("noeviction never refused a write");
        assert!(oom_at > 10, "refused too early: {oom_at}");
        raw.call(&["GET", "missing"], b"$-1\r\n").await;
        raw.call(&["DEL", "big:0"], b":1\r\n").await;
        let mut c = s.client().await;
        assert_eq!(info_u64(&mut c, "evicted_keys").await, 0);
        s.stop().await;
    }

    // allkeys-*: every write succeeds, old keys make room, memory stays near the limit.
    for policy in ["allkeys-lru", "allkeys-random", "allkeys-lfu"] {
        let s = start(policy).await;
        let mut c = s.client().await;
        fill(&mut c, "k", 8_000, None).await;
        let dbsize: usize = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
        assert!(dbsize < 8_000, "{policy}: nothing evicted ({dbsize} keys)");
        assert!(
            dbsize > 500,
            "{policy}: evicted far too much ({dbsize} keys)"
        );
        assert!(info_u64(&mut c, "evicted_keys").await > 0);
        let used = info_u64(&mut c, "used_memory").await;
        let max = info_u64(&mut c, "maxmemory").await;
        assert!(
            used < max + 1024 * 1024,
            "{policy}: used {used} vs maxmemory {max}"
        );
        s.stop().await;
    }

    // allkeys-lfu keeps frequently read keys.
    {
        let s = start("allkeys-lfu").await;
        let mut c = s.client().await;
        fill(&mut c, "hot", 100, None).await;
        for _ in 0..30 {
            for i in 0..100 {
                let _: Option<String> = c.get(format!("hot:{i}")).await.unwrap();
            }
        }
        fill(&mut c, "cold", 8_000, None).await;
        let hot = exists(&mut c, "hot", 100).await;
        assert!(hot >= 90, "allkeys-lfu evicted hot keys: {hot}/100 left");
        s.stop().await;
    }

    // volatile-*: only keys with a TTL are evicted.
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let s = start(policy).await;
        let mut c = s.client().await;
        fill(&mut c, "keep", 500, None).await;
        fill(&mut c, "vol", 8_000, Some(100_000)).await;
        assert_eq!(
            exists(&mut c, "keep", 500).await,
            500,
            "{policy} evicted a persistent key"
        );
        let vol = exists(&mut c, "vol", 8_000).await;
        assert!(vol < 8_000, "{policy}: no volatile key evicted");
        s.stop().await;
    }

    // volatile-ttl prefers the keys closest to expiring.
    {
        let s = start("volatile-ttl").await;
        let mut c = s.client().await;
        fill(&mut c, "short", 1_000, Some(1_000)).await;
        fill(&mut c, "long", 8_000, Some(1_000_000)).await;
        let short = exists(&mut c, "short", 1_000).await as f64 / 1_000.0;
        let long = exists(&mut c, "long", 8_000).await as f64 / 8_000.0;
        assert!(
            short < long,
            "short-TTL survivors {short:.2} vs long-TTL {long:.2}"
        );
        s.stop().await;
    }

    // A policy that finds nothing to evict answers OOM.
    {
        let s = start("volatile-lru").await;
        let mut raw = s.raw().await;
        let big = "x".repeat(64 * 1024);
        let mut refused = false;
        for i in 0..200 {
            raw.cmd(&["SET", &format!("p:{i}"), &big]).await;
            if raw.read_exact_len(5).await != b"+OK\r\n" {
                refused = true;
                break;
            }
        }
        assert!(
            refused,
            "volatile-lru with no volatile keys never refused a write"
        );
        s.stop().await;
    }
}
