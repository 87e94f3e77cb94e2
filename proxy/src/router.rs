//! Slot → node: the latest slot map watched from control, behind `arc-swap` so every command
//! reads it without a lock. The watch reconnects with backoff; while control is away the
//! proxy keeps routing with the last map it saw.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use autocache_proto::pb::control::{control_client::ControlClient, WatchRequest};
use autocache_proto::slotmap::{NodeEntry, SlotMap};
use tokio::sync::watch;

/// The routing table every connection shares.
pub struct Router {
    map: ArcSwap<SlotMap>,
    /// Bumped on every new map, so a redirected command can wait for the next one.
    epoch: watch::Sender<u64>,
}

/// Where a slot's commands go.
#[derive(Debug, Clone)]
pub struct Target {
    pub index: u16,
    pub grpc_addr: String,
    pub resp_addr: String,
}

impl Router {
    pub fn new() -> Router {
        Router {
            map: ArcSwap::from_pointee(SlotMap::new()),
            epoch: watch::channel(0).0,
        }
    }

    pub fn map(&self) -> Arc<SlotMap> {
        self.map.load_full()
    }

    pub fn set(&self, map: SlotMap) {
        let epoch = map.epoch;
        self.map.store(Arc::new(map));
        self.epoch.send_replace(epoch);
    }

    /// The map's epoch and `f` of the gRPC address of the node owning `slot` (None: no
    /// owner), without copying the address: the per-command path.
    pub fn with_owner<R>(&self, slot: u16, f: impl FnOnce(Option<&str>) -> R) -> (u64, R) {
        let map = self.map.load();
        let addr = map.owner_node(slot).map(|n| n.grpc_addr.as_str());
        (map.epoch, f(addr))
    }

    /// The node owning `slot`, if any.
    pub fn owner(&self, slot: u16) -> Option<Target> {
        let map = self.map.load();
        let index = map.owner(slot)?;
        let node = &map.nodes[index as usize];
        Some(Target {
            index,
            grpc_addr: node.grpc_addr.clone(),
            resp_addr: node.resp_addr.clone(),
        })
    }

    /// The node whose RESP address is `resp_addr` (what MOVED/ASK name).
    pub fn by_resp_addr(&self, resp_addr: &str) -> Option<Target> {
        let map = self.map.load();
        let index = map.nodes.iter().position(|n| n.resp_addr == resp_addr)?;
        Some(Target {
            index: index as u16,
            grpc_addr: map.nodes[index].grpc_addr.clone(),
            resp_addr: resp_addr.to_string(),
        })
    }

    /// Nodes owning at least one slot, with their index in the map: what fan-outs visit.
    pub fn serving_nodes(&self) -> Vec<(u16, NodeEntry)> {
        let map = self.map.load();
        let mut owns = vec![false; map.nodes.len()];
        for o in map.owners().iter().flatten() {
            owns[*o as usize] = true;
        }
        map.nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| owns[*i])
            .map(|(i, n)| (i as u16, n.clone()))
            .collect()
    }

    /// Waits until the map's epoch passes `epoch`, at most `limit`.
    pub async fn wait_newer(&self, epoch: u64, limit: Duration) {
        let mut rx = self.epoch.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|e| *e > epoch)).await;
    }
}

impl Default for Router {
    fn default() -> Self {
        Self::new()
    }
}

/// Follows control's WatchSlotMap until `stop` flips, reconnecting with backoff (100 ms
/// doubling to 5 s). Bad maps are logged and skipped.
pub async fn watch_control(
    router: Arc<Router>,
    control: String,
    watcher: String,
    mut stop: watch::Receiver<bool>,
) {
    let url = if control.contains("://") {
        control
    } else {
        format!("http://{control}")
    };
    let mut backoff = Duration::from_millis(100);
    loop {
        tokio::select! {
            _ = follow(&router, &url, &watcher, &mut backoff) => {}
            _ = stop.changed() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// One watch stream, until it fails or ends.
async fn follow(router: &Router, url: &str, watcher: &str, backoff: &mut Duration) {
    let mut client = match ControlClient::connect(url.to_string()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "control unreachable");
            return;
        }
    };
    let request = WatchRequest {
        watcher: watcher.to_string(),
    };
    let mut stream = match client.watch_slot_map(request).await {
        Ok(r) => r.into_inner(),
        Err(e) => {
            tracing::warn!(error = %e, "WatchSlotMap failed");
            return;
        }
    };
    loop {
        match stream.message().await {
            Ok(Some(msg)) => match SlotMap::from_proto(&msg) {
                Ok(map) => {
                    *backoff = Duration::from_millis(100);
                    tracing::debug!(epoch = map.epoch, "new slot map");
                    router.set(map);
                }
                Err(e) => tracing::warn!(error = %e, "bad slot map from control"),
            },
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "slot map watch broke; keeping the last map");
                return;
            }
        }
    }
}
