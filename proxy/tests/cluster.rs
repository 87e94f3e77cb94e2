//! The proxy in front of a real cluster: control in-process, three `autocache-node`
//! processes in cluster mode, proxies in-process, plain (non-cluster) clients.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use autocache_proto::slot::key_slot;
use common::{wait_until, TestCluster, TestProxy};
use redis::AsyncCommands;

/// A key (with `prefix`) whose slot belongs to node `node` of `cluster`.
fn key_on(cluster: &TestCluster, node: usize, prefix: &str) -> String {
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .find(|k| cluster.node_of_slot(key_slot(k.as_bytes())) == node)
        .unwrap()
}

async fn node_client(addr: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(format!("redis://{addr}/"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_families_and_cross_slot_commands() {
    let cluster = TestCluster::start(3).await;
    let proxy = TestProxy::start(Some(cluster.control_url())).await;
    proxy.wait_all_slots().await;
    let mut c = proxy.client().await;

    // One command per family, each routed to its key's node.
    let _: () = c.set("s", "v").await.unwrap();
    assert_eq!(c.get::<_, String>("s").await.unwrap(), "v");
    assert_eq!(c.incr::<_, _, i64>("n", 5).await.unwrap(), 5);
    let _: () = c.hset("h", "f", "1").await.unwrap();
    assert_eq!(c.hget::<_, _, String>("h", "f").await.unwrap(), "1");
    let _: () = c.rpush("l", &["a", "b"]).await.unwrap();
    assert_eq!(
        c.lrange::<_, Vec<String>>("l", 0, -1).await.unwrap(),
        vec!["a", "b"]
    );
    let _: () = c.sadd("set", "m").await.unwrap();
    assert_eq!(c.scard::<_, i64>("set").await.unwrap(), 1);
    let _: () = c.zadd("z", "m", 2.5).await.unwrap();
    assert_eq!(c.zscore::<_, _, f64>("z", "m").await.unwrap(), 2.5);
    let _: () = c.expire("s", 100).await.unwrap();
    assert!(c.ttl::<_, i64>("s").await.unwrap() > 0);
    let t: String = redis::cmd("TYPE")
        .arg("h")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(t, "hash");
    let err = c.get::<_, String>("h").await.unwrap_err();
    assert!(err.to_string().contains("WRONGTYPE"), "{err}");

    // Cross-slot multi-key commands are split and merged, MGET in key order.
    let keys: Vec<String> = (0..60).map(|i| format!("key:{i}")).collect();
    let pairs: Vec<(String, String)> = keys.iter().map(|k| (k.clone(), format!("v{k}"))).collect();
    let _: () = c.mset(&pairs).await.unwrap();
    let mut ask = keys.clone();
    ask.insert(7, "missing".into());
    let got: Vec<Option<String>> = c.mget(&ask).await.unwrap();
    let want: Vec<Option<String>> = ask
        .iter()
        .map(|k| (k != "missing").then(|| format!("v{k}")))
        .collect();
    assert_eq!(got, want);
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&ask)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(exists, 60);
    let touched: i64 = redis::cmd("TOUCH")
        .arg(&keys[..10])
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(touched, 10);
    // The keys really live on every node.
    for node in &cluster.nodes {
        let mut n = node_client(&node.resp_addr).await;
        let size: i64 = redis::cmd("DBSIZE").query_async(&mut n).await.unwrap();
        assert!(size > 0, "node {} holds no key", node.resp_addr);
    }
    let total: i64 = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
    assert_eq!(total, 60 + 6);
    let info: String = redis::cmd("INFO")
        .arg("keyspace")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(info.contains("db0:keys=66,expires=1,"), "{info}");
    let mut all: Vec<String> = c.keys("key:*").await.unwrap();
    all.sort();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(all, sorted);

    // A full SCAN visits each key exactly once, across the three nodes.
    let mut seen = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, batch): (String, Vec<String>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg("COUNT")
            .arg(5)
            .query_async(&mut c)
            .await
            .unwrap();
        seen.extend(batch);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 66, "{seen:?}");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 66);
    let rk: Option<String> = redis::cmd("RANDOMKEY").query_async(&mut c).await.unwrap();
    assert!(rk.is_some());

    // MSETNX only within one slot.
    let ok: i64 = redis::cmd("MSETNX")
        .arg("{t}a")
        .arg(1)
        .arg("{t}b")
        .arg(2)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(ok, 1);
    let err = redis::cmd("MSETNX")
        .arg("a1")
        .arg(1)
        .arg("b1")
        .arg(2)
        .query_async::<i64>(&mut c)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Keys in request don't hash to the same slot"),
        "{err}"
    );

    let deleted: i64 = c.del(&keys).await.unwrap();
    assert_eq!(deleted, 60);
    let unlinked: i64 = redis::cmd("UNLINK")
        .arg("s")
        .arg("h")
        .arg("l")
        .arg("nope")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(unlinked, 3);
    let _: () = redis::cmd("FLUSHALL").query_async(&mut c).await.unwrap();
    let total: i64 = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
    assert_eq!(total, 0);

    // RESP3 clients get RESP3 shapes from the nodes, merged replies included.
    let mut r3 = proxy.raw().await;
    r3.cmd(&["HELLO", "3"]).await;
    while r3.read_line().await != "*0\r\n" {}
    r3.call(&["HSET", "h3", "f", "v"], b":1\r\n").await;
    r3.call(&["HGETALL", "h3"], b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n")
        .await;
    let (a, b) = (key_on(&cluster, 0, "r3-"), key_on(&cluster, 2, "r3-"));
    r3.call(&["SET", &a, "x"], b"+OK\r\n").await;
    r3.call(&["MGET", &a, &b], b"*2\r\n$1\r\nx\r\n_\r\n").await;
    r3.call(&["DEL", &a, &b, "h3"], b":2\r\n").await;

    // A second proxy serves the same data.
    let other = TestProxy::start(Some(cluster.control_url())).await;
    other.wait_all_slots().await;
    let mut d = other.client().await;
    let _: () = c.mset(&pairs[..20]).await.unwrap();
    let via_other: Vec<String> = d.mget(&keys[..20]).await.unwrap();
    assert_eq!(
        via_other,
        pairs[..20].iter().map(|p| p.1.clone()).collect::<Vec<_>>()
    );
    let _: () = d.set("key:0", "changed").await.unwrap();
    assert_eq!(c.get::<_, String>("key:0").await.unwrap(), "changed");

    // Bitmaps route by key from the shared table; BITOP's keys must share a slot.
    let (x, y) = (key_on(&cluster, 0, "bits-"), key_on(&cluster, 2, "bits-"));
    let mut raw = proxy.raw().await;
    raw.call(&["SETBIT", &x, "9", "1"], b":0\r\n").await;
    raw.call(&["GETBIT", &x, "9"], b":1\r\n").await;
    raw.call(&["BITCOUNT", &x], b":1\r\n").await;
    raw.call(&["BITPOS", &x, "1"], b":9\r\n").await;
    raw.call(
        &["BITOP", "OR", &y, &x],
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    )
    .await;
    raw.call(&["BITOP", "NOT", "{b}2", "{b}1"], b":0\r\n").await;
    raw.call(&["SETBIT", "{b}1", "0", "1"], b":0\r\n").await;
    raw.call(&["BITOP", "NOT", "{b}2", "{b}1"], b":1\r\n").await;
    raw.call(&["GET", "{b}2"], b"$1\r\n\x7f\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_blocking_pops_and_pubsub() {
    let cluster = TestCluster::start(3).await;
    let p1 = TestProxy::start(Some(cluster.control_url())).await;
    let p2 = TestProxy::start(Some(cluster.control_url())).await;
    p1.wait_all_slots().await;
    p2.wait_all_slots().await;

    // MULTI/EXEC within one slot runs on its node.
    let mut r = p1.raw().await;
    r.call(&["MULTI"], b"+OK\r\n").await;
    r.call(&["SET", "{u}a", "1"], b"+QUEUED\r\n").await;
    r.call(&["INCR", "{u}b"], b"+QUEUED\r\n").await;
    r.call(&["MGET", "{u}a", "{u}b"], b"+QUEUED\r\n").await;
    r.call(
        &["EXEC"],
        b"*3\r\n+OK\r\n:1\r\n*2\r\n$1\r\n1\r\n$1\r\n1\r\n",
    )
    .await;
    // Keys of another slot are refused and abort the transaction.
    r.call(&["MULTI"], b"+OK\r\n").await;
    r.call(&["SET", "{u}a", "2"], b"+QUEUED\r\n").await;
    r.call(
        &["SET", "{v}a", "2"],
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    )
    .await;
    r.call(
        &["EXEC"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    )
    .await;
    r.call(&["GET", "{u}a"], b"$1\r\n1\r\n").await;
    // WATCH: a write by another client (through another proxy) fails the EXEC.
    r.call(&["WATCH", "{u}a"], b"+OK\r\n").await;
    let mut other = p2.client().await;
    let _: () = other.set("{u}a", "x").await.unwrap();
    r.call(&["MULTI"], b"+OK\r\n").await;
    r.call(&["SET", "{u}a", "3"], b"+QUEUED\r\n").await;
    r.call(&["EXEC"], b"*-1\r\n").await;
    r.call(&["GET", "{u}a"], b"$1\r\nx\r\n").await;
    r.call(
        &["WATCH", "{u}a", "{v}a"],
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    )
    .await;

    // A blocking pop through proxy 1, woken by a push through proxy 2.
    let queue = key_on(&cluster, 1, "queue");
    let mut blocked = p1.raw().await;
    blocked.cmd(&["BLPOP", &queue, "0"]).await;
    let mut node = node_client(&cluster.nodes[1].resp_addr).await;
    wait_until("the pop to block", Duration::from_secs(10), || {
        let mut node = node.clone();
        async move {
            let info: String = redis::cmd("INFO")
                .arg("clients")
                .query_async(&mut node)
                .await
                .unwrap();
            info.contains("blocked_clients:1")
        }
    })
    .await;
    let _ = &mut node;
    let _: () = other.rpush(&queue, "job").await.unwrap();
    let expect = format!("*2\r\n${}\r\n{queue}\r\n$3\r\njob\r\n", queue.len());
    blocked.expect(expect.as_bytes()).await;
    blocked.call(&["PING"], b"+PONG\r\n").await;

    // Pub/sub: subscribed through proxy 1, published through proxy 2.
    let mut sub = p1.raw().await;
    sub.call(
        &["SUBSCRIBE", "news"],
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n",
    )
    .await;
    let receivers: i64 = other.publish("news", "hello").await.unwrap();
    assert_eq!(receivers, 1);
    sub.expect(b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n")
        .await;
    sub.call(&["GET", "x"], b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n").await;
    sub.call(&["PING"], b"*2\r\n$4\r\npong\r\n$0\r\n\r\n").await;
    sub.call(
        &["UNSUBSCRIBE"],
        b"*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:0\r\n",
    )
    .await;
    sub.call(&["PING"], b"+PONG\r\n").await;
    // Channels of different slots cannot share one subscription (documented limitation).
    sub.call(
        &["SUBSCRIBE", "a", "b"],
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_fails_only_its_slots() {
    let mut cluster = TestCluster::start(3).await;
    // Several shared streams per node: each must fail and recover on its own.
    let proxy = TestProxy::with(Some(cluster.control_url()), |c| {
        c.request_timeout = Duration::from_secs(2);
        c.streams_per_node = 3;
    })
    .await;
    proxy.wait_all_slots().await;
    let keys: Vec<String> = (0..3).map(|n| key_on(&cluster, n, "dead")).collect();
    let mut r = proxy.raw().await;
    for k in &keys {
        r.call(&["SET", k, "v"], b"+OK\r\n").await;
    }
    cluster.nodes[0].kill();
    // Only node 0's key fails, with an error rather than a hang; the others keep working on
    // the same connection.
    r.cmd(&["GET", &keys[0]]).await;
    let line = r.read_line().await;
    assert!(
        line.starts_with("-CLUSTERDOWN") || line.starts_with("-TRYAGAIN"),
        "{line}"
    );
    r.call(&["GET", &keys[1]], b"$1\r\nv\r\n").await;
    r.call(&["GET", &keys[2]], b"$1\r\nv\r\n").await;
    // Pipelined across the dead and a live node: order kept, only the dead one errors.
    let mut batch = common::encode(&["GET", &keys[2]]);
    batch.extend(common::encode(&["GET", &keys[0]]));
    batch.extend(common::encode(&["GET", &keys[1]]));
    r.send(&batch).await;
    r.expect(b"$1\r\nv\r\n").await;
    let line = r.read_line().await;
    assert!(
        line.starts_with("-CLUSTERDOWN") || line.starts_with("-TRYAGAIN"),
        "{line}"
    );
    r.expect(b"$1\r\nv\r\n").await;
    // A split MGET touching the dead node reports its error.
    r.cmd(&["MGET", &keys[1], &keys[0]]).await;
    let line = r.read_line().await;
    assert!(
        line.starts_with("-CLUSTERDOWN") || line.starts_with("-TRYAGAIN"),
        "{line}"
    );
    // With control gone too, the proxy keeps serving with its last map.
    cluster.stop_control();
    let control = cluster.control_addr;
    wait_until("control to stop", Duration::from_secs(10), || async move {
        tokio::net::TcpStream::connect(control).await.is_err()
    })
    .await;
    r.call(&["SET", &keys[2], "after"], b"+OK\r\n").await;
    r.call(&["GET", &keys[2]], b"$5\r\nafter\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_during_a_migration() {
    let cluster = TestCluster::start(3).await;
    let proxy = TestProxy::start(Some(cluster.control_url())).await;
    proxy.wait_all_slots().await;
    let mut c = proxy.client().await;
    // Many keys of one slot, so the migration takes a while and reads hit it mid-way.
    let slot_key = key_on(&cluster, 0, "mig");
    let keys: Vec<String> = (0..300).map(|i| format!("{{{slot_key}}}:{i}")).collect();
    for chunk in keys.chunks(100) {
        let pairs: Vec<(&String, &String)> = chunk.iter().map(|k| (k, k)).collect();
        let _: () = c.mset(&pairs).await.unwrap();
    }
    let slot = key_slot(slot_key.as_bytes());
    let reader = {
        let mut c = proxy.client().await;
        let keys = keys.clone();
        tokio::spawn(async move {
            // Reads and writes never see MOVED/ASK while the slot moves.
            for round in 0..20 {
                for k in keys.iter().step_by(7) {
                    let v: String = c.get(k).await.unwrap();
                    assert_eq!(&v, k);
                }
                let k = format!("{}:new{round}", &keys[0]);
                let _: () = c.set(&k, "n").await.unwrap();
            }
        })
    };
    cluster.migrate(slot, 0, 1).await;
    reader.await.unwrap();
    let got: Vec<String> = c.mget(&keys).await.unwrap();
    assert_eq!(got, keys);
    // The data is now on node 1; the proxy routes there.
    let mut n1 = node_client(&cluster.nodes[1].resp_addr).await;
    let on_new: i64 = redis::cmd("CLUSTER")
        .arg("COUNTKEYSINSLOT")
        .arg(slot)
        .query_async(&mut n1)
        .await
        .unwrap();
    assert_eq!(on_new, 320);
    let via_proxy: i64 = redis::cmd("CLUSTER")
        .arg("COUNTKEYSINSLOT")
        .arg(slot)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(via_proxy, 320);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_node_times_out_and_sheds_load() {
    let cluster = TestCluster::start(3).await;
    let proxy = TestProxy::with(Some(cluster.control_url()), |c| {
        c.request_timeout = Duration::from_secs(1);
        c.max_inflight = 1;
    })
    .await;
    proxy.wait_all_slots().await;
    let stalled = key_on(&cluster, 0, "stall");
    let alive = key_on(&cluster, 2, "alive");
    let mut r = proxy.raw().await;
    r.call(&["SET", &alive, "v"], b"+OK\r\n").await;
    cluster.nodes[0].pause(true);
    let mut batch = common::encode(&["GET", &stalled]);
    batch.extend(common::encode(&["GET", &stalled]));
    batch.extend(common::encode(&["GET", &alive]));
    r.send(&batch).await;
    let mut errors = vec![r.read_line().await, r.read_line().await];
    errors.sort();
    cluster.nodes[0].pause(false);
    let node = "node 127.0.0.1:";
    assert!(
        errors[0].starts_with(&format!("-TRYAGAIN {node}"))
            && errors[0].ends_with(" did not answer in time\r\n"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with(&format!("-TRYAGAIN too many commands in flight to {node}")),
        "{errors:?}"
    );
    r.expect(b"$1\r\nv\r\n").await;
}

/// One client read holding commands for all three nodes, local commands, a split MGET and
/// a DEL in between: the proxy sends each node its share in one piece and the replies come
/// back in request order, exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_across_nodes_keeps_request_order() {
    let cluster = TestCluster::start(3).await;
    let proxy = TestProxy::start(Some(cluster.control_url())).await;
    proxy.wait_all_slots().await;
    let k: Vec<String> = (0..3).map(|n| key_on(&cluster, n, "pipe")).collect();
    let mut batch = Vec::new();
    for args in [
        vec!["SET", &k[0], "zero"],
        vec!["SET", &k[1], "one"],
        vec!["GET", &k[0]],
        vec!["PING"],
        vec!["SET", &k[2], "two"],
        vec!["GET", &k[1]],
        vec!["INCR", &k[0]],
        vec!["MGET", &k[0], &k[1], &k[2]],
        vec!["DEL", &k[1], &k[2]],
        vec!["GET", &k[1]],
        vec!["APPEND", &k[2], "x"],
    ] {
        batch.extend(common::encode(&args));
    }
    batch.extend_from_slice(b"ECHO inline\r\n");
    let mut r = proxy.raw().await;
    r.send(&batch).await;
    r.expect(
        b"+OK\r\n+OK\r\n$4\r\nzero\r\n+PONG\r\n+OK\r\n$3\r\none\r\n\
          -ERR value is not an integer or out of range\r\n\
          *3\r\n$4\r\nzero\r\n$3\r\none\r\n$3\r\ntwo\r\n:2\r\n$-1\r\n:1\r\n$6\r\ninline\r\n",
    )
    .await;
}

/// Pipelined reads of a slot while it migrates: commands the old owner redirects are
/// retried one by one at the new owner, and each reply still lands in its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_reads_during_a_migration_keep_their_order() {
    let cluster = TestCluster::start(3).await;
    let proxy = TestProxy::start(Some(cluster.control_url())).await;
    proxy.wait_all_slots().await;
    let slot_key = key_on(&cluster, 0, "pmig");
    let keys: Vec<String> = (0..400).map(|i| format!("{{{slot_key}}}:{i}")).collect();
    let mut c = proxy.client().await;
    for chunk in keys.chunks(100) {
        let pairs: Vec<(&String, &String)> = chunk.iter().map(|k| (k, k)).collect();
        let _: () = c.mset(&pairs).await.unwrap();
    }
    let slot = key_slot(slot_key.as_bytes());
    let mut r = proxy.raw().await;
    let reader = tokio::spawn(async move {
        for round in 0..30 {
            let picked: Vec<&String> = keys.iter().skip(round % 7).step_by(9).collect();
            let mut batch = Vec::new();
            let mut want = Vec::new();
            for k in &picked {
                batch.extend(common::encode(&["GET", k]));
                want.extend(format!("${}\r\n{k}\r\n", k.len()).into_bytes());
            }
            r.send(&batch).await;
            r.expect(&want).await;
        }
    });
    cluster.migrate(slot, 0, 1).await;
    reader.await.unwrap();
}

/// Values past gRPC's default 4 MiB message limit, an odd MSET, and a SCAN with COUNT 1 over
/// keys sharing a slot: each once broke the proxy (CLUSTERDOWN for the node, a closed
/// connection, a walk that never ended).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_values_odd_mset_and_scan_count_1() {
    let cluster = TestCluster::start(3).await;
    let proxy = TestProxy::start(Some(cluster.control_url())).await;
    proxy.wait_all_slots().await;
    let mut c = proxy.client().await;
    let big = "x".repeat(5 << 20);
    let () = c.set("big", &big).await.unwrap();
    let back: String = match c.get("big").await {
        Ok(v) => v,
        Err(e) => panic!("GET of a 5 MiB value: {e}"),
    };
    assert!(
        back == big,
        "5 MiB value came back with {} bytes",
        back.len()
    );

    let mut r = proxy.raw().await;
    r.call(
        &["MSET", "a", "1", "b"],
        b"-ERR wrong number of arguments for 'mset' command\r\n",
    )
    .await;
    r.call(&["PING"], b"+PONG\r\n").await;
    // A transaction runs on one node: keyspace-wide commands are refused inside it, and a
    // refused EXEC discards it, as Redis does.
    r.call(&["MULTI"], b"+OK\r\n").await;
    r.call(
        &["DBSIZE"],
        b"-ERR 'dbsize' is not allowed inside a transaction through the proxy: a transaction runs on one node\r\n",
    )
    .await;
    r.call(
        &["EXEC", "x"],
        b"-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n",
    )
    .await;
    r.call(&["EXEC"], b"-ERR EXEC without MULTI\r\n").await;

    for i in 0..25 {
        let () = c.set(format!("{{t}}k{i}"), i).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor = 0u64;
    for _ in 0..1_000 {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("{t}*")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut c)
            .await
            .unwrap();
        seen.extend(keys);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(cursor, 0, "SCAN did not finish");
    seen.sort();
    let mut want: Vec<String> = (0..25).map(|i| format!("{{t}}k{i}")).collect();
    want.sort();
    assert_eq!(seen, want, "each key exactly once");

    // RANDOMKEY sees the writes pipelined before it (as SCAN does: both queue their node
    // request on the client's stream).
    for _ in 0..30 {
        r.call(&["FLUSHALL"], b"+OK\r\n").await;
        let mut batch = common::encode(&["PING"]);
        batch.extend(common::encode(&["SET", "only", "1"]));
        batch.extend(common::encode(&["RANDOMKEY"]));
        r.send(&batch).await;
        r.expect(b"+PONG\r\n+OK\r\n$4\r\nonly\r\n").await;
    }
}

/// Lua scripts through the proxy: SCRIPT LOAD reaches every node, so EVALSHA works whichever
/// node a script's keys route to; EVAL's keys must share a slot; a script touching another
/// node's key fails there as in Redis Cluster; SCRIPT EXISTS/FLUSH/KILL span the nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_through_the_proxy() {
    let cluster = TestCluster::start(3).await;
    let proxy = TestProxy::start(Some(cluster.control_url())).await;
    proxy.wait_all_slots().await;
    let mut c = proxy.client().await;
    let body = "return redis.call('incrby', KEYS[1], ARGV[1])";
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(body)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(sha.len(), 40, "{sha}");
    for node in 0..3 {
        let key = key_on(&cluster, node, "counter");
        for want in [3i64, 6] {
            let got: i64 = redis::cmd("EVALSHA")
                .arg(&sha)
                .arg(1)
                .arg(&key)
                .arg(3)
                .query_async(&mut c)
                .await
                .unwrap();
            assert_eq!(got, want, "node {node}");
        }
    }
    let exists: Vec<i64> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(&sha)
        .arg("0000000000000000000000000000000000000000")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(exists, vec![1, 0]);

    let mut r = proxy.raw().await;
    let (a, b) = (key_on(&cluster, 0, "a"), key_on(&cluster, 1, "b"));
    r.call(
        &["EVAL", "return 1", "2", &a, &b],
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    )
    .await;
    let reach = "return redis.call('get', ARGV[1])";
    let reach_sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(reach)
        .query_async(&mut c)
        .await
        .unwrap();
    let want = format!(
        "-ERR Script attempted to access a non local key in a cluster node script: {reach_sha}, on @user_script:1.\r\n"
    );
    r.call(&["EVAL", reach, "1", &a, &b], want.as_bytes()).await;
    r.call(
        &["EVAL", "return redis.call('set', KEYS[1], 'v')", "1", &b],
        b"+OK\r\n",
    )
    .await;
    r.call(
        &["SCRIPT", "KILL"],
        b"-NOTBUSY No scripts in execution right now.\r\n",
    )
    .await;
    r.call(&["SCRIPT", "FLUSH"], b"+OK\r\n").await;
    r.call(&["SCRIPT", "EXISTS", &sha], b"*1\r\n:0\r\n").await;
    r.call(
        &["EVALSHA", &sha, "1", &a, "1"],
        b"-NOSCRIPT No matching script. Please use EVAL.\r\n",
    )
    .await;

    // The redis crate's Script: EVALSHA, then EVAL on NOSCRIPT.
    let script = redis::Script::new(body);
    let key = key_on(&cluster, 2, "scripted");
    for want in [10i64, 20] {
        let got: i64 = script.key(&key).arg(10).invoke_async(&mut c).await.unwrap();
        assert_eq!(got, want);
    }
}
