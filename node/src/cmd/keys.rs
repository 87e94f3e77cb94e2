//! Generic key commands: existence, deletion, expiry, renaming and copying, introspection
//! (TYPE, OBJECT, MEMORY USAGE), whole-keyspace walks (KEYS, SCAN, RANDOMKEY) and DUMP /
//! RESTORE. Walks lock one shard at a time, never the whole keyspace.

use super::{eq_ic, parse_int, reply_bulks, CmdError, CmdResult, Ctx, Handler};
use crate::db::evict::{self, Policy};
use crate::db::{Clock, Entry, Kind, Lru, Shard, SlotTable, SHARDS};
use crate::dump::{self, PayloadError, Restored};
use crate::glob::glob_match;
use crate::notify;
use autocache_proto::resp::Request;
use autocache_proto::slot::SLOT_COUNT;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("del", del),
    ("unlink", del),
    ("exists", exists),
    ("type", type_),
    ("expire", expire),
    ("pexpire", pexpire),
    ("expireat", expireat),
    ("pexpireat", pexpireat),
    ("ttl", ttl),
    ("pttl", pttl),
    ("expiretime", expiretime),
    ("pexpiretime", pexpiretime),
    ("persist", persist),
    ("keys", keys),
    ("scan", scan),
    ("randomkey", randomkey),
    ("rename", rename),
    ("renamenx", renamenx),
    ("touch", touch),
    ("copy", copy),
    ("object", object),
    ("dump", dump_),
    ("restore", restore),
    ("memory", memory),
];

// ---- lookups shared with the string commands ----

/// Redis's `lookupKeyRead` with `LOOKUP_NOTOUCH` (TYPE, EXISTS, TTL, OBJECT): counts the hit
/// or miss but leaves the access clock alone. `f` extracts what the caller needs.
pub(crate) fn read_notouch<T>(
    shard: &mut Shard,
    slot: u16,
    key: &[u8],
    now: u64,
    f: impl FnOnce(&Entry) -> T,
) -> Option<T> {
    let found = shard.peek(slot, key, now).map(|e| f(e));
    if found.is_some() {
        shard.stats.hits += 1;
    } else {
        shard.stats.misses += 1;
    }
    found
}

/// A live key's type and expiry, counted as a read without touching the access clock and
/// without bringing the value up from a lower tier (EXISTS, TYPE, TTL never fetch from S3).
pub(crate) fn read_meta(
    shard: &mut Shard,
    slot: u16,
    key: &[u8],
    now: u64,
) -> Option<(crate::db::Kind, u64)> {
    let found = shard.meta(slot, key, now);
    if found.is_some() {
        shard.stats.hits += 1;
    } else {
        shard.stats.misses += 1;
        shard.events.emit(notify::KEY_MISS, "keymiss", key);
    }
    found
}

/// The access metadata of a value written over a key: a new key starts fresh; a rewritten one
/// counts as accessed (under LFU the counter carries over, as Redis's `dbSetValue` keeps it).
pub(crate) fn lru_for_write(old: Option<Lru>, clock: &Clock) -> Lru {
    match old {
        Some(lru) if clock.lfu => evict::lfu_touch(lru, clock),
        _ => clock.initial_lru(),
    }
}

/// Deletes a live key; an expired one counts as absent.
/// Deletes a live key with its `del` notification; false when there was none.
fn delete(shard: &mut Shard, slot: u16, key: &[u8], now: u64) -> bool {
    let deleted = shard.peek(slot, key, now).is_some() && shard.remove(slot, key).is_some();
    if deleted {
        shard.events.emit(notify::GENERIC, "del", key);
    }
    deleted
}

// ---- DEL UNLINK EXISTS TOUCH TYPE ----

