//! Cluster mode: the node serves the slots a control service assigns it. It keeps the latest
//! slot map (map.rs), registers, heartbeats and watches control (control_client.rs), checks
//! every keyed command against the map (redirect.rs), serves proxies and peers over gRPC
//! (grpc.rs) and streams migrating slots to their new owner (migrate.rs). Without `--control`
//! none of this runs and the node is standalone.

pub mod control_client;
pub mod grpc;
pub mod map;
pub mod migrate;
pub mod redirect;

use crate::config::Config;
use crate::db::SHARDS;
use crate::server::Server;
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use map::View;

/// A node's cluster identity and state, shared by connections and the background tasks.
pub struct Cluster {
    /// 40 hex characters, kept in the data dir.
    pub id: String,
    /// RESP address announced in MOVED/ASK and CLUSTER replies.
    pub announce: String,
    /// gRPC address (peers, proxies, control).
    pub grpc_addr: String,
    pub control_addr: String,
    pub heartbeat: Duration,
    view: arc_swap::ArcSwap<View>,
    /// Epoch of the map in use, for tasks that wait for a newer one.
    epoch_tx: watch::Sender<u64>,
    /// One gate per lock shard. Keyed commands hold it shared from their slot check to the
    /// end of their execution; the migrator and the slot dropper hold it exclusively, so
    /// no command runs on a decision made with a map or keyspace that has since changed.
    gates: Box<[RwLock<()>]>,
    /// Keys taken out of a migrating slot and sent, not yet acknowledged by the target.
    inflight: Mutex<HashMap<u16, HashSet<Box<[u8]>>>>,
    inflight_slots: AtomicUsize,
    /// Woken whenever a slot's in-flight set changes (a batch acknowledged or put back).
    inflight_changed: tokio::sync::Notify,
    /// Migrations this node sends, by (slot, epoch).
    pub migrations: Mutex<HashMap<(u16, u64), migrate::Outcome>>,
    /// Keys delivered to migration targets and keys imported from sources (metrics).
    pub keys_migrated_out: AtomicU64,
    pub keys_migrated_in: AtomicU64,
    /// One lazily connected channel to control, shared by every call.
    control: std::sync::OnceLock<control_client::Client>,
    /// Channels to peers' gRPC services (migration targets), by address.
    peers: Mutex<HashMap<String, migrate::Peer>>,
}

impl Cluster {
    fn new(config: &Config, id: String, announce: String, grpc_addr: String) -> Cluster {
        let (epoch_tx, _) = watch::channel(0);
        Cluster {
            id,
            announce,
            grpc_addr,
            control_addr: config.control.clone().unwrap_or_default(),
            heartbeat: config.heartbeat_interval.max(Duration::from_millis(10)),
            view: arc_swap::ArcSwap::from_pointee(View::empty()),
            epoch_tx,
            gates: (0..SHARDS).map(|_| RwLock::new(())).collect(),
            inflight: Mutex::new(HashMap::new()),
            inflight_slots: AtomicUsize::new(0),
            inflight_changed: tokio::sync::Notify::new(),
            migrations: Mutex::new(HashMap::new()),
            keys_migrated_out: AtomicU64::new(0),
            keys_migrated_in: AtomicU64::new(0),
            control: std::sync::OnceLock::new(),
            peers: Mutex::new(HashMap::new()),
        }
    }

    /// The map in use.
    pub fn view(&self) -> arc_swap::Guard<Arc<View>> {
        self.view.load()
    }

    pub fn epoch(&self) -> u64 {
        self.view.load().map.epoch
    }

    pub fn gate(&self, slot: u16) -> &RwLock<()> {
        &self.gates[crate::db::shard_of(slot)]
    }

    /// Follows the epoch of the map in use (blocked clients re-check their slots on a change).
    pub fn watch_epoch(&self) -> watch::Receiver<u64> {
        self.epoch_tx.subscribe()
    }

