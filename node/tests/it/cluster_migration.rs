//! Live slot migration between real node processes: ASK for keys that left, commands on keys
//! in flight waiting for them to land, TRYAGAIN for multi-key commands split across the two
//! nodes, blocked clients of a slot that moved redirected, ASKING on the importing
//! node (one command only), and the slot ending up whole on the target.

use crate::cluster_harness as harness;

use autocache_proto::pb::control as cpb;
use autocache_proto::slot::key_slot;
use harness::{wait_for, Cluster};
use std::time::Duration;

const TRYAGAIN: &str = "-TRYAGAIN Multiple keys request during rehashing of slot\r\n";

/// Gives every slot to node 0.
async fn assign_all_to_first(c: &Cluster) {
    let r = cpb::AssignSlotsRequest {
        ranges: vec![cpb::SlotRange {
            start: 0,
            end: 16383,
        }],
        node: c.nodes[0].id.clone(),
    };
    c.control.client().assign_slots(r).await.unwrap();
    c.wait_converged().await;
}

/// Keys of the slot the in-flight tests move: `{t}0` … `{t}599`, value `v<i>` — more than
/// one batch (500), so some stay behind while the first is in flight.
const KEYS: usize = 600;

async fn write_slot_keys(raw: &mut harness::Raw) {
    for i in 0..KEYS {
        raw.call(&["SET", &format!("{{t}}{i}"), &format!("v{i}")], "+OK\r\n")
            .await;
    }
}

/// Freezes the target and starts moving slot `{t}` to it: the first batch (500 keys) leaves
/// the source and stays in flight, unacknowledged.
async fn start_a_stuck_batch(c: &Cluster, slot: u16) {
    let (src, dst) = (&c.nodes[0], &c.nodes[1]);
    dst.signal("STOP");
    c.control.migrate(slot, &src.id, &dst.id).await;
    let slot_s = slot.to_string();
    wait_for("a batch in flight", Duration::from_secs(30), || async {
        src.cmd_string(&["CLUSTER", "COUNTKEYSINSLOT", &slot_s])
            .await
            == (KEYS - 500).to_string()
    })
    .await;
}

