//! The state behind one lock, plus what follows every change: persist (when something
//! persisted changed) and publish the new map to watchers (when the epoch moved), both under
//! the lock so disk and watchers see changes in order.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use autocache_proto::pb::control as pb;
use tokio::sync::{watch, Notify};

use crate::config::Config;
use crate::persist;
use crate::state::ClusterState;

pub struct Shared {
    state: Mutex<ClusterState>,
    data_dir: PathBuf,
    map_tx: watch::Sender<Arc<pb::SlotMap>>,
    /// Wakes the migration driver when a queued move can start.
    pub migrate_wake: Notify,
    pub node_timeout: Duration,
    pub max_migrations: usize,
}

impl Shared {
    /// Resumes from the data dir (created if missing).
    pub fn open(config: &Config) -> io::Result<Arc<Shared>> {
        std::fs::create_dir_all(&config.data_dir)?;
        let (map, queue) = persist::load(&config.data_dir)?.unwrap_or_default();
        let state = ClusterState::new(map, queue, Instant::now());
        let (map_tx, _) = watch::channel(Arc::new(state.map.to_proto()));
        Ok(Arc::new(Shared {
            state: Mutex::new(state),
            data_dir: config.data_dir.clone(),
            map_tx,
            migrate_wake: Notify::new(),
            node_timeout: config.node_timeout,
            max_migrations: config.max_migrations.max(1),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, ClusterState> {
        // A panic while holding the lock leaves consistent-enough state for a control plane.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the state, then persists and publishes what changed.
    pub fn mutate<T>(&self, f: impl FnOnce(&mut ClusterState) -> T) -> T {
        let mut st = self.lock();
        let epoch = st.map.epoch;
        let out = f(&mut st);
        if st.take_dirty() {
            if let Err(e) = persist::save(&self.data_dir, &st) {
                tracing::error!(error = %e, dir = %self.data_dir.display(), "cannot persist control state");
            }
        }
        if st.map.epoch != epoch {
            self.map_tx.send_replace(Arc::new(st.map.to_proto()));
        }
        // Only when a move can actually start: the driver's own `start_queued` leaves either
        // an empty queue or a full set of migrations, so it never wakes itself in a loop.
        let startable = !st.queue.is_empty() && st.map.migrations().len() < self.max_migrations;
        drop(st);
        if startable {
            self.migrate_wake.notify_one();
        }
        out
    }

    pub fn read<T>(&self, f: impl FnOnce(&ClusterState) -> T) -> T {
        f(&self.lock())
    }

    /// The current map now and each new one after.
    pub fn subscribe(&self) -> watch::Receiver<Arc<pb::SlotMap>> {
        self.map_tx.subscribe()
    }

    /// Watch streams open now (each holds one receiver).
    pub fn watchers(&self) -> usize {
        self.map_tx.receiver_count()
    }
}