    /// Resolves once the map in use has at least `epoch`, or after `limit`.
    pub async fn wait_epoch(&self, epoch: u64, limit: Duration) -> bool {
        let mut rx = self.epoch_tx.subscribe();
        let reached = tokio::time::timeout(limit, rx.wait_for(|e| *e >= epoch)).await;
        matches!(reached, Ok(Ok(_)))
    }

    pub fn is_inflight(&self, slot: u16, key: &[u8]) -> bool {
        if self.inflight_slots.load(Relaxed) == 0 {
            return false;
        }
        self.inflight
            .lock()
            .get(&slot)
            .is_some_and(|s| s.contains(key))
    }

    /// Whether any key is in flight at all (one atomic load: the common answer is no).
    pub fn any_inflight(&self) -> bool {
        self.inflight_slots.load(Relaxed) > 0
    }

    /// Waits until `key` is no longer in flight (its batch acknowledged, or put back after a
    /// failed send), or `limit` passes; returns whether it left flight.
    pub async fn wait_inflight(&self, slot: u16, key: &[u8], limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.inflight_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if !self.is_inflight(slot, key) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return !self.is_inflight(slot, key);
            }
        }
    }

    fn set_inflight(&self, slot: u16, keys: HashSet<Box<[u8]>>) {
        let mut m = self.inflight.lock();
        if keys.is_empty() {
            m.remove(&slot);
        } else {
            m.insert(slot, keys);
        }
        self.inflight_slots.store(m.len(), Relaxed);
        drop(m);
        self.inflight_changed.notify_waiters();
    }
}

/// The node id in `dir/node-id`, created on first start.
pub fn load_or_create_id(dir: &Path) -> std::io::Result<String> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("node-id");
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim();
        if s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(s.to_ascii_lowercase());
        }
    }
    let id: String = (0..40)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
        .collect();
    let tmp = dir.join("node-id.tmp");
    std::fs::write(&tmp, format!("{id}\n"))?;
    std::fs::rename(&tmp, &path)?;
    Ok(id)
}

/// What `server::run` needs before the server exists: the cluster state and the bound gRPC
/// listener. `None` when no control is configured (standalone).
pub async fn setup(
    config: &Config,
    resp_addr: std::net::SocketAddr,
) -> std::io::Result<Option<(Arc<Cluster>, TcpListener)>> {
    let Some(control) = &config.control else {
        return Ok(None);
    };
    if !control_client::valid_addr(control) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("invalid --control address '{control}'"),
        ));
    }
    let id = load_or_create_id(&config.data_dir)?;
    let grpc = config.grpc_addr.clone().unwrap_or_else(|| {
        format!(
            "{}:{}",
            resp_addr.ip(),
            resp_addr.port().wrapping_add(10000)
        )
    });
    let listener = TcpListener::bind(&grpc).await?;
    let grpc_addr = listener.local_addr()?.to_string();
    let announce = config
        .announce_addr
        .clone()
        .unwrap_or_else(|| resp_addr.to_string());
    tracing::info!(id = %id, announce = %announce, grpc = %grpc_addr, "cluster mode");
    Ok(Some((
        Arc::new(Cluster::new(config, id, announce, grpc_addr)),
        listener,
    )))
}

/// Starts the gRPC service and the control client; they stop when `stop` flips.
pub fn spawn(
    server: Arc<Server>,
    listener: TcpListener,
    stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(grpc::serve(server.clone(), listener, stop.clone())),
        tokio::spawn(control_client::run(server, stop)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let id = load_or_create_id(dir.path()).unwrap();
        assert_eq!(id.len(), 40);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(load_or_create_id(dir.path()).unwrap(), id);
        // A damaged file is replaced by a fresh id rather than used.
        std::fs::write(dir.path().join("node-id"), "garbage").unwrap();
        let fresh = load_or_create_id(dir.path()).unwrap();
        assert_eq!(fresh.len(), 40);
        assert_ne!(fresh, "garbage");
    }
}
