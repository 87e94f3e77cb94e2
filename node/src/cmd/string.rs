//! String commands. A string entry is one immutable packed allocation, so every change builds
//! a new entry and inserts it, carrying over the expiry where Redis keeps it (APPEND,
//! SETRANGE, INCR*) and dropping it where Redis does (SET without KEEPTTL, GETSET, MSET).

use super::keys::lru_for_write;
use super::long_double::LongDouble;
use super::{eq_ic, parse_int, CmdError, CmdResult, Ctx, Handler};
use crate::db::{Clock, Entry, Shard};
use crate::notify;
use autocache_proto::resp::Request;
use std::sync::atomic::Ordering::Relaxed;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("get", get),
    ("set", set),
    ("setnx", setnx),
    ("setex", setex),
    ("psetex", psetex),
    ("getset", getset),
    ("getdel", getdel),
    ("getex", getex),
    ("mget", mget),
    ("mset", mset),
    ("msetnx", msetnx),
    ("incr", incr),
    ("decr", decr),
    ("incrby", incrby),
    ("decrby", decrby),
    ("incrbyfloat", incrbyfloat),
    ("append", append),
    ("strlen", strlen),
    ("getrange", getrange),
    ("setrange", setrange),
    ("substr", getrange),
    ("lcs", lcs),
];

fn string_of(e: &Entry) -> Result<&[u8], CmdError> {
    e.as_str().ok_or(CmdError::WrongType)
}

/// Writes `value` at `key` with expiry `expire_at` (0 = none), replacing what was there.
fn store(shard: &mut Shard, slot: u16, key: &[u8], value: &[u8], expire_at: u64, clock: &Clock) {
    let old_lru = shard.peek(slot, key, clock.ms).map(|e| e.lru());
    let lru = lru_for_write(old_lru, clock);
    shard.insert(slot, Entry::string(key, value, expire_at, lru));
}

/// The live string at `key` for a modification: its bytes and expiry, `None` when absent,
/// WRONGTYPE for a collection.
fn string_for_write<'s>(
    shard: &'s mut Shard,
    slot: u16,
    key: &[u8],
    now: u64,
) -> Result<Option<(&'s [u8], u64)>, CmdError> {
    match shard.peek(slot, key, now) {
        None => Ok(None),
        Some(e) => {
            let at = e.expire_at();
            Ok(Some((string_of(e)?, at)))
        }
    }
}

fn max_len(ctx: &Ctx<'_, '_>) -> u64 {
    ctx.server.settings.proto_max_bulk_len.load(Relaxed)
}

/// Redis's `checkStringLength`.
fn check_length(total: Option<u64>, max: u64) -> CmdResult {
    match total {
        Some(n) if n <= max => Ok(()),
        _ => Err(CmdError::msg(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        )),
    }
}

// ---- GET and the SET family ----

fn get(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    match shard.get(slot, key, &ctx.clock) {
        None => ctx.out.null(),
        Some(e) => ctx.out.bulk(string_of(e)?),
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpireArg {
    Ex,
    Px,
    ExAt,
    PxAt,
}

impl ExpireArg {
    fn parse(opt: &[u8]) -> Option<ExpireArg> {
        [
            ("ex", ExpireArg::Ex),
            ("px", ExpireArg::Px),
            ("exat", ExpireArg::ExAt),
            ("pxat", ExpireArg::PxAt),
        ]
        .into_iter()
        .find(|(name, _)| eq_ic(opt, name))
        .map(|(_, kind)| kind)
    }

    fn absolute(self) -> bool {
        matches!(self, ExpireArg::ExAt | ExpireArg::PxAt)
    }

    /// The absolute expiry in ms, as Redis's `getExpireMillisecondsOrReply`: positive, no
    /// overflow.
    fn resolve(self, arg: &[u8], now: u64, cmd: &'static str) -> Result<u64, CmdError> {
        let v = parse_int(arg)?;
        let secs = matches!(self, ExpireArg::Ex | ExpireArg::ExAt);
        let mut ms = if secs { v.checked_mul(1000) } else { Some(v) }
            .filter(|_| v > 0)
            .ok_or(CmdError::InvalidExpire(cmd))?;
        if !self.absolute() {
            ms = ms
                .checked_add(now as i64)
                .ok_or(CmdError::InvalidExpire(cmd))?;
        }
        Ok(ms as u64)
    }
}

/// The options of SET (NX XX GET KEEPTTL EX PX EXAT PXAT) and GETEX (EX PX EXAT PXAT
/// PERSIST), parsed with Redis's rules for which may combine.
#[derive(Default)]
struct StrOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireArg, &'a [u8])>,
}

fn parse_str_opts<'a>(
    req: &Request<'a>,
    from: usize,
    is_set: bool,
) -> Result<StrOpts<'a>, CmdError> {
    let mut o = StrOpts::default();
    let mut j = from;
    while j < req.len() {
        let opt = req.arg(j);
        let cur = o.expire.map(|(k, _)| k);
        if is_set && eq_ic(opt, "nx") && !o.xx {
            o.nx = true;
        } else if is_set && eq_ic(opt, "xx") && !o.nx {
            o.xx = true;
        } else if is_set && eq_ic(opt, "get") {
            o.get = true;
        } else if is_set && eq_ic(opt, "keepttl") && !o.persist && cur.is_none() {
            o.keepttl = true;
        } else if !is_set && eq_ic(opt, "persist") && cur.is_none() && !o.keepttl {
            o.persist = true;
        } else {
            // A repeated EX/PX/… of the same kind is allowed (the last wins), mixing is not.
            let kind = ExpireArg::parse(opt)
                .filter(|k| !o.keepttl && !o.persist && cur.is_none_or(|c| c == *k))
                .ok_or(CmdError::Syntax)?;
            let arg = req.get(j + 1).ok_or(CmdError::Syntax)?;
            o.expire = Some((kind, arg));
            j += 1;
        }
        j += 1;
    }
    Ok(o)
}

