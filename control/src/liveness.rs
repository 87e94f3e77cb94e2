//! Failure detection: a node silent past the node timeout is marked failed (new epoch) and
//! the migrations it takes part in are rolled back. A heartbeat brings it back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::shared::Shared;

pub async fn detector(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let timeout = shared.node_timeout;
    let period = (timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut tick = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let failed = shared.mutate(|s| s.detect_failures(Instant::now(), timeout));
        for id in failed {
            tracing::warn!(node = %id, ?timeout, "node failed: no heartbeat");
        }
    }
}
