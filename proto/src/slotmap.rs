//! The slot map every tier shares: which node owns each of the 16384 slots under an epoch,
//! the nodes' addresses and health, and the migrations in flight. Control produces it, nodes
//! and proxies route with it; the `CLUSTER SLOTS | SHARDS | NODES` renderers live here so that
//! node and proxy answer them identically. No I/O and no tier logic.

use std::fmt;

use crate::pb::control as pb;
use crate::slot::SLOT_COUNT;

/// A node's health as control sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    Healthy,
    /// Silent past control's node timeout.
    Failed,
}

/// A member of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeEntry {
    pub id: String,
    /// `host:port` of the RESP listener.
    pub resp_addr: String,
    /// `host:port` of the gRPC service.
    pub grpc_addr: String,
    pub health: Health,
}

/// How a slot in flight looks from one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlotState {
    /// The node owns the slot and streams it away.
    Migrating,
    /// The node receives the slot.
    Importing,
}

/// A slot in flight: MIGRATING on `source`, IMPORTING on `target` (indexes into `nodes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Migration {
    pub slot: u16,
    pub source: u16,
    pub target: u16,
    /// Epoch at which the migration started.
    pub epoch: u64,
}

impl Migration {
    /// The slot's state on `node`, if it takes part in this migration.
    pub fn state_of(&self, node: u16) -> Option<SlotState> {
        if node == self.source {
            Some(SlotState::Migrating)
        } else if node == self.target {
            Some(SlotState::Importing)
        } else {
            None
        }
    }
}

/// A protobuf map that does not describe a valid slot map.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotMapError {
    #[error("slot {0} out of range")]
    SlotOutOfRange(u32),
    #[error("slot range {0}-{1} is reversed")]
    ReversedRange(u32, u32),
    #[error("node index {0} out of range")]
    NodeOutOfRange(u32),
    #[error("slot {0} has two owners")]
    DuplicateOwner(u32),
    #[error("slot {0} has two migrations")]
    DuplicateMigration(u32),
    #[error("migration of slot {0} has the same source and target")]
    SelfMigration(u32),
}

/// Snapshot of the cluster layout under one epoch.
#[derive(Clone, PartialEq, Eq)]
pub struct SlotMap {
    pub epoch: u64,
    pub nodes: Vec<NodeEntry>,
    /// One entry per slot: index into `nodes`, or unassigned.
    owners: Vec<Option<u16>>,
    /// Sorted by slot, at most one per slot.
    migrations: Vec<Migration>,
}

impl Default for SlotMap {
    fn default() -> Self {
        SlotMap {
            epoch: 0,
            nodes: Vec::new(),
            owners: vec![None; SLOT_COUNT],
            migrations: Vec::new(),
        }
    }
}

impl fmt::Debug for SlotMap {
    // 16384 owners are unreadable: show ranges instead.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlotMap")
            .field("epoch", &self.epoch)
            .field("nodes", &self.nodes)
            .field("owners", &self.owner_ranges())
            .field("migrations", &self.migrations)
            .finish()
    }
}

impl SlotMap {
    /// An empty map: no nodes, every slot unassigned, epoch 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// One node owning every slot: how a standalone node describes itself.
    pub fn single_node(node: NodeEntry, epoch: u64) -> Self {
        let mut map = SlotMap {
            epoch,
            nodes: vec![node],
            ..Self::default()
        };
        map.owners.iter_mut().for_each(|o| *o = Some(0));
        map
    }

    /// Owner (node index) of `slot`.
    pub fn owner(&self, slot: u16) -> Option<u16> {
        self.owners.get(slot as usize).copied().flatten()
    }

    /// Owner of `slot`, as a node entry.
    pub fn owner_node(&self, slot: u16) -> Option<&NodeEntry> {
        self.owner(slot).map(|i| &self.nodes[i as usize])
    }

