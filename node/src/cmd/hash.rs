//! Hash commands: HSET HSETNX HMSET HGET HMGET HGETALL HKEYS HVALS HDEL HEXISTS HLEN HSTRLEN
//! HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN. Writes modify the hash in place (the key keeps its
//! TTL) and delete the key when its last field goes.

use super::collection;
use super::long_double::LongDouble;
use super::scan_util::{self, ScanOptions};
use super::{eq_ic, parse_int, CmdError, CmdResult, Ctx, Handler};
use crate::db::Entry;
use crate::types::hash::{FieldValue, Hash};
use crate::types::set::canonical_int;
use autocache_proto::resp::{ReplyBuf, Request};
use std::sync::atomic::Ordering::Relaxed;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("hset", hset),
    ("hmset", hmset),
    ("hsetnx", hsetnx),
    ("hget", hget),
    ("hmget", hmget),
    ("hgetall", hgetall),
    ("hkeys", hkeys),
    ("hvals", hvals),
    ("hdel", hdel),
    ("hexists", hexists),
    ("hlen", hlen),
    ("hstrlen", hstrlen),
    ("hincrby", hincrby),
    ("hincrbyfloat", hincrbyfloat),
    ("hrandfield", hrandfield),
    ("hscan", hscan),
];

/// The hash in `entry`: `None` for a missing key, WRONGTYPE for another type.
fn as_hash(entry: Option<&mut Entry>) -> Result<Option<&Hash>, CmdError> {
    collection::typed(entry)
}

/// [`collection::modify_key`] for hashes.
fn modify_key<R>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    create: bool,
    event: &'static str,
    f: impl FnOnce(&mut Hash) -> Result<(R, bool), CmdError>,
) -> Result<Option<R>, CmdError> {
    collection::modify_key(ctx, key, create, (crate::notify::HASH, event), f)
}

// ---- HSET HMSET HSETNX ----

/// Sets the field/value pairs from argument 2 on; returns how many fields are new.
fn set_pairs(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, name: &str) -> Result<i64, CmdError> {
    if !req.len().is_multiple_of(2) {
        return Err(CmdError::Arity(name.to_string()));
    }
    let added = modify_key(ctx, req.arg(1), true, "hset", |h| {
        let mut added = 0;
        for i in (2..req.len()).step_by(2) {
            added += i64::from(h.insert(req.arg(i), req.arg(i + 1)));
        }
        Ok((added, true))
    })?;
    Ok(added.unwrap_or(0))
}

fn hset(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let added = set_pairs(ctx, req, "hset")?;
    ctx.out.int(added);
    Ok(())
}

fn hmset(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    set_pairs(ctx, req, "hmset")?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let (field, value) = (req.arg(2), req.arg(3));
    let added = modify_key(ctx, req.arg(1), true, "hset", |h| {
        let added = !h.contains(field) && h.insert(field, value);
        Ok((added, added))
    })?;
    ctx.out.int(i64::from(added.unwrap_or(false)));
    Ok(())
}

// ---- reads ----

