//! The operator's real control client (`GrpcControl`) against a real control service on
//! 127.0.0.1: the view it builds, and rebalance, drain and forget as the operator uses them.

mod common;

use autocache_control::operator::control_api::{ControlApi, ControlError, GrpcControl};
use autocache_proto::pb::control as cpb;
use common::{slot_range, wait_until, FakeNode, Mode, TestControl};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_view_and_rebalance_of_a_fresh_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let control = TestControl::start(dir.path()).await;
    let endpoint = control.addr.to_string();

    let view = GrpcControl.status(&endpoint).await.unwrap();
    assert_eq!((view.epoch, view.nodes.len()), (0, 0));

    let a = FakeNode::start(&control, "a", Mode::Done).await;
    let b = FakeNode::start(&control, "b", Mode::Done).await;
    let view = GrpcControl.status(&endpoint).await.unwrap();
    assert_eq!(view.epoch, 2);
    let ids: Vec<_> = view.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    let node_a = view
        .node_at(&a.resp_addr)
        .expect("found by announced address");
    assert_eq!(
        (node_a.id.as_str(), node_a.healthy, node_a.slots),
        ("a", true, 0)
    );

    // Nothing owned yet: rebalance assigns every slot directly, evenly.
    GrpcControl.rebalance(&endpoint).await.unwrap();
    let view = GrpcControl.status(&endpoint).await.unwrap();
    assert_eq!(view.slots_assigned(), 16384);
    assert_eq!(view.node_at(&b.resp_addr).unwrap().slots, 8192);
    assert!(view.moves.is_empty());
    assert_eq!(view.epoch, 3);

    // Forgetting a node that owns slots is refused with control's words.
    let err = GrpcControl.forget(&endpoint, "b").await.unwrap_err();
    assert_eq!(
        err,
        ControlError {
            endpoint: endpoint.clone(),
            message: "node b still owns 8192 slots".into()
        }
    );
    control.stop().await;

    // Nothing listens any more.
    let err = GrpcControl.status(&endpoint).await.unwrap_err();
    assert_eq!(err.endpoint, endpoint);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_empties_a_node_which_can_then_be_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let control = TestControl::start(dir.path()).await;
    let endpoint = control.addr.to_string();
    let a = FakeNode::start(&control, "a", Mode::Done).await;
    // b streams only when the test says so: the drain is seen in flight first.
    let b = FakeNode::start(&control, "b", Mode::Manual).await;
    // b owns only three slots, so its drain is three quick migrations.
    let mut client = control.client().await;
    for (range, node) in [(slot_range(0, 16380), "a"), (slot_range(16381, 16383), "b")] {
        let req = cpb::AssignSlotsRequest {
            ranges: vec![range],
            node: node.into(),
        };
        client.assign_slots(req).await.unwrap();
    }

    GrpcControl.drain(&endpoint, "b").await.unwrap();
    let view = GrpcControl.status(&endpoint).await.unwrap();
    assert!(view.moving("b"), "{view:?}");
    assert!(!view.moving("c"));
    wait_until("b asked to stream its 3 slots", || async {
        b.calls().len() == 3
    })
    .await;
    for call in b.calls() {
        assert!(b.report(&call, true).await);
    }
    control.wait_moves_done().await;
    let view = GrpcControl.status(&endpoint).await.unwrap();
    assert_eq!(view.node_at(&b.resp_addr).unwrap().slots, 0);
    assert_eq!(view.node_at(&a.resp_addr).unwrap().slots, 16384);

    GrpcControl.forget(&endpoint, "b").await.unwrap();
    let view = GrpcControl.status(&endpoint).await.unwrap();
    assert!(view.node_at(&b.resp_addr).is_none());
    assert_eq!(view.nodes.len(), 1);
    control.stop().await;
}