/// Outcome of `set_generic`, for the caller's reply.
#[derive(PartialEq, Eq)]
enum SetOutcome {
    Done,
    /// NX or XX prevented the write.
    Skipped,
}

/// Redis's `setGenericCommand` after option parsing: with GET, replies the old value first
/// (WRONGTYPE aborts); then NX/XX; then the write, keeping the TTL only with KEEPTTL.
fn set_generic(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    value: &[u8],
    o: &StrOpts<'_>,
    expire_at: Option<u64>,
) -> Result<SetOutcome, CmdError> {
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    if o.get {
        match shard.get(slot, key, &clock) {
            None => ctx.out.null(),
            Some(e) => ctx.out.bulk(string_of(e)?),
        }
    }
    let old = shard
        .peek(slot, key, clock.ms)
        .map(|e| (e.expire_at(), e.lru()));
    if (o.nx && old.is_some()) || (o.xx && old.is_none()) {
        return Ok(SetOutcome::Skipped);
    }
    let expire = match expire_at {
        Some(at) => at,
        None if o.keepttl => old.map_or(0, |(at, _)| at),
        None => 0,
    };
    let lru = lru_for_write(old.map(|(_, lru)| lru), &clock);
    shard.insert(slot, Entry::string(key, value, expire, lru));
    shard.events.emit(notify::STRING, "set", key);
    if expire_at.is_some() {
        shard.events.emit(notify::GENERIC, "expire", key);
    }
    Ok(SetOutcome::Done)
}

fn set(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let o = parse_str_opts(req, 3, true)?;
    let at = o
        .expire
        .map(|(kind, arg)| kind.resolve(arg, ctx.clock.ms, "set"))
        .transpose()?;
    let outcome = set_generic(ctx, req.arg(1), req.arg(2), &o, at)?;
    if !o.get {
        match outcome {
            SetOutcome::Done => ctx.out.ok(),
            SetOutcome::Skipped => ctx.out.null(),
        }
    }
    Ok(())
}

fn setnx(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let o = StrOpts {
        nx: true,
        ..StrOpts::default()
    };
    let outcome = set_generic(ctx, req.arg(1), req.arg(2), &o, None)?;
    ctx.out.int((outcome == SetOutcome::Done) as i64);
    Ok(())
}

fn setex_generic(
    ctx: &mut Ctx<'_, '_>,
    req: &Request<'_>,
    kind: ExpireArg,
    name: &'static str,
) -> CmdResult {
    let at = kind.resolve(req.arg(2), ctx.clock.ms, name)?;
    set_generic(ctx, req.arg(1), req.arg(3), &StrOpts::default(), Some(at))?;
    ctx.out.ok();
    Ok(())
}

fn setex(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    setex_generic(ctx, req, ExpireArg::Ex, "setex")
}

fn psetex(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    setex_generic(ctx, req, ExpireArg::Px, "psetex")
}

