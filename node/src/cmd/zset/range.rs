//! Range queries: the ZRANGE family (by rank, score or lex, REV, LIMIT, WITHSCORES, and
//! ZRANGESTORE), ZCOUNT, ZLEXCOUNT and ZREMRANGEBY*. Every range is first turned into a span
//! of ranks (O(log n) on the large encoding), then walked for its M elements.

use super::{
    after_write, begin_elements, element, parse_lex_range, parse_score_range, read, store, write,
};
use crate::cmd::{eq_ic, parse_int, CmdError, CmdResult, Ctx};
use crate::types::zset::{LexRange, ScoreRange, ZSet, LISTPACK_MAX_ENTRIES, LISTPACK_MAX_VALUE};
use autocache_proto::resp::Request;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

#[derive(Debug, Clone)]
enum Bounds {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// A parsed ZRANGE-style request.
#[derive(Debug, Clone)]
struct Query {
    bounds: Bounds,
    rev: bool,
    withscores: bool,
    offset: i64,
    /// Negative: no limit.
    limit: i64,
}

/// Parses `<src> <min> <max> [BYSCORE|BYLEX] [REV] [WITHSCORES] [LIMIT offset count]` from
/// `src_at` (Redis's zrangeGenericCommand). `by` and `rev` are fixed by the legacy commands;
/// `None` lets ZRANGE's options choose (once each).
fn parse_query(
    req: &Request<'_>,
    src_at: usize,
    store: bool,
    by: Option<By>,
    rev: Option<bool>,
) -> Result<Query, CmdError> {
    let (mut by, mut rev) = (by, rev);
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = src_at + 3;
    while j < req.len() {
        let left = req.len() - j - 1;
        let a = req.arg(j);
        if !store && eq_ic(a, "withscores") {
            withscores = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            offset = parse_int(req.arg(j + 1))?;
            limit = parse_int(req.arg(j + 2))?;
            j += 2;
        } else if rev.is_none() && eq_ic(a, "rev") {
            rev = Some(true);
        } else if by.is_none() && eq_ic(a, "bylex") {
            by = Some(By::Lex);
        } else if by.is_none() && eq_ic(a, "byscore") {
            by = Some(By::Score);
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let by = by.unwrap_or(By::Rank);
    let rev = rev.unwrap_or(false);
    // Redis tests the parsed count against -1, so `LIMIT 0 -1` passes even by rank.
    if limit != -1 && by == By::Rank {
        return Err(CmdError::msg(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(CmdError::msg(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut min, mut max) = (req.arg(src_at + 1), req.arg(src_at + 2));
    if rev && by != By::Rank {
        // Reverse score and lex ranges are written max first.
        std::mem::swap(&mut min, &mut max);
    }
    let bounds = match by {
        By::Rank => Bounds::Rank(parse_int(min)?, parse_int(max)?),
        By::Score => Bounds::Score(parse_score_range(min, max)?),
        By::Lex => Bounds::Lex(parse_lex_range(min, max)?),
    };
    Ok(Query {
        bounds,
        rev,
        withscores,
        offset,
        limit,
    })
}

/// Normalizes Redis rank indexes (negative from the end) to an inclusive `[start, end]`,
/// `None` when empty.
fn rank_window(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

impl Query {
    /// Where the answer starts (an ascending rank) and how many elements it has; they are
    /// then walked from there, backwards when `rev`.
    fn select(&self, z: &ZSet) -> (usize, usize) {
        let len = z.len();
        match &self.bounds {
            Bounds::Rank(start, end) => match rank_window(len, *start, *end) {
                None => (0, 0),
                Some((s, e)) => (if self.rev { len - 1 - s } else { s }, e - s + 1),
            },
            Bounds::Score(r) => self.window(z.score_span(r)),
            Bounds::Lex(r) => self.lex_window(z, r),
        }
    }

    /// Lex ranges are walked as Redis walks them: from the first member in range (the last
    /// with REV), skip `offset` members unchecked, then take members while they stay
    /// within the far bound. (The same as a span for members of equal score.)
    fn lex_window(&self, z: &ZSet, r: &LexRange) -> (usize, usize) {
        let (Some(first), Ok(offset)) = (z.lex_first(r, self.rev), usize::try_from(self.offset))
        else {
            return (0, 0);
        };
        let start = if self.rev {
            first.checked_sub(offset)
        } else {
            Some(first + offset).filter(|&s| s < z.len())
        };
        let Some(start) = start else {
            return (0, 0);
        };
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let n = z
            .iter_from(start, self.rev)
            .take(limit)
            .take_while(|(m, _)| if self.rev { r.gte_min(m) } else { r.lte_max(m) })
            .count();
        (start, n)
    }

    /// Applies LIMIT to the span `[lo, hi)`. A negative offset selects nothing, as in Redis.
    fn window(&self, (lo, hi): (usize, usize)) -> (usize, usize) {
        let Ok(offset) = usize::try_from(self.offset) else {
            return (0, 0);
        };
        let avail = hi - lo;
        if offset >= avail {
            return (0, 0);
        }
        let mut n = avail - offset;
        if let Ok(limit) = usize::try_from(self.limit) {
            n = n.min(limit);
        }
        (
            if self.rev {
                hi - 1 - offset
            } else {
                lo + offset
            },
            n,
        )
    }
}

fn range_generic(
    ctx: &mut Ctx<'_, '_>,
    req: &Request<'_>,
    by: Option<By>,
    rev: Option<bool>,
) -> CmdResult {
    let q = parse_query(req, 1, false, by, rev)?;
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let Some(z) = read(&mut shard, slot, key, &ctx.clock)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let (first, n) = q.select(z);
    begin_elements(ctx.out, n, q.withscores);
    for (m, s) in z.iter_from(first, q.rev).take(n) {
        element(ctx.out, m, s, q.withscores);
    }
    Ok(())
}

pub(super) fn zrange(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    range_generic(ctx, req, None, None)
}

pub(super) fn zrevrange(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    range_generic(ctx, req, Some(By::Rank), Some(true))
}

pub(super) fn zrangebyscore(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    range_generic(ctx, req, Some(By::Score), Some(false))
}

pub(super) fn zrevrangebyscore(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    range_generic(ctx, req, Some(By::Score), Some(true))
}

pub(super) fn zrangebylex(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    range_generic(ctx, req, Some(By::Lex), Some(false))
}

pub(super) fn zrevrangebylex(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    range_generic(ctx, req, Some(By::Lex), Some(true))
}

/// `ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]`.
pub(super) fn zrangestore(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let q = parse_query(req, 2, true, None, None)?;
    let (dst, src) = (req.arg(1), req.arg(2));
    let clock = ctx.clock;
    let mut m = ctx.db.lock_keys([dst, src]);
    let mut items: Vec<(Box<[u8]>, f64)> = {
        let (shard, slot) = m.for_key(src);
        match read(shard, slot, src, &clock)? {
            None => Vec::new(),
            Some(z) => {
                let (first, n) = q.select(z);
                z.iter_from(first, q.rev)
                    .take(n)
                    .map(|(m, s)| (m.into(), s))
                    .collect()
            }
        }
    };
    // Redis adds the range in emission order to a listpack that turns into a skip list
    // past the limits: what went through the listpack lost a negative zero.
    let mut small = true;
    for (i, (m, s)) in items.iter_mut().enumerate() {
        small = small && i < LISTPACK_MAX_ENTRIES && m.len() <= LISTPACK_MAX_VALUE;
        if small && *s == 0.0 {
            *s = 0.0;
        }
    }
    if q.rev {
        items.reverse();
    }
    let (shard, slot) = m.for_key(dst);
    let n = store(
        shard,
        slot,
        dst,
        ZSet::from_sorted(items),
        &clock,
        "zrangestore",
    );
    ctx.out.int(n as i64);
    Ok(())
}

// ---- counts ----

pub(super) fn zcount(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let r = parse_score_range(req.arg(2), req.arg(3))?;
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let n = read(&mut shard, slot, key, &ctx.clock)?.map_or(0, |z| {
        let (lo, hi) = z.score_span(&r);
        hi - lo
    });
    ctx.out.int(n as i64);
    Ok(())
}

pub(super) fn zlexcount(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let r = parse_lex_range(req.arg(2), req.arg(3))?;
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let n = read(&mut shard, slot, key, &ctx.clock)?.map_or(0, |z| z.lex_count(&r));
    ctx.out.int(n as i64);
    Ok(())
}

// ---- removals ----

/// Removes the span of ranks `span` computes from the zset at `req.arg(1)`; replies the count.
fn remove_generic(
    ctx: &mut Ctx<'_, '_>,
    req: &Request<'_>,
    event: &'static str,
    span: impl Fn(&ZSet) -> Option<(usize, usize)>,
) -> CmdResult {
    let key = req.arg(1);
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let removed = match write(&mut shard, slot, key, &clock)? {
        None => 0,
        Some(z) => match span(z) {
            Some((start, n)) if n > 0 => z.remove_ranks(start, n, |_, _| {}),
            _ => 0,
        },
    };
    after_write(&mut shard, slot, key, clock.ms, removed > 0, event);
    ctx.out.int(removed as i64);
    Ok(())
}

pub(super) fn zremrangebyrank(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let (start, end) = (parse_int(req.arg(2))?, parse_int(req.arg(3))?);
    remove_generic(ctx, req, "zremrangebyrank", |z| {
        rank_window(z.len(), start, end).map(|(s, e)| (s, e - s + 1))
    })
}

pub(super) fn zremrangebyscore(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let r = parse_score_range(req.arg(2), req.arg(3))?;
    remove_generic(ctx, req, "zremrangebyscore", |z| {
        let (lo, hi) = z.score_span(&r);
        Some((lo, hi - lo))
    })
}

pub(super) fn zremrangebylex(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let r = parse_lex_range(req.arg(2), req.arg(3))?;
    remove_generic(ctx, req, "zremrangebylex", |z| {
        let first = z.lex_first(&r, false)?;
        let n = z
            .iter_from(first, false)
            .take_while(|(m, _)| r.lte_max(m))
            .count();
        Some((first, n))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_windows_like_redis() {
        assert_eq!(rank_window(5, 0, -1), Some((0, 4)));
        assert_eq!(rank_window(5, -100, 100), Some((0, 4)));
        assert_eq!(rank_window(5, 3, 1), None);
        assert_eq!(rank_window(5, 5, 10), None);
        assert_eq!(rank_window(5, -2, -1), Some((3, 4)));
        assert_eq!(rank_window(5, 0, -6), None);
        assert_eq!(rank_window(0, 0, -1), None);
    }
}
