//! Active expiry reclaims keys nobody touches: DBSIZE and memory drop without access.

use crate::common::*;
use std::time::Duration;

async fn info_u64(c: &mut redis::aio::MultiplexedConnection, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").query_async(c).await.unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} missing from INFO"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untouched_expired_keys_are_reclaimed() {
    let s = TestServer::with(|c| c.hz = 50).await;
    let mut c = s.client().await;
    let mut pipe = redis::pipe();
    for i in 0..20_000 {
        pipe.cmd("SET")
            .arg(format!("t:{i}"))
            .arg("x".repeat(100))
            .arg("PX")
            .arg(3000)
            .ignore();
    }
    for i in 0..100 {
        pipe.cmd("SET").arg(format!("p:{i}")).arg("y").ignore();
    }
    let () = pipe.query_async(&mut c).await.unwrap();
    let dbsize: u64 = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
    assert_eq!(dbsize, 20_100);
    let used_full = info_u64(&mut c, "used_memory").await;
    // Nobody reads the keys: only the background cycle can reclaim them.
    wait_until(Duration::from_secs(10), || {
        let mut c = c.clone();
        async move {
            let n: u64 = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
            n == 100
        }
    })
    .await;
    assert!(info_u64(&mut c, "expired_keys").await >= 20_000);
    // used_memory is refreshed by a 100 ms tick: wait for it to show the reclaim.
    wait_until(Duration::from_secs(10), || {
        let mut c = c.clone();
        async move { info_u64(&mut c, "used_memory").await + 1024 * 1024 < used_full }
    })
    .await;
    let info: String = redis::cmd("INFO")
        .arg("keyspace")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(info.contains("db0:keys=100,expires=0,"), "{info}");
    s.stop().await;
}
