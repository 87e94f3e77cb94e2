//! The control's state on disk: one JSON file in the data dir, replaced atomically (temp file,
//! fsync, rename, fsync of the directory) so a crash leaves either the old or the new state.
//! Nodes are referenced by id, owners stored as ranges. Liveness is not persisted.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use autocache_proto::slotmap::{Health, Migration, NodeEntry, SlotMap};
use serde::{Deserialize, Serialize};

use crate::state::{ClusterState, Move};

const FILE: &str = "control-state.json";
const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct Persisted {
    version: u32,
    epoch: u64,
    nodes: Vec<PNode>,
    owners: Vec<POwner>,
    migrations: Vec<PMigration>,
    queue: Vec<PMoves>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PNode {
    id: String,
    resp_addr: String,
    grpc_addr: String,
    failed: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct POwner {
    start: u16,
    end: u16,
    node: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct PMigration {
    slot: u16,
    source: String,
    target: String,
    epoch: u64,
}

/// A run of queued moves: consecutive slots, same source and target, in queue order. A
/// rebalance queues thousands of moves in a few runs, and the file is rewritten on every
/// change, so its size must not grow with the queue.
#[derive(Debug, Serialize, Deserialize)]
struct PMoves {
    start: u16,
    end: u16,
    source: String,
    target: String,
}

/// Path of the state file in `dir`.
pub fn state_path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Writes the state atomically.
pub fn save(dir: &Path, state: &ClusterState) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(&to_persisted(state)).map_err(io::Error::other)?;
    let tmp = dir.join(format!("{FILE}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, state_path(dir))?;
    File::open(dir)?.sync_all()
}

/// Reads the saved map and queue, if there is a state file.
pub fn load(dir: &Path) -> io::Result<Option<(SlotMap, VecDeque<Move>)>> {
    let bytes = match fs::read(state_path(dir)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let p: Persisted = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    if p.version != VERSION {
        return Err(invalid(format!("unsupported state version {}", p.version)));
    }
    from_persisted(p).map(Some)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn to_persisted(state: &ClusterState) -> Persisted {
    let map = &state.map;
    let id = |i: u16| map.nodes[i as usize].id.clone();
    Persisted {
        version: VERSION,
        epoch: map.epoch,
        nodes: map
            .nodes
            .iter()
            .map(|n| PNode {
                id: n.id.clone(),
                resp_addr: n.resp_addr.clone(),
                grpc_addr: n.grpc_addr.clone(),
                failed: n.health == Health::Failed,
            })
            .collect(),
        owners: map
            .owner_ranges()
            .into_iter()
            .map(|(start, end, node)| POwner {
                start,
                end,
                node: id(node),
            })
            .collect(),
        migrations: map
            .migrations()
            .iter()
            .map(|m| PMigration {
                slot: m.slot,
                source: id(m.source),
                target: id(m.target),
                epoch: m.epoch,
            })
            .collect(),
        queue: queue_runs(&state.queue),
    }
}

fn queue_runs(queue: &VecDeque<Move>) -> Vec<PMoves> {
    let mut runs: Vec<PMoves> = Vec::new();
    for m in queue {
        match runs.last_mut() {
            Some(r) if r.end + 1 == m.slot && r.source == m.source && r.target == m.target => {
                r.end = m.slot
            }
            _ => runs.push(PMoves {
                start: m.slot,
                end: m.slot,
                source: m.source.clone(),
                target: m.target.clone(),
            }),
        }
    }
    runs
}

fn from_persisted(p: Persisted) -> io::Result<(SlotMap, VecDeque<Move>)> {
    let mut map = SlotMap::new();
    map.epoch = p.epoch;
    map.nodes = p
        .nodes
        .into_iter()
        .map(|n| NodeEntry {
            id: n.id,
            resp_addr: n.resp_addr,
            grpc_addr: n.grpc_addr,
            health: if n.failed {
                Health::Failed
            } else {
                Health::Healthy
            },
        })
        .collect();
    let index = |map: &SlotMap, id: &str| {
        map.node_by_id(id)
            .map(|(i, _)| i)
            .ok_or_else(|| invalid(format!("unknown node {id} in state file")))
    };
    for o in &p.owners {
        let node = index(&map, &o.node)?;
        if o.start > o.end || o.end as usize >= autocache_proto::slot::SLOT_COUNT {
            return Err(invalid(format!("bad range {}-{}", o.start, o.end)));
        }
        for slot in o.start..=o.end {
            map.set_owner(slot, Some(node));
        }
    }
    for m in &p.migrations {
        let (source, target) = (index(&map, &m.source)?, index(&map, &m.target)?);
        map.put_migration(Migration {
            slot: m.slot,
            source,
            target,
            epoch: m.epoch,
        });
    }
    let mut queue = VecDeque::new();
    for r in p.queue {
        if r.start > r.end {
            return Err(invalid(format!("bad queued range {}-{}", r.start, r.end)));
        }
        queue.extend((r.start..=r.end).map(|slot| Move {
            slot,
            source: r.source.clone(),
            target: r.target.clone(),
        }));
    }
    Ok((map, queue))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        let now = Instant::now();
        let mut st = ClusterState::new(SlotMap::new(), VecDeque::new(), now);
        st.register("a", "127.0.0.1:1", "127.0.0.1:2", now).unwrap();
        st.register("b", "127.0.0.1:3", "127.0.0.1:4", now).unwrap();
        st.assign(&[0..=99, 200..=200], "a").unwrap();
        st.migrate(&[0..=9], "a", "b").unwrap();
        st.start_queued(3);
        save(dir.path(), &st).unwrap();
        let (map, queue) = load(dir.path()).unwrap().unwrap();
        assert_eq!(map, st.map);
        assert_eq!(queue, st.queue);
        assert_eq!(queue.len(), 7);
        let text = std::fs::read_to_string(state_path(dir.path())).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json["queue"],
            serde_json::json!([{"start": 3, "end": 9, "source": "a", "target": "b"}])
        );
        assert!(!dir.path().join("control-state.json.tmp").exists());
    }
}
