//! Set algebra over sorted sets (and plain sets, whose members count as score 1): ZUNION,
//! ZINTER, ZDIFF, their STORE forms, and ZINTERCARD, as Redis's
//! zunionInterDiffGenericCommand: inputs are looked up (and type-checked) before the options
//! are parsed; union and intersection visit inputs from the smallest; intersection and
//! difference only copy the first input and probe the others.

use super::parse_score;
use super::{begin_elements, element, store};
use crate::cmd::{eq_ic, parse_int, CmdError, CmdResult, Ctx};
use crate::db::{Clock, Multi};
use crate::types::set::Set;
use crate::types::zset::{cmp_entries, ZSet};
use crate::types::Value;
use autocache_proto::resp::Request;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's zunionInterAggregate: a sum of +inf and -inf counts as 0.
    fn apply(self, target: &mut f64, val: f64) {
        match self {
            Aggregate::Sum => {
                *target += val;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if val < *target {
                    *target = val;
                }
            }
            Aggregate::Max => {
                if val > *target {
                    *target = val;
                }
            }
        }
    }
}

/// One input key, borrowed from its shard for the duration of one visit.
enum Src<'a> {
    Missing,
    Z(&'a ZSet),
    S(&'a Set),
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self {
            Src::Missing => 0,
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Src::Missing => None,
            Src::Z(z) => z.score(member),
            Src::S(s) => s.contains(member).then_some(1.0),
        }
    }

    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Src::Missing => {}
            Src::Z(z) => z.iter().for_each(|(m, s)| f(m, s)),
            Src::S(s) => s.iter().for_each(|e| e.with_bytes(|m| f(m, 1.0))),
        }
    }
}