fn del(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let now = ctx.clock.ms;
    let mut n = 0;
    let mut m = ctx.db.lock_keys(req.iter().skip(1));
    for key in req.iter().skip(1) {
        let (shard, slot) = m.for_key(key);
        if delete(shard, slot, key, now) {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

/// Counts every argument that names a live key, duplicates included.
fn exists(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let now = ctx.clock.ms;
    let mut n = 0;
    let mut m = ctx.db.lock_keys(req.iter().skip(1));
    for key in req.iter().skip(1) {
        let (shard, slot) = m.for_key(key);
        if read_meta(shard, slot, key, now).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

/// Like EXISTS, but a read that updates the access clock.
fn touch(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let clock = ctx.clock;
    let mut n = 0;
    let mut m = ctx.db.lock_keys(req.iter().skip(1));
    for key in req.iter().skip(1) {
        let (shard, slot) = m.for_key(key);
        if shard.get(slot, key, &clock).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

fn type_(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let kind = read_meta(&mut shard, slot, key, ctx.clock.ms).map(|(k, _)| k);
    ctx.out.simple(kind.map_or("none", |k| k.name()));
    Ok(())
}

// ---- EXPIRE family, TTL family, PERSIST ----

/// EXPIRE's NX / XX / GT / LT.
#[derive(Default, Clone, Copy)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_expire_flags(req: &Request<'_>) -> Result<ExpireFlags, CmdError> {
    let mut f = ExpireFlags::default();
    for opt in req.iter().skip(3) {
        if eq_ic(opt, "nx") {
            f.nx = true;
        } else if eq_ic(opt, "xx") {
            f.xx = true;
        } else if eq_ic(opt, "gt") {
            f.gt = true;
        } else if eq_ic(opt, "lt") {
            f.lt = true;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(CmdError::msg(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if f.gt && f.lt {
        return Err(CmdError::msg(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(f)
}

/// Whether the flags allow replacing expiry `current` (-1: none) with `when`.
fn expire_allowed(f: ExpireFlags, current: i64, when: i64) -> bool {
    if f.nx && current != -1 {
        return false;
    }
    if f.xx && current == -1 {
        return false;
    }
    // No expiry counts as an infinite TTL: never "greater than", always "less than".
    if f.gt && (current == -1 || when <= current) {
        return false;
    }
    if f.lt && current != -1 && when >= current {
        return false;
    }
    true
}

/// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT, as Redis's `expireGenericCommand`: `relative`
/// adds now, `seconds` scales the argument; a time already past deletes the key.
fn expire_generic(
    ctx: &mut Ctx<'_, '_>,
    req: &Request<'_>,
    name: &'static str,
    relative: bool,
    seconds: bool,
) -> CmdResult {
    let flags = parse_expire_flags(req)?;
    let mut when = parse_int(req.arg(2))?;
    if seconds {
        when = when
            .checked_mul(1000)
            .ok_or(CmdError::InvalidExpire(name))?;
    }
    let now = ctx.clock.ms as i64;
    if relative {
        when = when.checked_add(now).ok_or(CmdError::InvalidExpire(name))?;
    }
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let Some(current) = shard.peek(slot, key, now as u64).map(|e| e.expire_at()) else {
        ctx.out.int(0);
        return Ok(());
    };
    let current = if current == 0 { -1 } else { current as i64 };
    if !expire_allowed(flags, current, when) {
        ctx.out.int(0);
        return Ok(());
    }
    if when <= now {
        shard.remove(slot, key);
        shard.events.emit(notify::GENERIC, "del", key);
    } else {
        shard.set_expire(slot, key, when as u64, now as u64);
        shard.events.emit(notify::GENERIC, "expire", key);
    }
    ctx.out.int(1);
    Ok(())
}

fn expire(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    expire_generic(ctx, req, "expire", true, true)
}

fn pexpire(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    expire_generic(ctx, req, "pexpire", true, false)
}

fn expireat(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    expire_generic(ctx, req, "expireat", false, true)
}

fn pexpireat(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    expire_generic(ctx, req, "pexpireat", false, false)
}

/// TTL / PTTL / EXPIRETIME / PEXPIRETIME: -2 missing, -1 no expiry; seconds round to nearest.
fn ttl_generic(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, ms: bool, absolute: bool) -> CmdResult {
    let key = req.arg(1);
    let now = ctx.clock.ms;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let reply = match read_meta(&mut shard, slot, key, now).map(|(_, at)| at) {
        None => -2,
        Some(0) => -1,
        Some(at) => {
            let t = if absolute { at } else { at.saturating_sub(now) } as i64;
            if ms {
                t
            } else {
                t.saturating_add(500) / 1000
            }
        }
    };
    ctx.out.int(reply);
    Ok(())
}

fn ttl(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    ttl_generic(ctx, req, false, false)
}

fn pttl(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    ttl_generic(ctx, req, true, false)
}

fn expiretime(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    ttl_generic(ctx, req, false, true)
}

fn pexpiretime(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    ttl_generic(ctx, req, true, true)
}

fn persist(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let now = ctx.clock.ms;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let had = shard.peek(slot, key, now).is_some_and(|e| e.has_expire());
    if had {
        shard.set_expire(slot, key, 0, now);
        shard.events.emit(notify::GENERIC, "persist", key);
    }
    ctx.out.int(had as i64);
    Ok(())
}

// ---- KEYS SCAN RANDOMKEY ----

fn keys(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let pattern = req.arg(1);
    let all = pattern == b"*";
    let now = ctx.clock.ms;
    let mut found: Vec<Box<[u8]>> = Vec::new();
    ctx.db.for_each_shard(|shard| {
        for (slot, table) in shard.tables() {
            for e in table.iter() {
                if !e.is_expired(now) && (all || glob_match(pattern, e.key(), false)) {
                    found.push(e.key().into());
                }
            }
            // Keys only the warm tier holds (none unless tiered).
            for (k, _) in shard.warm_keys(slot, now) {
                if all || glob_match(pattern, &k, false) {
                    found.push(k);
                }
            }
        }
    });
    reply_bulks(ctx.out, found.iter().map(|k| &**k));
    Ok(())
}

/// Bits of a SCAN cursor that hold the slot; the rest is the hash-prefix threshold.
const SLOT_BITS: u32 = 14;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
/// The threshold is a key hash's top 42 bits, so that a cursor stays under 2^56 and a proxy
/// can carry it whole with its node's index above (keys sharing 42 bits come out together).
const PREFIX_SHIFT: u32 = 64 - 42;

struct ScanOpts<'a> {
    count: usize,
    pattern: Option<&'a [u8]>,
    kind: Option<&'a [u8]>,
}

fn parse_scan_opts<'a>(req: &Request<'a>) -> Result<ScanOpts<'a>, CmdError> {
    let mut o = ScanOpts {
        count: 10,
        pattern: None,
        kind: None,
    };
    let mut i = 2;
    while i < req.len() {
        let (opt, val) = (req.arg(i), req.get(i + 1).ok_or(CmdError::Syntax)?);
        if eq_ic(opt, "count") {
            let n = parse_int(val)?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if eq_ic(opt, "match") {
            // "*" matches everything: skip the matcher, as Redis does.
            o.pattern = (val != b"*").then_some(val);
        } else if eq_ic(opt, "type") {
            o.kind = Some(val);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(o)
}

/// SCAN walks slots in order; within a slot it emits keys by ascending hash prefix (the key's
/// hash without its low 14 bits) and resumes from the prefix after the last one emitted, never
/// stopping between two keys sharing a prefix. The cursor is `(prefix << 14) | slot`. A key
/// present for the whole iteration is thus returned whatever tables resize or keys come and go:
/// its position depends only on its own hash (each shard's hasher is fixed for the server's
/// life), never on the table layout.
fn scan(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let cursor = super::scan_util::parse_cursor(req.arg(1))?;
    let opts = parse_scan_opts(req)?;
    let now = ctx.clock.ms;
    let mut slot = (cursor & SLOT_MASK) as u16;
    let mut threshold = cursor >> SLOT_BITS;
    let mut examined = 0usize;
    let mut found: Vec<Box<[u8]>> = Vec::new();
    let next = loop {
        let shard = ctx.db.lock(slot);
        // Memory's keys and those only the warm tier holds: a key's place depends on its hash
        // alone, whichever tier holds it.
        let warm = shard.warm_keys(slot, now);
        let mut cands: Vec<(u64, &[u8], Kind, bool)> = shard
            .slot(slot)
            .iter()
            .map(|e| (e.key(), e.kind(), e.is_expired(now)))
            .chain(warm.iter().map(|(k, kind)| (&**k, *kind, false)))
            .map(|(k, kind, dead)| (shard.hash(k) >> PREFIX_SHIFT, k, kind, dead))
            .filter(|c| c.0 >= threshold)
            .collect();
        cands.sort_unstable_by_key(|c| c.0);
        let mut take = cands.len().min(opts.count - examined);
        while take > 0 && take < cands.len() && cands[take].0 == cands[take - 1].0 {
            take += 1;
        }
        for &(_, k, kind, dead) in &cands[..take] {
            if !dead && scan_wants(&opts, k, kind) {
                found.push(k.into());
            }
        }
        examined += take;
        if take < cands.len() {
            // Stopped inside the slot; prefixes beyond the last emitted one remain.
            break ((cands[take - 1].0 + 1) << SLOT_BITS) | slot as u64;
        }
        // Release this shard before moving to the next slot's.
        drop(cands);
        drop(warm);
        drop(shard);
        if slot as usize + 1 == SLOT_COUNT {
            break 0;
        }
        slot += 1;
        threshold = 0;
        if examined >= opts.count {
            break slot as u64;
        }
    };
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    reply_bulks(ctx.out, found.iter().map(|k| &**k));
    Ok(())
}

fn scan_wants(opts: &ScanOpts<'_>, key: &[u8], kind: Kind) -> bool {
    opts.kind.is_none_or(|k| eq_ic(k, kind.name()))
        && opts.pattern.is_none_or(|p| glob_match(p, key, false))
}

fn randomkey(ctx: &mut Ctx<'_, '_>, _req: &Request<'_>) -> CmdResult {
    let now = ctx.clock.ms;
    let start = fastrand::usize(..SHARDS);
    for i in 0..SHARDS {
        // Slot `s` (< SHARDS) lives in shard `s`: locking it locks that shard.
        let shard = ctx.db.lock(((start + i) % SHARDS) as u16);
        // Memory or the warm tier, in proportion to the keys each holds alone.
        let (hot, cold) = (shard.len(), shard.cold_len());
        if hot + cold == 0 {
            continue;
        }
        let found = if fastrand::usize(..hot + cold) < hot {
            random_live_key(&shard, now).or_else(|| shard.random_warm_key(now))
        } else {
            shard
                .random_warm_key(now)
                .or_else(|| random_live_key(&shard, now))
        };
        if let Some(key) = found {
            drop(shard);
            ctx.out.bulk(&key);
            return Ok(());
        }
    }
    ctx.out.null();
    Ok(())
}

/// A random unexpired key of the shard: a random non-empty table, then a random live key.
fn random_live_key(shard: &Shard, now: u64) -> Option<Box<[u8]>> {
    let tables: Vec<&SlotTable> = shard
        .tables()
        .map(|(_, t)| t)
        .filter(|t| !t.is_empty())
        .collect();
    let start = fastrand::usize(..tables.len().max(1));
    for i in 0..tables.len() {
        let live: Vec<&Entry> = tables[(start + i) % tables.len()]
            .iter()
            .filter(|e| !e.is_expired(now))
            .collect();
        if !live.is_empty() {
            return Some(live[fastrand::usize(..live.len())].key().into());
        }
    }
    None
}

// ---- RENAME RENAMENX COPY ----

/// The same entry under another key, moving the value rather than copying it.
fn rekey(e: Entry, key: &[u8]) -> Entry {
    let (at, lru) = (e.expire_at(), e.lru());
    match e {
        Entry::Str(_) => Entry::string(key, e.as_str().unwrap_or_default(), at, lru),
        Entry::Obj(o) => Entry::object(key, o.value, at, lru),
    }
}

fn rename_generic(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, nx: bool) -> CmdResult {
    let (src, dst) = (req.arg(1), req.arg(2));
    let now = ctx.clock.ms;
    let mut m = ctx.db.lock_keys([src, dst]);
    let (shard, src_slot) = m.for_key(src);
    if shard.peek(src_slot, src, now).is_none() {
        return Err(CmdError::NoSuchKey);
    }
    if src != dst {
        let (dshard, dst_slot) = m.for_key(dst);
        let dst_exists = dshard.peek(dst_slot, dst, now).is_some();
        if nx && dst_exists {
            ctx.out.int(0);
            return Ok(());
        }
        let (shard, _) = m.for_key(src);
        let entry = shard
            .remove(src_slot, src)
            .expect("present under the same lock");
        let (dshard, _) = m.for_key(dst);
        // As Redis: the destination is deleted, then added (a `new` key to notifications).
        if dst_exists {
            dshard.remove(dst_slot, dst);
        }
        dshard.insert(dst_slot, rekey(entry, dst));
        let (shard, _) = m.for_key(src);
        shard.events.emit(notify::GENERIC, "rename_from", src);
        shard.events.emit(notify::GENERIC, "rename_to", dst);
    }
    if nx {
        ctx.out.int((src != dst) as i64);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn rename(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    rename_generic(ctx, req, false)
}

fn renamenx(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    rename_generic(ctx, req, true)
}

/// COPY source destination [DB 0] [REPLACE]. Only database 0 exists.
fn copy(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let mut replace = false;
    let mut i = 3;
    while i < req.len() {
        let opt = req.arg(i);
        if eq_ic(opt, "replace") {
            replace = true;
        } else if eq_ic(opt, "db") && i + 1 < req.len() {
            let db = parse_int(req.arg(i + 1))?;
            if i32::try_from(db).is_err() {
                return Err(CmdError::NotInteger);
            }
            if db != 0 {
                return Err(CmdError::msg("ERR DB index is out of range"));
            }
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let (src, dst) = (req.arg(1), req.arg(2));
    if src == dst {
        return Err(CmdError::msg(
            "ERR source and destination objects are the same",
        ));
    }
    let clock = ctx.clock;
    let mut m = ctx.db.lock_keys([src, dst]);
    let (shard, src_slot) = m.for_key(src);
    let Some(mut copied) = shard.get(src_slot, src, &clock).map(|e| e.with_key(dst)) else {
        ctx.out.int(0);
        return Ok(());
    };
    copied.set_lru(clock.initial_lru());
    let (dshard, dst_slot) = m.for_key(dst);
    if dshard.peek(dst_slot, dst, clock.ms).is_some() {
        if !replace {
            ctx.out.int(0);
            return Ok(());
        }
        // As Redis: the old destination is deleted, then the copy added (a `new` key).
        dshard.remove(dst_slot, dst);
    }
    dshard.insert(dst_slot, copied);
    dshard.events.emit(notify::GENERIC, "copy_to", dst);
    ctx.out.int(1);
    Ok(())
}

// ---- OBJECT MEMORY ----

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

const NOT_LFU: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const IS_LFU: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. \
Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// Redis's shared integer objects: values 0..10000 stored as one shared object, reported with
/// this refcount, unless an LRU/LFU maxmemory policy needs per-key access data.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
const SHARED_INTEGERS: i64 = 10_000;

/// OBJECT ENCODING of a string value, by Redis's rules: a canonical 64-bit integer of at most
/// 20 characters is "int", up to 44 bytes "embstr", longer "raw".
pub(crate) fn string_encoding(v: &[u8]) -> &'static str {
    if v.len() <= 20 && parse_int(v).is_ok() {
        "int"
    } else if v.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}

fn object(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let sub = req.arg(1);
    if eq_ic(sub, "help") {
        ctx.out.array(OBJECT_HELP.len());
        for line in OBJECT_HELP {
            ctx.out.simple(line);
        }
        return Ok(());
    }
    let key = req.arg(2);
    let clock = ctx.clock;
    if eq_ic(sub, "tier") {
        return object_tier(ctx, key);
    }
    let shares_integers = sharing_integers(ctx);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let reply = read_notouch(&mut shard, slot, key, clock.ms, |e| {
        object_field(sub, e, &clock, shares_integers)
    });
    drop(shard);
    match reply {
        None => ctx.out.null(),
        Some(Err(e)) => return Err(e),
        Some(Ok(ObjectReply::Text(s))) => ctx.out.bulk(s.as_bytes()),
        Some(Ok(ObjectReply::Int(n))) => ctx.out.int(n),
    }
    Ok(())
}

/// OBJECT TIER key (ours): "memory" or "warm", where the key lives now; asking moves nothing.
fn object_tier(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> CmdResult {
    let now = ctx.clock.ms;
    let (shard, slot) = ctx.db.lock_key(key);
    match shard.tier_of(slot, key, now) {
        Some(t) => ctx.out.bulk(t.as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

enum ObjectReply {
    Text(&'static str),
    Int(i64),
}

fn sharing_integers(ctx: &Ctx<'_, '_>) -> bool {
    let s = &ctx.server.settings;
    let per_key_access = matches!(
        s.policy(),
        Policy::AllKeysLru | Policy::VolatileLru | Policy::AllKeysLfu | Policy::VolatileLfu
    );
    s.get(&s.maxmemory) == 0 || !per_key_access
}

fn object_field(
    sub: &[u8],
    e: &Entry,
    clock: &Clock,
    shares_integers: bool,
) -> Result<ObjectReply, CmdError> {
    if eq_ic(sub, "encoding") {
        Ok(ObjectReply::Text(match (e.as_str(), e.value()) {
            (Some(_), _) if e.is_raw() => "raw",
            (Some(s), _) => string_encoding(s),
            (None, Some(v)) => v.encoding(),
            (None, None) => "raw",
        }))
    } else if eq_ic(sub, "refcount") {
        let shared = shares_integers
            && !e.is_raw()
            && e.as_str()
                .filter(|s| s.len() <= 20)
                .and_then(|s| parse_int(s).ok())
                .is_some_and(|n| (0..SHARED_INTEGERS).contains(&n));
        Ok(ObjectReply::Int(if shared { SHARED_REFCOUNT } else { 1 }))
    } else if eq_ic(sub, "idletime") {
        if clock.lfu {
            return Err(CmdError::msg(IS_LFU));
        }
        Ok(ObjectReply::Int(evict::idle_seconds(e.lru(), clock) as i64))
    } else {
        // FREQ: the dispatcher admits only known subcommands.
        if !clock.lfu {
            return Err(CmdError::msg(NOT_LFU));
        }
        Ok(ObjectReply::Int(evict::lfu_decayed(e.lru(), clock) as i64))
    }
}

/// MEMORY USAGE key [SAMPLES count] (the only MEMORY subcommand in the table).
fn memory(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let mut i = 3;
    while i < req.len() {
        if eq_ic(req.arg(i), "samples") && i + 1 < req.len() {
            if parse_int(req.arg(i + 1))? < 0 {
                return Err(CmdError::Syntax);
            }
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let key = req.arg(2);
    let (mut shard, slot) = ctx.db.lock_key(key);
    match shard.peek(slot, key, ctx.clock.ms).map(|e| e.mem_usage()) {
        Some(n) => ctx.out.int(n as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

// ---- DUMP RESTORE ----

fn dump_(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    match shard.get(slot, key, &ctx.clock) {
        Some(e) => ctx.out.bulk(&dump::dump(e)),
        None => ctx.out.null(),
    }
    Ok(())
}

/// RESTORE's options after the payload.
#[derive(Default)]
struct RestoreOpts {
    replace: bool,
    absttl: bool,
    idle: Option<i64>,
    freq: Option<i64>,
}

fn parse_restore_opts(req: &Request<'_>) -> Result<RestoreOpts, CmdError> {
    let mut o = RestoreOpts::default();
    let mut i = 4;
    while i < req.len() {
        let opt = req.arg(i);
        let more = i + 1 < req.len();
        if eq_ic(opt, "replace") {
            o.replace = true;
        } else if eq_ic(opt, "absttl") {
            o.absttl = true;
        } else if eq_ic(opt, "idletime") && more && o.freq.is_none() {
            let idle = parse_int(req.arg(i + 1))?;
            if idle < 0 {
                return Err(CmdError::msg("ERR Invalid IDLETIME value, must be >= 0"));
            }
            o.idle = Some(idle);
            i += 1;
        } else if eq_ic(opt, "freq") && more && o.idle.is_none() {
            let freq = parse_int(req.arg(i + 1))?;
            if !(0..=255).contains(&freq) {
                return Err(CmdError::msg(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            o.freq = Some(freq);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

/// The access metadata a restored key starts with: IDLETIME under LRU, FREQ under LFU.
fn restored_lru(o: &RestoreOpts, clock: &Clock) -> Lru {
    match (clock.lfu, o.freq, o.idle) {
        (true, Some(freq), _) => (clock.initial_lru() & !0xFF) | freq as Lru,
        (false, _, Some(idle)) => (clock.lru as i64 - idle).rem_euclid(1 << 24) as Lru,
        _ => clock.initial_lru(),
    }
}

fn restore(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let o = parse_restore_opts(req)?;
    let key = req.arg(1);
    let clock = ctx.clock;
    // Decoded before taking the shard lock (a large payload takes a while); its errors are
    // still reported after BUSYKEY and TTL ones, in Redis's order.
    let decoded = dump::decode(req.arg(3));
    let (mut shard, slot) = ctx.db.lock_key(key);
    if !o.replace && shard.peek(slot, key, clock.ms).is_some() {
        return Err(CmdError::msg("BUSYKEY Target key name already exists."));
    }
    let ttl = parse_int(req.arg(2))?;
    if ttl < 0 {
        return Err(CmdError::msg("ERR Invalid TTL value, must be >= 0"));
    }
    let decoded = decoded.map_err(|e| match e {
        PayloadError::VersionOrChecksum => {
            CmdError::msg("ERR DUMP payload version or checksum are wrong")
        }
        PayloadError::BadData => CmdError::msg("ERR Bad data format"),
    })?;
    let expire_at = match ttl {
        0 => 0,
        t if o.absttl => t as u64,
        t => (t as u64).saturating_add(clock.ms),
    };
    let replaced = o.replace && shard.remove(slot, key).is_some();
    // Already expired: the key is simply not created (a REPLACE still deleted the old one).
    if expire_at != 0 && expire_at <= clock.ms {
        if replaced {
            shard.events.emit(notify::GENERIC, "del", key);
        }
        ctx.out.ok();
        return Ok(());
    }
    let lru = restored_lru(&o, &clock);
    let entry = match decoded {
        Restored::Str(s) => Entry::string(key, &s, expire_at, lru),
        Restored::Value(v) => Entry::object(key, v, expire_at, lru),
    };
    shard.insert(slot, entry);
    shard.events.emit(notify::GENERIC, "restore", key);
    ctx.out.ok();
    Ok(())
}
