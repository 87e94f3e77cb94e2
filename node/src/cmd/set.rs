//! Set commands: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SMOVE, the
//! algebra SINTER SUNION SDIFF (and their STORE forms, SINTERCARD) and SSCAN. Multi-key
//! commands lock every shard involved at once; they read one set at a time, carrying the
//! partial result over, so no two sets need to be borrowed together.

use super::collection;
use super::hash::{check_repeated_picks, parse_rand_count};
use super::scan_util::{self, ScanOptions};
use super::{eq_ic, parse_int, CmdError, CmdResult, Ctx, Handler};
use crate::db::{Clock, Entry, Multi, Shard};
use crate::notify;
use crate::types::set::{Elem, Set};
use crate::types::Value;
use autocache_proto::resp::{ReplyBuf, Request};
use std::sync::atomic::Ordering::Relaxed;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("sadd", sadd),
    ("srem", srem),
    ("smembers", smembers),
    ("sismember", sismember),
    ("smismember", smismember),
    ("scard", scard),
    ("spop", spop),
    ("srandmember", srandmember),
    ("smove", smove),
    ("sinter", sinter),
    ("sinterstore", sinterstore),
    ("sintercard", sintercard),
    ("sunion", sunion),
    ("sunionstore", sunionstore),
    ("sdiff", sdiff),
    ("sdiffstore", sdiffstore),
    ("sscan", sscan),
];

/// The set in `entry`: `None` for a missing key, WRONGTYPE for another type.
fn as_set(entry: Option<&mut Entry>) -> Result<Option<&Set>, CmdError> {
    collection::typed(entry)
}

/// [`collection::modify`] for setes.
fn modify<R>(
    shard: &mut Shard,
    slot: u16,
    key: &[u8],
    clock: &Clock,
    create: bool,
    event: &'static str,
    f: impl FnOnce(&mut Set) -> Result<(R, bool), CmdError>,
) -> Result<Option<R>, CmdError> {
    collection::modify(shard, slot, key, clock, create, (notify::SET, event), f)
}

/// [`collection::modify_key`] for setes.
fn modify_key<R>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    create: bool,
    event: &'static str,
    f: impl FnOnce(&mut Set) -> Result<(R, bool), CmdError>,
) -> Result<Option<R>, CmdError> {
    collection::modify_key(ctx, key, create, (notify::SET, event), f)
}

fn bulk_elem(out: &mut ReplyBuf, e: Elem<'_>) {
    match e {
        Elem::Int(n) => out.bulk_int(n),
        Elem::Bytes(b) => out.bulk(b),
    }
}

/// A RESP3 set (a RESP2 array) of `members`.
fn reply_set<'a>(out: &mut ReplyBuf, len: usize, members: impl Iterator<Item = Elem<'a>>) {
    out.set(len);
    for e in members {
        bulk_elem(out, e);
    }
}

// ---- SADD SREM ----

