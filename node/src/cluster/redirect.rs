//! The per-command cluster check (Redis's `getNodeByQuery`): find the command's keys with the
//! shared command table, require one slot, and decide from the map in use whether this node
//! serves it, redirects it (MOVED/ASK) or refuses it (CROSSSLOT, TRYAGAIN, CLUSTERDOWN).
//! The slot's gate stays held (shared) while the command runs: see `Cluster::gates`.

use super::{Cluster, View};
use crate::client::ClientState;
use crate::server::Server;
use autocache_proto::command::{self as table, CommandSpec};
use autocache_proto::resp::{ReplyBuf, Request};
use autocache_proto::slot::key_slot;
use autocache_proto::slotmap::SlotState;
use parking_lot::RwLockReadGuard;
use std::time::Duration;

/// How long a command naming a key whose migration batch is in flight waits for the target's
/// acknowledgement (normally a millisecond) before it is refused with TRYAGAIN. Redis moves
/// a key atomically inside MIGRATE, so its clients never meet a key in flight: ours wait.
pub const INFLIGHT_WAIT: Duration = Duration::from_secs(2);

/// A redirect, as the proxy receives it structured and a RESP client as an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    Moved { slot: u16, addr: String },
    Ask { slot: u16, addr: String },
}

/// Why a command is not served here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Redirect(Redirect),
    CrossSlot,
    TryAgain,
    Unbound,
    SelectNonZero,
}

impl Refusal {
    /// The error text (without `-`), as Redis writes it.
    pub fn text(&self) -> String {
        match self {
            Refusal::Redirect(Redirect::Moved { slot, addr }) => format!("MOVED {slot} {addr}"),
            Refusal::Redirect(Redirect::Ask { slot, addr }) => format!("ASK {slot} {addr}"),
            Refusal::CrossSlot => "CROSSSLOT Keys in request don't hash to the same slot".into(),
            Refusal::TryAgain => "TRYAGAIN Multiple keys request during rehashing of slot".into(),
            Refusal::Unbound => "CLUSTERDOWN Hash slot not served".into(),
            Refusal::SelectNonZero => "ERR SELECT is not allowed in cluster mode".into(),
        }
    }
}

pub type Gate<'s> = Option<RwLockReadGuard<'s, ()>>;

/// The dispatcher's answer from the cluster check.
pub enum Admission<'s> {
    /// Run the command, holding the gate until it ends.
    Run(Gate<'s>),
    /// Refused: the error is in `out` (and a redirect in `client.redirect`).
    Refused,
}

/// Called by the dispatcher before a command runs.
pub fn admit<'s>(
    server: &'s Server,
    client: &mut ClientState,
    spec: &'static CommandSpec,
    req: &Request<'_>,
    out: &mut ReplyBuf,
) -> Admission<'s> {
    let Some(cluster) = server.cluster.as_deref() else {
        return Admission::Run(None);
    };
    let asking = take_asking(client, spec);
    match check(server, cluster, client, spec, req, asking) {
        Ok(gate) => Admission::Run(gate),
        Err(refusal) => {
            refuse(server, client, spec, out, refusal);
            Admission::Refused
        }
    }
}

/// The ASKING flag lasts for one command, or for a whole MULTI … EXEC.
fn take_asking(client: &mut ClientState, spec: &CommandSpec) -> bool {
    let asking = client.asking;
    let keep = match spec.name {
        "asking" | "multi" => true,
        "exec" | "discard" => false,
        _ => client.multi.is_some(),
    };
    if !keep {
        client.asking = false;
    }
    asking
}

fn refuse(
    server: &Server,
    client: &mut ClientState,
    spec: &CommandSpec,
    out: &mut ReplyBuf,
    refusal: Refusal,
) {
    if client.multi.is_some() {
        if spec.name == "exec" {
            // As Redis: a redirected EXEC discards the transaction.
            client.multi = None;
            client.multi_error = false;
            client
                .handle
                .multi
                .store(-1, std::sync::atomic::Ordering::Relaxed);
            crate::cmd::transaction::unwatch_all(server, client);
        } else {
            client.multi_error = true;
        }
    }
    out.error(&refusal.text());
    if let Refusal::Redirect(r) = refusal {
        client.redirect = Some(r);
    }
}

fn check<'s>(
    server: &'s Server,
    cluster: &'s Cluster,
    client: &ClientState,
    spec: &'static CommandSpec,
    req: &Request<'_>,
    asking: bool,
) -> Result<Gate<'s>, Refusal> {
    if spec.name == "select" && req.len() == 2 {
        if let Some(db) = autocache_proto::resp::parse_i64(req.arg(1)) {
            if db != 0 {
                return Err(Refusal::SelectNonZero);
            }
        }
        return Ok(None);
    }
    let mut keys: Vec<&[u8]> = Vec::new();
    if spec.name == "exec" {
        if let Some(queued) = &client.multi {
            for q in queued {
                let r = q.as_request();
                collect_keys(&r, &mut keys);
            }
            // Keys borrow from the queue, which outlives this check.
            return decide(server, cluster, &keys, asking);
        }
        return Ok(None);
    }
    collect_keys(req, &mut keys);
    decide(server, cluster, &keys, asking)
}

