//! Slot migration, both ends. The source takes a batch of keys out of the slot (under the
//! slot's gate and shard lock) and marks them in flight, sends them to the target's
//! `ImportSlot`, and forgets them once the target acknowledges; commands on an in-flight key
//! get TRYAGAIN, on a key that has left get ASK. A key is therefore never writable on both
//! nodes. If a batch cannot be delivered it goes back into the slot unchanged. The target
//! inserts records it does not already hold (a key it holds was written there after ASK, so
//! it is newer).

use super::Cluster;
use crate::db::Entry;
use crate::dump::{self, Decoded};
use crate::server::Server;
use autocache_proto::pb::node::{node_client::NodeClient, SlotChunk, SlotRecord};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// Keys per chunk.
const BATCH: usize = 500;
/// How long either end waits for its map to show the migration.
const MAP_WAIT: Duration = Duration::from_secs(10);
const SEND_ATTEMPTS: u32 = 5;

/// A migration this node sends.
#[derive(Debug, Clone)]
pub enum Outcome {
    Running(Arc<AtomicU64>),
    Done(u64),
    Failed,
}

/// StartMigration: idempotent per (slot, epoch); a finished one is reported again.
pub fn start(server: &Arc<Server>, slot: u16, target_grpc: String, epoch: u64) {
    let cluster = server.cluster.clone().expect("cluster mode");
    let sent = Arc::new(AtomicU64::new(0));
    {
        let mut all = cluster.migrations.lock();
        match all.get(&(slot, epoch)) {
            Some(Outcome::Running(_)) => return,
            Some(Outcome::Done(keys)) => {
                let keys = *keys;
                let c = cluster.clone();
                tokio::spawn(async move { report(&c, slot, epoch, Ok(keys)).await });
                return;
            }
            Some(Outcome::Failed) | None => {}
        }
        all.insert((slot, epoch), Outcome::Running(sent.clone()));
    }
    let server = server.clone();
    tokio::spawn(async move {
        let result = stream_slot(&server, &cluster, slot, &target_grpc, epoch, &sent).await;
        let outcome = match &result {
            Ok(keys) => Outcome::Done(*keys),
            Err(e) => {
                tracing::warn!(slot, epoch, error = %e, "migration failed");
                Outcome::Failed
            }
        };
        cluster.migrations.lock().insert((slot, epoch), outcome);
        report(&cluster, slot, epoch, result).await;
    });
}

/// Progress of the migrations running now, for heartbeats.
pub fn progress(cluster: &Cluster) -> Vec<(u16, u64)> {
    cluster
        .migrations
        .lock()
        .iter()
        .filter_map(|((slot, _), o)| match o {
            Outcome::Running(n) => Some((*slot, n.load(Relaxed))),
            _ => None,
        })
        .collect()
}

/// Forgets finished migrations the map no longer lists (a new map is in use): control will not
/// ask for their outcome again, and the table would otherwise grow by every slot ever sent.
pub fn forget_settled(cluster: &Cluster) {
    let view = cluster.view();
    cluster.migrations.lock().retain(|&(slot, epoch), o| {
        matches!(o, Outcome::Running(_))
            || view.map.migration(slot).is_some_and(|m| m.epoch == epoch)
    });
}

/// Whether the map in use has this node sending `slot` under `epoch`.
fn still_migrating(cluster: &Cluster, slot: u16, epoch: u64) -> bool {
    let view = cluster.view();
    match (view.map.migration(slot), view.me) {
        (Some(m), Some(me)) => m.epoch == epoch && m.source == me,
        _ => false,
    }
}

async fn stream_slot(
    server: &Server,
    cluster: &Cluster,
    slot: u16,
    target_grpc: &str,
    epoch: u64,
    sent: &AtomicU64,
) -> Result<u64, String> {
    // Control publishes the map before calling StartMigration, but our watch may lag.
    cluster.wait_epoch(epoch, MAP_WAIT).await;
    if !still_migrating(cluster, slot, epoch) {
        return Err(format!(
            "slot {slot} is not migrating from this node at epoch {epoch}"
        ));
    }
    let mut target = peer(cluster, target_grpc)?;
    loop {
        if !still_migrating(cluster, slot, epoch) {
            cluster.set_inflight(slot, HashSet::new());
            return Err(format!("migration of slot {slot} left the map"));
        }
        // A short batch emptied the slot (no key can join a MIGRATING slot: absent keys are
        // ASKed to the target), so it is the last one: a small slot costs one round trip.
        let (batch, last) = take_batch(server, cluster, slot)?;
        let chunk = SlotChunk {
            slot: slot.into(),
            epoch,
            records: batch.iter().map(record).collect(),
            last,
            source_id: cluster.id.clone(),
        };
        if let Err(e) = deliver(cluster, &mut target, chunk, sent.load(Relaxed) > 0).await {
            put_back(server, cluster, slot, batch);
            return Err(e);
        }
        // The target holds them (durably, see `import`): their deletion here may go down.
        server
            .keyspace
            .lock_shard(crate::db::shard_of(slot))
            .release_deletions(batch.iter().map(|e| e.key()));
        sent.fetch_add(batch.len() as u64, Relaxed);
        cluster
            .keys_migrated_out
            .fetch_add(batch.len() as u64, Relaxed);
        cluster.set_inflight(slot, HashSet::new());
        if last {
            return Ok(sent.load(Relaxed));
        }
    }
}

