//! Cold reads that never block other clients: before a client's command runs, the keys it
//! names that only the cold tier holds are fetched — no lock held while waiting — and brought
//! into memory; the command then runs as on any key in memory. (A key evicted again before
//! its command runs is fetched under the lock, bounded by the cold tier's timeout.)

use crate::client::ClientState;
use crate::server::Server;
use crate::tier::cold::Pointer;
use autocache_proto::resp::Request;
use autocache_proto::slot::key_slot;

/// A key a command needs from the cold tier.
pub struct Fault {
    slot: u16,
    key: Box<[u8]>,
    pointer: Pointer,
}

/// Whether commands need checking at all: a cold tier holding segments.
pub fn active(server: &Server) -> bool {
    server
        .keyspace
        .warm()
        .and_then(|w| w.cold.as_ref())
        .is_some_and(|c| c.has_segments())
}

/// What `req` must wait for before it runs: nothing unless a cold tier holds segments and
/// the command will run now (not queued inside MULTI; EXEC fetches for its whole queue).
pub fn wanted(server: &Server, state: &ClientState, req: &Request<'_>) -> Vec<Fault> {
    if !state.authenticated
        || !active(server)
        || (state.multi.is_some() && !req.arg(0).eq_ignore_ascii_case(b"exec"))
    {
        return Vec::new();
    }
    faults(server, state, req)
}

/// The keys of `req` — of every queued command when it is EXEC — only the cold tier holds.
fn faults(server: &Server, state: &ClientState, req: &Request<'_>) -> Vec<Fault> {
    let mut keys = Vec::new();
    if needs_values(req) {
        crate::cluster::redirect::collect_keys(req, &mut keys);
    }
    let mut out = Vec::new();
    let now = crate::db::now_ms();
    let mut check = |key: &[u8]| {
        let slot = key_slot(key);
        let shard = server.keyspace.lock_shard(crate::db::shard_of(slot));
        if let Some(pointer) = shard.cold_pointer(slot, key, now) {
            out.push(Fault {
                slot,
                key: key.into(),
                pointer,
            });
        }
    };
    keys.iter().for_each(|k| check(k));
    if let Some(queued) = &state.multi {
        if req.arg(0).eq_ignore_ascii_case(b"exec") {
            for q in queued {
                let r = q.as_request();
                let mut qkeys = Vec::new();
                if needs_values(&r) {
                    crate::cluster::redirect::collect_keys(&r, &mut qkeys);
                }
                qkeys.iter().for_each(|k| check(k));
            }
        }
    }
    out
}

/// Commands that read only a key's type and expiry (answered from the warm tier's header,
/// see `Shard::meta`) or its tier need no fetch.
fn needs_values(req: &Request<'_>) -> bool {
    const META_ONLY: [&[u8]; 6] = [
        b"exists",
        b"type",
        b"ttl",
        b"pttl",
        b"expiretime",
        b"pexpiretime",
    ];
    let name = req.arg(0);
    if META_ONLY.iter().any(|m| name.eq_ignore_ascii_case(m)) {
        return false;
    }
    !(name.eq_ignore_ascii_case(b"object")
        && req.get(1).is_some_and(|s| s.eq_ignore_ascii_case(b"tier")))
}

/// Fetches every fault and installs what is still wanted. `Err` carries the error reply for
/// the command when a value could not be read.
pub async fn resolve(server: &Server, faults: Vec<Fault>) -> Result<(), String> {
    let Some(cold) = server.keyspace.warm().and_then(|w| w.cold.clone()) else {
        return Ok(());
    };
    for f in faults {
        let mut pointer = f.pointer;
        // A garbage collection may move the value while we fetch: follow it once.
        for attempt in 0..2 {
            let fetched = cold.fetch(pointer).await;
            let shard = crate::db::shard_of(f.slot);
            let mut s = server.keyspace.lock_shard(shard);
            match fetched {
                Ok(bytes) => {
                    s.install_cold(f.slot, &f.key, pointer, &bytes);
                    break;
                }
                Err(e) => match s.cold_pointer(f.slot, &f.key, crate::db::now_ms()) {
                    Some(p) if p != pointer && attempt == 0 => pointer = p,
                    Some(_) => return Err(format!("ERR {e}")),
                    None => break,
                },
            }
        }
    }
    Ok(())
}
