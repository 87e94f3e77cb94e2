//! Registration, heartbeats, failure detection and the slot map watch, against the control
//! service over real gRPC.

mod common;

use std::time::Duration;

use autocache_proto::pb::control as cpb;
use autocache_proto::slotmap::{Health, SlotMap};
use common::*;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_keeps_identity_and_slots() {
    let dir = tempfile::tempdir().unwrap();
    let control = TestControl::start(dir.path()).await;
    let a = FakeNode::start(&control, "node-a", Mode::Manual).await;
    let b = FakeNode::start(&control, "node-b", Mode::Manual).await;
    let map = SlotMap::from_proto(&b.register().await).unwrap();
    assert_eq!(
        map.epoch, 2,
        "two joins, two epochs; a repeated identical register changes nothing"
    );
    assert_eq!(map.nodes.len(), 2);
    assert_eq!(map.nodes[0].id, "node-a");
    assert_eq!(map.nodes[1].grpc_addr, b.grpc_addr.to_string());
    assert_eq!(map.nodes[1].health, Health::Healthy);

    let mut client = control.client().await;
    let req = cpb::AssignSlotsRequest {
        ranges: vec![slot_range(0, 99)],
        node: "node-a".into(),
    };
    assert_eq!(
        client.assign_slots(req).await.unwrap().into_inner().epoch,
        3
    );

    // Same id, new RESP address: same index, same slots, new epoch.
    let req = cpb::RegisterRequest {
        node_id: "node-a".into(),
        resp_addr: "127.0.0.1:1".into(),
        grpc_addr: a.grpc_addr.to_string(),
    };
    let map = client
        .register(req)
        .await
        .unwrap()
        .into_inner()
        .map
        .unwrap();
    let map = SlotMap::from_proto(&map).unwrap();
    assert_eq!(map.epoch, 4);
    assert_eq!(map.nodes[0].resp_addr, "127.0.0.1:1");
    assert_eq!(ranges_of(&map, "node-a"), vec![(0, 99)]);
    assert_eq!(map.nodes.len(), 2);
    control.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_needs_registration_and_returns_the_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let control = TestControl::start(dir.path()).await;
    let mut client = control.client().await;
    let req = cpb::HeartbeatRequest {
        node_id: "stranger".into(),
        epoch: 0,
        migrations: vec![],
    };
    let err = client.heartbeat(req).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.message(), "unknown node stranger");

    let a = FakeNode::start(&control, "node-a", Mode::Manual).await;
    assert_eq!(a.heartbeat().await, 1);
    let req = cpb::RegisterRequest {
        node_id: String::new(),
        resp_addr: "127.0.0.1:1".into(),
        grpc_addr: "127.0.0.1:2".into(),
    };
    let err = client.register(req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    control.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_node_fails_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    // node-b beats every 30 ms and must never be taken for failed: 300 ms was once too
    // little on a starved box (load average 16), and the epoch counted b's failure too.
    let control = TestControl::with(dir.path(), |c| c.node_timeout = Duration::from_secs(1)).await;
    let a = FakeNode::start(&control, "node-a", Mode::Manual).await;
    let b = FakeNode::start(&control, "node-b", Mode::Manual).await;
    let alive = b.keep_alive();
    let mut client = control.client().await;
    client
        .assign_slots(cpb::AssignSlotsRequest {
            ranges: vec![slot_range(0, 9)],
            node: "node-a".into(),
        })
        .await
        .unwrap();
    let before = control.map().await.epoch;

    wait_until("node-a to fail", || async {
        control.map().await.node_by_id("node-a").unwrap().1.health == Health::Failed
    })
    .await;
    let map = control.map().await;
    assert_eq!(map.epoch, before + 1, "one epoch for the failure");
    assert_eq!(map.node_by_id("node-b").unwrap().1.health, Health::Healthy);
    assert_eq!(
        ranges_of(&map, "node-a"),
        vec![(0, 9)],
        "a failed node keeps its slots"
    );

    // Slots of a failed node may be reassigned by hand.
    let reply = client
        .assign_slots(cpb::AssignSlotsRequest {
            ranges: vec![slot_range(0, 4)],
            node: "node-b".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.slots_assigned, 5);

    let epoch = a.heartbeat().await;
    assert_eq!(epoch, before + 3, "coming back is a new epoch");
    let map = control.map().await;
    assert_eq!(map.node_by_id("node-a").unwrap().1.health, Health::Healthy);
    assert_eq!(ranges_of(&map, "node-a"), vec![(5, 9)]);
    assert_eq!(ranges_of(&map, "node-b"), vec![(0, 4)]);
    alive.abort();
    control.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_target_rolls_back_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    let control = TestControl::with(dir.path(), |c| {
        c.node_timeout = Duration::from_millis(300);
        c.max_migrations = 8;
    })
    .await;
    let a = FakeNode::start(&control, "node-a", Mode::Manual).await;
    let b = FakeNode::start(&control, "node-b", Mode::Manual).await;
    let alive = a.keep_alive();
    let b_alive = b.keep_alive();
    let mut client = control.client().await;
    client
        .assign_slots(cpb::AssignSlotsRequest {
            ranges: vec![slot_range(0, 9)],
            node: "node-a".into(),
        })
        .await
        .unwrap();
    client
        .migrate_slots(cpb::MigrateSlotsRequest {
            ranges: vec![slot_range(0, 9)],
            source: "node-a".into(),
            target: "node-b".into(),
        })
        .await
        .unwrap();
    wait_until("8 migrations to start", || async { a.calls().len() == 8 }).await;
    assert_eq!(control.map().await.migrations().len(), 8);

    // node-b goes silent: it fails, its migrations roll back and the queue is dropped.
    b_alive.abort();
    wait_until("node-b to fail", || async {
        control.map().await.node_by_id("node-b").unwrap().1.health == Health::Failed
    })
    .await;
    let map = control.map().await;
    assert!(map.migrations().is_empty());
    assert!(control.status().await.moves.is_empty());
    assert_eq!(ranges_of(&map, "node-a"), vec![(0, 9)]);
    // A late report from the source is stale now.
    assert!(!a.report(&a.calls()[0], true).await);
    assert_eq!(ranges_of(&control.map().await, "node-a"), vec![(0, 9)]);
    alive.abort();
    control.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_sends_the_current_map_then_each_epoch_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let control = TestControl::start(dir.path()).await;
    let _a = FakeNode::start(&control, "node-a", Mode::Manual).await;
    let mut client = control.client().await;
    let mut stream = client
        .watch_slot_map(cpb::WatchRequest {
            watcher: "test".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap();
    assert_eq!(first.epoch, 1);
    assert_eq!(first.nodes[0].id, "node-a");

    let _b = FakeNode::start(&control, "node-b", Mode::Manual).await;
    let _c = FakeNode::start(&control, "node-c", Mode::Manual).await;
    for (i, node) in ["node-a", "node-b", "node-c"].iter().enumerate() {
        let start = i as u32 * 100;
        client
            .assign_slots(cpb::AssignSlotsRequest {
                ranges: vec![slot_range(start, start + 99)],
                node: node.to_string(),
            })
            .await
            .unwrap();
    }
    let last = control.map().await;
    assert_eq!(last.epoch, 6);

    // Epochs arrive increasing (a slow reader may see some coalesced), ending at the last.
    let mut seen = vec![first.epoch];
    while *seen.last().unwrap() < last.epoch {
        let msg = stream.message().await.unwrap().unwrap();
        assert!(
            msg.epoch > *seen.last().unwrap(),
            "epochs out of order: {seen:?} then {}",
            msg.epoch
        );
        seen.push(msg.epoch);
        if msg.epoch == last.epoch {
            assert_eq!(SlotMap::from_proto(&msg).unwrap(), last);
        }
    }

    // A new watcher gets the current map at once.
    let mut late = client
        .watch_slot_map(cpb::WatchRequest::default())
        .await
        .unwrap()
        .into_inner();
    let now = late.message().await.unwrap().unwrap();
    assert_eq!(SlotMap::from_proto(&now).unwrap(), last);
    control.stop().await;
    // The stream ends with the server.
    assert!(matches!(stream.message().await, Ok(None) | Err(_)));
}
