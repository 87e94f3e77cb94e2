//! The control's cluster state and every transition on it: membership, liveness, slot
//! assignment, the migration queue and its outcomes. Pure and synchronous: the caller
//! (`shared.rs`) persists and publishes after each change. Every change visible in the map
//! bumps the epoch exactly once per operation.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use autocache_proto::slotmap::{Health, Migration, NodeEntry, SlotMap};

use crate::planner;

/// A refused admin or node request; the text reaches the operator as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("unknown node {0}")]
    UnknownNode(String),
    #[error("node name {0} is ambiguous")]
    AmbiguousNode(String),
    #[error("node {0} is failed")]
    NodeFailed(String),
    #[error("slot {slot} is already owned by node {owner}")]
    SlotBusy { slot: u16, owner: String },
    #[error("slot {0} is migrating")]
    SlotMigrating(u16),
    #[error("slot {slot} is not owned by node {node}")]
    NotOwner { slot: u16, node: String },
    #[error("source and target are the same node")]
    SameNode,
    #[error("no healthy node")]
    NoLiveNodes,
    #[error("node {node} still owns {count} slots")]
    NodeOwnsSlots { node: String, count: usize },
    #[error("node {0} takes part in a migration")]
    NodeInFlight(String),
    #[error("{0}")]
    Invalid(String),
}

/// A migration waiting for its turn (bounded parallelism). Nodes by id: indexes shift when a
/// node is forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub slot: u16,
    pub source: String,
    pub target: String,
}

/// What the source node must be told to start a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartOrder {
    pub slot: u16,
    pub epoch: u64,
    pub source_id: String,
    pub source_grpc: String,
    pub target_id: String,
    pub target_grpc: String,
}

/// Liveness as last seen; not persisted (a restarted control gives every node a fresh grace).
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    pub at: Instant,
    pub epoch: u64,
}

/// Outcome of a planning operation (rebalance, drain).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Planned {
    pub assigned: usize,
    pub queued: usize,
}

/// Migrations finished since this control started (for `/metrics`; not persisted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcomes {
    pub done: u64,
    /// Reported failed, or rolled back because a node taking part failed.
    pub failed: u64,
}

#[derive(Debug, Clone)]
pub struct ClusterState {
    pub map: SlotMap,
    pub queue: VecDeque<Move>,
    pub outcomes: Outcomes,
    seen: HashMap<String, Seen>,
    /// Keys sent so far per active migration, from the source's heartbeats.
    progress: HashMap<u16, u64>,
    /// Migrations started by `settle_and_refill`, for the driver to send (not persisted: a
    /// restarted control re-sends every active migration).
    unsent: Vec<StartOrder>,
    /// Something persisted changed since the last `take_dirty`.
    dirty: bool,
}

impl ClusterState {
    /// State resumed from `map` and `queue`; every node is considered seen `now`.
    pub fn new(map: SlotMap, queue: VecDeque<Move>, now: Instant) -> Self {
        let seen = map
            .nodes
            .iter()
            .map(|n| (n.id.clone(), Seen { at: now, epoch: 0 }))
            .collect();
        ClusterState {
            map,
            queue,
            outcomes: Outcomes::default(),
            seen,
            progress: HashMap::new(),
            unsent: Vec::new(),
            dirty: false,
        }
    }

