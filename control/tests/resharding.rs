//! Assign, migrate, rebalance, drain and forget, with fake nodes answering StartMigration
//! over real gRPC, and the state surviving a control restart mid-migration.

mod common;

use autocache_proto::pb::control as cpb;
use autocache_proto::slotmap::SlotMap;
use common::*;
use tonic::Code;

async fn assign(
    control: &TestControl,
    start: u32,
    end: u32,
    node: &str,
) -> Result<cpb::AdminReply, tonic::Status> {
    let req = cpb::AssignSlotsRequest {
        ranges: vec![slot_range(start, end)],
        node: node.into(),
    };
    control
        .client()
        .await
        .assign_slots(req)
        .await
        .map(|r| r.into_inner())
}

async fn migrate(
    control: &TestControl,
    start: u32,
    end: u32,
    from: &str,
    to: &str,
) -> Result<cpb::AdminReply, tonic::Status> {
    let req = cpb::MigrateSlotsRequest {
        ranges: vec![slot_range(start, end)],
        source: from.into(),
        target: to.into(),
    };
    control
        .client()
        .await
        .migrate_slots(req)
        .await
        .map(|r| r.into_inner())
}

async fn rebalance(control: &TestControl) -> cpb::AdminReply {
    control
        .client()
        .await
        .rebalance(cpb::RebalanceRequest {})
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assign_sets_exact_owners_and_refuses_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let control = TestControl::start(dir.path()).await;
    let _a = FakeNode::start(&control, "node-a", Mode::Manual).await;
    let _b = FakeNode::start(&control, "node-b", Mode::Manual).await;
    let reply = assign(&control, 0, 99, "node-a").await.unwrap();
    assert_eq!(
        (reply.epoch, reply.slots_assigned, reply.slots_queued),
        (3, 100, 0)
    );
    assert_eq!(reply.message, "100 slots assigned");

    let err = assign(&control, 50, 150, "node-b").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(err.message(), "slot 50 is already owned by node node-a");
    let err = assign(&control, 0, 1, "nobody").await.unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::NotFound, "unknown node nobody")
    );
    let err = assign(&control, 10, 16384, "node-b").await.unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::InvalidArgument, "slot 16384 out of range")
    );
    let err = assign(&control, 0, 1, "node-").await.unwrap_err();
    assert_eq!(err.message(), "node name node- is ambiguous");

    // A unique prefix names a node; re-assigning own slots changes nothing.
    let reply = assign(&control, 100, 199, "node-b").await.unwrap();
    assert_eq!(reply.epoch, 4);
    let reply = assign(&control, 100, 149, "node-b").await.unwrap();
    assert_eq!((reply.epoch, reply.slots_assigned), (4, 0));
    let map = control.map().await;
    assert_eq!(ranges_of(&map, "node-a"), vec![(0, 99)]);
    assert_eq!(ranges_of(&map, "node-b"), vec![(100, 199)]);
    assert_eq!(map.owner(200), None);
    control.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_run_eight_at_a_time_through_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let control = TestControl::with(dir.path(), |c| c.max_migrations = 8).await;
    let a = FakeNode::start(&control, "node-a", Mode::Manual).await;
    let b = FakeNode::start(&control, "node-b", Mode::Manual).await;
    assign(&control, 0, 19, "node-a").await.unwrap();
    let err = migrate(&control, 0, 20, "node-a", "node-b")
        .await
        .unwrap_err();
    assert_eq!(err.message(), "slot 20 is not owned by node node-a");
    let err = migrate(&control, 0, 1, "node-a", "node-a")
        .await
        .unwrap_err();
    assert_eq!(err.message(), "source and target are the same node");
    let reply = migrate(&control, 0, 19, "node-a", "node-b").await.unwrap();
    assert_eq!(reply.slots_queued, 20);

    wait_until("8 StartMigration calls", || async { a.calls().len() == 8 }).await;
    let calls = a.calls();
    let map = control.map().await;
    let epoch = map.epoch;
    let mut slots: Vec<u32> = calls.iter().map(|c| c.slot).collect();
    slots.sort_unstable();
    assert_eq!(slots, (0..8).collect::<Vec<_>>());
    for c in &calls {
        assert_eq!((c.target_id.as_str(), c.epoch), ("node-b", epoch));
        assert_eq!(c.target_grpc_addr, b.grpc_addr.to_string());
    }
    // One epoch marks all eight: MIGRATING on a, IMPORTING on b; the owner is still a.
    assert_eq!(map.migrations().len(), 8);
    assert!(map
        .migrations()
        .iter()
        .all(|m| m.source == 0 && m.target == 1 && m.epoch == epoch));
    assert_eq!(ranges_of(&map, "node-a"), vec![(0, 19)]);
    let status = control.status().await;
    let states: Vec<i32> = status.moves.iter().map(|m| m.state).collect();
    assert_eq!(
        states
            .iter()
            .filter(|s| **s == cpb::MoveState::Active as i32)
            .count(),
        8
    );
    assert_eq!(
        states
            .iter()
            .filter(|s| **s == cpb::MoveState::Queued as i32)
            .count(),
        12
    );
    assert!(!b.report(&calls[0], true).await, "only the source reports");

    // Progress from the source's heartbeat shows in Status (other slots and nodes ignored).
    a.heartbeat_with(&[(0, 42), (15, 7)]).await;
    b.heartbeat_with(&[(1, 9)]).await;
    let status = control.status().await;
    let keys: Vec<(u32, u64)> = status.moves.iter().map(|m| (m.slot, m.keys_sent)).collect();
    assert_eq!(keys[..3], [(0, 42), (1, 0), (2, 0)]);
    assert_eq!(keys[15], (15, 0));

    // Each report flips one slot in a new epoch and lets the next queued move start.
    assert!(a.report(&calls[0], true).await);
    let map = control.map().await;
    assert_eq!(map.owner(calls[0].slot as u16), Some(1));
    wait_until("the 9th call", || async { a.calls().len() == 9 }).await;
    assert_eq!(a.calls()[8].slot, 8);

    a.set_mode(Mode::Done);
    for c in &a.calls()[1..] {
        assert!(a.report(c, true).await);
    }
    control.wait_moves_done().await;
    let map = control.map().await;
    assert_eq!(ranges_of(&map, "node-b"), vec![(0, 19)]);
    assert!(ranges_of(&map, "node-a").is_empty());
    assert!(map.migrations().is_empty());
    assert_eq!(a.calls().len(), 20);
    control.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_or_unreachable_migrations_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let control = TestControl::start(dir.path()).await;
    let a = FakeNode::start(&control, "node-a", Mode::Fail).await;
    let _b = FakeNode::start(&control, "node-b", Mode::Manual).await;
    assign(&control, 0, 3, "node-a").await.unwrap();
    migrate(&control, 0, 3, "node-a", "node-b").await.unwrap();
    wait_until("4 calls", || async { a.calls().len() == 4 }).await;
    control.wait_moves_done().await;
    let map = control.map().await;
    assert_eq!(ranges_of(&map, "node-a"), vec![(0, 3)]);
    assert!(map.migrations().is_empty());

    // A source whose gRPC address does not answer: StartMigration fails, roll back.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let mut client = control.client().await;
    client
        .register(cpb::RegisterRequest {
            node_id: "node-dead".into(),
            resp_addr: "127.0.0.1:1".into(),
            grpc_addr: dead_addr,
        })
        .await
        .unwrap();
    assign(&control, 100, 101, "node-dead").await.unwrap();
    migrate(&control, 100, 101, "node-dead", "node-b")
        .await
        .unwrap();
    control.wait_moves_done().await;
    let map = control.map().await;
    assert_eq!(ranges_of(&map, "node-dead"), vec![(100, 101)]);
    assert!(map.migrations().is_empty());
    control.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebalance_assigns_an_empty_cluster_then_feeds_a_new_node() {
    let dir = tempfile::tempdir().unwrap();
    let control = TestControl::start(dir.path()).await;
    let _a = FakeNode::start(&control, "node-a", Mode::Done).await;
    let _b = FakeNode::start(&control, "node-b", Mode::Done).await;
    let reply = rebalance(&control).await;
    assert_eq!(
        (reply.slots_assigned, reply.slots_queued, reply.epoch),
        (16384, 0, 3)
    );
    let map = control.map().await;
    assert_eq!(ranges_of(&map, "node-a"), vec![(0, 8191)]);
    assert_eq!(ranges_of(&map, "node-b"), vec![(8192, 16383)]);
    assert_eq!(
        rebalance(&control).await.slots_queued,
        0,
        "balanced already"
    );

    let c = FakeNode::start(&control, "node-c", Mode::Done).await;
    let reply = rebalance(&control).await;
    assert_eq!((reply.slots_assigned, reply.slots_queued), (0, 5461));
    control.wait_moves_done().await;
    let map = control.map().await;
    // a keeps the extra slot; b (the larger surplus) gives its top, then a its top.
    assert_eq!(ranges_of(&map, "node-a"), vec![(0, 5461)]);
    assert_eq!(ranges_of(&map, "node-b"), vec![(8192, 13652)]);
    assert_eq!(
        ranges_of(&map, "node-c"),
        vec![(5462, 8191), (13653, 16383)]
    );
    assert_eq!(c.calls().len(), 0, "the target is never asked to start");
    control.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_empties_a_node_then_forget_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let control = TestControl::start(dir.path()).await;
    for id in ["node-a", "node-b", "node-c"] {
        FakeNode::start(&control, id, Mode::Done).await;
    }
    assign(&control, 0, 99, "node-a").await.unwrap();
    assign(&control, 100, 199, "node-b").await.unwrap();
    assign(&control, 200, 299, "node-c").await.unwrap();
    let mut client = control.client().await;
    let err = client
        .forget(cpb::ForgetRequest {
            node: "node-c".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.message(), "node node-c still owns 100 slots");

    let reply = client
        .drain(cpb::DrainRequest {
            node: "node-c".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((reply.slots_assigned, reply.slots_queued), (0, 100));
    control.wait_moves_done().await;
    let map = control.map().await;
    // Even split of the drained slots, one chunk per receiver, in node order.
    assert_eq!(ranges_of(&map, "node-a"), vec![(0, 99), (200, 249)]);
    assert_eq!(ranges_of(&map, "node-b"), vec![(100, 199), (250, 299)]);
    assert!(ranges_of(&map, "node-c").is_empty());

    let reply = client
        .forget(cpb::ForgetRequest {
            node: "node-c".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.epoch, map.epoch + 1);
    let after = control.map().await;
    assert_eq!(after.nodes.len(), 2);
    assert!(after.node_by_id("node-c").is_none());
    assert_eq!(ranges_of(&after, "node-b"), vec![(100, 199), (250, 299)]);
    let err = client
        .forget(cpb::ForgetRequest {
            node: "node-c".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    control.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_state_and_migrations_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let control = TestControl::with(dir.path(), |c| c.max_migrations = 8).await;
    let a = FakeNode::start(&control, "node-a", Mode::Manual).await;
    let b = FakeNode::start(&control, "node-b", Mode::Manual).await;
    assign(&control, 0, 99, "node-a").await.unwrap();
    assign(&control, 100, 199, "node-b").await.unwrap();
    migrate(&control, 0, 9, "node-a", "node-b").await.unwrap();
    wait_until("8 calls", || async { a.calls().len() == 8 }).await;
    let first = a.calls();
    // One finishes before the restart.
    assert!(a.report(&first[0], true).await);
    wait_until("the 9th call", || async { a.calls().len() == 9 }).await;
    let before = control.status().await;
    control.stop().await;
    assert!(dir.path().join("control-state.json").exists());

    let control = TestControl::with(dir.path(), |c| c.max_migrations = 8).await;
    a.set_control(&control);
    b.set_control(&control);
    let after = control.status().await;
    assert_eq!(after.map, before.map, "same map, same epoch");
    let moves = |s: &cpb::StatusReply| -> Vec<(u32, String, String, i32)> {
        s.moves
            .iter()
            .map(|m| (m.slot, m.source.clone(), m.target.clone(), m.state))
            .collect()
    };
    assert_eq!(moves(&after), moves(&before));
    assert_eq!(moves(&after).len(), 9);

    // The new control re-sends the 8 active migrations (same epochs); the source finishes
    // them against the new control and the queue drains.
    wait_until("8 re-sent calls", || async { a.calls().len() == 17 }).await;
    let resent = &a.calls()[9..];
    let active: Vec<(u32, u64)> = {
        let map = SlotMap::from_proto(after.map.as_ref().unwrap()).unwrap();
        map.migrations()
            .iter()
            .map(|m| (m.slot.into(), m.epoch))
            .collect()
    };
    let mut got: Vec<(u32, u64)> = resent.iter().map(|c| (c.slot, c.epoch)).collect();
    got.sort_unstable();
    assert_eq!(got, active);
    a.set_mode(Mode::Done);
    for c in resent {
        assert!(a.report(c, true).await);
    }
    control.wait_moves_done().await;
    let map = control.map().await;
    assert_eq!(ranges_of(&map, "node-a"), vec![(10, 99)]);
    assert_eq!(ranges_of(&map, "node-b"), vec![(0, 9), (100, 199)]);

    // And the finished state survives another restart.
    let epoch = map.epoch;
    control.stop().await;
    let control = TestControl::start(dir.path()).await;
    let map = control.map().await;
    assert_eq!(map.epoch, epoch);
    assert_eq!(ranges_of(&map, "node-b"), vec![(0, 9), (100, 199)]);
    control.stop().await;
}