/// A key of `req` (of every queued command when it is EXEC) that is in flight to a migration
/// target: the connection waits for it to land (`Cluster::wait_inflight`) before the
/// command runs, so that the command sees it gone (ASK) or back (served), never in between.
pub fn inflight_key(
    server: &Server,
    client: &ClientState,
    req: &Request<'_>,
) -> Option<(u16, Box<[u8]>)> {
    let cluster = server.cluster.as_deref()?;
    if !cluster.any_inflight() {
        return None;
    }
    let find = |r: &Request<'_>| {
        let mut keys = Vec::new();
        collect_keys(r, &mut keys);
        keys.into_iter().find_map(|k| {
            let slot = key_slot(k);
            cluster.is_inflight(slot, k).then(|| (slot, k.into()))
        })
    };
    if let (Some(queued), true) = (&client.multi, req.arg(0).eq_ignore_ascii_case(b"exec")) {
        return queued.iter().find_map(|q| find(&q.as_request()));
    }
    find(req)
}

/// Redis's `clusterRedirectBlockedClientIfNeeded`: a client blocked on a key of a slot this
/// node no longer holds (the map moved it elsewhere or left it unassigned) is unblocked with
/// the redirect, after the map changes.
pub fn blocked_refusal(server: &Server, keys: &[Box<[u8]>]) -> Option<Refusal> {
    let cluster = server.cluster.as_deref()?;
    let view = cluster.view();
    let slot = key_slot(keys.first()?);
    if view.me.is_none() || view.holds(slot) {
        return None;
    }
    Some(match view.map.owner(slot) {
        Some(owner) => moved(&view, slot, owner),
        None => Refusal::Unbound,
    })
}

/// Answers a blocked command with `refusal` (structured for the gRPC path, as `refuse`).
pub fn refuse_blocked(client: &mut ClientState, out: &mut ReplyBuf, refusal: Refusal) {
    out.error(&refusal.text());
    if let Refusal::Redirect(r) = refusal {
        client.redirect = Some(r);
    }
}

/// Appends the keys of `req` (none for keyless commands or bad arguments: the handler then
/// answers the error).
pub(crate) fn collect_keys<'r>(req: &Request<'r>, keys: &mut Vec<&'r [u8]>) {
    // Key positions of `OBJECT ENCODING key`, `MEMORY USAGE key` are the subcommand's.
    let Some(spec) = table::lookup(req.arg(0)).and_then(|s| table::row_for(s, req.get(1))) else {
        return;
    };
    if let Ok(idx) = spec.key_index_iter(req.len(), |i| req.arg(i)) {
        keys.extend(idx.map(|i| req.arg(i)));
    }
}

/// Redis's decision for keys that already share one slot check.
fn decide<'s>(
    server: &'s Server,
    cluster: &'s Cluster,
    keys: &[&[u8]],
    asking: bool,
) -> Result<Gate<'s>, Refusal> {
    let Some(first) = keys.first() else {
        return Ok(None);
    };
    let slot = key_slot(first);
    let mut multiple = false;
    for k in &keys[1..] {
        if k != first {
            multiple = true;
            if key_slot(k) != slot {
                return Err(Refusal::CrossSlot);
            }
        }
    }
    // Gate first, then the map: a map swapped in meanwhile is the one we decide with.
    let gate = cluster.gate(slot).read();
    let view = cluster.view();
    let Some(owner) = view.map.owner(slot) else {
        return Err(Refusal::Unbound);
    };
    let state = view.state(slot);
    if state.is_none() {
        if Some(owner) == view.me {
            return Ok(Some(gate));
        }
        return Err(moved(&view, slot, owner));
    }
    let (existing, missing) = count_keys(server, cluster, slot, keys)?;
    match state {
        Some(SlotState::Migrating) if missing > 0 => {
            if existing > 0 {
                return Err(Refusal::TryAgain);
            }
            let target = view
                .map
                .migration(slot)
                .map(|m| view.map.nodes[m.target as usize].resp_addr.clone())
                .unwrap_or_default();
            Err(Refusal::Redirect(Redirect::Ask { slot, addr: target }))
        }
        Some(SlotState::Migrating) => Ok(Some(gate)),
        _ if asking => {
            if multiple && missing > 0 {
                return Err(Refusal::TryAgain);
            }
            Ok(Some(gate))
        }
        _ => Err(moved(&view, slot, owner)),
    }
}

fn moved(view: &View, slot: u16, owner: u16) -> Refusal {
    let addr = view.map.nodes[owner as usize].resp_addr.clone();
    Refusal::Redirect(Redirect::Moved { slot, addr })
}

/// (present, absent) keys of an open slot. A key whose batch is in flight to the target is
/// neither here nor there yet: the client must try again.
fn count_keys(
    server: &Server,
    cluster: &Cluster,
    slot: u16,
    keys: &[&[u8]],
) -> Result<(usize, usize), Refusal> {
    let now = crate::db::now_ms();
    let mut shard = server.keyspace.lock_shard(crate::db::shard_of(slot));
    let (mut existing, mut missing) = (0, 0);
    for k in keys {
        if cluster.is_inflight(slot, k) {
            return Err(Refusal::TryAgain);
        }
        if shard.peek(slot, k, now).is_some() {
            existing += 1;
        } else {
            missing += 1;
        }
    }
    Ok((existing, missing))
}