fn hget(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    match as_hash(shard.get(slot, key, &ctx.clock))?.and_then(|h| h.get(req.arg(2))) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let h = as_hash(shard.get(slot, key, &ctx.clock))?;
    ctx.out.array(req.len() - 2);
    for field in req.iter().skip(2) {
        match h.and_then(|h| h.get(field)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn hgetall(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let Some(h) = as_hash(shard.get(slot, key, &ctx.clock))? else {
        ctx.out.map(0);
        return Ok(());
    };
    ctx.out.map(h.len());
    for (f, v) in h.iter() {
        ctx.out.bulk(f);
        ctx.out.bulk(v);
    }
    Ok(())
}

/// HKEYS (`values` false) and HVALS.
fn keys_or_values(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, values: bool) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let Some(h) = as_hash(shard.get(slot, key, &ctx.clock))? else {
        ctx.out.array(0);
        return Ok(());
    };
    ctx.out.array(h.len());
    for (f, v) in h.iter() {
        ctx.out.bulk(if values { v } else { f });
    }
    Ok(())
}

fn hkeys(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    keys_or_values(ctx, req, false)
}

fn hvals(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    keys_or_values(ctx, req, true)
}

/// Replies with an integer computed from the hash at argument 1 (0 for a missing key).
fn int_reply(
    ctx: &mut Ctx<'_, '_>,
    req: &Request<'_>,
    f: impl FnOnce(&Hash) -> usize,
) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let n = as_hash(shard.get(slot, key, &ctx.clock))?.map_or(0, f);
    ctx.out.int(n as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    int_reply(ctx, req, |h| usize::from(h.contains(req.arg(2))))
}

fn hlen(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    int_reply(ctx, req, Hash::len)
}

fn hstrlen(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    int_reply(ctx, req, |h| h.get(req.arg(2)).map_or(0, <[u8]>::len))
}

// ---- HDEL ----

fn hdel(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let removed = modify_key(ctx, req.arg(1), false, "hdel", |h| {
        let removed = req.iter().skip(2).filter(|f| h.remove(f)).count();
        Ok((removed, removed > 0))
    })?;
    ctx.out.int(removed.unwrap_or(0) as i64);
    Ok(())
}

// ---- HINCRBY HINCRBYFLOAT ----

fn hincrby(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let field = req.arg(2);
    let incr = parse_int(req.arg(3))?;
    let new = modify_key(ctx, req.arg(1), true, "hincrby", |h| {
        let current = match h.get(field) {
            // Redis's string2ll: the canonical form only ("01", "+1" and " 1" are not).
            Some(v) => {
                canonical_int(v).ok_or_else(|| CmdError::msg("ERR hash value is not an integer"))?
            }
            None => 0,
        };
        let new = current.checked_add(incr).ok_or(CmdError::Overflow)?;
        h.insert(field, itoa::Buffer::new().format(new).as_bytes());
        Ok((new, true))
    })?;
    ctx.out.int(new.expect("created when missing"));
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let field = req.arg(2);
    let incr = LongDouble::parse(req.arg(3)).ok_or(CmdError::NotFloat)?;
    if !incr.is_finite() {
        return Err(CmdError::msg("ERR value is NaN or Infinity"));
    }
    let text = modify_key(ctx, req.arg(1), true, "hincrbyfloat", |h| {
        let current = match h.get(field) {
            Some(v) => LongDouble::parse(v)
                .ok_or_else(|| CmdError::msg("ERR hash value is not a float"))?,
            None => LongDouble::zero(),
        };
        let new = current + incr;
        if !new.is_finite() {
            return Err(CmdError::msg("ERR increment would produce NaN or Infinity"));
        }
        let text = new.to_human();
        h.insert(field, text.as_bytes());
        Ok((text, true))
    })?;
    ctx.out.bulk(text.expect("created when missing").as_bytes());
    Ok(())
}

// ---- HRANDFIELD ----

/// A random-count argument as Redis reads it: any long but LONG_MIN, whose negation would
/// overflow.
pub(crate) fn parse_rand_count(arg: &[u8]) -> Result<i64, CmdError> {
    let n = parse_int(arg)?;
    if n == i64::MIN {
        return Err(CmdError::msg(format!(
            "ERR value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    Ok(n)
}

/// Redis builds a reply of repeated picks (a negative count) whole, however long: `HRANDFIELD
/// h -4294967296` on a small hash would take billions of elements' memory and hold the shard
/// for minutes. A reply whose size, estimated from the collection's mean element (its memory
/// over its length, plus the bulk header), would pass `proto-max-bulk-len` (512 MB unless
/// configured) is refused instead: no reply is larger than the largest value a client may send.
pub(crate) fn check_repeated_picks(
    picks: usize,
    len: usize,
    mem: usize,
    limit: u64,
) -> Result<(), CmdError> {
    let per_pick = (mem / len.max(1)) as u64 + 6;
    if (picks as u64).saturating_mul(per_pick) > limit {
        return Err(CmdError::msg(
            "ERR count is out of range: that many picks would make a reply larger than proto-max-bulk-len",
        ));
    }
    Ok(())
}

fn hrandfield(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    if req.len() == 2 {
        return hrandfield_one(ctx, req.arg(1));
    }
    let count = parse_rand_count(req.arg(2))?;
    let with_values = match req.len() {
        3 => false,
        4 if eq_ic(req.arg(3), "withvalues") => true,
        _ => return Err(CmdError::Syntax),
    };
    // Redis's guard against the doubled reply length overflowing.
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::msg("ERR value is out of range"));
    }
    let key = req.arg(1);
    let limit = ctx.server.settings.proto_max_bulk_len.load(Relaxed);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let Some(h) = as_hash(shard.get(slot, key, &ctx.clock))? else {
        ctx.out.array(0);
        return Ok(());
    };
    let n = count.unsigned_abs() as usize;
    let out = &mut *ctx.out;
    if count >= 0 {
        let picks = h.random_distinct(n);
        reply_picks(out, picks.len(), picks.into_iter(), with_values);
    } else {
        check_repeated_picks(n, h.len(), h.mem_usage(), limit)?;
        reply_picks(out, n, h.random_picks(n), with_values);
    }
    Ok(())
}

/// HRANDFIELD's array of `len` picks: RESP2 flattens field/value pairs, RESP3 nests each
/// pair in its own array.
fn reply_picks<'a>(
    out: &mut ReplyBuf,
    len: usize,
    picks: impl Iterator<Item = FieldValue<'a>>,
    with_values: bool,
) {
    let nested = with_values && out.resp3();
    out.array(if with_values && !nested { len * 2 } else { len });
    for (f, v) in picks {
        if nested {
            out.array(2);
        }
        out.bulk(f);
        if with_values {
            out.bulk(v);
        }
    }
}

fn hrandfield_one(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> CmdResult {
    let (mut shard, slot) = ctx.db.lock_key(key);
    let pick = as_hash(shard.get(slot, key, &ctx.clock))?
        .and_then(|h| h.random_picks(1).next().map(|(f, _)| f));
    match pick {
        Some(f) => ctx.out.bulk(f),
        None => ctx.out.null(),
    }
    Ok(())
}

// ---- HSCAN ----

fn hscan(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let cursor = scan_util::parse_cursor(req.arg(2))?;
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let Some(h) = as_hash(shard.get(slot, key, &ctx.clock))? else {
        scan_util::reply_empty(ctx.out);
        return Ok(());
    };
    let opts = ScanOptions::parse(req, 3)?;
    let (pairs, next) = h.scan(cursor, opts.count);
    let matching: Vec<FieldValue<'_>> =
        pairs.into_iter().filter(|(f, _)| opts.matches(f)).collect();
    scan_util::reply_header(ctx.out, next, matching.len() * 2);
    for (f, v) in matching {
        ctx.out.bulk(f);
        ctx.out.bulk(v);
    }
    Ok(())
}