    /// Sets the owner of `slot`. Panics on an out-of-range slot or node index.
    pub fn set_owner(&mut self, slot: u16, owner: Option<u16>) {
        if let Some(i) = owner {
            assert!(
                (i as usize) < self.nodes.len(),
                "node index {i} out of range"
            );
        }
        self.owners[slot as usize] = owner;
    }

    /// Owners of all slots, indexed by slot.
    pub fn owners(&self) -> &[Option<u16>] {
        &self.owners
    }

    /// Index and entry of the node called `id`.
    pub fn node_by_id(&self, id: &str) -> Option<(u16, &NodeEntry)> {
        self.nodes
            .iter()
            .position(|n| n.id == id)
            .map(|i| (i as u16, &self.nodes[i]))
    }

    /// The migration of `slot`, if it is in flight.
    pub fn migration(&self, slot: u16) -> Option<&Migration> {
        self.migrations
            .binary_search_by_key(&slot, |m| m.slot)
            .ok()
            .map(|i| &self.migrations[i])
    }

    /// The state of `slot` on `node`, if it is in flight and the node takes part.
    pub fn slot_state(&self, slot: u16, node: u16) -> Option<SlotState> {
        self.migration(slot).and_then(|m| m.state_of(node))
    }

    /// Migrations in flight, by slot.
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// Adds (or replaces) the migration of `m.slot`.
    pub fn put_migration(&mut self, m: Migration) {
        match self.migrations.binary_search_by_key(&m.slot, |x| x.slot) {
            Ok(i) => self.migrations[i] = m,
            Err(i) => self.migrations.insert(i, m),
        }
    }

    /// Removes the migration of `slot`, returning it.
    pub fn remove_migration(&mut self, slot: u16) -> Option<Migration> {
        let i = self
            .migrations
            .binary_search_by_key(&slot, |m| m.slot)
            .ok()?;
        Some(self.migrations.remove(i))
    }

    /// Removes node `index`, renumbering the others. The caller makes sure it owns no slot
    /// and takes part in no migration; any such slot or migration would be dropped.
    pub fn remove_node(&mut self, index: u16) {
        self.nodes.remove(index as usize);
        let shift = |i: u16| if i > index { i - 1 } else { i };
        for o in self.owners.iter_mut() {
            *o = match *o {
                Some(i) if i == index => None,
                Some(i) => Some(shift(i)),
                None => None,
            };
        }
        self.migrations
            .retain(|m| m.source != index && m.target != index);
        for m in self.migrations.iter_mut() {
            m.source = shift(m.source);
            m.target = shift(m.target);
        }
    }

    /// Number of slots `node` owns.
    pub fn slot_count(&self, node: u16) -> usize {
        self.owners.iter().filter(|o| **o == Some(node)).count()
    }

    /// Maximal runs of consecutive slots with the same owner: `(start, end, owner)`, inclusive.
    pub fn owner_ranges(&self) -> Vec<(u16, u16, u16)> {
        // Called on every map change (persist, publish): a plain index loop stays cheap even
        // in unoptimized builds.
        let owners = &self.owners;
        let mut out = Vec::new();
        let mut start = 0;
        while start < owners.len() {
            let owner = owners[start];
            let mut end = start + 1;
            while end < owners.len() && owners[end] == owner {
                end += 1;
            }
            if let Some(node) = owner {
                out.push((start as u16, (end - 1) as u16, node));
            }
            start = end;
        }
        out
    }

    /// Ranges of slots `node` owns, inclusive, ascending.
    pub fn ranges_of(&self, node: u16) -> Vec<(u16, u16)> {
        self.owner_ranges()
            .into_iter()
            .filter(|r| r.2 == node)
            .map(|r| (r.0, r.1))
            .collect()
    }

    /// The protobuf form (owners as ranges).
    pub fn to_proto(&self) -> pb::SlotMap {
        pb::SlotMap {
            epoch: self.epoch,
            nodes: self.nodes.iter().map(node_to_proto).collect(),
            owners: self
                .owner_ranges()
                .into_iter()
                .map(|(start, end, node)| pb::OwnerRange {
                    start: start.into(),
                    end: end.into(),
                    node: node.into(),
                })
                .collect(),
            migrations: self
                .migrations
                .iter()
                .map(|m| pb::Migration {
                    slot: m.slot.into(),
                    source: m.source.into(),
                    target: m.target.into(),
                    epoch: m.epoch,
                })
                .collect(),
        }
    }

