//! The server: shared state (keyspace, settings, counters, client registry), the accept loop
//! and the background tasks (active expiry, memory accounting, the metrics endpoint).
//! `run(listener, config, shutdown)` is what the binary and the tests start.

use crate::client::{self, ClientHandle};
use crate::config::{Config, Settings};
use crate::db::{Clock, Keyspace, SHARDS, SLOTS_PER_SHARD};
use crate::memory::Memory;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Server-wide counters (INFO stats). Per-command counters are indexed like the command table.
#[derive(Debug, Default)]
pub struct Stats {
    pub total_connections_received: AtomicU64,
    pub total_commands_processed: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub blocked_clients: AtomicU64,
    pub commands: Box<[CommandStats]>,
}

#[derive(Debug, Default)]
pub struct CommandStats {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    /// The same time, by latency bucket (the histogram on `--metrics-addr`).
    pub latency: crate::metrics::Latency,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            commands: (0..autocache_proto::command::COMMANDS.len())
                .map(|_| CommandStats::default())
                .collect(),
            ..Default::default()
        }
    }

    pub fn reset(&self) {
        for a in [
            &self.total_connections_received,
            &self.total_commands_processed,
            &self.rejected_connections,
            &self.net_input_bytes,
            &self.net_output_bytes,
        ] {
            a.store(0, Relaxed);
        }
        for c in self.commands.iter() {
            c.calls.store(0, Relaxed);
            c.usec.store(0, Relaxed);
            c.latency.reset();
            c.rejected.store(0, Relaxed);
            c.failed.store(0, Relaxed);
        }
    }
}

/// Connected clients, by id (CLIENT LIST / KILL, INFO clients, maxclients).
#[derive(Default)]
pub struct Clients {
    map: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_id: AtomicU64,
}

impl Clients {
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Relaxed) + 1
    }

    pub fn add(&self, c: Arc<ClientHandle>) {
        self.map.lock().insert(c.id, c);
    }

    pub fn remove(&self, id: u64) {
        self.map.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot, in id order.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.map.lock().values().cloned().collect()
    }
}

/// Everything connections share.
pub struct Server {
    pub keyspace: Keyspace,
    pub settings: Settings,
    pub stats: Stats,
    pub clients: Clients,
    pub memory: Memory,
    /// Shared with the keyspace, which publishes keyspace notifications on it.
    pub pubsub: Arc<crate::pubsub::PubSub>,
    pub config: Config,
    pub started: Instant,
    pub run_id: String,
    pub port: u16,
    /// Set when the server is shutting down; connections finish their batch and close.
    pub shutdown: watch::Receiver<bool>,
    /// Cluster mode (`--control`): identity and slot map. None: standalone.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Lua scripting: the VM, its script cache, the running script's state.
    pub scripts: crate::script::Scripts,
}

impl Server {
    pub fn clock(&self) -> Clock {
        let mut c = Clock::now(self.settings.policy().is_lfu());
        c.lfu_log_factor = self.settings.lfu_log_factor.load(Relaxed) as u32;
        c.lfu_decay_time = self.settings.lfu_decay_time.load(Relaxed) as u32;
        c
    }
}

/// Serves RESP clients on `listener` until `shutdown` completes, then closes every
/// connection after its current batch and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let port = listener.local_addr()?.port();
    let metrics_listener = match config.metrics_addr {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    let cluster = crate::cluster::setup(&config, listener.local_addr()?).await?;
    let keyspace = crate::tier::open_keyspace(&config)?;
    keyspace.events.set_flags(config.notify_keyspace_events);
    let server = Arc::new(Server {
        pubsub: keyspace.events.pubsub.clone(),
        keyspace,
        settings: Settings::new(&config),
        stats: Stats::new(),
        clients: Clients::default(),
        memory: Memory::new(),
        config,
        started: Instant::now(),
        run_id: run_id(),
        port,
        shutdown: stop_rx.clone(),
        cluster: cluster.as_ref().map(|(c, _)| c.clone()),
        scripts: Default::default(),
    });
    let cluster_tasks = match cluster {
        Some((_, grpc)) => crate::cluster::spawn(server.clone(), grpc, stop_rx.clone()),
        None => Vec::new(),
    };
    let flusher = crate::tier::flusher::Flusher::start(server.clone());
    let demoter = crate::tier::demoter::Demoter::start(server.clone());
    let mut background = vec![
        tokio::spawn(active_expiry(server.clone(), stop_rx.clone())),
        tokio::spawn(memory_refresh(server.clone(), stop_rx.clone())),
    ];
    if let Some(l) = metrics_listener {
        let endpoints = crate::metrics::endpoints(&server);
        background.push(tokio::spawn(autocache_proto::http::serve(
            l,
            endpoints,
            stop_rx.clone(),
        )));
    }
    let mut conns = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                server.stats.total_connections_received.fetch_add(1, Relaxed);
                // Ids follow accept order, as in Redis.
                let id = server.clients.next_id();
                conns.spawn(client::serve(server.clone(), stream, peer, id));
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = &mut shutdown => break,
        }
    }
    tracing::info!(
        "shutting down: closing {} connections",
        server.clients.len()
    );
    let _ = stop_tx.send(true);
    drop(listener);
    // Connections notice the flag after their current batch.
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain)
        .await
        .is_err()
    {
        conns.abort_all();
    }
    for task in cluster_tasks {
        let _ = task.await;
    }
    for task in background {
        let _ = task.await;
    }
    if let Some(d) = demoter {
        let _ = tokio::task::spawn_blocking(move || d.stop()).await;
    }
    if let Some(f) = flusher {
        // Everything acknowledged reaches the warm tier, synced, before we return.
        let _ = tokio::task::spawn_blocking(move || f.stop()).await;
    }
    Ok(())
}

fn run_id() -> String {
    (0..40)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
        .collect()
}

/// Redis's active expiry: every 1/hz seconds, visit slot tables holding keys with a TTL and
/// reclaim the expired ones, within a time budget (25% of the period), resuming where it
/// stopped. Keys nobody touches are reclaimed this way.
async fn active_expiry(server: Arc<Server>, mut stop: watch::Receiver<bool>) {
    let mut cursor = 0usize; // over SHARDS * SLOTS_PER_SHARD tables
    let total = SHARDS * SLOTS_PER_SHARD;
    loop {
        let hz = server.settings.hz.load(Relaxed).max(1);
        let period = Duration::from_millis(1000 / hz);
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.changed() => return,
        }
        let budget = period / 4;
        let start = Instant::now();
        let now = crate::db::now_ms();
        let mut visited = 0;
        while visited < total && start.elapsed() < budget {
            let shard_i = cursor % SHARDS;
            let table_i = cursor / SHARDS;
            {
                let mut shard = server.keyspace.lock_shard(shard_i);
                if shard.volatile() > 0 && shard.table_at(table_i).volatile() > 0 {
                    shard.expire_table(table_i, now, usize::MAX);
                }
            }
            cursor = (cursor + 1) % total;
            visited += 1;
        }
    }
}

/// Refreshes the allocator's view of used memory often enough for eviction decisions.
async fn memory_refresh(server: Arc<Server>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => server.memory.refresh(),
            _ = stop.changed() => return,
        }
    }
}