/// Once the moves are over: every key of slot `{t}` on exactly one node, with its value.
async fn assert_slot_whole(c: &Cluster, slot: u16) {
    c.control.wait_moves_done().await;
    c.wait_converged().await;
    let mut total = 0;
    for n in &c.nodes {
        let count = n
            .cmd_string(&["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()])
            .await;
        total += count.parse::<usize>().unwrap();
    }
    assert_eq!(total, KEYS, "every key on exactly one node");
    let mut client = c.cluster_client().await;
    for i in 0..KEYS {
        let v: Option<String> = redis::AsyncCommands::get(&mut client, format!("{{t}}{i}"))
            .await
            .unwrap();
        assert_eq!(v, Some(format!("v{i}")), "{{t}}{i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_in_flight_is_waited_for_and_split_multi_key_requests_get_tryagain() {
    let c = Cluster::start(2).await;
    assign_all_to_first(&c).await;
    let (src, dst) = (&c.nodes[0], &c.nodes[1]);
    let slot = key_slot(b"t");
    let slot_s = slot.to_string();
    let mut raw = src.raw().await;
    write_slot_keys(&mut raw).await;
    start_a_stuck_batch(&c, slot).await;
    let mut conn = crate::common::connect(&src.url()).await;
    let present: Vec<String> = redis::cmd("CLUSTER")
        .arg("GETKEYSINSLOT")
        .arg(slot)
        .arg(1000)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(present.len(), 100);
    let inflight = (0..KEYS)
        .map(|i| format!("{{t}}{i}"))
        .find(|k| !present.contains(k))
        .unwrap();
    let kept = &present[0];
    let kept_value = format!("v{}", &kept[3..]);

    // Keys still here are served, keys never here are asked for at the target, and a
    // multi-key request split between the nodes must be retried, as in Redis.
    raw.call(
        &["GET", kept],
        &format!("${}\r\n{kept_value}\r\n", kept_value.len()),
    )
    .await;
    let ask = format!("-ASK {slot} {}\r\n", dst.addr);
    raw.call(&["GET", "{t}absent"], &ask).await;
    raw.call(&["SET", "{t}absent", "x"], &ask).await;
    raw.call(&["MGET", kept, "{t}absent"], TRYAGAIN).await;

    // A command on a key in flight waits for its batch to land; only a target that stays
    // unreachable past the wait makes it answer TRYAGAIN.
    raw.call(&["GET", &inflight], TRYAGAIN).await;
    raw.send(&["SET", &inflight, "written after the move?"])
        .await;
    raw.send(&["GET", &inflight]).await;
    dst.signal("CONT");
    assert_eq!(raw.line().await, ask);
    assert_eq!(raw.line().await, ask);

    // The target takes the slot; nothing was lost or duplicated.
    c.control.wait_moves_done().await;
    c.wait_converged().await;
    raw.call(&["GET", "{t}0"], &format!("-MOVED {slot} {}\r\n", dst.addr))
        .await;
    raw.call(&["CLUSTER", "COUNTKEYSINSLOT", &slot_s], ":0\r\n")
        .await;
    let mut on_dst = dst.raw().await;
    on_dst
        .call(&["CLUSTER", "COUNTKEYSINSLOT", &slot_s], ":600\r\n")
        .await;
    for i in 0..KEYS {
        let v = format!("v{i}");
        on_dst
            .call(
                &["GET", &format!("{{t}}{i}")],
                &format!("${}\r\n{v}\r\n", v.len()),
            )
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_blocked_on_a_slot_that_moves_away_is_redirected() {
    let c = Cluster::start(2).await;
    assign_all_to_first(&c).await;
    let (src, dst) = (&c.nodes[0], &c.nodes[1]);
    let slot = key_slot(b"q");
    let mut moving = src.raw().await;
    moving.send(&["BLPOP", "{q}list", "0"]).await;
    let mut staying = src.raw().await;
    staying.send(&["BLPOP", "{r}list", "0"]).await;
    wait_for("two blocked clients", Duration::from_secs(10), || async {
        src.cmd_string(&["INFO", "clients"])
            .await
            .contains("blocked_clients:2")
    })
    .await;

    c.control.migrate(slot, &src.id, &dst.id).await;
    c.control.wait_moves_done().await;
    assert_eq!(
        moving.line().await,
        format!("-MOVED {slot} {}\r\n", dst.addr)
    );
    // The client blocked on a slot that stayed keeps waiting, and is served.
    src.raw()
        .await
        .call(&["RPUSH", "{r}list", "x"], ":1\r\n")
        .await;
    let mut got = String::new();
    for _ in 0..5 {
        got.push_str(&staying.line().await);
    }
    assert_eq!(got, "*2\r\n$7\r\n{r}list\r\n$1\r\nx\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_node_serves_only_after_asking() {
    let c = Cluster::start(2).await;
    assign_all_to_first(&c).await;
    let (src, dst) = (&c.nodes[0], &c.nodes[1]);
    let slot = key_slot(b"u");
    let mut raw_src = src.raw().await;
    raw_src.call(&["SET", "{u}old", "1"], "+OK\r\n").await;

    // The source is frozen: the slot stays IMPORTING on the target while we look.
    src.signal("STOP");
    c.control.migrate(slot, &src.id, &dst.id).await;
    let importing = format!("[{slot}-<-{}]", src.id);
    wait_for("the target to import", Duration::from_secs(30), || async {
        dst.cmd_string(&["CLUSTER", "NODES"])
            .await
            .contains(&importing)
    })
    .await;

    let mut raw = dst.raw().await;
    let moved = format!("-MOVED {slot} {}\r\n", src.addr);
    raw.call(&["GET", "{u}new"], &moved).await;
    raw.call(&["ASKING"], "+OK\r\n").await;
    raw.call(&["GET", "{u}new"], "$-1\r\n").await;
    // ASKING held for one command only.
    raw.call(&["GET", "{u}new"], &moved).await;
    raw.call(&["ASKING"], "+OK\r\n").await;
    raw.call(&["SET", "{u}new", "2"], "+OK\r\n").await;
    raw.call(&["ASKING"], "+OK\r\n").await;
    raw.call(&["MGET", "{u}new", "{u}old"], TRYAGAIN).await;
    raw.call(&["ASKING"], "+OK\r\n").await;
    raw.call(
        &["MGET", "{u}new", "{u}new"],
        "*2\r\n$1\r\n2\r\n$1\r\n2\r\n",
    )
    .await;

    src.signal("CONT");
    c.control.wait_moves_done().await;
    c.wait_converged().await;
    // Whether the move completed or was rolled back, the source's key survived.
    let mut cc = c.cluster_client().await;
    let v: String = redis::AsyncCommands::get(&mut cc, "{u}old").await.unwrap();
    assert_eq!(v, "1");
}

/// Tiered nodes: a slot whose keys live only in the source's warm tier moves whole, and
/// COUNTKEYSINSLOT / GETKEYSINSLOT count keys in every tier.
#[cfg(feature = "tiered")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_keys_migrate_and_are_counted() {
    let c = Cluster::start_with_env(
        2,
        &[
            ("AUTOCACHE_STORAGE", "tiered"),
            ("AUTOCACHE_MAXMEMORY_POLICY", "allkeys-lru"),
        ],
    )
    .await;
    assign_all_to_first(&c).await;
    let (src, dst) = (&c.nodes[0], &c.nodes[1]);
    let slot = key_slot(b"{w}");
    let value = "v".repeat(1000);
    let mut raw = src.raw().await;
    for i in 0..1500 {
        raw.call(&["SET", &format!("{{w}}k{i}"), &value], "+OK\r\n")
            .await;
    }
    // Squeeze memory: every key goes down to the warm tier.
    raw.call(&["CONFIG", "SET", "maxmemory", "1"], "+OK\r\n")
        .await;
    wait_for("keys demoted", Duration::from_secs(60), || async {
        let info = src.cmd_string(&["INFO", "tiers"]).await;
        info.contains("\r\nmemory_keys:0\r\n") && info.contains("\r\ndirty_keys:0\r\n")
    })
    .await;
    raw.call(&["CONFIG", "SET", "maxmemory", "0"], "+OK\r\n")
        .await;
    let count = ["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()];
    raw.call(&count, ":1500\r\n").await;
    raw.send(&["CLUSTER", "GETKEYSINSLOT", &slot.to_string(), "3"])
        .await;
    assert_eq!(raw.line().await, "*3\r\n");
    for _ in 0..3 {
        assert!(raw.line().await.starts_with('$'));
        assert!(raw.line().await.starts_with("{w}k"));
    }

    c.control.migrate(slot, &src.id, &dst.id).await;
    c.control.wait_moves_done().await;
    c.wait_converged().await;
    let mut target = dst.raw().await;
    target.call(&count, ":1500\r\n").await;
    raw.call(&count, ":0\r\n").await;
    for i in (0..1500).step_by(97) {
        let key = format!("{{w}}k{i}");
        target.send(&["GET", &key]).await;
        assert_eq!(target.line().await, "$1000\r\n");
        assert_eq!(target.line().await, format!("{value}\r\n"));
        raw.call(&["GET", &key], &format!("-MOVED {slot} {}\r\n", dst.addr))
            .await;
    }
}

/// Tiered source killed (-9) while a batch is in flight: the keys it sent were deleted in
/// memory but their deletion is held back from the warm tier until the target acknowledges,
/// so the restarted source still has them; the migration then ends with every key on exactly
/// one node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiered_source_killed_with_a_batch_in_flight_loses_nothing() {
    let env = [("AUTOCACHE_STORAGE", "tiered")];
    let mut c = Cluster::start_with_env(2, &env).await;
    assign_all_to_first(&c).await;
    let slot = key_slot(b"t");
    let mut raw = c.nodes[0].raw().await;
    write_slot_keys(&mut raw).await;
    let dirty = |n: &'static str| {
        let src = &c.nodes[0];
        async move {
            src.cmd_string(&["INFO", "tiers"])
                .await
                .contains(&format!("\r\ndirty_keys:{n}\r\n"))
        }
    };
    wait_for("the writes flushed", Duration::from_secs(30), || dirty("0")).await;

    start_a_stuck_batch(&c, slot).await;
    // Two more flusher passes, each seen through a write of its own: the 500 deletions
    // stay unflushed while their batch is unacknowledged.
    for other in ["other1", "other2"] {
        raw.call(&["SET", other, "x"], "+OK\r\n").await;
        let what = "a flusher pass that leaves the 500 in-flight deletions unflushed";
        wait_for(what, Duration::from_secs(30), || dirty("500")).await;
    }
    c.nodes[0].signal("KILL");
    let dir = c.nodes[0].dir.clone();
    c.nodes[0] = harness::Node::start_with_env(c.control.addr, &dir, &env).await;
    c.nodes[1].signal("CONT");
    assert_slot_whole(&c, slot).await;
}

/// The target killed (-9) while a batch is in flight and restarted on its addresses (as a
/// StatefulSet pod comes back under its name): the migration resumes or rolls back, and
/// every key ends on exactly one node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_killed_with_a_batch_in_flight_loses_nothing() {
    let env = [("AUTOCACHE_STORAGE", "tiered")];
    let mut c = Cluster::start_with_env(2, &env).await;
    assign_all_to_first(&c).await;
    let slot = key_slot(b"t");
    let mut raw = c.nodes[0].raw().await;
    write_slot_keys(&mut raw).await;
    start_a_stuck_batch(&c, slot).await;
    c.nodes[1].signal("KILL");
    let (dir, addr, grpc) = (c.nodes[1].dir.clone(), c.nodes[1].addr, c.nodes[1].grpc);
    c.nodes[1] = harness::Node::start_on(c.control.addr, &dir, &env, addr, grpc).await;
    assert_slot_whole(&c, slot).await;
}