    /// Whether persisted state changed since the last call; clears the flag.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    fn bump(&mut self) {
        self.map.epoch += 1;
        self.dirty = true;
    }

    pub fn seen(&self, id: &str) -> Option<Seen> {
        self.seen.get(id).copied()
    }

    pub fn progress(&self, slot: u16) -> u64 {
        self.progress.get(&slot).copied().unwrap_or(0)
    }

    /// Finds a node by exact id, exact RESP address, or unique id prefix.
    pub fn resolve(&self, name: &str) -> Result<u16, StateError> {
        if name.is_empty() {
            return Err(StateError::Invalid("empty node name".into()));
        }
        let nodes = &self.map.nodes;
        if let Some(i) = nodes.iter().position(|n| n.id == name) {
            return Ok(i as u16);
        }
        if let Some(i) = nodes.iter().position(|n| n.resp_addr == name) {
            return Ok(i as u16);
        }
        let mut matches = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.id.starts_with(name));
        match (matches.next(), matches.next()) {
            (Some((i, _)), None) => Ok(i as u16),
            (Some(_), Some(_)) => Err(StateError::AmbiguousNode(name.into())),
            _ => Err(StateError::UnknownNode(name.into())),
        }
    }

    fn node(&self, i: u16) -> &NodeEntry {
        &self.map.nodes[i as usize]
    }

    fn healthy(&self, i: u16) -> Result<(), StateError> {
        match self.node(i).health {
            Health::Healthy => Ok(()),
            Health::Failed => Err(StateError::NodeFailed(self.node(i).id.clone())),
        }
    }

    /// Slots in flight: active migrations and the queue.
    pub fn pinned(&self) -> HashSet<u16> {
        let active = self.map.migrations().iter().map(|m| m.slot);
        active.chain(self.queue.iter().map(|m| m.slot)).collect()
    }

    /// Ownership once every migration in flight (active or queued) has landed.
    fn effective_owners(&self) -> Vec<Option<u16>> {
        let mut owners = self.map.owners().to_vec();
        for m in self.map.migrations() {
            owners[m.slot as usize] = Some(m.target);
        }
        for mv in &self.queue {
            if let Some((t, _)) = self.map.node_by_id(&mv.target) {
                owners[mv.slot as usize] = Some(t);
            }
        }
        owners
    }

    fn in_flight(&self, node: u16) -> bool {
        let id = &self.node(node).id;
        self.map
            .migrations()
            .iter()
            .any(|m| m.source == node || m.target == node)
            || self
                .queue
                .iter()
                .any(|m| &m.source == id || &m.target == id)
    }

    /// A node announces itself: new ids join (owning nothing), known ids keep their identity
    /// and slots, and may change addresses; a failed node comes back.
    pub fn register(
        &mut self,
        id: &str,
        resp: &str,
        grpc: &str,
        now: Instant,
    ) -> Result<(), StateError> {
        if id.is_empty() || resp.is_empty() || grpc.is_empty() {
            return Err(StateError::Invalid(
                "node id and addresses are required".into(),
            ));
        }
        self.seen.insert(id.to_string(), Seen { at: now, epoch: 0 });
        let entry = NodeEntry {
            id: id.to_string(),
            resp_addr: resp.to_string(),
            grpc_addr: grpc.to_string(),
            health: Health::Healthy,
        };
        match self.map.node_by_id(id) {
            Some((i, old)) if *old != entry => {
                self.map.nodes[i as usize] = entry;
                self.bump();
            }
            Some(_) => {}
            None => {
                self.map.nodes.push(entry);
                self.bump();
            }
        }
        // A node that registers again has restarted: the migrations it was sending died
        // with it (the node treats a repeated order as a no-op when it still runs one).
        let resend: Vec<StartOrder> = self
            .map
            .migrations()
            .iter()
            .filter(|m| self.node(m.source).id == id)
            .map(|m| self.order(m))
            .collect();
        self.unsent.extend(resend);
        Ok(())
    }

    /// Liveness and migration progress from a node; a failed node comes back.
    pub fn heartbeat(
        &mut self,
        id: &str,
        epoch: u64,
        progress: &[(u16, u64)],
        now: Instant,
    ) -> Result<u64, StateError> {
        let (i, _) = self
            .map
            .node_by_id(id)
            .ok_or_else(|| StateError::UnknownNode(id.into()))?;
        self.seen.insert(id.to_string(), Seen { at: now, epoch });
        for &(slot, keys) in progress {
            if self.map.migration(slot).is_some_and(|m| m.source == i) {
                self.progress.insert(slot, keys);
            }
        }
        if self.node(i).health == Health::Failed {
            self.map.nodes[i as usize].health = Health::Healthy;
            self.bump();
        }
        Ok(self.map.epoch)
    }

    /// Marks nodes silent for longer than `timeout` failed, rolling back the migrations they
    /// take part in and dropping their queued moves. Returns the ids newly failed.
    pub fn detect_failures(&mut self, now: Instant, timeout: Duration) -> Vec<String> {
        let mut failed = Vec::new();
        for i in 0..self.map.nodes.len() {
            let node = &self.map.nodes[i];
            let silent = self
                .seen
                .get(&node.id)
                .is_none_or(|s| now.saturating_duration_since(s.at) > timeout);
            if node.health == Health::Healthy && silent {
                failed.push(node.id.clone());
                self.map.nodes[i].health = Health::Failed;
            }
        }
        if failed.is_empty() {
            return failed;
        }
        let dead: Vec<u16> = failed
            .iter()
            .filter_map(|id| self.map.node_by_id(id).map(|(i, _)| i))
            .collect();
        let doomed: Vec<u16> = self
            .map
            .migrations()
            .iter()
            .filter(|m| dead.contains(&m.source) || dead.contains(&m.target))
            .map(|m| m.slot)
            .collect();
        for slot in doomed {
            self.map.remove_migration(slot);
            self.progress.remove(&slot);
            self.outcomes.failed += 1;
        }
        self.queue
            .retain(|m| !failed.contains(&m.source) && !failed.contains(&m.target));
        self.bump();
        failed
    }

    /// Gives `ranges` to `node` directly (no data moves). Refuses slots owned by another
    /// healthy node and slots in flight.
    pub fn assign(
        &mut self,
        ranges: &[RangeInclusive<u16>],
        node: &str,
    ) -> Result<usize, StateError> {
        let to = self.resolve(node)?;
        self.healthy(to)?;
        let pinned = self.pinned();
        for slot in ranges.iter().flat_map(|r| r.clone()) {
            if pinned.contains(&slot) {
                return Err(StateError::SlotMigrating(slot));
            }
            match self.map.owner(slot) {
                Some(o) if o != to && self.node(o).health == Health::Healthy => {
                    let owner = self.node(o).id.clone();
                    return Err(StateError::SlotBusy { slot, owner });
                }
                _ => {}
            }
        }
        let mut changed = 0;
        for slot in ranges.iter().flat_map(|r| r.clone()) {
            if self.map.owner(slot) != Some(to) {
                self.map.set_owner(slot, Some(to));
                changed += 1;
            }
        }
        if changed > 0 {
            self.bump();
        }
        Ok(changed)
    }

    /// Queues the migration of `ranges` from `source` to `target`.
    pub fn migrate(
        &mut self,
        ranges: &[RangeInclusive<u16>],
        source: &str,
        target: &str,
    ) -> Result<usize, StateError> {
        let (from, to) = (self.resolve(source)?, self.resolve(target)?);
        if from == to {
            return Err(StateError::SameNode);
        }
        self.healthy(from)?;
        self.healthy(to)?;
        let pinned = self.pinned();
        let mut slots: Vec<u16> = ranges.iter().flat_map(|r| r.clone()).collect();
        slots.sort_unstable();
        slots.dedup();
        for &slot in &slots {
            if pinned.contains(&slot) {
                return Err(StateError::SlotMigrating(slot));
            }
            if self.map.owner(slot) != Some(from) {
                let node = self.node(from).id.clone();
                return Err(StateError::NotOwner { slot, node });
            }
        }
        self.enqueue(slots.iter().map(|&s| (s, from, to)));
        Ok(slots.len())
    }

    fn enqueue(&mut self, moves: impl IntoIterator<Item = (u16, u16, u16)>) -> usize {
        let before = self.queue.len();
        for (slot, from, to) in moves {
            let (source, target) = (self.node(from).id.clone(), self.node(to).id.clone());
            self.queue.push_back(Move {
                slot,
                source,
                target,
            });
        }
        let n = self.queue.len() - before;
        self.dirty |= n > 0;
        n
    }

    fn live_nodes(&self) -> Vec<u16> {
        (0..self.map.nodes.len() as u16)
            .filter(|&i| self.node(i).health == Health::Healthy)
            .collect()
    }

    /// Evens out slots over the healthy nodes: unassigned slots are assigned directly, the rest
    /// is queued as migrations from the most loaded nodes to the least.
    pub fn rebalance(&mut self) -> Result<Planned, StateError> {
        let live = self.live_nodes();
        if live.is_empty() {
            return Err(StateError::NoLiveNodes);
        }
        let plan = planner::rebalance(&self.effective_owners(), &live, &self.pinned());
        for &(slot, node) in &plan.assign {
            self.map.set_owner(slot, Some(node));
        }
        if !plan.assign.is_empty() {
            self.bump();
        }
        let queued = self.enqueue(plan.moves.iter().copied());
        Ok(Planned {
            assigned: plan.assign.len(),
            queued,
        })
    }

    /// Moves every slot of `node` to the other healthy nodes, evening them out. A failed node
    /// cannot stream its data: its slots are reassigned directly.
    pub fn drain(&mut self, node: &str) -> Result<Planned, StateError> {
        let from = self.resolve(node)?;
        let id = self.node(from).id.clone();
        let receivers: Vec<u16> = self
            .live_nodes()
            .into_iter()
            .filter(|&i| i != from)
            .collect();
        if receivers.is_empty() {
            return Err(StateError::NoLiveNodes);
        }
        let owners = self.effective_owners();
        let incoming = self.map.migrations().iter().any(|m| m.target == from)
            || self.queue.iter().any(|m| m.target == id);
        if incoming {
            return Err(StateError::NodeInFlight(id));
        }
        let pinned = self.pinned();
        let slots: Vec<u16> = (0..owners.len() as u16)
            .filter(|&s| owners[s as usize] == Some(from) && !pinned.contains(&s))
            .collect();
        let counts: Vec<usize> = receivers
            .iter()
            .map(|&r| owners.iter().filter(|o| **o == Some(r)).count())
            .collect();
        let plan = planner::spread(&slots, &receivers, &counts);
        if self.node(from).health == Health::Failed {
            for &(slot, to) in &plan {
                self.map.set_owner(slot, Some(to));
            }
            if !plan.is_empty() {
                self.bump();
            }
            return Ok(Planned {
                assigned: plan.len(),
                queued: 0,
            });
        }
        let queued = self.enqueue(plan.iter().map(|&(s, to)| (s, from, to)));
        Ok(Planned {
            assigned: 0,
            queued,
        })
    }

    /// Removes a node that owns nothing and takes part in no migration.
    pub fn forget(&mut self, node: &str) -> Result<(), StateError> {
        let i = self.resolve(node)?;
        let id = self.node(i).id.clone();
        let count = self.map.slot_count(i);
        if count > 0 {
            return Err(StateError::NodeOwnsSlots { node: id, count });
        }
        if self.in_flight(i) {
            return Err(StateError::NodeInFlight(id));
        }
        self.map.remove_node(i);
        self.seen.remove(&id);
        self.bump();
        Ok(())
    }

    /// Starts queued moves until `max_active` migrations are in flight, all in one new epoch.
    /// Moves no longer valid (owner changed, node failed or gone) are dropped.
    pub fn start_queued(&mut self, max_active: usize) -> Vec<StartOrder> {
        let orders = self.activate_queued(max_active);
        if !orders.is_empty() {
            self.bump();
        }
        orders
    }

    /// Settles `reports` (see `settle_migrations`) and starts queued moves in the room they
    /// leave, all in one new epoch: the slots that finish change owner while the next ones
    /// become IMPORTING/MIGRATING. The new orders wait for the driver in `take_unsent`.
    pub fn settle_and_refill(&mut self, reports: &[Report], max_active: usize) -> Vec<bool> {
        let applied: Vec<bool> = reports.iter().map(|r| self.settle(r)).collect();
        let orders = self.activate_queued(max_active);
        if applied.contains(&true) || !orders.is_empty() {
            self.bump();
        }
        self.unsent.extend(orders);
        applied
    }

    /// Started migrations whose source has not been told yet.
    pub fn take_unsent(&mut self) -> Vec<StartOrder> {
        std::mem::take(&mut self.unsent)
    }

    /// Activates queued moves at the coming epoch (the caller bumps it).
    fn activate_queued(&mut self, max_active: usize) -> Vec<StartOrder> {
        let epoch = self.map.epoch + 1;
        let mut orders = Vec::new();
        while self.map.migrations().len() < max_active {
            let Some(mv) = self.queue.pop_front() else {
                break;
            };
            self.dirty = true;
            if let Some(m) = self.activate(&mv, epoch) {
                orders.push(self.order(&m));
            } else {
                tracing::warn!(slot = mv.slot, source = %mv.source, target = %mv.target, "dropping stale queued move");
            }
        }
        orders
    }

    fn activate(&mut self, mv: &Move, epoch: u64) -> Option<Migration> {
        let (from, _) = self.map.node_by_id(&mv.source)?;
        let (to, _) = self.map.node_by_id(&mv.target)?;
        let ok = self.healthy(from).is_ok()
            && self.healthy(to).is_ok()
            && self.map.owner(mv.slot) == Some(from)
            && self.map.migration(mv.slot).is_none();
        if !ok {
            return None;
        }
        let m = Migration {
            slot: mv.slot,
            source: from,
            target: to,
            epoch,
        };
        self.map.put_migration(m);
        self.progress.remove(&mv.slot);
        Some(m)
    }

    fn order(&self, m: &Migration) -> StartOrder {
        let (source, target) = (self.node(m.source), self.node(m.target));
        StartOrder {
            slot: m.slot,
            epoch: m.epoch,
            source_id: source.id.clone(),
            source_grpc: source.grpc_addr.clone(),
            target_id: target.id.clone(),
            target_grpc: target.grpc_addr.clone(),
        }
    }

    /// Orders for every active migration (re-sent after a control restart).
    pub fn active_orders(&self) -> Vec<StartOrder> {
        self.map
            .migrations()
            .iter()
            .map(|m| self.order(m))
            .collect()
    }

    /// The active migration of `slot` started at `epoch` whose source is `node_id`.
    fn reported(&self, node_id: &str, slot: u16, epoch: u64) -> Option<Migration> {
        let m = *self.map.migration(slot)?;
        (m.epoch == epoch && self.node(m.source).id == node_id).then_some(m)
    }

    /// The source finished streaming: the target owns the slot. False for a stale report.
    pub fn migration_done(&mut self, node_id: &str, slot: u16, epoch: u64) -> bool {
        self.settle_migrations(&[Report::done(node_id, slot, epoch)])[0]
    }

    /// The migration failed: the source keeps the slot. False for a stale report.
    pub fn migration_failed(&mut self, node_id: &str, slot: u16, epoch: u64) -> bool {
        self.settle_migrations(&[Report::failed(node_id, slot, epoch)])[0]
    }

    /// Applies sources' reports together, in one new epoch: each finished slot changes owner,
    /// each failed one stays with its source. Slots are independent, so settling many at once
    /// keeps every slot's own order (IMPORTING/MIGRATING, then owner). Returns, per report,
    /// whether it applied (false: stale, e.g. a repeat or an older epoch).
    pub fn settle_migrations(&mut self, reports: &[Report]) -> Vec<bool> {
        let applied: Vec<bool> = reports.iter().map(|r| self.settle(r)).collect();
        if applied.contains(&true) {
            self.bump();
        }
        applied
    }

    fn settle(&mut self, r: &Report) -> bool {
        let Some(m) = self.reported(&r.node_id, r.slot, r.epoch) else {
            return false;
        };
        if r.done {
            self.map.set_owner(r.slot, Some(m.target));
            self.outcomes.done += 1;
        } else {
            self.outcomes.failed += 1;
        }
        self.map.remove_migration(r.slot);
        self.progress.remove(&r.slot);
        true
    }
}