fn getset(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let o = StrOpts {
        get: true,
        ..StrOpts::default()
    };
    set_generic(ctx, req.arg(1), req.arg(2), &o, None)?;
    Ok(())
}

fn getdel(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    match shard.get(slot, key, &ctx.clock) {
        None => ctx.out.null(),
        Some(e) => {
            ctx.out.bulk(string_of(e)?);
            shard.remove(slot, key);
            shard.events.emit(notify::GENERIC, "del", key);
        }
    }
    Ok(())
}

/// GETEX key [EX|PX|EXAT|PXAT t | PERSIST]: replies the value, then changes its expiry; an
/// absolute time already past deletes the key.
fn getex(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let o = parse_str_opts(req, 2, false)?;
    let key = req.arg(1);
    let now = ctx.clock.ms;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let Some(e) = shard.get(slot, key, &ctx.clock) else {
        ctx.out.null();
        return Ok(());
    };
    let had_ttl = e.has_expire();
    let value = string_of(e)?;
    let at = o
        .expire
        .map(|(kind, arg)| kind.resolve(arg, now, "getex"))
        .transpose()?;
    ctx.out.bulk(value);
    match (at, o.expire) {
        (Some(at), Some((kind, _))) if kind.absolute() && at <= now => {
            shard.remove(slot, key);
            shard.events.emit(notify::GENERIC, "del", key);
        }
        (Some(at), _) => {
            shard.set_expire(slot, key, at, now);
            shard.events.emit(notify::GENERIC, "expire", key);
        }
        // As Redis, only a TTL actually removed is a change (WATCH).
        (None, _) if o.persist && had_ttl => {
            shard.set_expire(slot, key, 0, now);
            shard.events.emit(notify::GENERIC, "persist", key);
        }
        _ => {}
    }
    Ok(())
}

// ---- multi-key ----

