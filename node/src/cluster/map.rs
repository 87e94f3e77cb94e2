//! The slot map in use, behind `arc_swap`: readers (every keyed command) load it without a
//! lock; the control client swaps in newer epochs only. Applying a map also drops the data
//! of slots this node no longer serves (moved away, or an import rolled back).

use super::Cluster;
use crate::server::Server;
use autocache_proto::pb::control as pb;
use autocache_proto::slot::SLOT_COUNT;
use autocache_proto::slotmap::{SlotMap, SlotState};
use std::sync::Arc;

/// A map plus this node's index in it (None until control lists the node).
pub struct View {
    pub map: SlotMap,
    pub me: Option<u16>,
}

impl View {
    pub fn empty() -> View {
        View {
            map: SlotMap::new(),
            me: None,
        }
    }

    /// Whether this node may hold keys of `slot`: it owns the slot or imports it.
    pub fn holds(&self, slot: u16) -> bool {
        let Some(me) = self.me else {
            return false;
        };
        self.map.owner(slot) == Some(me)
            || self.map.slot_state(slot, me) == Some(SlotState::Importing)
    }

    /// The slot's state on this node, if it is in flight and the node takes part.
    pub fn state(&self, slot: u16) -> Option<SlotState> {
        self.me.and_then(|me| self.map.slot_state(slot, me))
    }
}

/// Installs `msg` if its epoch is newer than the map in use; returns whether it did.
pub fn apply(server: &Server, cluster: &Cluster, msg: &pb::SlotMap) -> bool {
    if msg.epoch <= cluster.epoch() && cluster.view().me.is_some() {
        return false;
    }
    let map = match SlotMap::from_proto(msg) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(epoch = msg.epoch, "ignoring an invalid slot map: {e}");
            return false;
        }
    };
    let me = map.node_by_id(&cluster.id).map(|(i, _)| i);
    let epoch = map.epoch;
    let old = cluster.view.swap(Arc::new(View { map, me }));
    tracing::debug!(epoch, "slot map applied");
    drop_unserved(server, cluster, &old);
    super::migrate::forget_settled(cluster);
    cluster.epoch_tx.send_replace(epoch);
    true
}

/// Deletes the keys of every slot this node neither owns nor imports any more. Each slot is
/// cleared under its gate, so a command admitted under the previous map finishes first and
/// none admitted after can write there again. Only slots the previous map let us hold are
/// looked at (the first map with us in it: every slot).
fn drop_unserved(server: &Server, cluster: &Cluster, old: &View) {
    let new = cluster.view();
    // A map without this node (control lost its state, or we were forgotten) says nothing
    // about our slots: keep the data until a map lists us again.
    if new.me.is_none() {
        return;
    }
    let first = old.me.is_none();
    let mut dropped = 0usize;
    for slot in 0..SLOT_COUNT as u16 {
        if new.holds(slot) || !(first || old.holds(slot)) {
            continue;
        }
        let shard_i = crate::db::shard_of(slot);
        if server.keyspace.lock_shard(shard_i).slot(slot).is_empty() {
            continue;
        }
        let _gate = cluster.gate(slot).write();
        // Re-read under the gate: the map may have moved on meanwhile.
        if cluster.view().holds(slot) {
            continue;
        }
        dropped += clear_slot(server, slot);
    }
    if dropped > 0 {
        tracing::info!(keys = dropped, "dropped keys of slots served elsewhere");
    }
}

/// Removes every key of `slot`; returns how many.
pub fn clear_slot(server: &Server, slot: u16) -> usize {
    let mut shard = server.keyspace.lock_shard(crate::db::shard_of(slot));
    let keys: Vec<Box<[u8]>> = shard.slot(slot).iter().map(|e| e.key().into()).collect();
    for k in &keys {
        shard.remove(slot, k);
    }
    keys.len()
}
