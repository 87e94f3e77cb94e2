//! Pops: ZPOPMIN, ZPOPMAX, ZMPOP and their blocking forms BZPOPMIN, BZPOPMAX, BZMPOP. A
//! blocking pop that finds every key empty parks the connection (`Ctx::block`); it is run
//! again from scratch when one of its keys is written.

use super::{after_write, write};
use crate::cmd::{eq_ic, parse_int, parse_timeout, CmdError, CmdResult, Ctx, TimeoutReply};
use crate::types::zset::ZSet;
use autocache_proto::resp::{ReplyBuf, Request};

type Popped = Vec<(Box<[u8]>, f64)>;

/// Removes up to `count` lowest (or highest) elements, in pop order.
fn pop(z: &mut ZSet, max: bool, count: usize) -> Popped {
    let n = count.min(z.len());
    let start = if max { z.len() - n } else { 0 };
    let mut out = Vec::with_capacity(n);
    z.remove_ranks(start, n, |m, s| out.push((m, s)));
    if max {
        out.reverse();
    }
    out
}

/// (member, score) pairs: nested [member, score] arrays or one flat list.
fn reply_pairs(out: &mut ReplyBuf, popped: &Popped, nested: bool) {
    if nested {
        out.array(popped.len());
    } else {
        out.array(2 * popped.len());
    }
    for (m, s) in popped {
        if nested {
            out.array(2);
        }
        out.bulk(m);
        out.double(*s);
    }
}

/// Pops from the first of `keys` holding a zset (absent keys are skipped, another type is
/// WRONGTYPE). Returns the index of the key served.
fn pop_first(
    ctx: &mut Ctx<'_, '_>,
    keys: &[&[u8]],
    max: bool,
    count: usize,
) -> Result<Option<(usize, Popped)>, CmdError> {
    let clock = ctx.clock;
    let mut m = ctx.db.lock_keys(keys.iter().copied());
    for (i, key) in keys.iter().enumerate() {
        let (shard, slot) = m.for_key(key);
        let Some(z) = write(shard, slot, key, &clock)? else {
            continue;
        };
        let popped = pop(z, max, count);
        after_write(shard, slot, key, clock.ms, true, pop_event(max));
        return Ok(Some((i, popped)));
    }
    Ok(None)
}

fn pop_event(max: bool) -> &'static str {
    if max {
        "zpopmax"
    } else {
        "zpopmin"
    }
}

pub(super) fn zpopmin(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    zpop(ctx, req, false)
}

pub(super) fn zpopmax(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    zpop(ctx, req, true)
}

/// `ZPOPMIN|ZPOPMAX key [count]`: a flat reply, except pairs in RESP3 when a count is given.
fn zpop(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, max: bool) -> CmdResult {
    if req.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match req.get(2) {
        None => None,
        // Redis answers "must be positive" for anything but a count >= 0.
        Some(a) => Some(
            parse_int(a)
                .ok()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or(CmdError::NotPositive)?,
        ),
    };
    let key = req.arg(1);
    let clock = ctx.clock;
    let nested = ctx.resp3() && count.is_some();
    let (mut shard, slot) = ctx.db.lock_key(key);
    let Some(z) = write(&mut shard, slot, key, &clock)? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count == Some(0) {
        ctx.out.array(0);
        return Ok(());
    }
    let popped = pop(z, max, count.unwrap_or(1));
    after_write(&mut shard, slot, key, clock.ms, true, pop_event(max));
    reply_pairs(ctx.out, &popped, nested);
    Ok(())
}

pub(super) fn bzpopmin(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    bzpop(ctx, req, false)
}

pub(super) fn bzpopmax(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    bzpop(ctx, req, true)
}

/// `BZPOPMIN|BZPOPMAX key [key ...] timeout`: [key, member, score], or block.
fn bzpop(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, max: bool) -> CmdResult {
    let timeout = parse_timeout(req.arg(req.len() - 1))?;
    let keys: Vec<&[u8]> = req.iter().skip(1).take(req.len() - 2).collect();
    match pop_first(ctx, &keys, max, 1)? {
        Some((i, popped)) => {
            let (m, s) = &popped[0];
            ctx.out.array(3);
            ctx.out.bulk(keys[i]);
            ctx.out.bulk(m);
            ctx.out.double(*s);
            Ok(())
        }
        None => ctx.block(&keys, timeout, TimeoutReply::Pop),
    }
}

/// `numkeys key [key ...] MIN|MAX [COUNT count]` of ZMPOP and BZMPOP.
struct Mpop<'a> {
    keys: Vec<&'a [u8]>,
    max: bool,
    count: usize,
}

fn parse_mpop<'a>(req: &Request<'a>, numkeys_at: usize) -> Result<Mpop<'a>, CmdError> {
    let numkeys_err = || CmdError::msg("ERR numkeys should be greater than 0");
    let numkeys = parse_int(req.arg(numkeys_at)).map_err(|_| numkeys_err())?;
    let numkeys = usize::try_from(numkeys)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(numkeys_err)?;
    let where_at = numkeys_at.saturating_add(numkeys).saturating_add(1);
    if where_at >= req.len() {
        return Err(CmdError::Syntax);
    }
    let side = req.arg(where_at);
    let max = if eq_ic(side, "min") {
        false
    } else if eq_ic(side, "max") {
        true
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < req.len() {
        if count.is_none() && eq_ic(req.arg(j), "count") && j + 1 < req.len() {
            let count_err = || CmdError::msg("ERR count should be greater than 0");
            let n = parse_int(req.arg(j + 1)).map_err(|_| count_err())?;
            count = Some(
                usize::try_from(n)
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(count_err)?,
            );
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(Mpop {
        keys: (numkeys_at + 1..where_at).map(|i| req.arg(i)).collect(),
        max,
        count: count.unwrap_or(1),
    })
}

/// [key, [[member, score], ...]] in both protocols.
fn reply_mpop(out: &mut ReplyBuf, key: &[u8], popped: &Popped) {
    out.array(2);
    out.bulk(key);
    reply_pairs(out, popped, true);
}

/// `ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]`.
pub(super) fn zmpop(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let a = parse_mpop(req, 1)?;
    match pop_first(ctx, &a.keys, a.max, a.count)? {
        Some((i, popped)) => reply_mpop(ctx.out, a.keys[i], &popped),
        None => ctx.out.null_array(),
    }
    Ok(())
}

/// `BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]`.
pub(super) fn bzmpop(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let a = parse_mpop(req, 2)?;
    let timeout = parse_timeout(req.arg(1))?;
    match pop_first(ctx, &a.keys, a.max, a.count)? {
        Some((i, popped)) => {
            reply_mpop(ctx.out, a.keys[i], &popped);
            Ok(())
        }
        None => ctx.block(&a.keys, timeout, TimeoutReply::Pop),
    }
}