    /// Parses the protobuf form, checking every index and range.
    pub fn from_proto(msg: &pb::SlotMap) -> Result<SlotMap, SlotMapError> {
        let mut map = SlotMap {
            epoch: msg.epoch,
            nodes: msg.nodes.iter().map(node_from_proto).collect(),
            ..SlotMap::default()
        };
        let node_index = |i: u32| -> Result<u16, SlotMapError> {
            if (i as usize) < map.nodes.len() {
                Ok(i as u16)
            } else {
                Err(SlotMapError::NodeOutOfRange(i))
            }
        };
        for r in &msg.owners {
            let node = node_index(r.node)?;
            for slot in checked_range(r.start, r.end)? {
                if map.owners[slot as usize].replace(node).is_some() {
                    return Err(SlotMapError::DuplicateOwner(slot.into()));
                }
            }
        }
        let mut migrations = Vec::with_capacity(msg.migrations.len());
        for m in &msg.migrations {
            let slot = checked_slot(m.slot)?;
            let (source, target) = (node_index(m.source)?, node_index(m.target)?);
            if source == target {
                return Err(SlotMapError::SelfMigration(m.slot));
            }
            migrations.push(Migration {
                slot,
                source,
                target,
                epoch: m.epoch,
            });
        }
        migrations.sort_by_key(|m| m.slot);
        if let Some(w) = migrations.windows(2).find(|w| w[0].slot == w[1].slot) {
            return Err(SlotMapError::DuplicateMigration(w[0].slot.into()));
        }
        map.migrations = migrations;
        Ok(map)
    }

    /// `CLUSTER SLOTS` data: one entry per run of slots with one owner, by start slot. Each
    /// entry lists the master (no replicas yet) as Redis does: ip, port, id.
    pub fn cluster_slots(&self) -> Vec<SlotsRange> {
        self.owner_ranges()
            .into_iter()
            .map(|(start, end, owner)| {
                let node = &self.nodes[owner as usize];
                let (ip, port) = split_host_port(&node.resp_addr);
                SlotsRange {
                    start,
                    end,
                    nodes: vec![SlotsNode {
                        ip: ip.to_string(),
                        port,
                        id: node.id.clone(),
                    }],
                }
            })
            .collect()
    }

    /// `CLUSTER SHARDS` data: one shard per node (each node is a master without replicas),
    /// in node order, nodes without slots included as Redis does.
    pub fn cluster_shards(&self) -> Vec<Shard> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let (ip, port) = split_host_port(&node.resp_addr);
                Shard {
                    slots: self.ranges_of(i as u16),
                    nodes: vec![ShardNode {
                        id: node.id.clone(),
                        port,
                        ip: ip.to_string(),
                        endpoint: ip.to_string(),
                        role: "master",
                        replication_offset: 0,
                        health: match node.health {
                            Health::Healthy => "online",
                            Health::Failed => "failed",
                        },
                    }],
                }
            })
            .collect()
    }

    /// `CLUSTER NODES` text as seen by node `myself`: one line per node, each ending in `\n`,
    /// `<id> <ip:port@cport> <flags> <master> <ping-sent> <pong-recv> <config-epoch>
    /// <link-state> <slot> ...`. The cluster-bus port is the node's gRPC port (its peer
    /// channel); ping/pong times are 0 (control tracks liveness) and the config epoch is the
    /// map's epoch. As in Redis, only the `myself` line lists `[slot->-target]` and
    /// `[slot-<-source]` for slots in flight.
    pub fn cluster_nodes(&self, myself: Option<u16>) -> String {
        let mut out = String::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let me = myself == Some(i as u16);
            self.node_line(&mut out, i as u16, node, me);
            out.push('\n');
        }
        out
    }

    fn node_line(&self, out: &mut String, index: u16, node: &NodeEntry, me: bool) {
        use fmt::Write;
        let (ip, port) = split_host_port(&node.resp_addr);
        let (_, cport) = split_host_port(&node.grpc_addr);
        let failed = node.health == Health::Failed;
        let flags = match (me, failed) {
            (true, false) => "myself,master",
            (true, true) => "myself,master,fail",
            (false, false) => "master",
            (false, true) => "master,fail",
        };
        let link = if failed && !me {
            "disconnected"
        } else {
            "connected"
        };
        let _ = write!(
            out,
            "{} {}:{}@{} {} - 0 0 {} {}",
            node.id, ip, port, cport, flags, self.epoch, link
        );
        for (start, end) in self.ranges_of(index) {
            if start == end {
                let _ = write!(out, " {start}");
            } else {
                let _ = write!(out, " {start}-{end}");
            }
        }
        if !me {
            return;
        }
        for m in &self.migrations {
            match m.state_of(index) {
                Some(SlotState::Migrating) => {
                    let _ = write!(out, " [{}->-{}]", m.slot, self.nodes[m.target as usize].id);
                }
                Some(SlotState::Importing) => {
                    let _ = write!(out, " [{}-<-{}]", m.slot, self.nodes[m.source as usize].id);
                }
                None => {}
            }
        }
    }
}

