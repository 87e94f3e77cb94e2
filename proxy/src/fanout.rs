//! Commands one node cannot answer alone: multi-key commands whose keys span slots are split
//! into one sub-command per slot and their replies merged (MGET keeps key order), and keyless
//! commands that concern the whole keyspace are sent to every node (DBSIZE sums, KEYS
//! concatenates, SCAN walks node after node with the node in the cursor's high bits).

use std::collections::HashMap;
use std::sync::Arc;

use autocache_proto::slot::key_slot;
use bytes::{BufMut, Bytes, BytesMut};
use std::future::Future;

use crate::front::NOT_SERVED;
use crate::{error, resp, Proxy};

/// Commands split by slot when their keys span several: name → keys step (MSET pairs).
pub fn splittable(name: &str) -> Option<usize> {
    match name {
        "mget" | "del" | "unlink" | "exists" | "touch" => Some(1),
        "mset" => Some(2),
        _ => None,
    }
}

/// MGET/DEL/UNLINK/EXISTS/TOUCH/MSET over keys in several slots. The sub-commands are
/// queued on their nodes' streams before this returns, so that what the client sends next
/// cannot overtake them; the future merges their replies.
pub fn split(
    proxy: &Arc<Proxy>,
    name: &'static str,
    args: Vec<Bytes>,
    step: usize,
    resp: u32,
    client: u64,
) -> impl Future<Output = Bytes> + Send + 'static {
    // Groups in order of first appearance; each remembers the key positions it answers for.
    let mut groups: Vec<(u16, Vec<Bytes>, Vec<usize>)> = Vec::new();
    let mut by_slot: HashMap<u16, usize> = HashMap::new();
    // MSET with a key but no value: an arity error, as the node (and Redis) answer it.
    let odd = !(args.len() - 1).is_multiple_of(step);
    let whole = if odd { 1 } else { args.len() };
    for (n, i) in (1..whole).step_by(step).enumerate() {
        let slot = key_slot(&args[i]);
        let g = *by_slot.entry(slot).or_insert_with(|| {
            groups.push((slot, vec![args[0].clone()], Vec::new()));
            groups.len() - 1
        });
        groups[g].1.extend(args[i..i + step].iter().cloned());
        groups[g].2.push(n);
    }
    let total = (args.len() - 1) / step;
    let started: Vec<_> = groups
        .iter_mut()
        .map(|(slot, sub, _)| {
            proxy.start_slot(*slot, std::mem::take(sub), None, resp, Some(client))
        })
        .collect();
    async move {
        if odd {
            let msg = format!("ERR wrong number of arguments for '{name}' command");
            return error(msg.as_bytes());
        }
        let mut replies = Vec::with_capacity(started.len());
        for reply in started {
            replies.push(reply.await);
        }
        if let Some(e) = replies.iter().find(|r| resp::is_error(r)) {
            return e.clone();
        }
        match name {
            "mget" => merge_mget(&groups, &replies, total),
            "mset" => Bytes::from_static(b"+OK\r\n"),
            _ => sum(&replies),
        }
    }
}

fn merge_mget(groups: &[(u16, Vec<Bytes>, Vec<usize>)], replies: &[Bytes], total: usize) -> Bytes {
    let mut slots: Vec<&[u8]> = vec![b"$-1\r\n"; total];
    for ((_, _, positions), reply) in groups.iter().zip(replies) {
        let Some(els) = resp::elements(reply) else {
            return error(b"ERR unexpected reply from node");
        };
        for (pos, el) in positions.iter().zip(els) {
            slots[*pos] = el;
        }
    }
    array(&slots)
}

fn array(els: &[&[u8]]) -> Bytes {
    let mut out = BytesMut::with_capacity(16 + els.iter().map(|e| e.len()).sum::<usize>());
    out.put_slice(format!("*{}\r\n", els.len()).as_bytes());
    for e in els {
        out.put_slice(e);
    }
    out.freeze()
}

fn int(n: i64) -> Bytes {
    Bytes::from(format!(":{n}\r\n"))
}

fn sum(replies: &[Bytes]) -> Bytes {
    let mut total = 0;
    for r in replies {
        match resp::integer(r) {
            Some(n) => total += n,
            None => return error(b"ERR unexpected reply from node"),
        }
    }
    int(total)
}

/// How replies of a command sent to every node become one.
#[derive(Debug, Clone, Copy)]
pub enum Merge {
    /// Integers added (DBSIZE, PUBSUB NUMPAT).
    Sum,
    /// Arrays concatenated (KEYS, PUBSUB CHANNELS).
    Concat,
    /// `+OK` when every node says so (FLUSHALL, CONFIG SET).
    AllOk,
    /// Flat `[name, count, …]` arrays in the same order, counts added (PUBSUB NUMSUB).
    PairSum,
    /// The same reply from every node, given once (SCRIPT LOAD's SHA).
    Same,
    /// Arrays of 0/1 in the same order: 1 where every node says 1 (SCRIPT EXISTS).
    AllOf,
    /// `+OK` when any node says so, else the first node's error (SCRIPT KILL).
    AnyOk,
}