pub type Peer = NodeClient<Channel>;

/// A client on the shared channel to the peer at `addr` (one connection per peer, however
/// many slots move to it).
fn peer(cluster: &Cluster, addr: &str) -> Result<Peer, String> {
    let mut peers = cluster.peers.lock();
    if let Some(p) = peers.get(addr) {
        return Ok(p.clone());
    }
    let p = connect(addr)?;
    peers.insert(addr.to_string(), p.clone());
    Ok(p)
}

fn connect(addr: &str) -> Result<Peer, String> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).map_err(|e| e.to_string())?;
    let channel = endpoint
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(30))
        .connect_lazy();
    Ok(NodeClient::new(channel)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX))
}

/// Sends a chunk. Before anything reached the target a failure is reported at once (a
/// rollback then loses nothing). Once the target holds acknowledged keys, a rollback would
/// drop them, so the source keeps trying for as long as control keeps the migration open,
/// as a Redis slot stays MIGRATING until the operator resolves it.
async fn deliver(
    cluster: &Cluster,
    target: &mut Peer,
    chunk: SlotChunk,
    target_holds_keys: bool,
) -> Result<(), String> {
    let (slot, epoch) = (chunk.slot as u16, chunk.epoch);
    loop {
        match send(target, chunk.clone()).await {
            Ok(()) => return Ok(()),
            Err(e) if !target_holds_keys => return Err(e),
            Err(e) => {
                tracing::warn!(slot, epoch, error = %e, "chunk not delivered; retrying");
                if !still_migrating(cluster, slot, epoch) {
                    return Err(e);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// One ImportSlot call per chunk: its acknowledgement is the chunk's.
async fn send(target: &mut NodeClient<Channel>, chunk: SlotChunk) -> Result<(), String> {
    let mut backoff = Duration::from_millis(100);
    let mut last_err = String::new();
    for _ in 0..SEND_ATTEMPTS {
        let stream = tokio_stream::iter(vec![chunk.clone()]);
        match target.import_slot(stream).await {
            Ok(_) => return Ok(()),
            // The target refused the chunk itself: retrying will not help.
            Err(s) if s.code() == tonic::Code::FailedPrecondition => {
                return Err(s.message().to_string())
            }
            Err(s) => last_err = s.message().to_string(),
        }
        tokio::time::sleep(backoff).await;
        backoff *= 2;
    }
    Err(format!("target unreachable: {last_err}"))
}

/// Takes up to BATCH live keys out of `slot`, whatever tier holds them, and marks them in
/// flight; also whether that was all of them. Expired keys are dropped on the way (the target
/// would skip them anyway). A cold value is fetched under the shard lock (bounded by the cold
/// tier's timeout).
fn take_batch(server: &Server, cluster: &Cluster, slot: u16) -> Result<(Vec<Entry>, bool), String> {
    let _gate = cluster.gate(slot).write();
    let now = crate::db::now_ms();
    let mut shard = server.keyspace.lock_shard(crate::db::shard_of(slot));
    let mut keys: Vec<Box<[u8]>> = shard
        .slot(slot)
        .iter()
        .take(BATCH)
        .map(|e| e.key().into())
        .collect();
    // Memory first, then the keys only the warm (or cold) tier holds: removing one loads it.
    if keys.len() < BATCH {
        let warm = shard.warm_keys_up_to(slot, now, BATCH - keys.len());
        keys.extend(warm.into_iter().map(|(k, _)| k));
    }
    let mut batch = Vec::with_capacity(keys.len());
    for k in &keys {
        match shard.remove(slot, k) {
            Some(e) if !e.is_expired(now) => batch.push(e),
            Some(_) => {}
            // Listed live but not loadable (the cold tier failing): never call the slot done.
            None if shard.tier_of(slot, k, now).is_some() => {
                for e in batch {
                    shard.insert(slot, e);
                }
                return Err(format!(
                    "a key of slot {slot} could not be read from a lower tier"
                ));
            }
            None => {}
        }
    }
    shard.hold_deletions(batch.iter().map(|e| e.key()));
    cluster.set_inflight(slot, batch.iter().map(|e| e.key().into()).collect());
    Ok((batch, keys.len() < BATCH))
}

/// Undoes `take_batch` after a failed send: nothing could touch in-flight keys meanwhile.
fn put_back(server: &Server, cluster: &Cluster, slot: u16, batch: Vec<Entry>) {
    let _gate = cluster.gate(slot).write();
    let mut shard = server.keyspace.lock_shard(crate::db::shard_of(slot));
    let keys: Vec<Box<[u8]>> = batch.iter().map(|e| e.key().into()).collect();
    for e in batch {
        shard.insert(slot, e);
    }
    shard.release_deletions(keys.iter().map(|k| &**k));
    cluster.set_inflight(slot, HashSet::new());
}

fn record(e: &Entry) -> SlotRecord {
    SlotRecord {
        key: bytes::Bytes::copy_from_slice(e.key()),
        payload: dump::dump_native(e).into(),
        expire_at_ms: e.expire_at() as i64,
    }
}

/// Reports the outcome to control, retrying while control is away (bounded).
async fn report(cluster: &Cluster, slot: u16, epoch: u64, result: Result<u64, String>) {
    use autocache_proto::pb::control::MigrationReport;
    let (keys_sent, error) = match &result {
        Ok(n) => (*n, String::new()),
        Err(e) => (0, e.clone()),
    };
    let msg = MigrationReport {
        node_id: cluster.id.clone(),
        slot: slot.into(),
        epoch,
        keys_sent,
        error,
    };
    let mut backoff = Duration::from_millis(100);
    for _ in 0..60 {
        let mut client = super::control_client::client(cluster);
        let reply = if result.is_ok() {
            client.migration_done(msg.clone()).await
        } else {
            client.migration_failed(msg.clone()).await
        };
        match reply {
            Ok(r) => {
                let applied = r.into_inner().applied;
                tracing::debug!(slot, epoch, applied, "migration reported");
                return;
            }
            Err(e) => tracing::debug!(slot, epoch, "report to control failed: {e}"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
    tracing::warn!(slot, epoch, "gave up reporting a migration to control");
}

/// ImportSlot on the target: checks the chunk's epoch against the map's migration of the
/// slot and inserts its live records. Returns how many keys were inserted.
pub async fn import(server: &Server, chunk: &SlotChunk) -> Result<u64, tonic::Status> {
    let cluster = server.cluster.as_deref().expect("cluster mode");
    let slot = u16::try_from(chunk.slot)
        .ok()
        .filter(|s| (*s as usize) < autocache_proto::slot::SLOT_COUNT)
        .ok_or_else(|| tonic::Status::invalid_argument("slot out of range"))?;
    cluster.wait_epoch(chunk.epoch, MAP_WAIT).await;
    let _gate = cluster.gate(slot).write();
    let view = cluster.view();
    let ok = match (view.map.migration(slot), view.me) {
        (Some(m), Some(me)) => m.epoch == chunk.epoch && m.target == me,
        _ => false,
    };
    if !ok {
        return Err(tonic::Status::failed_precondition(format!(
            "slot {slot} is not importing to this node at epoch {}",
            chunk.epoch
        )));
    }
    let clock = server.clock();
    let mut shard = server.keyspace.lock_shard(crate::db::shard_of(slot));
    let mut inserted = 0;
    for r in &chunk.records {
        if autocache_proto::slot::key_slot(&r.key) != slot {
            continue;
        }
        let at = r.expire_at_ms.max(0) as u64;
        if (at != 0 && at <= clock.ms) || shard.peek(slot, &r.key, clock.ms).is_some() {
            continue;
        }
        let entry = match dump::decode_native(&r.payload) {
            Ok(Decoded::Str(s)) => Entry::string(&r.key, s, at, clock.initial_lru()),
            Ok(Decoded::Value(v)) => Entry::object(&r.key, v, at, clock.initial_lru()),
            Err(_) => {
                cluster.keys_migrated_in.fetch_add(inserted, Relaxed);
                return Err(tonic::Status::invalid_argument("bad DUMP payload"));
            }
        };
        shard.insert(slot, entry);
        inserted += 1;
    }
    // Tiered: the acknowledgement lets the source delete its copies, so the records reach
    // the warm tier (its log) first; a failure makes the source send the chunk again.
    if inserted > 0 {
        if let Err(e) = shard.flush_dirty() {
            return Err(tonic::Status::unavailable(format!(
                "writing imported keys to the warm tier: {e}"
            )));
        }
    }
    cluster.keys_migrated_in.fetch_add(inserted, Relaxed);
    Ok(inserted)
}
