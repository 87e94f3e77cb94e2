//! Sorted-set commands. This module holds the single-member commands (ZADD, ZINCRBY, ZREM,
//! ZSCORE, ZMSCORE, ZCARD, ZRANK, ZREVRANK, ZRANDMEMBER, ZSCAN) and what every zset command
//! shares: typed lookups, write bookkeeping, the WITHSCORES reply shape. Argument parsing,
//! range queries, set algebra and pops live in the submodules. The value type is
//! `types::zset`.

mod args;
mod pop;
mod range;
mod setops;

use super::scan_util::{self, ScanOptions};
use super::{eq_ic, parse_int, CmdError, CmdResult, Ctx, Handler};
use crate::db::{evict, Clock, Entry, Shard};
use crate::notify;
use crate::types::zset::{AddFlags, AddResult, ZSet};
use crate::types::Value;
use args::{parse_lex_range, parse_score, parse_score_range};
use autocache_proto::resp::{format_double, ReplyBuf, Request};
use std::sync::atomic::Ordering::Relaxed;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("zadd", zadd),
    ("zincrby", zincrby),
    ("zrem", zrem),
    ("zscore", zscore),
    ("zmscore", zmscore),
    ("zcard", zcard),
    ("zrank", zrank),
    ("zrevrank", zrevrank),
    ("zrandmember", zrandmember),
    ("zscan", zscan),
    ("zcount", range::zcount),
    ("zlexcount", range::zlexcount),
    ("zrange", range::zrange),
    ("zrangestore", range::zrangestore),
    ("zrevrange", range::zrevrange),
    ("zrangebyscore", range::zrangebyscore),
    ("zrevrangebyscore", range::zrevrangebyscore),
    ("zrangebylex", range::zrangebylex),
    ("zrevrangebylex", range::zrevrangebylex),
    ("zremrangebyrank", range::zremrangebyrank),
    ("zremrangebyscore", range::zremrangebyscore),
    ("zremrangebylex", range::zremrangebylex),
    ("zpopmin", pop::zpopmin),
    ("zpopmax", pop::zpopmax),
    ("bzpopmin", pop::bzpopmin),
    ("bzpopmax", pop::bzpopmax),
    ("zmpop", pop::zmpop),
    ("bzmpop", pop::bzmpop),
    ("zunion", setops::zunion),
    ("zinter", setops::zinter),
    ("zdiff", setops::zdiff),
    ("zunionstore", setops::zunionstore),
    ("zinterstore", setops::zinterstore),
    ("zdiffstore", setops::zdiffstore),
    ("zintercard", setops::zintercard),
];

// ---- lookups ----