fn mget(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let clock = ctx.clock;
    let mut m = ctx.db.lock_keys(req.iter().skip(1));
    ctx.out.array(req.len() - 1);
    for key in req.iter().skip(1) {
        let (shard, slot) = m.for_key(key);
        match shard.get(slot, key, &clock).and_then(|e| e.as_str()) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// MSET / MSETNX: pairs after the name; an odd count is an arity error as in Redis.
fn mset_generic(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, nx: bool) -> Result<bool, CmdError> {
    if req.len().is_multiple_of(2) {
        let name = if nx { "msetnx" } else { "mset" };
        return Err(CmdError::Arity(name.into()));
    }
    let clock = ctx.clock;
    let mut m = ctx.db.lock_keys(req.iter().skip(1).step_by(2));
    if nx {
        // Every shard involved is locked: nobody can create a key between check and write.
        for key in req.iter().skip(1).step_by(2) {
            let (shard, slot) = m.for_key(key);
            if shard.peek(slot, key, clock.ms).is_some() {
                return Ok(false);
            }
        }
    }
    for i in (1..req.len()).step_by(2) {
        let (key, value) = (req.arg(i), req.arg(i + 1));
        let (shard, slot) = m.for_key(key);
        store(shard, slot, key, value, 0, &clock);
        shard.events.emit(notify::STRING, "set", key);
    }
    Ok(true)
}

fn mset(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    mset_generic(ctx, req, false)?;
    ctx.out.ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let done = mset_generic(ctx, req, true)?;
    ctx.out.int(done as i64);
    Ok(())
}

// ---- counters ----

/// Adds `delta` to the integer at `key` (0 when absent), keeping its TTL.
fn incr_by(ctx: &mut Ctx<'_, '_>, key: &[u8], delta: i64) -> CmdResult {
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let (current, expire) = match string_for_write(&mut shard, slot, key, clock.ms)? {
        None => (0, 0),
        Some((s, at)) => (parse_int(s)?, at),
    };
    let new = current.checked_add(delta).ok_or(CmdError::Overflow)?;
    let mut buf = itoa::Buffer::new();
    store(
        &mut shard,
        slot,
        key,
        buf.format(new).as_bytes(),
        expire,
        &clock,
    );
    shard.events.emit(notify::STRING, "incrby", key);
    ctx.out.int(new);
    Ok(())
}

fn incr(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    incr_by(ctx, req.arg(1), 1)
}

fn decr(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    incr_by(ctx, req.arg(1), -1)
}

fn incrby(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let delta = parse_int(req.arg(2))?;
    incr_by(ctx, req.arg(1), delta)
}

fn decrby(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let delta = parse_int(req.arg(2))?;
    let neg = delta
        .checked_neg()
        .ok_or_else(|| CmdError::msg("ERR decrement would overflow"))?;
    incr_by(ctx, req.arg(1), neg)
}

fn incrbyfloat(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let (current, expire) = match string_for_write(&mut shard, slot, key, clock.ms)? {
        None => (LongDouble::zero(), 0),
        Some((s, at)) => (LongDouble::parse(s).ok_or(CmdError::NotFloat)?, at),
    };
    let incr = LongDouble::parse(req.arg(2)).ok_or(CmdError::NotFloat)?;
    let new = current + incr;
    if !new.is_finite() {
        return Err(CmdError::msg("ERR increment would produce NaN or Infinity"));
    }
    let text = new.to_human();
    store(&mut shard, slot, key, text.as_bytes(), expire, &clock);
    shard.events.emit(notify::STRING, "incrbyfloat", key);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

// ---- APPEND STRLEN GETRANGE SETRANGE ----

/// Changes the live string at `key` in place: resized to `len`, then `write` on its bytes.
/// Keeps the expiry, touches the access clock, fires the write hooks around the change. A
/// long value grows into spare room (see `Entry::str_resize`): appending piece by piece is
/// linear, as in Redis, not a copy of the whole value per piece.
fn rewrite_in_place(
    shard: &mut Shard,
    slot: u16,
    key: &[u8],
    clock: &Clock,
    len: usize,
    write: impl FnOnce(&mut [u8]),
) {
    shard.changing(key);
    let e = shard.peek(slot, key, clock.ms).expect("a live string");
    e.set_lru(lru_for_write(Some(e.lru()), clock));
    write(e.str_resize(len).expect("a string"));
    shard.changed(key);
}

fn append(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let (key, tail) = (req.arg(1), req.arg(2));
    let clock = ctx.clock;
    let max = max_len(ctx);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let len = match string_for_write(&mut shard, slot, key, clock.ms)? {
        None => {
            store(&mut shard, slot, key, tail, 0, &clock);
            tail.len()
        }
        Some((s, _)) => {
            let old = s.len();
            check_length((old as u64).checked_add(tail.len() as u64), max)?;
            let len = old + tail.len();
            rewrite_in_place(&mut shard, slot, key, &clock, len, |v| {
                v[old..].copy_from_slice(tail)
            });
            len
        }
    };
    shard.events.emit(notify::STRING, "append", key);
    ctx.out.int(len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let n = match shard.get(slot, key, &ctx.clock) {
        None => 0,
        Some(e) => string_of(e)?.len(),
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// GETRANGE / SUBSTR with Redis's index rules: negatives count from the end, both ends are
/// clamped, an empty range is an empty string.
fn getrange(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let start = parse_int(req.arg(2))?;
    let end = parse_int(req.arg(3))?;
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let s = match shard.get(slot, key, &ctx.clock) {
        None => &b""[..],
        Some(e) => string_of(e)?,
    };
    ctx.out.bulk(substring(s, start, end));
    Ok(())
}

fn substring(s: &[u8], start: i64, end: i64) -> &[u8] {
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return b"";
    }
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end }.max(0).min(len - 1);
    if start > end || len == 0 {
        return b"";
    }
    &s[start as usize..=end as usize]
}

fn setrange(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let (key, patch) = (req.arg(1), req.arg(3));
    let offset = parse_int(req.arg(2))?;
    if offset < 0 {
        return Err(CmdError::msg("ERR offset is out of range"));
    }
    let clock = ctx.clock;
    let max = max_len(ctx);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let old = string_for_write(&mut shard, slot, key, clock.ms)?.map(|(s, _)| s.len());
    // Writing nothing changes nothing (and creates no key).
    if patch.is_empty() {
        ctx.out.int(old.unwrap_or(0) as i64);
        return Ok(());
    }
    check_length((offset as u64).checked_add(patch.len() as u64), max)?;
    let (offset, end) = (offset as usize, offset as usize + patch.len());
    let len = match old {
        None => {
            let mut value = vec![0; end];
            value[offset..].copy_from_slice(patch);
            let mut e = Entry::string(key, &value, 0, clock.initial_lru());
            e.set_raw();
            shard.insert(slot, e);
            end
        }
        Some(old) => {
            let len = old.max(end);
            rewrite_in_place(&mut shard, slot, key, &clock, len, |v| {
                v[offset..end].copy_from_slice(patch)
            });
            len
        }
    };
    shard.events.emit(notify::STRING, "setrange", key);
    ctx.out.int(len as i64);
    Ok(())
}

// ---- LCS ----

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`: the longest common
/// subsequence of two strings (missing keys are empty), by Redis 7.0's dynamic programming
/// and backtracking, so that IDX lists the same ranges in the same order. The table is
/// (len1 + 1) x (len2 + 1) 32-bit cells, refused past proto-max-bulk-len as in Redis.
fn lcs(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let clock = ctx.clock;
    let (k1, k2) = (req.arg(1), req.arg(2));
    // As Redis: both keys are read, their types checked, then the options parsed.
    let mut strings: [Option<Vec<u8>>; 2] = Default::default();
    {
        let mut m = ctx.db.lock_keys([k1, k2]);
        for (s, key) in strings.iter_mut().zip([k1, k2]) {
            let (shard, slot) = m.for_key(key);
            *s = match shard.get(slot, key, &clock) {
                None => Some(Vec::new()),
                Some(e) => e.as_str().map(<[u8]>::to_vec),
            };
        }
    }
    let [Some(a), Some(b)] = &strings else {
        return Err(CmdError::msg(
            "ERR The specified keys must contain string values",
        ));
    };
    let (mut get_len, mut get_idx, mut with_match_len, mut min_match_len) =
        (false, false, false, 0);
    let mut i = 3;
    while i < req.len() {
        let opt = req.arg(i);
        if eq_ic(opt, "idx") {
            get_idx = true;
        } else if eq_ic(opt, "len") {
            get_len = true;
        } else if eq_ic(opt, "withmatchlen") {
            with_match_len = true;
        } else if eq_ic(opt, "minmatchlen") && i + 1 < req.len() {
            min_match_len = parse_int(req.arg(i + 1))?.max(0) as u64;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if get_len && get_idx {
        return Err(CmdError::msg(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells * 4 > ctx.server.settings.proto_max_bulk_len.load(Relaxed) {
        return Err(CmdError::msg(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let w = blen + 1;
    let mut t = vec![0u32; cells as usize];
    for i in 1..=alen {
        for j in 1..=blen {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let total = t[alen * w + blen];
    if get_len {
        ctx.out.int(i64::from(total));
        return Ok(());
    }
    // Backwards from the end: the common bytes, and each run of matches as a range.
    let mut result = vec![0u8; total as usize];
    let mut ranges: Vec<[usize; 4]> = Vec::new();
    let (mut i, mut j, mut idx) = (alen, blen, total as usize);
    let mut range: Option<[usize; 4]> = None; // a_start, a_end, b_start, b_end
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            match &mut range {
                None => range = Some([i - 1, i - 1, j - 1, j - 1]),
                Some(r) if r[0] == i && r[2] == j => {
                    r[0] -= 1;
                    r[2] -= 1;
                }
                Some(_) => emit = true,
            }
            if range.is_some_and(|r| r[0] == 0 || r[2] == 0) {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t[(i - 1) * w + j] > t[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = range.is_some();
        }
        if emit {
            if let Some(r) = range.take() {
                if (r[1] - r[0] + 1) as u64 >= min_match_len {
                    ranges.push(r);
                }
            }
        }
    }
    if !get_idx {
        ctx.out.bulk(&result);
        return Ok(());
    }
    ctx.out.map(2);
    ctx.out.bulk(b"matches");
    ctx.out.array(ranges.len());
    for r in &ranges {
        ctx.out.array(2 + usize::from(with_match_len));
        for pair in [[r[0], r[1]], [r[2], r[3]]] {
            ctx.out.array(2);
            ctx.out.int(pair[0] as i64);
            ctx.out.int(pair[1] as i64);
        }
        if with_match_len {
            ctx.out.int((r[1] - r[0] + 1) as i64);
        }
    }
    ctx.out.bulk(b"len");
    ctx.out.int(i64::from(total));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::substring;

    #[test]
    fn substring_follows_redis_index_rules() {
        let s = b"Hello World";
        assert_eq!(substring(s, 0, 3), b"Hell");
        assert_eq!(substring(s, -3, -1), b"rld");
        assert_eq!(substring(s, 0, -1), s);
        assert_eq!(substring(s, 10, 100), b"d");
        assert_eq!(substring(s, 5, 3), b"");
        assert_eq!(substring(s, -1, -5), b"");
        assert_eq!(substring(s, -100, 2), b"Hel");
        assert_eq!(substring(b"", 0, -1), b"");
        assert_eq!(substring(s, i64::MIN, i64::MAX), s);
    }
}