/// Visits input `key` (no hit/miss counted: the first pass did).
fn with_src<R>(m: &mut Multi<'_, '_>, key: &[u8], now: u64, f: impl FnOnce(&Src<'_>) -> R) -> R {
    let (shard, slot) = m.for_key(key);
    let src = match shard.peek(slot, key, now).and_then(|e| e.value()) {
        Some(Value::ZSet(z)) => Src::Z(z),
        Some(Value::Set(s)) => Src::S(s),
        _ => Src::Missing,
    };
    f(&src)
}

/// The first pass, as Redis's lookupKeyRead of every input: WRONGTYPE for anything but a
/// zset or a set; returns the sizes.
fn sizes(m: &mut Multi<'_, '_>, keys: &[&[u8]], clock: &Clock) -> Result<Vec<usize>, CmdError> {
    keys.iter()
        .map(|key| {
            let (shard, slot) = m.for_key(key);
            match shard.get(slot, key, clock).map(|e| e.value()) {
                None => Ok(0),
                Some(Some(Value::ZSet(z))) => Ok(z.len()),
                Some(Some(Value::Set(s))) => Ok(s.len()),
                Some(_) => Err(CmdError::WrongType),
            }
        })
        .collect()
}

struct Options {
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    /// ZINTERCARD's LIMIT; 0 = none.
    limit: usize,
}

/// `[WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]` (or ZINTERCARD's `[LIMIT n]`) from
/// argument `j`; which options exist depends on the command, as in Redis.
fn parse_options(
    req: &Request<'_>,
    mut j: usize,
    setnum: usize,
    op: Op,
    store: bool,
    card_only: bool,
) -> Result<Options, CmdError> {
    let mut o = Options {
        weights: vec![1.0; setnum],
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let algebra = op != Op::Diff && !card_only;
    while j < req.len() {
        let remaining = req.len() - j;
        let a = req.arg(j);
        if algebra && remaining > setnum && eq_ic(a, "weights") {
            for (i, w) in o.weights.iter_mut().enumerate() {
                *w = parse_score(req.arg(j + 1 + i))
                    .map_err(|_| CmdError::msg("ERR weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if algebra && remaining >= 2 && eq_ic(a, "aggregate") {
            let v = req.arg(j + 1);
            o.aggregate = if eq_ic(v, "sum") {
                Aggregate::Sum
            } else if eq_ic(v, "min") {
                Aggregate::Min
            } else if eq_ic(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if !store && !card_only && eq_ic(a, "withscores") {
            o.withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && eq_ic(a, "limit") {
            let err = || CmdError::msg("ERR LIMIT can't be negative");
            let n = parse_int(req.arg(j + 1)).map_err(|_| err())?;
            o.limit = usize::try_from(n).map_err(|_| err())?;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(o)
}

/// A weighted score; NaN (0 × inf) counts as 0.
fn weighted(score: f64, weight: f64) -> f64 {
    let v = score * weight;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

fn union(
    m: &mut Multi<'_, '_>,
    keys: &[&[u8]],
    order: &[usize],
    o: &Options,
    now: u64,
) -> Vec<(Box<[u8]>, f64)> {
    let mut acc: hashbrown::HashMap<Box<[u8]>, f64> = hashbrown::HashMap::new();
    for &i in order {
        with_src(m, keys[i], now, |src| {
            acc.reserve(src.len());
            src.for_each(|member, score| {
                let score = weighted(score, o.weights[i]);
                match acc.get_mut(member) {
                    Some(cur) => o.aggregate.apply(cur, score),
                    None => {
                        acc.insert(member.into(), score);
                    }
                }
            });
        });
    }
    acc.into_iter().collect()
}

fn inter(
    m: &mut Multi<'_, '_>,
    keys: &[&[u8]],
    order: &[usize],
    o: &Options,
    now: u64,
) -> Vec<(Box<[u8]>, f64)> {
    let first = order[0];
    let mut acc: Vec<(Box<[u8]>, f64)> = Vec::new();
    with_src(m, keys[first], now, |src| {
        acc.reserve(src.len());
        src.for_each(|member, score| acc.push((member.into(), weighted(score, o.weights[first]))));
    });
    for &i in &order[1..] {
        if acc.is_empty() {
            break;
        }
        with_src(m, keys[i], now, |src| {
            acc.retain_mut(|(member, score)| match src.score(member) {
                Some(v) => {
                    o.aggregate.apply(score, v * o.weights[i]);
                    true
                }
                None => false,
            });
        });
    }
    acc
}

fn diff(m: &mut Multi<'_, '_>, keys: &[&[u8]], now: u64) -> Vec<(Box<[u8]>, f64)> {
    let mut acc: Vec<(Box<[u8]>, f64)> = Vec::new();
    with_src(m, keys[0], now, |src| {
        src.for_each(|member, score| acc.push((member.into(), score)));
    });
    for key in &keys[1..] {
        if acc.is_empty() {
            break;
        }
        with_src(m, key, now, |src| {
            acc.retain(|(member, _)| src.score(member).is_none())
        });
    }
    acc
}

/// The shared body. `name` is the command's name for the numkeys error.
fn generic(
    ctx: &mut Ctx<'_, '_>,
    req: &Request<'_>,
    name: &str,
    op: Op,
    store_to: bool,
    card_only: bool,
) -> CmdResult {
    let numkeys_at = if store_to { 2 } else { 1 };
    let setnum = parse_int(req.arg(numkeys_at))?;
    if setnum < 1 {
        return Err(CmdError::msg(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    let available = req.len() - numkeys_at - 1;
    let setnum = match usize::try_from(setnum) {
        Ok(n) if n <= available => n,
        _ => return Err(CmdError::Syntax),
    };
    let keys: Vec<&[u8]> = (0..setnum).map(|i| req.arg(numkeys_at + 1 + i)).collect();
    let dst = store_to.then(|| req.arg(1));
    let clock = ctx.clock;
    let mut m = ctx.db.lock_keys(keys.iter().copied().chain(dst));
    let lens = sizes(&mut m, &keys, &clock)?;
    let o = parse_options(
        req,
        numkeys_at + 1 + setnum,
        setnum,
        op,
        store_to,
        card_only,
    )?;
    // Smallest first (stable, so equal sizes keep their order).
    let mut order: Vec<usize> = (0..setnum).collect();
    order.sort_by_key(|&i| lens[i]);
    let mut result = match op {
        Op::Union => union(&mut m, &keys, &order, &o, clock.ms),
        Op::Inter if lens[order[0]] == 0 => Vec::new(),
        Op::Inter => inter(&mut m, &keys, &order, &o, clock.ms),
        Op::Diff => diff(&mut m, &keys, clock.ms),
    };
    if card_only {
        let n = if o.limit > 0 {
            result.len().min(o.limit)
        } else {
            result.len()
        };
        ctx.out.int(n as i64);
        return Ok(());
    }
    result.sort_by(|a, b| cmp_entries(a.1, &a.0, b.1, &b.0));
    match dst {
        Some(dst) => {
            let (shard, slot) = m.for_key(dst);
            let event = match op {
                Op::Union => "zunionstore",
                Op::Inter => "zinterstore",
                Op::Diff => "zdiffstore",
            };
            let n = store(shard, slot, dst, ZSet::from_sorted(result), &clock, event);
            ctx.out.int(n as i64);
        }
        None => {
            begin_elements(ctx.out, result.len(), o.withscores);
            for (member, score) in &result {
                element(ctx.out, member, *score, o.withscores);
            }
        }
    }
    Ok(())
}

pub(super) fn zunion(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    generic(ctx, req, "zunion", Op::Union, false, false)
}

pub(super) fn zinter(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    generic(ctx, req, "zinter", Op::Inter, false, false)
}

pub(super) fn zdiff(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    generic(ctx, req, "zdiff", Op::Diff, false, false)
}

pub(super) fn zunionstore(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    generic(ctx, req, "zunionstore", Op::Union, true, false)
}

pub(super) fn zinterstore(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    generic(ctx, req, "zinterstore", Op::Inter, true, false)
}

pub(super) fn zdiffstore(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    generic(ctx, req, "zdiffstore", Op::Diff, true, false)
}

pub(super) fn zintercard(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    generic(ctx, req, "zintercard", Op::Inter, false, true)
}