/// Sends the command to every node serving slots (queued before this returns) and merges
/// the replies.
pub fn all_nodes(
    proxy: &Arc<Proxy>,
    args: Vec<Bytes>,
    merge: Merge,
    resp: u32,
    client: u64,
) -> impl Future<Output = Bytes> + Send + 'static {
    let started: Vec<_> = proxy
        .router
        .serving_nodes()
        .into_iter()
        .map(|(_, n)| proxy.start_node(&n.grpc_addr, args.clone(), resp, Some(client)))
        .collect();
    async move {
        let mut replies = Vec::with_capacity(started.len());
        for reply in started {
            replies.push(reply.await);
        }
        merged(merge, replies)
    }
}

fn merged(merge: Merge, replies: Vec<Bytes>) -> Bytes {
    if let Merge::AnyOk = merge {
        return match replies.iter().find(|r| r.as_ref() == b"+OK\r\n") {
            Some(ok) => ok.clone(),
            None => replies
                .into_iter()
                .next()
                .unwrap_or_else(|| error(NOT_SERVED)),
        };
    }
    if let Some(e) = replies.iter().find(|r| resp::is_error(r)) {
        return e.clone();
    }
    match merge {
        Merge::Sum => sum(&replies),
        Merge::AllOk => Bytes::from_static(b"+OK\r\n"),
        Merge::Concat => {
            let mut all = Vec::new();
            for r in &replies {
                match resp::elements(r) {
                    Some(els) => all.extend(els),
                    None => return error(b"ERR unexpected reply from node"),
                }
            }
            array(&all)
        }
        Merge::PairSum => pair_sum(&replies),
        Merge::Same => match replies.first() {
            Some(first) if replies.iter().all(|r| r == first) => first.clone(),
            Some(_) => error(b"ERR nodes answered differently"),
            None => error(NOT_SERVED),
        },
        Merge::AllOf => all_of(&replies),
        Merge::AnyOk => unreachable!("merged above"),
    }
}

fn all_of(replies: &[Bytes]) -> Bytes {
    let mut all: Vec<bool> = Vec::new();
    for (n, r) in replies.iter().enumerate() {
        let Some(els) = resp::elements(r) else {
            return error(b"ERR unexpected reply from node");
        };
        if n == 0 {
            all = vec![true; els.len()];
        }
        for (a, e) in all.iter_mut().zip(els) {
            *a &= resp::integer(e) == Some(1);
        }
    }
    let ints: Vec<Bytes> = all.iter().map(|&b| int(b as i64)).collect();
    array(&ints.iter().map(|b| b.as_ref()).collect::<Vec<_>>())
}

fn pair_sum(replies: &[Bytes]) -> Bytes {
    let mut names: Vec<&[u8]> = Vec::new();
    let mut counts: Vec<i64> = Vec::new();
    for r in replies {
        let Some(els) = resp::elements(r) else {
            return error(b"ERR unexpected reply from node");
        };
        for (i, pair) in els.chunks(2).enumerate() {
            let n = pair.get(1).and_then(|c| resp::integer(c)).unwrap_or(0);
            if i < names.len() {
                counts[i] += n;
            } else {
                names.push(pair[0]);
                counts.push(n);
            }
        }
    }
    let ints: Vec<Bytes> = counts.iter().map(|&n| int(n)).collect();
    let mut els: Vec<&[u8]> = Vec::with_capacity(names.len() * 2);
    for (name, n) in names.iter().zip(&ints) {
        els.push(name);
        els.push(n);
    }
    array(&els)
}

/// Bits of the proxy's SCAN cursor that hold the node's map index.
const NODE_SHIFT: u32 = 56;
/// The node cursor is `hash-prefix << 14 | slot`, under 2^56 (a 42-bit prefix): it fits
/// whole below the node's index. (Rounding it would make a node resume before keys it had
/// already returned: repeats, and with COUNT 1 a walk that never ended.)
const NODE_CURSOR: u64 = (1 << NODE_SHIFT) - 1;

fn encode_cursor(node: u16, node_cursor: u64) -> u64 {
    ((node as u64) << NODE_SHIFT) | (node_cursor & NODE_CURSOR)
}

fn decode_cursor(cursor: u64) -> (u16, u64) {
    ((cursor >> NODE_SHIFT) as u16, cursor & NODE_CURSOR)
}

/// Redis's `parseScanCursorOrReply` (`strtoul`), as the node reads it.
fn parse_cursor(arg: &[u8]) -> Option<u64> {
    autocache_proto::resp::parse_cursor(arg)
}

