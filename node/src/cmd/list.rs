//! List commands: pushes and pops at both ends, indexed access, LINSERT/LREM/LTRIM/LPOS, moves
//! between lists, and the blocking pops, which try the plain operation and otherwise park the
//! connection through `ctx.block` (re-run from scratch when one of their keys is written).

use super::{
    eq_ic, parse_int, parse_timeout, reply_bulks, CmdError, CmdResult, Ctx, Handler, TimeoutReply,
};
use crate::db::{Clock, Entry, Kind, Shard};
use crate::notify;
use crate::types::list::{End, List};
use crate::types::Value;
use autocache_proto::resp::Request;
use std::time::Duration;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("lpush", lpush),
    ("rpush", rpush),
    ("lpushx", lpushx),
    ("rpushx", rpushx),
    ("lpop", lpop),
    ("rpop", rpop),
    ("llen", llen),
    ("lrange", lrange),
    ("lindex", lindex),
    ("lset", lset),
    ("linsert", linsert),
    ("lrem", lrem),
    ("ltrim", ltrim),
    ("lpos", lpos),
    ("lmove", lmove),
    ("rpoplpush", rpoplpush),
    ("lmpop", lmpop),
    ("blpop", blpop),
    ("brpop", brpop),
    ("blmove", blmove),
    ("brpoplpush", brpoplpush),
    ("blmpop", blmpop),
];

// ---- lookups ----

/// Whether `key` holds a list (false when absent), WRONGTYPE for another type. No stats, no
/// hooks: for checks before deciding to write.
fn is_list(shard: &mut Shard, slot: u16, key: &[u8], now: u64) -> Result<bool, CmdError> {
    match shard.peek(slot, key, now).map(|e| e.kind()) {
        None => Ok(false),
        Some(Kind::List) => Ok(true),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The list at `key` for a client's read.
fn read<'s>(
    shard: &'s mut Shard,
    slot: u16,
    key: &[u8],
    clock: &Clock,
) -> Result<Option<&'s List>, CmdError> {
    match shard.get(slot, key, clock).map(|e| e.value()) {
        None => Ok(None),
        Some(Some(Value::List(l))) => Ok(Some(l)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The list at `key` to change in place. The caller calls [`written`] once it did change
/// it, so that a command that turns out to change nothing fires no WATCH or wake-up. A
/// missing key is no read miss (Redis's lookupKeyWrite: no keyspace_misses, no `keymiss`).
fn open<'s>(
    shard: &'s mut Shard,
    slot: u16,
    key: &[u8],
    clock: &Clock,
) -> Result<Option<&'s mut List>, CmdError> {
    if shard.peek(slot, key, clock.ms).is_none() {
        return Ok(None);
    }
    match shard.get(slot, key, clock).map(|e| e.value_mut()) {
        None => Ok(None),
        Some(Some(Value::List(l))) => Ok(Some(l)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// After an in-place change: notifies `event`, fires the key's write hooks, or deletes the
/// key if the list became empty (which fires them too, and notifies `del`).
fn written(shard: &mut Shard, slot: u16, key: &[u8], now_empty: bool, event: &'static str) {
    shard.events.emit(notify::LIST, event, key);
    if now_empty {
        shard.remove(slot, key);
        shard.events.emit(notify::GENERIC, "del", key);
    } else {
        shard.touched(key);
    }
}

fn pop_event(end: End) -> &'static str {
    match end {
        End::Head => "lpop",
        End::Tail => "rpop",
    }
}

fn push_event(end: End) -> &'static str {
    match end {
        End::Head => "lpush",
        End::Tail => "rpush",
    }
}

/// Pushes `values` at `end` of the list at `key`, creating it unless `existing_only`.
/// Returns the new length (0 when the key is absent and `existing_only`).
fn push_into<'v>(
    shard: &mut Shard,
    slot: u16,
    key: &[u8],
    clock: &Clock,
    end: End,
    values: impl Iterator<Item = &'v [u8]>,
    existing_only: bool,
) -> Result<usize, CmdError> {
    if let Some(l) = open(shard, slot, key, clock)? {
        values.for_each(|v| l.push(end, v));
        let len = l.len();
        shard.touched(key);
        shard.events.emit(notify::LIST, push_event(end), key);
        return Ok(len);
    }
    if existing_only {
        return Ok(0);
    }
    let mut l = List::default();
    values.for_each(|v| l.push(end, v));
    let len = l.len();
    shard.insert(
        slot,
        Entry::object(key, Value::List(l), 0, clock.initial_lru()),
    );
    shard.events.emit(notify::LIST, push_event(end), key);
    Ok(len)
}

// ---- argument helpers ----

/// LEFT | RIGHT.
fn parse_end(arg: &[u8]) -> Result<End, CmdError> {
    if eq_ic(arg, "left") {
        Ok(End::Head)
    } else if eq_ic(arg, "right") {
        Ok(End::Tail)
    } else {
        Err(CmdError::Syntax)
    }
}

/// An integer in `min..=max`; `msg` replaces every error text when given (Redis's
/// `getRangeLongFromObjectOrReply`).
fn parse_range(arg: &[u8], min: i64, max: i64, msg: Option<&str>) -> Result<i64, CmdError> {
    let err = |default: CmdError| msg.map_or(default, CmdError::msg);
    let n = parse_int(arg).map_err(|_| err(CmdError::NotInteger))?;
    if n < min || n > max {
        return Err(err(CmdError::msg(format!(
            "ERR value is out of range, value must between {min} and {max}"
        ))));
    }
    Ok(n)
}

/// A list index, negative counting from the tail; `None` outside the list.
fn index(i: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if i < 0 { i + len } else { i };
    (0..len).contains(&i).then_some(i as usize)
}

/// LRANGE/LTRIM's start/stop (inclusive, negative from the tail) as `start..end`, or
/// `None` for an empty range.
fn span(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (start + len).max(0)
    } else {
        start
    };
    let stop = if stop < 0 { stop + len } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize + 1))
}

