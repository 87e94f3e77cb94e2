//! How `autocachectl` shows control's answers: the JSON shapes (`--json`, stable for scripts
//! and the operator) and the human text built from them.

use autocache_proto::pb::control as pb;
use autocache_proto::slotmap::SlotMap;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusJson {
    pub epoch: u64,
    pub assigned_slots: usize,
    pub nodes: Vec<NodeJson>,
    pub moves: Vec<MoveJson>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeJson {
    pub id: String,
    pub resp_addr: String,
    pub grpc_addr: String,
    /// `healthy` or `failed`.
    pub health: String,
    pub slots: u32,
    /// `A-B` or `A`, ascending.
    pub ranges: Vec<String>,
    pub last_heartbeat_ms_ago: u64,
    /// Epoch of the map the node last reported running.
    pub epoch: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveJson {
    pub slot: u32,
    pub source: String,
    pub target: String,
    /// `active` or `queued`.
    pub state: String,
    pub keys_sent: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminJson {
    pub epoch: u64,
    pub slots_assigned: u32,
    pub slots_queued: u32,
    pub message: String,
}

impl From<&pb::AdminReply> for AdminJson {
    fn from(r: &pb::AdminReply) -> Self {
        AdminJson {
            epoch: r.epoch,
            slots_assigned: r.slots_assigned,
            slots_queued: r.slots_queued,
            message: r.message.clone(),
        }
    }
}

fn range_text((a, b): (u16, u16)) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{a}-{b}")
    }
}

/// Builds the JSON shape from a Status reply.
pub fn status_json(reply: &pb::StatusReply) -> Result<StatusJson, String> {
    let map = reply.map.as_ref().ok_or("status reply without a map")?;
    let map = SlotMap::from_proto(map).map_err(|e| e.to_string())?;
    let nodes = reply
        .nodes
        .iter()
        .map(|s| {
            let n = s.node.clone().unwrap_or_default();
            let index = map.node_by_id(&n.id).map(|(i, _)| i);
            NodeJson {
                health: if n.health == pb::NodeHealth::Failed as i32 {
                    "failed"
                } else {
                    "healthy"
                }
                .to_string(),
                slots: s.slot_count,
                ranges: index.map_or_else(Vec::new, |i| {
                    map.ranges_of(i).into_iter().map(range_text).collect()
                }),
                last_heartbeat_ms_ago: s.last_heartbeat_ms_ago,
                epoch: s.node_epoch,
                id: n.id,
                resp_addr: n.resp_addr,
                grpc_addr: n.grpc_addr,
            }
        })
        .collect();
    let moves = reply
        .moves
        .iter()
        .map(|m| MoveJson {
            slot: m.slot,
            source: m.source.clone(),
            target: m.target.clone(),
            state: if m.state == pb::MoveState::Active as i32 {
                "active"
            } else {
                "queued"
            }
            .to_string(),
            keys_sent: m.keys_sent,
        })
        .collect();
    Ok(StatusJson {
        epoch: map.epoch,
        assigned_slots: map.owners().iter().filter(|o| o.is_some()).count(),
        nodes,
        moves,
    })
}

/// Human status: a node table, then migrations (active ones listed, queued ones counted).
pub fn status_text(s: &StatusJson) -> String {
    let mut out = format!(
        "epoch {}, {} nodes, {}/{} slots assigned\n",
        s.epoch,
        s.nodes.len(),
        s.assigned_slots,
        autocache_proto::slot::SLOT_COUNT
    );
    if !s.nodes.is_empty() {
        out.push_str(&format!(
            "{:<40}  {:<21}  {:<21}  {:<7}  {:>5}  {:>9}  RANGES\n",
            "ID", "RESP", "GRPC", "HEALTH", "SLOTS", "LAST SEEN"
        ));
    }
    for n in &s.nodes {
        out.push_str(&format!(
            "{:<40}  {:<21}  {:<21}  {:<7}  {:>5}  {:>7}ms  {}\n",
            n.id,
            n.resp_addr,
            n.grpc_addr,
            n.health,
            n.slots,
            n.last_heartbeat_ms_ago,
            n.ranges.join(",")
        ));
    }
    let active: Vec<&MoveJson> = s.moves.iter().filter(|m| m.state == "active").collect();
    let queued = s.moves.len() - active.len();
    out.push_str(&format!(
        "migrations: {} active, {} queued\n",
        active.len(),
        queued
    ));
    for m in active {
        out.push_str(&format!(
            "  slot {:>5}  {} -> {}  {} keys sent\n",
            m.slot, m.source, m.target, m.keys_sent
        ));
    }
    out
}

pub fn admin_text(r: &AdminJson) -> String {
    format!("{} (epoch {})\n", r.message, r.epoch)
}
