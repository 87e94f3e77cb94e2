//! Benchmark: ZRANK and ZRANGE-by-rank must not scan: their cost grows with log n (plus
//! the cache misses of a set that no longer fits in cache), not with n, as a sorted set grows
//! from 10k to 1M members. Measured on the value type directly (the data structure alone,
//! beside a linear scan for contrast) and end to end through a server on loopback with
//! pipelined commands. Each figure is the best of several rounds of 10,000 calls, so that
//! other load on the machine does not distort it.
//!
//! `cargo run -p autocache-node --example zset_rank` (a debug build is slower in absolute
//! terms; what matters is how the per-call figures change with the set size).

use autocache_node::types::zset::ZSet;
use autocache_node::Config;
use std::time::{Duration, Instant};

const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];
const CALLS: usize = 10_000;
const ROUNDS: usize = 5;
/// ZRANGE start start+10: eleven elements per call, like `ZRANGE k 500000 500010`.
const SPAN: usize = 10;

fn member(i: usize) -> String {
    format!("member:{i:07}")
}

fn ns(d: Duration, calls: usize) -> f64 {
    d.as_nanos() as f64 / calls as f64
}

/// The best of `ROUNDS` timings of `f`.
fn best(mut f: impl FnMut() -> Duration) -> Duration {
    (0..ROUNDS).map(|_| f()).min().expect("rounds")
}

/// The value type alone.
fn bench_type() {
    println!("value type (ZSet), ns per call, best of {ROUNDS} rounds of {CALLS}:");
    println!(
        "  {:>9}  {:>9}  {:>10}  {:>15}  {:>22}",
        "members", "encoding", "ZRANK", "ZRANGE i i+10", "linear scan to a rank"
    );
    let mut rng = fastrand::Rng::with_seed(7);
    let mut z = ZSet::default();
    let mut len = 0;
    let mut rows: Vec<[f64; 3]> = Vec::new();
    for size in SIZES {
        while len < size {
            z.insert(member(len).as_bytes(), rng.f64() * 1e6);
            len += 1;
        }
        let mut sum = 0usize;
        let rank = best(|| {
            let probes: Vec<String> = (0..CALLS).map(|_| member(rng.usize(..len))).collect();
            let t = Instant::now();
            for p in &probes {
                sum += z.rank(p.as_bytes()).expect("member present");
            }
            t.elapsed()
        });
        let range = best(|| {
            let starts: Vec<usize> = (0..CALLS).map(|_| rng.usize(..len - SPAN)).collect();
            let t = Instant::now();
            for &s in &starts {
                sum += z.iter_from(s, false).take(SPAN + 1).count();
            }
            t.elapsed()
        });
        // What a scanning implementation would pay: walk from the start to the rank.
        let scans = 20;
        let scan = best(|| {
            let t = Instant::now();
            for _ in 0..scans {
                let target = rng.usize(..len);
                sum += z.iter().take(target + 1).count();
            }
            t.elapsed()
        });
        std::hint::black_box(sum);
        let row = [ns(rank, CALLS), ns(range, CALLS), ns(scan, scans)];
        println!(
            "  {size:>9}  {:>9}  {:>10.0}  {:>15.0}  {:>22.0}",
            z.encoding(),
            row[0],
            row[1],
            row[2]
        );
        rows.push(row);
    }
    let (first, last) = (rows[0], rows[rows.len() - 1]);
    println!(
        "  growth 10k -> 1M (x100 members): ZRANK x{:.1}  ZRANGE x{:.1}  linear scan x{:.0}",
        last[0] / first[0],
        last[1] / first[1],
        last[2] / first[2]
    );
}

/// Through the server: pipelined batches of CALLS commands on one connection.
async fn bench_server() {
    println!("server on loopback, ns per command, {CALLS} pipelined, best of {ROUNDS}:");
    println!(
        "  {:>9}  {:>10}  {:>15}",
        "members", "ZRANK", "ZRANGE i i+10"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(autocache_node::run(
        listener,
        Config::default_for_tests(),
        async {
            let _ = stopped.await;
        },
    ));
    let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    let mut c = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("connect");
    let mut rng = fastrand::Rng::with_seed(11);
    let mut len = 0;
    for size in SIZES {
        while len < size {
            let mut cmd = redis::cmd("ZADD");
            cmd.arg("z");
            for i in len..(len + 1000).min(size) {
                cmd.arg(rng.f64() * 1e6).arg(member(i));
            }
            let _: () = cmd.query_async(&mut c).await.unwrap();
            len = (len + 1000).min(size);
        }
        let mut rank = Duration::MAX;
        let mut range = Duration::MAX;
        for _ in 0..ROUNDS {
            let mut pipe = redis::pipe();
            for _ in 0..CALLS {
                pipe.cmd("ZRANK").arg("z").arg(member(rng.usize(..len)));
            }
            let t = Instant::now();
            let ranks: Vec<i64> = pipe.query_async(&mut c).await.unwrap();
            rank = rank.min(t.elapsed());
            assert_eq!(ranks.len(), CALLS);
            let mut pipe = redis::pipe();
            for _ in 0..CALLS {
                let s = rng.usize(..len - SPAN);
                pipe.cmd("ZRANGE").arg("z").arg(s).arg(s + SPAN);
            }
            let t = Instant::now();
            let ranges: Vec<Vec<String>> = pipe.query_async(&mut c).await.unwrap();
            range = range.min(t.elapsed());
            assert!(ranges.iter().all(|r| r.len() == SPAN + 1));
        }
        println!(
            "  {size:>9}  {:>10.0}  {:>15.0}",
            ns(rank, CALLS),
            ns(range, CALLS)
        );
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    bench_type();
    bench_server().await;
}