// ---- push / pop ----

fn lpush(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    push(ctx, req, End::Head, false)
}

fn rpush(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    push(ctx, req, End::Tail, false)
}

fn lpushx(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    push(ctx, req, End::Head, true)
}

fn rpushx(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    push(ctx, req, End::Tail, true)
}

fn push(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, end: End, existing_only: bool) -> CmdResult {
    let key = req.arg(1);
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let len = push_into(
        &mut shard,
        slot,
        key,
        &clock,
        end,
        req.iter().skip(2),
        existing_only,
    )?;
    ctx.out.int(len as i64);
    Ok(())
}

fn lpop(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    pop(ctx, req, End::Head)
}

fn rpop(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    pop(ctx, req, End::Tail)
}

/// LPOP/RPOP key [count]: one element as a bulk string, or with a count an array.
fn pop(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, end: End) -> CmdResult {
    if req.len() > 3 {
        return Err(CmdError::Arity(
            String::from_utf8_lossy(req.arg(0)).to_lowercase(),
        ));
    }
    let count = match req.get(2) {
        Some(a) => Some(parse_range(
            a,
            0,
            i64::MAX,
            Some("ERR value is out of range, must be positive"),
        )?),
        None => None,
    };
    let key = req.arg(1);
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    if !is_list(&mut shard, slot, key, clock.ms)? {
        match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    if count == Some(0) {
        ctx.out.array(0);
        return Ok(());
    }
    let Some(l) = open(&mut shard, slot, key, &clock)? else {
        ctx.out.null();
        return Ok(());
    };
    match count {
        None => ctx.out.bulk(&l.pop(end).unwrap_or_default()),
        Some(n) => {
            let n = l.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            ctx.out.array(n);
            for _ in 0..n {
                ctx.out.bulk(&l.pop(end).unwrap_or_default());
            }
        }
    }
    let empty = l.is_empty();
    written(&mut shard, slot, key, empty, pop_event(end));
    Ok(())
}

// ---- reads ----

fn llen(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let len = read(&mut shard, slot, key, &clock)?.map_or(0, List::len);
    ctx.out.int(len as i64);
    Ok(())
}

fn lrange(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let (start, stop) = (parse_int(req.arg(2))?, parse_int(req.arg(3))?);
    let key = req.arg(1);
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let Some(l) = read(&mut shard, slot, key, &clock)? else {
        ctx.out.array(0);
        return Ok(());
    };
    match span(start, stop, l.len()) {
        Some((a, b)) => reply_bulks(ctx.out, l.range(a, b)),
        None => ctx.out.array(0),
    }
    Ok(())
}

fn lindex(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let Some(l) = read(&mut shard, slot, key, &clock)? else {
        ctx.out.null();
        return Ok(());
    };
    let i = parse_int(req.arg(2))?;
    match index(i, l.len()).and_then(|i| l.get(i)) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len].
fn lpos(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let opts = LposOpts::parse(req)?;
    let (key, element) = (req.arg(1), req.arg(2));
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let found = match read(&mut shard, slot, key, &clock)? {
        None => Vec::new(),
        Some(l) if opts.rank < 0 => {
            let last = l.len().saturating_sub(1);
            let hits = opts.scan(l.iter().rev(), element);
            hits.into_iter().map(|i| last - i).collect()
        }
        Some(l) => opts.scan(l.iter(), element),
    };
    match opts.count {
        Some(_) => {
            ctx.out.array(found.len());
            found.iter().for_each(|&i| ctx.out.int(i as i64));
        }
        None => match found.first() {
            Some(&i) => ctx.out.int(i as i64),
            None => ctx.out.null(),
        },
    }
    Ok(())
}

struct LposOpts {
    /// Which match to start from; negative scans from the tail.
    rank: i64,
    /// `Some` when COUNT was given (an array reply); 0 = every match.
    count: Option<u64>,
    /// Elements compared at most; 0 = no limit.
    maxlen: u64,
}

impl LposOpts {
    fn parse(req: &Request<'_>) -> Result<LposOpts, CmdError> {
        let mut o = LposOpts {
            rank: 1,
            count: None,
            maxlen: 0,
        };
        let mut i = 3;
        while i < req.len() {
            let (opt, has_value) = (req.arg(i), i + 1 < req.len());
            if eq_ic(opt, "rank") && has_value {
                o.rank = parse_range(req.arg(i + 1), -i64::MAX, i64::MAX, None)?;
                if o.rank == 0 {
                    return Err(CmdError::msg(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                    ));
                }
            } else if eq_ic(opt, "count") && has_value {
                let n = parse_range(
                    req.arg(i + 1),
                    0,
                    i64::MAX,
                    Some("ERR COUNT can't be negative"),
                )?;
                o.count = Some(n as u64);
            } else if eq_ic(opt, "maxlen") && has_value {
                let n = parse_range(
                    req.arg(i + 1),
                    0,
                    i64::MAX,
                    Some("ERR MAXLEN can't be negative"),
                )?;
                o.maxlen = n as u64;
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
        Ok(o)
    }

    /// Positions (in scan order) of the matches this search reports.
    fn scan<'a>(&self, items: impl Iterator<Item = &'a [u8]>, element: &[u8]) -> Vec<usize> {
        let skip = self.rank.unsigned_abs() - 1;
        let want = self.count.unwrap_or(1);
        let limit = if self.maxlen == 0 {
            u64::MAX
        } else {
            self.maxlen
        };
        let mut found = Vec::new();
        let mut seen = 0u64;
        for (i, e) in items.enumerate() {
            if i as u64 >= limit {
                break;
            }
            if e != element {
                continue;
            }
            seen += 1;
            if seen > skip {
                found.push(i);
                if found.len() as u64 == want {
                    break;
                }
            }
        }
        found
    }
}

// ---- in-place changes ----

fn lset(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    if !is_list(&mut shard, slot, key, clock.ms)? {
        return Err(CmdError::NoSuchKey);
    }
    let i = parse_int(req.arg(2))?;
    let l = open(&mut shard, slot, key, &clock)?.ok_or(CmdError::NoSuchKey)?;
    let ok = index(i, l.len()).is_some_and(|i| l.set(i, req.arg(3)));
    if !ok {
        return Err(CmdError::msg("ERR index out of range"));
    }
    shard.touched(key);
    shard.events.emit(notify::LIST, "lset", key);
    ctx.out.ok();
    Ok(())
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, -1 without the pivot, 0 without
/// the key.
fn linsert(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let after = if eq_ic(req.arg(2), "after") {
        true
    } else if eq_ic(req.arg(2), "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let (key, pivot, element) = (req.arg(1), req.arg(3), req.arg(4));
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let Some(l) = open(&mut shard, slot, key, &clock)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let Some(at) = l.iter().position(|e| e == pivot) else {
        ctx.out.int(-1);
        return Ok(());
    };
    l.insert(at + after as usize, element);
    let len = l.len();
    shard.touched(key);
    shard.events.emit(notify::LIST, "linsert", key);
    ctx.out.int(len as i64);
    Ok(())
}

fn lrem(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let count = parse_int(req.arg(2))?;
    let key = req.arg(1);
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let Some(l) = open(&mut shard, slot, key, &clock)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = l.remove_matching(req.arg(3), count);
    let empty = l.is_empty();
    if removed > 0 {
        written(&mut shard, slot, key, empty, "lrem");
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn ltrim(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let (start, stop) = (parse_int(req.arg(2))?, parse_int(req.arg(3))?);
    let key = req.arg(1);
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    if let Some(l) = open(&mut shard, slot, key, &clock)? {
        let (a, b) = span(start, stop, l.len()).unwrap_or((0, 0));
        l.trim(a, b);
        let empty = l.is_empty();
        written(&mut shard, slot, key, empty, "ltrim");
    }
    ctx.out.ok();
    Ok(())
}

// ---- moves between lists ----

fn lmove(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let (from, to) = (parse_end(req.arg(3))?, parse_end(req.arg(4))?);
    let moved = move_one(ctx, req.arg(1), req.arg(2), from, to)?;
    reply_moved(ctx, moved);
    Ok(())
}

fn rpoplpush(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let moved = move_one(ctx, req.arg(1), req.arg(2), End::Tail, End::Head)?;
    reply_moved(ctx, moved);
    Ok(())
}

fn reply_moved(ctx: &mut Ctx<'_, '_>, moved: Option<Box<[u8]>>) {
    match moved {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
}

/// Pops from `src` at `from` and pushes onto `dst` at `to` (the same key rotates). `None`
/// when `src` does not exist; WRONGTYPE for either key before anything moves.
fn move_one(
    ctx: &mut Ctx<'_, '_>,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<Box<[u8]>>, CmdError> {
    let clock = ctx.clock;
    let mut m = ctx.db.lock_keys([src, dst]);
    let (shard, slot) = m.for_key(src);
    if !is_list(shard, slot, src, clock.ms)? {
        return Ok(None);
    }
    let (shard, dslot) = m.for_key(dst);
    is_list(shard, dslot, dst, clock.ms)?;
    let (shard, slot) = m.for_key(src);
    let Some(l) = open(shard, slot, src, &clock)? else {
        return Ok(None);
    };
    let Some(v) = l.pop(from) else {
        return Ok(None);
    };
    let empty = l.is_empty();
    // As Redis: the push (and its notification) comes first, then the pop's. With src ==
    // dst the push refills the list, so it is never deleted.
    let (shard, dslot) = m.for_key(dst);
    push_into(shard, dslot, dst, &clock, to, std::iter::once(&*v), false)?;
    let (shard, slot) = m.for_key(src);
    written(shard, slot, src, empty && src != dst, pop_event(from));
    Ok(Some(v))
}

/// LMPOP/BLMPOP's `numkeys key… LEFT|RIGHT [COUNT n]`, starting at `at` (numkeys).
struct MpopArgs<'r> {
    keys: Vec<&'r [u8]>,
    end: End,
    count: usize,
}

impl<'r> MpopArgs<'r> {
    fn parse(req: &Request<'r>, at: usize) -> Result<MpopArgs<'r>, CmdError> {
        let numkeys = parse_range(
            req.arg(at),
            1,
            i64::MAX,
            Some("ERR numkeys should be greater than 0"),
        )?;
        let where_at = usize::try_from(numkeys)
            .ok()
            .and_then(|n| n.checked_add(at + 1))
            .filter(|&w| w < req.len())
            .ok_or(CmdError::Syntax)?;
        let end = parse_end(req.arg(where_at))?;
        let mut count = None;
        let mut i = where_at + 1;
        while i < req.len() {
            if count.is_none() && eq_ic(req.arg(i), "count") && i + 1 < req.len() {
                let n = parse_range(
                    req.arg(i + 1),
                    1,
                    i64::MAX,
                    Some("ERR count should be greater than 0"),
                )?;
                count = Some(usize::try_from(n).unwrap_or(usize::MAX));
                i += 2;
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(MpopArgs {
            keys: (at + 1..where_at).map(|i| req.arg(i)).collect(),
            end,
            count: count.unwrap_or(1),
        })
    }
}

/// Pops up to `count` elements from the first non-empty list among `keys`, replying
/// `[key, [elements]]`. Returns whether it found one (and replied).
fn mpop(ctx: &mut Ctx<'_, '_>, keys: &[&[u8]], end: End, count: usize) -> Result<bool, CmdError> {
    let clock = ctx.clock;
    let mut m = ctx.db.lock_keys(keys.iter().copied());
    for &key in keys {
        let (shard, slot) = m.for_key(key);
        if !is_list(shard, slot, key, clock.ms)? {
            continue;
        }
        let Some(l) = open(shard, slot, key, &clock)? else {
            continue;
        };
        let n = count.min(l.len());
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.array(n);
        for _ in 0..n {
            ctx.out.bulk(&l.pop(end).unwrap_or_default());
        }
        let empty = l.is_empty();
        written(shard, slot, key, empty, pop_event(end));
        return Ok(true);
    }
    Ok(false)
}

fn lmpop(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let args = MpopArgs::parse(req, 1)?;
    if !mpop(ctx, &args.keys, args.end, args.count)? {
        ctx.out.null_array();
    }
    Ok(())
}

// ---- blocking variants ----

fn blpop(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    blocking_pop(ctx, req, End::Head)
}

fn brpop(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    blocking_pop(ctx, req, End::Tail)
}

/// BLPOP/BRPOP key… timeout: `[key, element]` from the first non-empty list, else block.
fn blocking_pop(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, end: End) -> CmdResult {
    let timeout = parse_timeout(req.arg(req.len() - 1))?;
    let keys: Vec<&[u8]> = req.iter().skip(1).take(req.len() - 2).collect();
    if pop_first(ctx, &keys, end)? {
        return Ok(());
    }
    ctx.block(&keys, timeout, TimeoutReply::Pop)
}

/// One element from the first non-empty list among `keys`, replied as `[key, element]`.
fn pop_first(ctx: &mut Ctx<'_, '_>, keys: &[&[u8]], end: End) -> Result<bool, CmdError> {
    let clock = ctx.clock;
    let mut m = ctx.db.lock_keys(keys.iter().copied());
    for &key in keys {
        let (shard, slot) = m.for_key(key);
        if !is_list(shard, slot, key, clock.ms)? {
            continue;
        }
        let Some(l) = open(shard, slot, key, &clock)? else {
            continue;
        };
        let Some(v) = l.pop(end) else {
            continue;
        };
        let empty = l.is_empty();
        written(shard, slot, key, empty, pop_event(end));
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.bulk(&v);
        return Ok(true);
    }
    Ok(false)
}

fn blmove(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let (from, to) = (parse_end(req.arg(3))?, parse_end(req.arg(4))?);
    let timeout = parse_timeout(req.arg(5))?;
    blocking_move(ctx, req, from, to, timeout)
}

fn brpoplpush(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let timeout = parse_timeout(req.arg(3))?;
    blocking_move(ctx, req, End::Tail, End::Head, timeout)
}

/// BLMOVE/BRPOPLPUSH: move one element now, or block on the source.
fn blocking_move(
    ctx: &mut Ctx<'_, '_>,
    req: &Request<'_>,
    from: End,
    to: End,
    timeout: Option<Duration>,
) -> CmdResult {
    let (src, dst) = (req.arg(1), req.arg(2));
    match move_one(ctx, src, dst, from, to)? {
        Some(v) => {
            ctx.out.bulk(&v);
            Ok(())
        }
        None => ctx.block(&[src], timeout, TimeoutReply::Move),
    }
}

/// BLMPOP timeout numkeys key… LEFT|RIGHT [COUNT n].
fn blmpop(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let args = MpopArgs::parse(req, 2)?;
    let timeout = parse_timeout(req.arg(1))?;
    if mpop(ctx, &args.keys, args.end, args.count)? {
        return Ok(());
    }
    ctx.block(&args.keys, timeout, TimeoutReply::Pop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_redis_clamping() {
        assert_eq!(span(0, -1, 5), Some((0, 5)));
        assert_eq!(span(-100, 100, 5), Some((0, 5)));
        assert_eq!(span(-2, -1, 5), Some((3, 5)));
        assert_eq!(span(3, 1, 5), None);
        assert_eq!(span(5, 10, 5), None);
        assert_eq!(span(0, -6, 5), None);
        assert_eq!(span(i64::MIN, i64::MAX, 5), Some((0, 5)));
        assert_eq!(index(-1, 3), Some(2));
        assert_eq!(index(-4, 3), None);
        assert_eq!(index(3, 3), None);
        assert_eq!(index(i64::MIN, 3), None);
    }
}