/// `SCAN cursor [opts]`: the node named by the cursor's high bits, then the next one. The
/// node's request is queued on the client's stream before this returns, so that it sees
/// the client's earlier writes and its later ones cannot overtake it.
pub fn scan(
    proxy: &Arc<Proxy>,
    mut args: Vec<Bytes>,
    resp: u32,
    client: u64,
) -> impl Future<Output = Bytes> + Send + 'static {
    let started = (|| {
        let Some(cursor) = parse_cursor(&args[1]) else {
            return Err(error(b"ERR invalid cursor"));
        };
        let (node, node_cursor) = decode_cursor(cursor);
        let nodes = proxy.router.serving_nodes();
        let Some(pos) = nodes.iter().position(|(i, _)| *i >= node) else {
            return Err(scan_reply(0, &[]));
        };
        // The node vanished from the map: start the next one from its beginning.
        let node_cursor = if nodes[pos].0 == node { node_cursor } else { 0 };
        args[1] = Bytes::from(node_cursor.to_string());
        let reply = proxy.start_node(&nodes[pos].1.grpc_addr, args, resp, Some(client));
        Ok((reply, nodes, pos))
    })();
    async move {
        let (reply, nodes, pos) = match started {
            Ok(s) => s,
            Err(e) => return e,
        };
        let reply = reply.await;
        if resp::is_error(&reply) {
            return reply;
        }
        let parsed = resp::elements(&reply)
            .filter(|e| e.len() == 2)
            .and_then(|e| {
                let next = resp::bulk(e[0]).and_then(parse_cursor)?;
                Some((next, resp::elements(e[1])?))
            });
        let Some((next, keys)) = parsed else {
            return error(b"ERR unexpected reply from node");
        };
        let next = match (next, nodes.get(pos + 1)) {
            (0, Some((i, _))) => encode_cursor(*i, 0),
            (0, None) => 0,
            (n, _) => encode_cursor(nodes[pos].0, n),
        };
        scan_reply(next, &keys)
    }
}

fn scan_reply(cursor: u64, keys: &[&[u8]]) -> Bytes {
    let c = cursor.to_string();
    let mut out = BytesMut::new();
    out.put_slice(format!("*2\r\n${}\r\n{c}\r\n", c.len()).as_bytes());
    out.put_slice(&array(keys));
    out.freeze()
}

/// `RANDOMKEY`: nodes in random order until one has a key. The first node's request is
/// queued on the client's stream before this returns (it sees the client's earlier writes).
pub fn randomkey(
    proxy: &Arc<Proxy>,
    args: Vec<Bytes>,
    resp: u32,
    client: u64,
) -> impl Future<Output = Bytes> + Send + 'static {
    let mut nodes = proxy.router.serving_nodes();
    fastrand::shuffle(&mut nodes);
    let first = nodes
        .first()
        .map(|(_, n)| proxy.start_node(&n.grpc_addr, args.clone(), resp, Some(client)));
    let proxy = proxy.clone();
    async move {
        let mut last = Bytes::from_static(if resp == 3 { b"_\r\n" } else { b"$-1\r\n" });
        let Some(first) = first else {
            return last;
        };
        last = first.await;
        for (_, n) in nodes.iter().skip(1) {
            if resp::bulk(&last).is_some() || resp::is_error(&last) {
                break;
            }
            last = proxy
                .start_node(&n.grpc_addr, args.clone(), resp, Some(client))
                .await;
        }
        last
    }
}

/// Keys and keys-with-expiry summed over every node's `INFO keyspace`, or None when no node
/// answered.
pub async fn keyspace(proxy: &Arc<Proxy>) -> Option<(u64, u64)> {
    let args = vec![Bytes::from_static(b"INFO"), Bytes::from_static(b"keyspace")];
    let started: Vec<_> = proxy
        .router
        .serving_nodes()
        .into_iter()
        .map(|(_, n)| proxy.start_node(&n.grpc_addr, args.clone(), 2, None))
        .collect();
    let (mut keys, mut expires, mut any) = (0, 0, false);
    for reply in started {
        let reply = reply.await;
        let Some(text) = resp::bulk(&reply) else {
            continue;
        };
        any = true;
        for line in String::from_utf8_lossy(text).lines() {
            let Some(rest) = line.strip_prefix("db0:") else {
                continue;
            };
            for field in rest.split(',') {
                match field.split_once('=') {
                    Some(("keys", n)) => keys += n.parse::<u64>().unwrap_or(0),
                    Some(("expires", n)) => expires += n.parse::<u64>().unwrap_or(0),
                    _ => {}
                }
            }
        }
    }
    any.then_some((keys, expires))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_keeps_node_and_slot() {
        const SLOT_BITS: u32 = 14;
        for (node, nc) in [
            (0u16, 0u64),
            (3, 16383),
            (255, ((1u64 << 42) - 1) << SLOT_BITS | 77),
        ] {
            let (n, back) = decode_cursor(encode_cursor(node, nc));
            assert_eq!(n, node);
            assert_eq!(back, nc);
        }
    }
}