/// A source node's word on one of its migrations (`MigrationDone` / `MigrationFailed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub node_id: String,
    pub slot: u16,
    pub epoch: u64,
    /// Finished (the target owns the slot now) rather than failed (rolled back).
    pub done: bool,
}

impl Report {
    pub fn done(node_id: &str, slot: u16, epoch: u64) -> Report {
        Report {
            node_id: node_id.into(),
            slot,
            epoch,
            done: true,
        }
    }

    pub fn failed(node_id: &str, slot: u16, epoch: u64) -> Report {
        Report {
            done: false,
            ..Report::done(node_id, slot, epoch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(n: usize) -> (ClusterState, Instant) {
        let now = Instant::now();
        let mut st = ClusterState::new(SlotMap::new(), VecDeque::new(), now);
        for i in 0..n {
            let id = format!("node{i}");
            st.register(
                &id,
                &format!("127.0.0.1:{}", 7001 + i),
                &format!("127.0.0.1:{}", 8001 + i),
                now,
            )
            .unwrap();
        }
        (st, now)
    }

    #[test]
    fn register_is_idempotent_and_bumps_on_change() {
        let (mut st, now) = cluster(1);
        assert_eq!(st.map.epoch, 1);
        st.register("node0", "127.0.0.1:7001", "127.0.0.1:8001", now)
            .unwrap();
        assert_eq!(st.map.epoch, 1);
        st.register("node0", "127.0.0.1:7101", "127.0.0.1:8001", now)
            .unwrap();
        assert_eq!(st.map.epoch, 2);
        assert_eq!(st.map.nodes[0].resp_addr, "127.0.0.1:7101");
    }

    #[test]
    fn resolve_by_prefix_and_address() {
        let (st, _) = cluster(2);
        assert_eq!(st.resolve("node1"), Ok(1));
        assert_eq!(st.resolve("127.0.0.1:7001"), Ok(0));
        assert_eq!(
            st.resolve("node"),
            Err(StateError::AmbiguousNode("node".into()))
        );
        assert_eq!(st.resolve("x"), Err(StateError::UnknownNode("x".into())));
    }

    #[test]
    fn assign_refuses_busy_and_migrating_slots() {
        let (mut st, _) = cluster(2);
        assert_eq!(st.assign(&[0..=9], "node0"), Ok(10));
        assert_eq!(
            st.assign(&[5..=20], "node1"),
            Err(StateError::SlotBusy {
                slot: 5,
                owner: "node0".into()
            })
        );
        assert_eq!(st.migrate(&[0..=0], "node0", "node1"), Ok(1));
        assert_eq!(
            st.assign(&[0..=0], "node1"),
            Err(StateError::SlotMigrating(0))
        );
    }

    #[test]
    fn migration_lifecycle() {
        let (mut st, _) = cluster(2);
        st.assign(&[0..=9], "node0").unwrap();
        st.migrate(&[0..=9], "node0", "node1").unwrap();
        let epoch = st.map.epoch;
        let orders = st.start_queued(8);
        assert_eq!(orders.len(), 8);
        assert_eq!(st.map.epoch, epoch + 1);
        assert_eq!(st.queue.len(), 2);
        assert!(orders
            .iter()
            .all(|o| o.epoch == epoch + 1 && o.target_grpc == "127.0.0.1:8002"));
        assert!(
            !st.migration_done("node1", 0, epoch + 1),
            "only the source reports"
        );
        assert!(!st.migration_done("node0", 0, epoch), "stale epoch");
        assert!(st.migration_done("node0", 0, epoch + 1));
        assert_eq!(st.map.owner(0), Some(1));
        assert!(st.migration_failed("node0", 1, epoch + 1));
        assert_eq!(st.map.owner(1), Some(0));
        assert!(st.map.migration(1).is_none());
        assert_eq!(st.start_queued(8).len(), 2);
    }

    #[test]
    fn reports_settle_in_one_epoch() {
        let (mut st, _) = cluster(2);
        st.assign(&[0..=9], "node0").unwrap();
        st.migrate(&[0..=9], "node0", "node1").unwrap();
        let start = st.start_queued(10)[0].epoch;
        let reports = [
            Report::done("node0", 0, start),
            Report::done("node0", 1, start),
            Report::failed("node0", 2, start),
            Report::done("node0", 3, start - 1),
            Report::done("node0", 0, start),
        ];
        assert_eq!(
            st.settle_migrations(&reports),
            vec![true, true, true, false, false],
            "a stale epoch and a repeat do not apply"
        );
        assert_eq!(st.map.epoch, start + 1, "one epoch for the whole group");
        assert_eq!((st.map.owner(0), st.map.owner(1)), (Some(1), Some(1)));
        assert_eq!(st.map.owner(2), Some(0));
        assert_eq!(st.map.migrations().len(), 7);
        assert_eq!(st.outcomes, Outcomes { done: 2, failed: 1 });
        assert_eq!(st.settle_migrations(&reports[3..]), vec![false, false]);
        assert_eq!(st.map.epoch, start + 1, "nothing applied, no new epoch");

        // Settling refills the room left, in the same epoch.
        st.migrate(&[2..=2], "node0", "node1").unwrap();
        let done = [
            Report::done("node0", 4, start),
            Report::done("node0", 5, start),
        ];
        assert_eq!(st.settle_and_refill(&done, 7), vec![true, true]);
        assert_eq!(st.map.epoch, start + 2);
        let sent = st.take_unsent();
        assert_eq!(
            sent.iter().map(|o| (o.slot, o.epoch)).collect::<Vec<_>>(),
            vec![(2, start + 2)]
        );
        assert_eq!(st.map.migrations().len(), 6);
        assert!(st.take_unsent().is_empty());
    }

    #[test]
    fn failure_rolls_back_and_revives() {
        let (mut st, now) = cluster(2);
        st.assign(&[0..=9], "node0").unwrap();
        st.migrate(&[0..=9], "node0", "node1").unwrap();
        st.start_queued(4);
        let later = now + Duration::from_secs(10);
        st.heartbeat("node0", 0, &[(0, 5)], later).unwrap();
        assert_eq!(st.progress(0), 5);
        let failed = st.detect_failures(later, Duration::from_secs(1));
        assert_eq!(failed, vec!["node1".to_string()]);
        assert!(st.map.migrations().is_empty());
        assert!(st.queue.is_empty());
        assert_eq!(st.map.slot_count(0), 10);
        let epoch = st.map.epoch;
        st.heartbeat("node1", epoch, &[], later).unwrap();
        assert_eq!(st.map.nodes[1].health, Health::Healthy);
        assert_eq!(st.map.epoch, epoch + 1);
    }

    #[test]
    fn draining_a_failed_node_reassigns_directly() {
        let (mut st, now) = cluster(3);
        st.rebalance().unwrap();
        st.heartbeat("node0", 0, &[], now + Duration::from_secs(5))
            .unwrap();
        st.heartbeat("node1", 0, &[], now + Duration::from_secs(5))
            .unwrap();
        st.detect_failures(now + Duration::from_secs(5), Duration::from_secs(1));
        let epoch = st.map.epoch;
        assert_eq!(
            st.drain("node2"),
            Ok(Planned {
                assigned: 5461,
                queued: 0
            })
        );
        assert_eq!(st.map.epoch, epoch + 1);
        assert!(st.queue.is_empty());
        assert_eq!(
            (
                st.map.slot_count(0),
                st.map.slot_count(1),
                st.map.slot_count(2)
            ),
            (8192, 8192, 0)
        );
    }

    #[test]
    fn drain_and_forget() {
        let (mut st, _) = cluster(3);
        assert_eq!(
            st.rebalance().unwrap(),
            Planned {
                assigned: 16384,
                queued: 0
            }
        );
        assert_eq!(
            st.forget("node2"),
            Err(StateError::NodeOwnsSlots {
                node: "node2".into(),
                count: 5461
            })
        );
        assert_eq!(
            st.drain("node2").unwrap(),
            Planned {
                assigned: 0,
                queued: 5461
            }
        );
        assert_eq!(
            st.forget("node2"),
            Err(StateError::NodeOwnsSlots {
                node: "node2".into(),
                count: 5461
            })
        );
        while !st.queue.is_empty() {
            for o in st.start_queued(100) {
                assert!(st.migration_done(&o.source_id, o.slot, o.epoch));
            }
        }
        assert_eq!((st.map.slot_count(0), st.map.slot_count(1)), (8192, 8192));
        st.forget("node2").unwrap();
        assert_eq!(st.map.nodes.len(), 2);
    }
}
