//! CLUSTER, ASKING, READONLY, READWRITE. A standalone node answers them as a Redis started
//! without `cluster-enabled`; in cluster mode (with a control service) they answer from the
//! slot map in use, in Redis 7.0's formats, so cluster clients and `redis-cli --cluster`
//! work against the node directly.

use super::connection::reply_help;
use super::{eq_ic, parse_int, CmdError, CmdResult, Ctx, Handler};
use crate::cluster::Cluster;
use autocache_proto::resp::{ReplyBuf, Request};
use autocache_proto::slot::{key_slot, SLOT_COUNT};
use autocache_proto::slotmap::{Health, SlotMap};
use std::fmt::Write;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("cluster", cluster),
    ("asking", asking),
    ("readonly", ok),
    ("readwrite", ok),
];

const DISABLED: &str = "ERR This instance has cluster support disabled";

const HELP: &[&str] = &[
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
];

fn cluster_of<'s>(ctx: &Ctx<'_, 's>) -> Result<&'s Cluster, CmdError> {
    ctx.server.cluster.as_deref().ok_or(CmdError::msg(DISABLED))
}

fn asking(ctx: &mut Ctx<'_, '_>, _req: &Request<'_>) -> CmdResult {
    cluster_of(ctx)?;
    ctx.client.asking = true;
    ctx.out.ok();
    Ok(())
}

/// READONLY / READWRITE: there are no replicas to read from, so both only acknowledge.
fn ok(ctx: &mut Ctx<'_, '_>, _req: &Request<'_>) -> CmdResult {
    cluster_of(ctx)?;
    ctx.out.ok();
    Ok(())
}

fn cluster(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let c = cluster_of(ctx)?;
    let sub = req.arg(1);
    let view = c.view();
    let map = &view.map;
    if eq_ic(sub, "slots") {
        slots(ctx.out, map);
    } else if eq_ic(sub, "shards") {
        shards(ctx.out, map);
    } else if eq_ic(sub, "nodes") {
        ctx.out.verbatim(map.cluster_nodes(view.me).as_bytes());
    } else if eq_ic(sub, "myid") {
        ctx.out.bulk(c.id.as_bytes());
    } else if eq_ic(sub, "info") {
        ctx.out.verbatim(info(map).as_bytes());
    } else if eq_ic(sub, "keyslot") {
        ctx.out.int(key_slot(req.arg(2)).into());
    } else if eq_ic(sub, "countkeysinslot") {
        let slot = parse_slot(req.arg(2), "ERR Invalid slot")?;
        // Every tier's keys (as DBSIZE, expired ones not yet reclaimed included).
        let n = ctx.db.lock(slot).slot_key_count(slot);
        ctx.out.int(n as i64);
    } else if eq_ic(sub, "getkeysinslot") {
        getkeysinslot(ctx, req)?;
    } else {
        reply_help(ctx.out, "cluster", HELP);
    }
    Ok(())
}

fn parse_slot(arg: &[u8], err: &str) -> Result<u16, CmdError> {
    let n = parse_int(arg)?;
    if n < 0 || n >= SLOT_COUNT as i64 {
        return Err(CmdError::msg(err));
    }
    Ok(n as u16)
}

fn getkeysinslot(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let slot = parse_int(req.arg(2))?;
    let count = parse_int(req.arg(3))?;
    if count < 0 || slot < 0 || slot >= SLOT_COUNT as i64 {
        return Err(CmdError::msg("ERR Invalid slot or number of keys"));
    }
    let slot = slot as u16;
    let count = count as usize;
    let now = ctx.clock.ms;
    let shard = ctx.db.lock(slot);
    let mut keys: Vec<Box<[u8]>> = shard
        .slot(slot)
        .iter()
        .filter(|e| !e.is_expired(now))
        .take(count)
        .map(|e| e.key().into())
        .collect();
    if keys.len() < count {
        let more = shard.warm_keys_up_to(slot, now, count - keys.len());
        keys.extend(more.into_iter().map(|(k, _)| k));
    }
    super::reply_bulks(ctx.out, keys.iter().map(|k| &k[..]));
    Ok(())
}

/// `[start, end, [ip, port, id, {}]]` per owner run, as Redis 7.0 (the map holds extra
/// endpoints, none here).
fn slots(out: &mut ReplyBuf, map: &SlotMap) {
    let ranges = map.cluster_slots();
    out.array(ranges.len());
    for r in ranges {
        out.array(2 + r.nodes.len());
        out.int(r.start.into());
        out.int(r.end.into());
        for n in r.nodes {
            out.array(4);
            out.bulk(n.ip.as_bytes());
            out.int(n.port.into());
            out.bulk(n.id.as_bytes());
            out.map(0);
        }
    }
}

fn shards(out: &mut ReplyBuf, map: &SlotMap) {
    let shards = map.cluster_shards();
    out.array(shards.len());
    for s in shards {
        out.map(2);
        out.bulk(b"slots");
        out.array(s.slots.len() * 2);
        for (start, end) in &s.slots {
            out.int((*start).into());
            out.int((*end).into());
        }
        out.bulk(b"nodes");
        out.array(s.nodes.len());
        for n in s.nodes {
            out.map(7);
            out.bulk(b"id");
            out.bulk(n.id.as_bytes());
            out.bulk(b"port");
            out.int(n.port.into());
            out.bulk(b"ip");
            out.bulk(n.ip.as_bytes());
            out.bulk(b"endpoint");
            out.bulk(n.endpoint.as_bytes());
            out.bulk(b"role");
            out.bulk(n.role.as_bytes());
            out.bulk(b"replication-offset");
            out.int(n.replication_offset);
            out.bulk(b"health");
            out.bulk(n.health.as_bytes());
        }
    }
}

/// CLUSTER INFO, Redis's field list. There is no cluster bus, so message counters are 0.
fn info(map: &SlotMap) -> String {
    let owners = map.owners();
    let assigned = owners.iter().filter(|o| o.is_some()).count();
    let failed = owners
        .iter()
        .filter(|o| o.is_some_and(|i| map.nodes[i as usize].health == Health::Failed))
        .count();
    let size = (0..map.nodes.len())
        .filter(|&i| owners.contains(&Some(i as u16)))
        .count();
    let state = if assigned == SLOT_COUNT && failed == 0 {
        "ok"
    } else {
        "fail"
    };
    let mut s = String::new();
    let _ = write!(
        s,
        "cluster_state:{state}\r\n\
         cluster_slots_assigned:{assigned}\r\n\
         cluster_slots_ok:{}\r\n\
         cluster_slots_pfail:0\r\n\
         cluster_slots_fail:{failed}\r\n\
         cluster_known_nodes:{}\r\n\
         cluster_size:{size}\r\n\
         cluster_current_epoch:{e}\r\n\
         cluster_my_epoch:{e}\r\n\
         cluster_stats_messages_sent:0\r\n\
         cluster_stats_messages_received:0\r\n\
         total_cluster_links_buffer_limit_exceeded:0\r\n",
        assigned - failed,
        map.nodes.len(),
        e = map.epoch,
    );
    s
}