/// One `CLUSTER SLOTS` entry: `[start, end, [ip, port, id], ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotsRange {
    pub start: u16,
    pub end: u16,
    /// Master first (then replicas, when there are any).
    pub nodes: Vec<SlotsNode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotsNode {
    pub ip: String,
    pub port: u16,
    pub id: String,
}

/// One `CLUSTER SHARDS` entry: `slots` (flat start/end pairs) and `nodes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    pub slots: Vec<(u16, u16)>,
    pub nodes: Vec<ShardNode>,
}

/// A node of a shard. Redis 7.0 writes the fields as a map in this order: `id`, `port`, `ip`,
/// `endpoint`, `role`, `replication-offset`, `health`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardNode {
    pub id: String,
    pub port: u16,
    pub ip: String,
    pub endpoint: String,
    pub role: &'static str,
    pub replication_offset: i64,
    /// `online` or `failed`.
    pub health: &'static str,
}

/// Splits `host:port` (or `[v6]:port`); a missing or bad port reads as 0.
pub fn split_host_port(addr: &str) -> (&str, u16) {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return (addr, 0);
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    (host, port.parse().unwrap_or(0))
}

fn checked_slot(slot: u32) -> Result<u16, SlotMapError> {
    if (slot as usize) < SLOT_COUNT {
        Ok(slot as u16)
    } else {
        Err(SlotMapError::SlotOutOfRange(slot))
    }
}

/// Validates an inclusive protobuf range.
pub fn checked_range(start: u32, end: u32) -> Result<std::ops::RangeInclusive<u16>, SlotMapError> {
    let (s, e) = (checked_slot(start)?, checked_slot(end)?);
    if s > e {
        return Err(SlotMapError::ReversedRange(start, end));
    }
    Ok(s..=e)
}

fn node_to_proto(n: &NodeEntry) -> pb::NodeEntry {
    pb::NodeEntry {
        id: n.id.clone(),
        resp_addr: n.resp_addr.clone(),
        grpc_addr: n.grpc_addr.clone(),
        health: match n.health {
            Health::Healthy => pb::NodeHealth::Healthy,
            Health::Failed => pb::NodeHealth::Failed,
        } as i32,
    }
}