/// A client read (counts a hit or miss): the zset at `key`, `None` when absent.
fn read<'s>(
    shard: &'s mut Shard,
    slot: u16,
    key: &[u8],
    clock: &Clock,
) -> Result<Option<&'s ZSet>, CmdError> {
    match shard.get(slot, key, clock) {
        None => Ok(None),
        Some(e) => match e.value() {
            Some(Value::ZSet(z)) => Ok(Some(z)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// A lookup for writing (Redis's lookupKeyWrite: touches the access clock, no hit/miss).
/// The caller reports what it changed with [`after_write`].
fn write<'s>(
    shard: &'s mut Shard,
    slot: u16,
    key: &[u8],
    clock: &Clock,
) -> Result<Option<&'s mut ZSet>, CmdError> {
    let Some(e) = shard.peek(slot, key, clock.ms) else {
        return Ok(None);
    };
    let lru = if clock.lfu {
        evict::lfu_touch(e.lru(), clock)
    } else {
        clock.lru
    };
    e.set_lru(lru);
    match e.value_mut() {
        Some(Value::ZSet(z)) => Ok(Some(z)),
        _ => Err(CmdError::WrongType),
    }
}

/// After an in-place change: notifies `event`, then deletes an emptied zset (notifying
/// `del`) or fires a changed one's write hooks (WATCH, blocked clients).
fn after_write(
    shard: &mut Shard,
    slot: u16,
    key: &[u8],
    now: u64,
    changed: bool,
    event: &'static str,
) {
    if !changed {
        return;
    }
    shard.events.emit(notify::ZSET, event, key);
    let empty = shard
        .peek(slot, key, now)
        .and_then(|e| e.value())
        .is_some_and(|v| v.is_empty());
    if empty {
        shard.remove(slot, key);
        shard.events.emit(notify::GENERIC, "del", key);
    } else {
        shard.touched(key);
    }
}

/// What the STORE variants do with their result: replace `key` (any type, TTL dropped) and
/// notify `event`, or delete it when the result is empty. Returns the stored size.
fn store(
    shard: &mut Shard,
    slot: u16,
    key: &[u8],
    z: ZSet,
    clock: &Clock,
    event: &'static str,
) -> usize {
    let n = z.len();
    if n == 0 {
        if shard.remove(slot, key).is_some() {
            shard.events.emit(notify::GENERIC, "del", key);
        }
    } else {
        shard.insert(
            slot,
            Entry::object(key, Value::ZSet(z), 0, clock.initial_lru()),
        );
        shard.events.emit(notify::ZSET, event, key);
    }
    n
}

// ---- replies ----

/// Opens an element list: with scores it is flat (member, score, …) in RESP2 and made of
/// [member, score] pairs in RESP3, as Redis 7 answers the ZRANGE family.
fn begin_elements(out: &mut ReplyBuf, n: usize, withscores: bool) {
    if withscores && !out.resp3() {
        out.array(2 * n);
    } else {
        out.array(n);
    }
}

fn element(out: &mut ReplyBuf, member: &[u8], score: f64, withscores: bool) {
    if withscores && out.resp3() {
        out.array(2);
    }
    out.bulk(member);
    if withscores {
        out.double(score);
    }
}

// ---- ZADD / ZINCRBY ----

fn zadd(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    zadd_generic(ctx, req, false)
}

/// ZINCRBY is ZADD INCR with one pair (Redis runs the same code, options included).
fn zincrby(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    zadd_generic(ctx, req, true)
}

/// ZADD's options and (score, member) pairs, validated before anything is written: the
/// command applies fully or not at all.
struct AddArgs<'a> {
    flags: AddFlags,
    ch: bool,
    pairs: Vec<(f64, &'a [u8])>,
}

fn parse_zadd<'a>(req: &Request<'a>, incr: bool) -> Result<AddArgs<'a>, CmdError> {
    let mut flags = AddFlags {
        incr,
        ..AddFlags::default()
    };
    let mut ch = false;
    let mut i = 2;
    while i < req.len() {
        let opt = req.arg(i);
        if eq_ic(opt, "nx") {
            flags.nx = true;
        } else if eq_ic(opt, "xx") {
            flags.xx = true;
        } else if eq_ic(opt, "ch") {
            ch = true;
        } else if eq_ic(opt, "incr") {
            flags.incr = true;
        } else if eq_ic(opt, "gt") {
            flags.gt = true;
        } else if eq_ic(opt, "lt") {
            flags.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = req.len() - i;
    if rest == 0 || !rest.is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    if flags.nx && flags.xx {
        return Err(CmdError::msg(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(CmdError::msg(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && rest > 2 {
        return Err(CmdError::msg(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let pairs = (i..req.len())
        .step_by(2)
        .map(|j| Ok((parse_score(req.arg(j))?, req.arg(j + 1))))
        .collect::<Result<Vec<_>, CmdError>>()?;
    Ok(AddArgs { flags, ch, pairs })
}

fn zadd_generic(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, incr: bool) -> CmdResult {
    let args = parse_zadd(req, incr)?;
    let key = req.arg(1);
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let exists = write(&mut shard, slot, key, &clock)?.is_some();
    if !exists {
        if args.flags.xx {
            // Nothing to update and XX forbids creating.
            if args.flags.incr {
                ctx.out.null();
            } else {
                ctx.out.int(0);
            }
            return Ok(());
        }
        // Redis 7.0 starts a listpack unless the first member is too long; the adds convert
        // it as it grows.
        let z = ZSet::with_hint(1, args.pairs[0].1.len());
        shard.insert(
            slot,
            Entry::object(key, Value::ZSet(z), 0, clock.initial_lru()),
        );
    }
    let z = write(&mut shard, slot, key, &clock)?.expect("zset present");
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0usize);
    let mut last = 0.0;
    let mut nan = false;
    for &(score, member) in &args.pairs {
        let Some((result, new)) = z.add(member, score, args.flags) else {
            nan = true;
            break;
        };
        match result {
            AddResult::Added => added += 1,
            AddResult::Updated => updated += 1,
            AddResult::Same | AddResult::Skipped => {}
        }
        if result != AddResult::Skipped {
            processed += 1;
        }
        last = new;
    }
    after_write(
        &mut shard,
        slot,
        key,
        clock.ms,
        !exists || added + updated > 0,
        if args.flags.incr { "zincr" } else { "zadd" },
    );
    if nan {
        return Err(CmdError::msg("ERR resulting score is not a number (NaN)"));
    }
    if args.flags.incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if args.ch { added + updated } else { added });
    }
    Ok(())
}

// ---- single-member commands ----

fn zrem(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let mut deleted = 0;
    if let Some(z) = write(&mut shard, slot, key, &clock)? {
        for member in req.iter().skip(2) {
            if z.remove(member) {
                deleted += 1;
                if z.is_empty() {
                    break;
                }
            }
        }
    }
    after_write(&mut shard, slot, key, clock.ms, deleted > 0, "zrem");
    ctx.out.int(deleted);
    Ok(())
}

fn zscore(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    match read(&mut shard, slot, key, &ctx.clock)?.and_then(|z| z.score(req.arg(2))) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let z = read(&mut shard, slot, key, &ctx.clock)?;
    ctx.out.array(req.len() - 2);
    for member in req.iter().skip(2) {
        match z.and_then(|z| z.score(member)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn zcard(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let n = read(&mut shard, slot, key, &ctx.clock)?.map_or(0, |z| z.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn zrank(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    zrank_generic(ctx, req, false)
}

fn zrevrank(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    zrank_generic(ctx, req, true)
}

fn zrank_generic(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, rev: bool) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let z = read(&mut shard, slot, key, &ctx.clock)?;
    match z.and_then(|z| {
        z.rank(req.arg(2))
            .map(|r| if rev { z.len() - 1 - r } else { r })
    }) {
        Some(r) => ctx.out.int(r as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

// ---- ZRANDMEMBER ----

/// `ZRANDMEMBER key [count [WITHSCORES]]`.
fn zrandmember(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    if req.len() == 2 {
        let (mut shard, slot) = ctx.db.lock_key(key);
        match read(&mut shard, slot, key, &ctx.clock)? {
            None => ctx.out.null(),
            Some(z) => {
                let (m, _) = z
                    .get_rank(fastrand::usize(..z.len()))
                    .expect("non-empty zset");
                ctx.out.bulk(m);
            }
        }
        return Ok(());
    }
    let l = parse_int(req.arg(2))?;
    if l == i64::MIN {
        return Err(CmdError::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    if req.len() > 4 || (req.len() == 4 && !eq_ic(req.arg(3), "withscores")) {
        return Err(CmdError::Syntax);
    }
    let withscores = req.len() == 4;
    // Redis refuses counts whose doubled reply length would overflow.
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CmdError::msg("ERR value is out of range"));
    }
    let limit = ctx.server.settings.proto_max_bulk_len.load(Relaxed);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let Some(z) = read(&mut shard, slot, key, &ctx.clock)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let count = l.unsigned_abs() as usize;
    if l < 0 {
        super::hash::check_repeated_picks(count, z.len(), z.mem_usage(), limit)?;
    }
    let ranks = random_ranks(z.len(), count, l >= 0);
    begin_elements(ctx.out, ranks.len(), withscores);
    for r in ranks {
        let (m, s) = z.get_rank(r).expect("rank within the set");
        element(ctx.out, m, s, withscores);
    }
    Ok(())
}

/// Ranks to answer ZRANDMEMBER with: `count` independent picks, or with `unique` distinct
/// ones (the whole set when it is not larger than `count`).
fn random_ranks(len: usize, count: usize, unique: bool) -> Vec<usize> {
    if !unique {
        return (0..count).map(|_| fastrand::usize(..len)).collect();
    }
    if count >= len {
        // The whole set, highest first: Redis walks it from the end.
        return (0..len).rev().collect();
    }
    if count * 3 > len {
        // Close to the whole set: a partial shuffle.
        let mut all: Vec<usize> = (0..len).collect();
        for i in 0..count {
            let j = fastrand::usize(i..len);
            all.swap(i, j);
        }
        all.truncate(count);
        return all;
    }
    let mut seen = hashbrown::HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let r = fastrand::usize(..len);
        if seen.insert(r) {
            out.push(r);
        }
    }
    out
}

// ---- ZSCAN ----

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`: members with their scores as bulk
/// strings. A listpack answers in one call; the large encoding walks its hash buckets.
fn zscan(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let cursor = scan_util::parse_cursor(req.arg(2))?;
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let Some(z) = read(&mut shard, slot, key, &ctx.clock)? else {
        scan_util::reply_empty(ctx.out);
        return Ok(());
    };
    let opts = ScanOptions::parse(req, 3)?;
    let mut items: Vec<(Vec<u8>, f64)> = Vec::new();
    let next = z.scan(cursor, opts.count, |m, s| {
        if opts.matches(m) {
            items.push((m.to_vec(), s));
        }
    });
    let listpack = z.encoding() == "listpack";
    scan_util::reply_header(ctx.out, next, 2 * items.len());
    for (m, s) in &items {
        // Scores as bulk strings in both protocols, as Redis's scan replies.
        ctx.out.bulk(m);
        ctx.out.bulk(scan_score(*s, listpack).as_bytes());
    }
    Ok(())
}

/// A score as Redis 7.0's ZSCAN writes it: a listpack holds an integral score within
/// ±2^62 as an integer (1.2345678901234568e17 scans as 123456789012345680), any other as
/// `%.17g`; a skip list's scores are written `%.17g` (ld2string's `%.17Lg` of the same
/// value), a zero as "0".
fn scan_score(s: f64, listpack: bool) -> String {
    const HALF: f64 = (i64::MAX / 2) as f64;
    if s == 0.0 {
        "0".to_string()
    } else if listpack && (-HALF..=HALF).contains(&s) && s == (s as i64) as f64 {
        (s as i64).to_string()
    } else {
        format_double(s)
    }
}