fn sadd(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let added = modify_key(ctx, req.arg(1), true, "sadd", |s| {
        let added = req.iter().skip(2).filter(|m| s.insert(m)).count();
        Ok((added, added > 0))
    })?;
    ctx.out.int(added.unwrap_or(0) as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let removed = modify_key(ctx, req.arg(1), false, "srem", |s| {
        let removed = req.iter().skip(2).filter(|m| s.remove(m)).count();
        Ok((removed, removed > 0))
    })?;
    ctx.out.int(removed.unwrap_or(0) as i64);
    Ok(())
}

// ---- reads ----

fn smembers(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    match as_set(shard.get(slot, key, &ctx.clock))? {
        Some(s) => reply_set(ctx.out, s.len(), s.iter()),
        None => ctx.out.set(0),
    }
    Ok(())
}

fn sismember(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let found = as_set(shard.get(slot, key, &ctx.clock))?.is_some_and(|s| s.contains(req.arg(2)));
    ctx.out.int(i64::from(found));
    Ok(())
}

fn smismember(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let set = as_set(shard.get(slot, key, &ctx.clock))?;
    ctx.out.array(req.len() - 2);
    for m in req.iter().skip(2) {
        ctx.out.int(i64::from(set.is_some_and(|s| s.contains(m))));
    }
    Ok(())
}

fn scard(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let n = as_set(shard.get(slot, key, &ctx.clock))?.map_or(0, Set::len);
    ctx.out.int(n as i64);
    Ok(())
}

// ---- SPOP SRANDMEMBER ----

fn spop(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    match req.len() {
        2 => spop_one(ctx, req.arg(1)),
        3 => spop_count(ctx, req),
        _ => Err(CmdError::Syntax),
    }
}

fn spop_one(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> CmdResult {
    match modify_key(ctx, key, false, "spop", |s| {
        let popped = s.pop_random();
        let changed = popped.is_some();
        Ok((popped, changed))
    })?
    .flatten()
    {
        Some(m) => ctx.out.bulk(&m),
        None => ctx.out.null(),
    }
    Ok(())
}

fn spop_count(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let not_positive = || CmdError::msg("ERR value is out of range, must be positive");
    let count = parse_int(req.arg(2)).map_err(|_| not_positive())?;
    let count = usize::try_from(count).map_err(|_| not_positive())?;
    let popped = modify_key(ctx, req.arg(1), false, "spop", |s| {
        if count >= s.len() {
            // Everything goes: hand over the whole set, leaving an empty one to delete.
            let all = std::mem::take(s);
            let popped: Vec<_> = all.iter().map(|e| e.to_vec()).collect();
            let changed = !popped.is_empty();
            return Ok((popped, changed));
        }
        let popped: Vec<_> = (0..count).filter_map(|_| s.pop_random()).collect();
        let changed = !popped.is_empty();
        Ok((popped, changed))
    })?;
    let popped = popped.unwrap_or_default();
    ctx.out.set(popped.len());
    for m in &popped {
        ctx.out.bulk(m);
    }
    Ok(())
}

fn srandmember(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let count = match req.len() {
        2 => None,
        3 => Some(parse_rand_count(req.arg(2))?),
        _ => return Err(CmdError::Syntax),
    };
    let limit = ctx.server.settings.proto_max_bulk_len.load(Relaxed);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let set = as_set(shard.get(slot, key, &ctx.clock))?;
    let Some(count) = count else {
        match set.and_then(|s| s.random_picks(1).next()) {
            Some(e) => bulk_elem(ctx.out, e),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let Some(set) = set else {
        ctx.out.array(0);
        return Ok(());
    };
    let n = count.unsigned_abs() as usize;
    // An array even in RESP3: with repeats allowed the picks are no set.
    if count >= 0 {
        let picks = set.random_distinct(n);
        ctx.out.array(picks.len());
        for e in picks {
            bulk_elem(ctx.out, e);
        }
    } else {
        check_repeated_picks(n, set.len(), set.mem_usage(), limit)?;
        ctx.out.array(n);
        for e in set.random_picks(n) {
            bulk_elem(ctx.out, e);
        }
    }
    Ok(())
}

// ---- SMOVE ----

/// Whether the set at `key` holds `member`: `None` when the key is missing.
fn probe(
    m: &mut Multi<'_, '_>,
    key: &[u8],
    now: u64,
    member: &[u8],
) -> Result<Option<bool>, CmdError> {
    let (shard, slot) = m.for_key(key);
    Ok(as_set(shard.peek(slot, key, now))?.map(|s| s.contains(member)))
}

fn smove(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let (src, dst, member) = (req.arg(1), req.arg(2), req.arg(3));
    let clock = ctx.clock;
    let mut m = ctx.db.lock_keys([src, dst]);
    // As Redis: a missing source answers 0 before the destination's type is looked at.
    let Some(is_member) = probe(&mut m, src, clock.ms, member)? else {
        ctx.out.int(0);
        return Ok(());
    };
    probe(&mut m, dst, clock.ms, member)?;
    if src == dst || !is_member {
        ctx.out.int(i64::from(is_member));
        return Ok(());
    }
    let (shard, slot) = m.for_key(src);
    modify(shard, slot, src, &clock, false, "srem", |s| {
        Ok(((), s.remove(member)))
    })?;
    let (shard, slot) = m.for_key(dst);
    modify(shard, slot, dst, &clock, true, "sadd", |s| {
        Ok(((), s.insert(member)))
    })?;
    ctx.out.int(1);
    Ok(())
}

// ---- SINTER SUNION SDIFF and their STORE forms ----

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The size of each set at `keys` (`None` for a missing key), counting each lookup as a
/// client read; WRONGTYPE if any key holds another type.
fn sizes(
    m: &mut Multi<'_, '_>,
    keys: &[&[u8]],
    clock: &Clock,
) -> Result<Vec<Option<usize>>, CmdError> {
    keys.iter()
        .map(|&k| {
            let (shard, slot) = m.for_key(k);
            Ok(as_set(shard.get(slot, k, clock))?.map(Set::len))
        })
        .collect()
}

/// Runs `f` on the set at `key` (already type-checked by [`sizes`]); `None` if missing.
fn visit<R>(m: &mut Multi<'_, '_>, key: &[u8], now: u64, f: impl FnOnce(&Set) -> R) -> Option<R> {
    let (shard, slot) = m.for_key(key);
    match shard.peek(slot, key, now)?.value() {
        Some(Value::Set(s)) => Some(f(s)),
        _ => None,
    }
}

fn members_of(s: &Set) -> Vec<Vec<u8>> {
    s.iter().map(|e| e.to_vec()).collect()
}

/// The result of `op` over the sets at `keys`, as a new set built member by member (so its
/// encoding is what adding those members to an empty set gives, as in Redis).
fn compute(m: &mut Multi<'_, '_>, keys: &[&[u8]], op: Op, clock: &Clock) -> Result<Set, CmdError> {
    let sizes = sizes(m, keys, clock)?;
    let now = clock.ms;
    let survivors = match op {
        Op::Union => {
            let mut acc = Set::new();
            for &k in keys {
                visit(m, k, now, |s| {
                    for e in s.iter() {
                        e.with_bytes(|b| acc.insert(b));
                    }
                });
            }
            return Ok(acc);
        }
        Op::Inter => {
            if sizes.iter().any(Option::is_none) {
                return Ok(Set::new());
            }
            // Start from the smallest set: the result is no larger.
            let mut order: Vec<usize> = (0..keys.len()).collect();
            order.sort_by_key(|&i| sizes[i]);
            let mut acc = visit(m, keys[order[0]], now, members_of).unwrap_or_default();
            for &i in &order[1..] {
                if acc.is_empty() {
                    break;
                }
                visit(m, keys[i], now, |s| acc.retain(|x| s.contains(x)));
            }
            acc
        }
        Op::Diff => {
            let mut acc = visit(m, keys[0], now, members_of).unwrap_or_default();
            for &k in &keys[1..] {
                if acc.is_empty() {
                    break;
                }
                visit(m, k, now, |s| acc.retain(|x| !s.contains(x)));
            }
            acc
        }
    };
    let mut result = Set::new();
    for x in &survivors {
        result.insert(x);
    }
    Ok(result)
}

/// SINTER, SUNION, SDIFF: keys from argument 1 on.
fn algebra(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, op: Op) -> CmdResult {
    let keys: Vec<&[u8]> = req.iter().skip(1).collect();
    let clock = ctx.clock;
    let mut m = ctx.db.lock_keys(keys.iter().copied());
    let result = compute(&mut m, &keys, op, &clock)?;
    reply_set(ctx.out, result.len(), result.iter());
    Ok(())
}

/// SINTERSTORE, SUNIONSTORE, SDIFFSTORE: the destination is replaced (whatever it held, its
/// TTL dropped) or deleted when the result is empty.
fn algebra_store(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, op: Op) -> CmdResult {
    let dst = req.arg(1);
    let keys: Vec<&[u8]> = req.iter().skip(2).collect();
    let clock = ctx.clock;
    let mut m = ctx.db.lock_keys(req.iter().skip(1));
    let result = compute(&mut m, &keys, op, &clock)?;
    let n = result.len();
    let (shard, slot) = m.for_key(dst);
    if result.is_empty() {
        if shard.remove(slot, dst).is_some() {
            shard.events.emit(notify::GENERIC, "del", dst);
        }
    } else {
        shard.insert(
            slot,
            Entry::object(dst, Value::Set(result), 0, clock.initial_lru()),
        );
        let event = match op {
            Op::Inter => "sinterstore",
            Op::Union => "sunionstore",
            Op::Diff => "sdiffstore",
        };
        shard.events.emit(notify::SET, event, dst);
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn sinter(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    algebra(ctx, req, Op::Inter)
}

fn sunion(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    algebra(ctx, req, Op::Union)
}

fn sdiff(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    algebra(ctx, req, Op::Diff)
}

fn sinterstore(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    algebra_store(ctx, req, Op::Inter)
}

fn sunionstore(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    algebra_store(ctx, req, Op::Union)
}

fn sdiffstore(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    algebra_store(ctx, req, Op::Diff)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let bad_numkeys = || CmdError::msg("ERR numkeys should be greater than 0");
    let numkeys = parse_int(req.arg(1)).map_err(|_| bad_numkeys())?;
    if numkeys < 1 {
        return Err(bad_numkeys());
    }
    if numkeys > (req.len() - 2) as i64 {
        return Err(CmdError::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let numkeys = numkeys as usize;
    let mut limit = 0usize; // 0: no limit
    let mut i = 2 + numkeys;
    while i < req.len() {
        if eq_ic(req.arg(i), "limit") && i + 1 < req.len() {
            let l = parse_int(req.arg(i + 1)).ok().filter(|&l| l >= 0);
            limit = l.ok_or_else(|| CmdError::msg("ERR LIMIT can't be negative"))? as usize;
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let keys: Vec<&[u8]> = req.iter().skip(2).take(numkeys).collect();
    let clock = ctx.clock;
    let mut m = ctx.db.lock_keys(keys.iter().copied());
    let n = compute(&mut m, &keys, Op::Inter, &clock)?.len();
    ctx.out
        .int(if limit == 0 { n } else { n.min(limit) } as i64);
    Ok(())
}

// ---- SSCAN ----

fn sscan(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let cursor = scan_util::parse_cursor(req.arg(2))?;
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let Some(s) = as_set(shard.get(slot, key, &ctx.clock))? else {
        scan_util::reply_empty(ctx.out);
        return Ok(());
    };
    let opts = ScanOptions::parse(req, 3)?;
    let (members, next) = s.scan(cursor, opts.count);
    let matching: Vec<Elem<'_>> = members
        .into_iter()
        .filter(|e| e.with_bytes(|b| opts.matches(b)))
        .collect();
    scan_util::reply_header(ctx.out, next, matching.len());
    for e in matching {
        bulk_elem(ctx.out, e);
    }
    Ok(())
}
