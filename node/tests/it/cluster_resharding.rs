//! Resharding under load with real node processes: adding a node and rebalancing while a
//! cluster client keeps writing and reading, draining a node, and control going away (and
//! coming back) in the middle of migrations. Every acknowledged write must end up present
//! exactly once.

use crate::cluster_harness as harness;

use autocache_proto::pb::control as cpb;
use harness::{Cluster, Control};
use redis::AsyncCommands;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Writes `key:<i>` = `value:<i>` from `start` on until `stop` is set (and at least `min`
/// keys); reads back every tenth key as it goes. Returns the acknowledged indexes and how
/// many writes failed (whose outcome is unknown).
async fn writer(
    mut cc: redis::cluster_async::ClusterConnection,
    start: usize,
    min: usize,
    stop: Arc<AtomicBool>,
) -> (Vec<usize>, usize) {
    let mut acked = Vec::new();
    let mut failed = 0;
    let mut i = start;
    // Bounded: a hang guard, far above what the tests need.
    while i < start + 200_000 && (acked.len() < min || !stop.load(Ordering::Relaxed)) {
        let r: redis::RedisResult<()> = cc.set(format!("key:{i}"), format!("value:{i}")).await;
        match r {
            Ok(()) => acked.push(i),
            Err(_) => failed += 1,
        }
        if i.is_multiple_of(10) && acked.last() == Some(&i) {
            let v: String = cc.get(format!("key:{i}")).await.unwrap();
            assert_eq!(v, format!("value:{i}"), "read back during resharding");
        }
        i += 1;
    }
    (acked, failed)
}

/// Every acknowledged key readable with its value; the nodes together hold each key once.
async fn verify(c: &Cluster, acked: &[usize], failed: usize) {
    let mut cc = c.cluster_client().await;
    for &i in acked {
        let v: Option<String> = cc.get(format!("key:{i}")).await.unwrap();
        assert_eq!(v.as_deref(), Some(format!("value:{i}").as_str()), "key:{i}");
    }
    let mut total = 0;
    for n in &c.nodes {
        total += n.dbsize().await as usize;
    }
    assert!(
        total >= acked.len() && total <= acked.len() + failed,
        "{total} keys stored for {} acknowledged writes ({failed} failed)",
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_node_under_load_loses_nothing() {
    let mut c = Cluster::start(3).await;
    c.rebalance().await;
    let stop = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(writer(c.cluster_client().await, 0, 3000, stop.clone()));
    let added = c.add_node().await;
    c.rebalance().await;
    stop.store(true, Ordering::Relaxed);
    let (acked, failed) = task.await.unwrap();
    let map = c.control.map().await;
    let (i, _) = map.node_by_id(&c.nodes[added].id).unwrap();
    assert!(map.slot_count(i) >= 4000, "the new node got its share");
    assert!(
        c.nodes[added].dbsize().await > 0,
        "data moved to the new node"
    );
    verify(&c, &acked, failed).await;

    // Draining a node moves everything off it.
    let drained = c.nodes[0].id.clone();
    c.control.drain(&drained).await;
    c.control.wait_moves_done().await;
    c.wait_converged().await;
    assert_eq!(c.nodes[0].dbsize().await, 0, "a drained node holds nothing");
    let map = c.control.map().await;
    let (i, _) = map.node_by_id(&drained).unwrap();
    assert_eq!(map.slot_count(i), 0);
    verify(&c, &acked, failed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_slots_move_in_groups_under_writes() {
    // Many slots in flight at once, settled and refilled in shared epochs.
    let c = Cluster::start(2).await;
    let r = cpb::AssignSlotsRequest {
        ranges: vec![cpb::SlotRange {
            start: 0,
            end: 16383,
        }],
        node: c.nodes[0].id.clone(),
    };
    c.control.client().assign_slots(r).await.unwrap();
    c.wait_converged().await;
    let stop = Arc::new(AtomicBool::new(true));
    let (before, failed_before) = writer(c.cluster_client().await, 0, 4000, stop).await;

    let stop = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(writer(
        c.cluster_client().await,
        100_000,
        2000,
        stop.clone(),
    ));
    let r = cpb::MigrateSlotsRequest {
        ranges: vec![cpb::SlotRange {
            start: 0,
            end: 8191,
        }],
        source: c.nodes[0].id.clone(),
        target: c.nodes[1].id.clone(),
    };
    c.control.client().migrate_slots(r).await.unwrap();
    c.control.wait_moves_done().await;
    stop.store(true, Ordering::Relaxed);
    let (during, failed_during) = task.await.unwrap();
    c.wait_converged().await;

    let map = c.control.map().await;
    let index = |i: usize| map.node_by_id(&c.nodes[i].id).unwrap().0;
    assert_eq!(map.ranges_of(index(1)), vec![(0, 8191)]);
    assert_eq!(map.ranges_of(index(0)), vec![(8192, 16383)]);
    let acked: Vec<usize> = before.into_iter().chain(during).collect();
    verify(&c, &acked, failed_before + failed_during).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_restart_mid_migration_loses_nothing() {
    control_gone_mid_migration(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_crash_mid_migration_loses_nothing() {
    control_gone_mid_migration(true).await;
}

/// Control stopped (or crashed: `kill`) while moves run, then restarted on its data dir.
async fn control_gone_mid_migration(kill: bool) {
    let mut c = Cluster::start(2).await;
    c.rebalance().await;
    let stop = Arc::new(AtomicBool::new(true));
    let (acked, failed) = writer(c.cluster_client().await, 0, 5000, stop).await;
    c.add_node().await;
    c.control.rebalance().await;
    // Stop control while the moves run.
    harness::wait_for(
        "a migration to start",
        std::time::Duration::from_secs(30),
        || async {
            c.control
                .status()
                .await
                .moves
                .iter()
                .any(|m| m.state == cpb_active())
        },
    )
    .await;
    let (addr, dir) = (c.control.addr, c.control.dir.clone());
    if kill {
        c.control.kill().await;
    } else {
        c.control.stop().await;
    }

    // Nodes keep serving with their last map while control is away.
    let mut cc = c.cluster_client().await;
    for &i in acked.iter().step_by(50) {
        let v: Option<String> = cc.get(format!("key:{i}")).await.unwrap();
        assert_eq!(v.as_deref(), Some(format!("value:{i}").as_str()));
    }

    c.control = Control::start_at(&dir, addr).await;
    c.control.wait_moves_done().await;
    c.wait_converged().await;
    verify(&c, &acked, failed).await;
}

fn cpb_active() -> i32 {
    autocache_proto::pb::control::MoveState::Active as i32
}
