//! Cluster mode against real node processes and an in-process control: slot map serving,
//! MOVED/CROSSSLOT/CLUSTERDOWN texts, CLUSTER subcommands, the redis crate's cluster client
//! and `redis-cli --cluster check`.

use crate::cluster_harness as harness;

use autocache_proto::slot::key_slot;
use harness::{wait_for, Cluster, Node};
use redis::AsyncCommands;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unassigned_slots_answer_clusterdown() {
    let c = Cluster::start(1).await;
    let mut raw = c.nodes[0].raw().await;
    raw.call(&["GET", "foo"], "-CLUSTERDOWN Hash slot not served\r\n")
        .await;
    raw.call(&["PING"], "+PONG\r\n").await;
    raw.call(
        &["CLUSTER", "MYID"],
        &format!("$40\r\n{}\r\n", c.nodes[0].id),
    )
    .await;
    let info = c.nodes[0].cmd_string(&["CLUSTER", "INFO"]).await;
    assert!(
        info.starts_with("cluster_state:fail\r\ncluster_slots_assigned:0\r\n"),
        "{info}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_serve_by_slot() {
    let c = Cluster::start(3).await;
    c.rebalance().await;
    let map = c.control.map().await;
    for n in &c.nodes {
        let (i, _) = map.node_by_id(&n.id).unwrap();
        assert!(
            map.slot_count(i) > 5000,
            "node {} owns {}",
            n.id,
            map.slot_count(i)
        );
    }

    // The redis crate's cluster client writes and reads 10,000 keys.
    let mut cc = c.cluster_client().await;
    for i in 0..10_000 {
        let _: () = cc
            .set(format!("key:{i}"), format!("value:{i}"))
            .await
            .unwrap();
    }
    for i in (0..10_000).step_by(7) {
        let v: String = cc.get(format!("key:{i}")).await.unwrap();
        assert_eq!(v, format!("value:{i}"));
    }
    let mut total = 0;
    for n in &c.nodes {
        total += n.dbsize().await;
    }
    assert_eq!(total, 10_000, "every key stored exactly once");

    // MOVED from a node that does not own the slot, byte-exact.
    let slot = key_slot(b"foo");
    let owner = c.owner_of(slot).await;
    let other = c.nodes.iter().find(|n| n.id != owner.id).unwrap();
    let mut raw = other.raw().await;
    raw.call(
        &["GET", "foo"],
        &format!("-MOVED {slot} {}\r\n", owner.addr),
    )
    .await;
    let mut raw_owner = owner.raw().await;
    raw_owner.call(&["SET", "foo", "bar"], "+OK\r\n").await;
    raw_owner.call(&["GET", "foo"], "$3\r\nbar\r\n").await;

    // Keys in different slots; the same slot through a hash tag.
    raw.call(
        &["MSET", "a", "1", "b", "2"],
        "-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    )
    .await;
    let tag_owner = c.owner_of(key_slot(b"t")).await;
    let mut raw_tag = tag_owner.raw().await;
    raw_tag
        .call(&["MSET", "{t}a", "1", "{t}b", "2"], "+OK\r\n")
        .await;
    raw_tag
        .call(&["MGET", "{t}a", "{t}b"], "*2\r\n$1\r\n1\r\n$1\r\n2\r\n")
        .await;

    // Subcommands' keys count too.
    raw.call(
        &["OBJECT", "ENCODING", "foo"],
        &format!("-MOVED {slot} {}\r\n", owner.addr),
    )
    .await;

    // Keyless commands run anywhere; SELECT only 0.
    raw.call(&["PING"], "+PONG\r\n").await;
    raw.call(&["SELECT", "0"], "+OK\r\n").await;
    raw.call(
        &["SELECT", "1"],
        "-ERR SELECT is not allowed in cluster mode\r\n",
    )
    .await;
    raw.call(&["READONLY"], "+OK\r\n").await;
    raw.call(&["READWRITE"], "+OK\r\n").await;
    raw.call(&["CLUSTER", "KEYSLOT", "foo"], ":12182\r\n").await;
    raw_owner
        .call(&["CLUSTER", "COUNTKEYSINSLOT", "12182"], ":1\r\n")
        .await;
    raw_owner
        .call(
            &["CLUSTER", "GETKEYSINSLOT", "12182", "10"],
            "*1\r\n$3\r\nfoo\r\n",
        )
        .await;
    raw.call(
        &["CLUSTER", "COUNTKEYSINSLOT", "16384"],
        "-ERR Invalid slot\r\n",
    )
    .await;
    raw.call(
        &["CLUSTER", "GETKEYSINSLOT", "1", "-1"],
        "-ERR Invalid slot or number of keys\r\n",
    )
    .await;

    // CLUSTER INFO / NODES / SLOTS agree with control's map.
    let info = other.cmd_string(&["CLUSTER", "INFO"]).await;
    let epoch = map.epoch;
    for field in [
        "cluster_state:ok\r\n".to_string(),
        "cluster_slots_assigned:16384\r\n".into(),
        "cluster_known_nodes:3\r\n".into(),
        "cluster_size:3\r\n".into(),
        format!("cluster_current_epoch:{epoch}\r\n"),
    ] {
        assert!(info.contains(&field), "{field:?} missing in {info}");
    }
    let nodes = other.cmd_string(&["CLUSTER", "NODES"]).await;
    let (me, _) = map.node_by_id(&other.id).unwrap();
    assert_eq!(nodes, map.cluster_nodes(Some(me)));
    assert!(nodes.contains("myself,master"));
    let slots: Vec<(i64, i64, Vec<redis::Value>)> = {
        let mut conn = redis::Client::open(other.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let v: Vec<redis::Value> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(&mut conn)
            .await
            .unwrap();
        v.into_iter()
            .map(|r| {
                let redis::Value::Array(items) = r else {
                    panic!("range")
                };
                let start = redis::from_redis_value(items[0].clone()).unwrap();
                let end = redis::from_redis_value(items[1].clone()).unwrap();
                (start, end, items[2..].to_vec())
            })
            .collect()
    };
    let covered: i64 = slots.iter().map(|(s, e, _)| e - s + 1).sum();
    assert_eq!(covered, 16384);

    // ASKING outside an import changes nothing: still MOVED, and it answers +OK.
    raw.call(&["ASKING"], "+OK\r\n").await;
    raw.call(
        &["GET", "foo"],
        &format!("-MOVED {slot} {}\r\n", owner.addr),
    )
    .await;

    // A redirected command inside MULTI aborts the transaction.
    raw.call(&["MULTI"], "+OK\r\n").await;
    raw.call(
        &["GET", "foo"],
        &format!("-MOVED {slot} {}\r\n", owner.addr),
    )
    .await;
    raw.call(
        &["EXEC"],
        "-EXECABORT Transaction discarded because of previous errors.\r\n",
    )
    .await;

    redis_cli_check(&c.nodes[0]).await;
}

/// `redis-cli --cluster check` against one node: exits 0 when slots are covered and every
/// node agrees on the configuration.
async fn redis_cli_check(node: &Node) {
    let out = tokio::process::Command::new("redis-cli")
        .args(["--cluster", "check", &node.addr.to_string()])
        .output()
        .await
        .expect("redis-cli is installed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "redis-cli --cluster check failed:\n{text}"
    );
    assert!(text.contains("[OK] All 16384 slots covered."), "{text}");
}

/// The proxy's data path: a batch over `Execute` answers each command in the client's RESP
/// version, or with a structured redirect; `NodeInfo` counts keys per slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_batches_and_node_info_over_grpc() {
    use autocache_proto::pb::node::{self as npb, node_client::NodeClient, redirect, reply};
    let c = Cluster::start(2).await;
    c.rebalance().await;
    let slot = key_slot(b"foo");
    let owner = c.owner_of(slot).await;
    let other = c.nodes.iter().find(|n| n.id != owner.id).unwrap();
    let mut client = NodeClient::connect(format!("http://{}", owner.grpc))
        .await
        .unwrap();
    let cmd = |id: u64, args: &[&str], resp_version: u32, asking: bool| npb::Command {
        id,
        args: args.iter().map(|a| a.as_bytes().to_vec().into()).collect(),
        resp_version,
        asking,
        ..Default::default()
    };
    let raw = |id: u64, bytes: &'static [u8]| npb::Command {
        id,
        raw: bytes::Bytes::from_static(bytes),
        resp_version: 2,
        ..Default::default()
    };
    let map = c.control.map().await;
    let other_key = (0..)
        .map(|i| format!("k{i}"))
        .find(|k| map.owner_node(key_slot(k.as_bytes())).unwrap().id == other.id)
        .unwrap();
    let batch = npb::CommandBatch {
        commands: vec![
            cmd(1, &["HSET", "foo", "f", "v"], 2, false),
            cmd(2, &["HGETALL", "foo"], 2, false),
            cmd(3, &["HGETALL", "foo"], 3, false),
            cmd(4, &["GET", &other_key], 2, false),
            cmd(5, &["PING"], 2, false),
            // As the proxy forwards them: the client's own bytes, multibulk or inline.
            raw(6, b"*2\r\n$4\r\nHGET\r\n$3\r\nfoo\r\n"),
            raw(7, b"*3\r\n$4\r\nHGET\r\n$3\r\nfoo\r\n$1\r\nf\r\n"),
            raw(8, b"ECHO \"a b\"\r\n"),
            raw(9, b"*2\r\n$3\r\nGET\r\n"),
        ],
        // A client's pipeline for this node in one piece (after the commands).
        pipelines: vec![
            npb::Pipeline {
                requests: format!(
                    "*3\r\n$4\r\nHGET\r\n$3\r\nfoo\r\n$1\r\nf\r\n*2\r\n$3\r\nGET\r\n${}\r\n{}\r\nECHO \"a b\"\r\nPING\r\n",
                    other_key.len(),
                    other_key
                )
                .into(),
                resp_version: 2,
            },
            npb::Pipeline {
                requests: bytes::Bytes::from_static(b"*2\r\n$7\r\nHGETALL\r\n$3\r\nfoo\r\n"),
                resp_version: 3,
            },
            npb::Pipeline {
                requests: bytes::Bytes::from_static(b"PING\r\n*2\r\n$3\r\nGET\r\n"),
                resp_version: 2,
            },
        ],
    };
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(batch).await.unwrap();
    let mut replies = client
        .execute(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let batch = replies.message().await.unwrap().unwrap();
    let got = batch.replies;
    drop(tx);
    let resp = |r: &npb::Reply| match &r.result {
        Some(reply::Result::Resp(b)) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("expected RESP bytes, got {other:?}"),
    };
    assert_eq!(
        got.iter().map(|r| r.id).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6, 7, 8, 9]
    );
    assert_eq!(resp(&got[0]), ":1\r\n");
    assert_eq!(resp(&got[1]), "*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(resp(&got[2]), "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
    let other_slot = key_slot(other_key.as_bytes());
    match &got[3].result {
        Some(reply::Result::Redirect(r)) => {
            assert_eq!(r.kind, redirect::Kind::Moved as i32);
            assert_eq!(r.slot, u32::from(other_slot));
            assert_eq!(r.address, other.addr.to_string());
        }
        other => panic!("expected a redirect, got {other:?}"),
    }
    assert_eq!(resp(&got[4]), "+PONG\r\n");
    assert_eq!(
        resp(&got[5]),
        "-ERR wrong number of arguments for 'hget' command\r\n"
    );
    assert_eq!(resp(&got[6]), "$1\r\nv\r\n");
    assert_eq!(resp(&got[7]), "$3\r\na b\r\n");
    assert_eq!(resp(&got[8]), "-ERR Protocol error: incomplete request\r\n");
    // Pipelines: the replies back to back, where each ends, and the redirected ones apart.
    let piped = &batch.pipelines;
    assert_eq!(piped.len(), 3);
    assert_eq!(&piped[0].resp[..], b"$1\r\nv\r\n$3\r\na b\r\n+PONG\r\n");
    assert_eq!(piped[0].ends, [7, 7, 16, 23]);
    assert_eq!(piped[0].redirected, [1]);
    assert_eq!(piped[0].redirects[0].kind, redirect::Kind::Moved as i32);
    assert_eq!(piped[0].redirects[0].slot, u32::from(other_slot));
    assert_eq!(piped[0].redirects[0].address, other.addr.to_string());
    assert_eq!(&piped[1].resp[..], b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(piped[1].ends, [piped[1].resp.len() as u32]);
    assert!(piped[1].redirected.is_empty());
    assert_eq!(
        &piped[2].resp[..],
        b"+PONG\r\n-ERR Protocol error: incomplete request\r\n"
    );
    assert_eq!(piped[2].ends, [7, piped[2].resp.len() as u32]);

    let info = client
        .node_info(npb::NodeInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.id, owner.id);
    assert_eq!(info.epoch, map.epoch);
    assert_eq!(
        info.slots,
        vec![npb::SlotKeys {
            slot: slot.into(),
            keys: 1
        }]
    );
}

/// A proxy session blocked in BLPOP whose stream closes (its client hung up) leaves the
/// key's wait queue at once: the next push is not taken by a waiter nobody reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_grpc_session_that_closes_stops_waiting() {
    use autocache_proto::pb::node::{self as npb, node_client::NodeClient};
    let c = Cluster::start(1).await;
    c.rebalance().await;
    let node = &c.nodes[0];
    let mut client = NodeClient::connect(format!("http://{}", node.grpc))
        .await
        .unwrap();
    let blpop = npb::Command {
        id: 1,
        args: ["BLPOP", "{q}list", "0"]
            .iter()
            .map(|a| a.as_bytes().to_vec().into())
            .collect(),
        resp_version: 2,
        asking: false,
        ..Default::default()
    };
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(npb::CommandBatch {
        commands: vec![blpop],
        ..Default::default()
    })
    .await
    .unwrap();
    let replies = client
        .execute(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let blocked = |n: &'static str| async move {
        node.cmd_string(&["INFO", "clients"])
            .await
            .contains(&format!("blocked_clients:{n}\r\n"))
    };
    wait_for("the session to block", Duration::from_secs(10), || {
        blocked("1")
    })
    .await;
    drop(replies);
    drop(tx);
    wait_for(
        "the closed session to leave",
        Duration::from_secs(10),
        || blocked("0"),
    )
    .await;
    let mut raw = node.raw().await;
    raw.call(&["RPUSH", "{q}list", "x"], ":1\r\n").await;
    raw.call(&["LLEN", "{q}list"], ":1\r\n").await;
}