fn node_from_proto(n: &pb::NodeEntry) -> NodeEntry {
    NodeEntry {
        id: n.id.clone(),
        resp_addr: n.resp_addr.clone(),
        grpc_addr: n.grpc_addr.clone(),
        // Anything but an explicit failure (unknown future values included) serves.
        health: if n.health == pb::NodeHealth::Failed as i32 {
            Health::Failed
        } else {
            Health::Healthy
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "cccccccccccccccccccccccccccccccccccccccc";

    fn node(id: &str, port: u16) -> NodeEntry {
        NodeEntry {
            id: id.to_string(),
            resp_addr: format!("127.0.0.1:{port}"),
            grpc_addr: format!("127.0.0.1:{}", port + 1000),
            health: Health::Healthy,
        }
    }

    /// A owns 0-5460, B 5461-10922 plus 16383, C 10923-16382 except 12000 (unassigned);
    /// slot 100 migrates A → B.
    fn sample() -> SlotMap {
        let mut map = SlotMap {
            epoch: 7,
            nodes: vec![node(A, 7001), node(B, 7002), node(C, 7003)],
            ..SlotMap::default()
        };
        for slot in 0..=16383u16 {
            let owner = match slot {
                0..=5460 => Some(0),
                5461..=10922 | 16383 => Some(1),
                12000 => None,
                _ => Some(2),
            };
            map.set_owner(slot, owner);
        }
        map.put_migration(Migration {
            slot: 100,
            source: 0,
            target: 1,
            epoch: 6,
        });
        map
    }

    #[test]
    fn lookups() {
        let map = sample();
        assert_eq!(map.owner(0), Some(0));
        assert_eq!(map.owner(5461), Some(1));
        assert_eq!(map.owner(12000), None);
        assert_eq!(map.owner_node(16383).unwrap().id, B);
        assert_eq!(map.node_by_id(C).unwrap().0, 2);
        assert!(map.node_by_id("nope").is_none());
        assert_eq!(map.migration(100).unwrap().target, 1);
        assert!(map.migration(101).is_none());
        assert_eq!(map.slot_state(100, 0), Some(SlotState::Migrating));
        assert_eq!(map.slot_state(100, 1), Some(SlotState::Importing));
        assert_eq!(map.slot_state(100, 2), None);
        assert_eq!(map.slot_count(0), 5461);
        assert_eq!(map.slot_count(1), 5463);
        assert_eq!(map.slot_count(2), 5459);
        assert_eq!(map.ranges_of(1), vec![(5461, 10922), (16383, 16383)]);
    }

    #[test]
    fn proto_round_trip_is_compact() {
        let map = sample();
        let msg = map.to_proto();
        assert_eq!(msg.owners.len(), 5);
        assert_eq!(
            msg.owners[2],
            pb::OwnerRange {
                start: 10923,
                end: 11999,
                node: 2
            }
        );
        assert_eq!(SlotMap::from_proto(&msg).unwrap(), map);
    }

    #[test]
    fn proto_rejects_bad_maps() {
        let mut msg = sample().to_proto();
        msg.owners[0].node = 3;
        assert_eq!(
            SlotMap::from_proto(&msg),
            Err(SlotMapError::NodeOutOfRange(3))
        );
        let mut msg = sample().to_proto();
        msg.owners[1].start = 0;
        assert_eq!(
            SlotMap::from_proto(&msg),
            Err(SlotMapError::DuplicateOwner(0))
        );
        let mut msg = sample().to_proto();
        msg.owners[0].end = 16384;
        assert_eq!(
            SlotMap::from_proto(&msg),
            Err(SlotMapError::SlotOutOfRange(16384))
        );
        let mut msg = sample().to_proto();
        msg.migrations[0].target = 0;
        assert_eq!(
            SlotMap::from_proto(&msg),
            Err(SlotMapError::SelfMigration(100))
        );
    }

    #[test]
    fn remove_node_renumbers() {
        let mut map = sample();
        map.nodes.push(node("dddd", 7004));
        map.set_owner(12000, Some(3));
        map.put_migration(Migration {
            slot: 11000,
            source: 2,
            target: 3,
            epoch: 7,
        });
        map.remove_node(0);
        assert_eq!(map.nodes.len(), 3);
        assert_eq!(map.owner(0), None);
        assert_eq!(map.owner(5461), Some(0));
        assert_eq!(map.owner(12000), Some(2));
        assert_eq!(map.migrations().len(), 1);
        assert_eq!(
            (map.migrations()[0].source, map.migrations()[0].target),
            (1, 2)
        );
    }

    #[test]
    fn cluster_nodes_text() {
        let mut map = sample();
        map.nodes[2].health = Health::Failed;
        let expected = format!(
            "{A} 127.0.0.1:7001@8001 myself,master - 0 0 7 connected 0-5460 [100->-{B}]\n\
             {B} 127.0.0.1:7002@8002 master - 0 0 7 connected 5461-10922 16383\n\
             {C} 127.0.0.1:7003@8003 master,fail - 0 0 7 disconnected 10923-11999 12001-16382\n"
        );
        assert_eq!(map.cluster_nodes(Some(0)), expected);
        let expected_b = format!(
            "{A} 127.0.0.1:7001@8001 master - 0 0 7 connected 0-5460\n\
             {B} 127.0.0.1:7002@8002 myself,master - 0 0 7 connected 5461-10922 16383 [100-<-{A}]\n\
             {C} 127.0.0.1:7003@8003 master,fail - 0 0 7 disconnected 10923-11999 12001-16382\n"
        );
        assert_eq!(map.cluster_nodes(Some(1)), expected_b);
    }

    #[test]
    fn cluster_nodes_single_slots_and_empty_node() {
        let mut map = SlotMap {
            epoch: 3,
            nodes: vec![node(A, 30001), node(B, 30002)],
            ..SlotMap::default()
        };
        map.set_owner(5, Some(0));
        map.set_owner(7, Some(0));
        map.set_owner(8, Some(0));
        let expected = format!(
            "{A} 127.0.0.1:30001@31001 master - 0 0 3 connected 5 7-8\n\
             {B} 127.0.0.1:30002@31002 myself,master - 0 0 3 connected\n"
        );
        assert_eq!(map.cluster_nodes(Some(1)), expected);
    }

    #[test]
    fn cluster_slots_data() {
        let slots = sample().cluster_slots();
        let got: Vec<(u16, u16, &str, u16)> = slots
            .iter()
            .map(|r| (r.start, r.end, r.nodes[0].id.as_str(), r.nodes[0].port))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 5460, A, 7001),
                (5461, 10922, B, 7002),
                (10923, 11999, C, 7003),
                (12001, 16382, C, 7003),
                (16383, 16383, B, 7002),
            ]
        );
        assert!(slots
            .iter()
            .all(|r| r.nodes.len() == 1 && r.nodes[0].ip == "127.0.0.1"));
    }

    #[test]
    fn cluster_shards_data() {
        let mut map = sample();
        map.nodes[2].health = Health::Failed;
        map.nodes.push(node(A, 7009));
        let shards = map.cluster_shards();
        assert_eq!(shards.len(), 4);
        assert_eq!(shards[1].slots, vec![(5461, 10922), (16383, 16383)]);
        assert_eq!(
            shards[2].nodes[0],
            ShardNode {
                id: C.to_string(),
                port: 7003,
                ip: "127.0.0.1".to_string(),
                endpoint: "127.0.0.1".to_string(),
                role: "master",
                replication_offset: 0,
                health: "failed",
            }
        );
        assert!(shards[3].slots.is_empty());
        assert_eq!(shards[0].nodes[0].health, "online");
    }

    #[test]
    fn single_node_owns_everything() {
        let map = SlotMap::single_node(node(A, 6379), 0);
        assert_eq!(map.owner_ranges(), vec![(0, 16383, 0)]);
        assert_eq!(
            map.cluster_nodes(Some(0)),
            format!("{A} 127.0.0.1:6379@7379 myself,master - 0 0 0 connected 0-16383\n")
        );
    }

    #[test]
    fn host_port_parsing() {
        assert_eq!(split_host_port("10.0.0.1:7000"), ("10.0.0.1", 7000));
        assert_eq!(split_host_port("[::1]:6379"), ("::1", 6379));
        assert_eq!(split_host_port("name"), ("name", 0));
    }
}
