//! Bitmaps: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD, on string values as Redis 7.0 defines them
//! (bit 0 is the most significant bit of the first byte; a missing key is all zeros). SETBIT
//! changes the value in place; growth leaves spare room past 1 KiB, so setting bits at rising
//! offsets costs no copy of the whole bitmap each time.

use super::keys::lru_for_write;
use super::{eq_ic, parse_int, CmdError, CmdResult, Ctx, Handler};
use crate::db::Entry;
use crate::notify;
use autocache_proto::resp::{ReplyBuf, Request};
use std::sync::atomic::Ordering::Relaxed;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("setbit", setbit),
    ("getbit", getbit),
    ("bitcount", bitcount),
    ("bitpos", bitpos),
    ("bitop", bitop),
    ("bitfield", bitfield),
    ("bitfield_ro", bitfield_ro),
];

/// A bit offset: an integer from 0 to below 8 x proto-max-bulk-len (2^32 by default).
fn parse_offset(ctx: &Ctx<'_, '_>, arg: &[u8]) -> Result<u64, CmdError> {
    let max = ctx.server.settings.proto_max_bulk_len.load(Relaxed);
    match parse_int(arg) {
        Ok(n) if n >= 0 && (n as u64 >> 3) < max => Ok(n as u64),
        _ => Err(CmdError::msg(
            "ERR bit offset is not an integer or out of range",
        )),
    }
}

fn bit_at(bytes: &[u8], i: u64) -> bool {
    bytes
        .get((i >> 3) as usize)
        .is_some_and(|b| b & (0x80 >> (i & 7)) != 0)
}

fn setbit(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let offset = parse_offset(ctx, req.arg(2))?;
    let on = match parse_int(req.arg(3)) {
        Ok(b @ (0 | 1)) => b == 1,
        _ => return Err(CmdError::msg("ERR bit is not an integer or out of range")),
    };
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let byte = (offset >> 3) as usize;
    let mask = 0x80u8 >> (offset & 7);
    let Some(e) = shard.peek(slot, key, clock.ms) else {
        let mut value = vec![0u8; byte + 1];
        if on {
            value[byte] = mask;
        }
        let mut e = Entry::string(key, &value, 0, clock.initial_lru());
        e.set_raw();
        shard.insert(slot, e);
        shard.events.emit(notify::STRING, "setbit", key);
        ctx.out.int(0);
        return Ok(());
    };
    let value = e.as_str().ok_or(CmdError::WrongType)?;
    let len = value.len();
    let was = bit_at(value, offset);
    // As Redis: only a grown string or a flipped bit is a change (WATCH, notifications).
    if byte < len && was == on {
        ctx.out.int(was as i64);
        return Ok(());
    }
    shard.changing(key);
    let e = shard.peek(slot, key, clock.ms).expect("a live string");
    e.set_lru(lru_for_write(Some(e.lru()), &clock));
    let bytes = e.str_resize(len.max(byte + 1)).expect("a string");
    if on {
        bytes[byte] |= mask;
    } else {
        bytes[byte] &= !mask;
    }
    shard.changed(key);
    shard.events.emit(notify::STRING, "setbit", key);
    ctx.out.int(was as i64);
    Ok(())
}

fn getbit(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let offset = parse_offset(ctx, req.arg(2))?;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let bit = match shard.get(slot, key, &ctx.clock) {
        None => false,
        Some(e) => bit_at(e.as_str().ok_or(CmdError::WrongType)?, offset),
    };
    ctx.out.int(bit as i64);
    Ok(())
}

/// BITCOUNT/BITPOS's `start end [BYTE|BIT]` as Redis turns it into an inclusive span of
/// bits of a `len`-byte string: negative indexes count from the end, both are clamped, and
/// `None` is an empty span.
fn bit_span(len: u64, start: i64, end: i64, in_bits: bool) -> Option<(u64, u64)> {
    let total = if in_bits { len << 3 } else { len } as i64;
    let start = if start < 0 { total + start } else { start }.max(0);
    let end = if end < 0 { total + end } else { end }
        .max(0)
        .min(total - 1);
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(if in_bits {
        (start, end)
    } else {
        (start << 3, (end << 3) + 7)
    })
}

fn parse_unit(arg: Option<&[u8]>) -> Result<bool, CmdError> {
    match arg {
        None => Ok(false),
        Some(a) if eq_ic(a, "bit") => Ok(true),
        Some(a) if eq_ic(a, "byte") => Ok(false),
        Some(_) => Err(CmdError::Syntax),
    }
}

fn count_bits(bytes: &[u8], (from, to): (u64, u64)) -> u64 {
    let (first, last) = ((from >> 3) as usize, (to >> 3) as usize);
    let whole: u64 = bytes[first..=last]
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum();
    // Bits of the edge bytes outside the span.
    let head = u64::from((bytes[first] & !(0xFFu8 >> (from & 7))).count_ones());
    let tail = u64::from((bytes[last] & (0x7Fu8 >> (to & 7))).count_ones());
    whole - head - tail
}

/// `BITCOUNT key [start end [BYTE|BIT]]`. As Redis 7.0 the key is looked up first: a missing
/// one answers 0 whatever the arguments.
fn bitcount(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let Some(e) = shard.get(slot, key, &ctx.clock) else {
        ctx.out.int(0);
        return Ok(());
    };
    let bytes = e.as_str().ok_or(CmdError::WrongType)?;
    let len = bytes.len() as u64;
    let span = match req.len() {
        2 => bit_span(len, 0, -1, false),
        4 | 5 => {
            let (start, end) = (parse_int(req.arg(2))?, parse_int(req.arg(3))?);
            let in_bits = parse_unit(req.get(4))?;
            if start < 0 && end < 0 && start > end {
                None
            } else {
                bit_span(len, start, end, in_bits)
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    ctx.out.int(span.map_or(0, |s| count_bits(bytes, s)) as i64);
    Ok(())
}

/// The first bit equal to `bit` within the inclusive span.
fn first_bit(bytes: &[u8], (from, to): (u64, u64), bit: bool) -> Option<u64> {
    let mut i = from;
    while i <= to {
        if i & 7 == 0 && i + 7 <= to {
            let b = bytes[(i >> 3) as usize];
            let hits = if bit { b } else { !b };
            if hits != 0 {
                return Some(i + u64::from(hits.leading_zeros()));
            }
            i += 8;
        } else {
            if bit_at(bytes, i) == bit {
                return Some(i);
            }
            i += 1;
        }
    }
    None
}

/// `BITPOS key bit [start [end [BYTE|BIT]]]`: the first bit set (or clear); a missing key
/// is all zeros. Looking for a clear bit without an end, the string counts as padded with
/// zeros: all ones answer the first bit past it.
fn bitpos(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let bit = match parse_int(req.arg(2))? {
        b @ (0 | 1) => b == 1,
        _ => return Err(CmdError::msg("ERR The bit argument must be 1 or 0.")),
    };
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    let Some(e) = shard.get(slot, key, &ctx.clock) else {
        ctx.out.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let bytes = e.as_str().ok_or(CmdError::WrongType)?;
    let len = bytes.len() as u64;
    let (span, end_given) = match req.len() {
        3 => (bit_span(len, 0, -1, false), false),
        4..=6 => {
            let start = parse_int(req.arg(3))?;
            let in_bits = parse_unit(req.get(5))?;
            let end = match req.get(4) {
                Some(a) => Some(parse_int(a)?),
                None => None,
            };
            let span = bit_span(len, start, end.unwrap_or(-1), in_bits);
            (span, end.is_some())
        }
        _ => return Err(CmdError::Syntax),
    };
    let pos = match span {
        None => -1,
        Some(s) => match first_bit(bytes, s, bit) {
            Some(p) => p as i64,
            None if !bit && !end_given => (((s.1 >> 3) + 1) << 3) as i64,
            None => -1,
        },
    };
    ctx.out.int(pos);
    Ok(())
}

/// `BITOP AND|OR|XOR|NOT destkey key [key ...]`: the result is as long as the longest
/// source (shorter and missing ones count as zeros); an empty one deletes `destkey`.
fn bitop(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let op = req.arg(1);
    let op = ["and", "or", "xor", "not"]
        .into_iter()
        .position(|o| eq_ic(op, o))
        .ok_or(CmdError::Syntax)?;
    if op == 3 && req.len() != 4 {
        return Err(CmdError::msg(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let dst = req.arg(2);
    let clock = ctx.clock;
    let mut m = ctx.db.lock_keys(req.iter().skip(2));
    let mut sources: Vec<Vec<u8>> = Vec::with_capacity(req.len() - 3);
    for key in req.iter().skip(3) {
        let (shard, slot) = m.for_key(key);
        sources.push(match shard.get(slot, key, &clock) {
            None => Vec::new(),
            Some(e) => e.as_str().ok_or(CmdError::WrongType)?.to_vec(),
        });
    }
    let len = sources.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = sources[0].clone();
    out.resize(len, 0);
    if op == 3 {
        out.iter_mut().for_each(|b| *b = !*b);
    }
    for src in &sources[1..] {
        for (i, o) in out.iter_mut().enumerate() {
            let b = src.get(i).copied().unwrap_or(0);
            match op {
                0 => *o &= b,
                1 => *o |= b,
                _ => *o ^= b,
            }
        }
    }
    let (shard, slot) = m.for_key(dst);
    if len == 0 {
        if shard.remove(slot, dst).is_some() {
            shard.events.emit(notify::GENERIC, "del", dst);
        }
    } else {
        let old = shard.peek(slot, dst, clock.ms).map(|e| e.lru());
        let mut e = Entry::string(dst, &out, 0, lru_for_write(old, &clock));
        e.set_raw();
        shard.insert(slot, e);
        shard.events.emit(notify::STRING, "set", dst);
    }
    ctx.out.int(len as i64);
    Ok(())
}

// ---- BITFIELD ----

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

#[derive(Clone, Copy)]
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

/// `i1`..`i64` or `u1`..`u63`: (signed, bits).
fn parse_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let bad = || {
        CmdError::msg(
            "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
        )
    };
    let signed = match arg.first() {
        Some(b'i' | b'I') => true,
        Some(b'u' | b'U') => false,
        _ => return Err(bad()),
    };
    let bits = std::str::from_utf8(&arg[1..])
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .filter(|&b| b >= 1 && b <= if signed { 64 } else { 63 })
        .ok_or_else(bad)?;
    Ok((signed, bits))
}

/// A field's offset: bits, or `#n` for n times the field's width.
fn parse_field_offset(ctx: &Ctx<'_, '_>, arg: &[u8], bits: u32) -> Result<u64, CmdError> {
    let max = ctx.server.settings.proto_max_bulk_len.load(Relaxed);
    let (hash, digits) = match arg.split_first() {
        Some((b'#', rest)) => (true, rest),
        _ => (false, arg),
    };
    let n = parse_int(digits).ok().and_then(|n| {
        if hash {
            n.checked_mul(bits as i64)
        } else {
            Some(n)
        }
    });
    match n {
        Some(n) if n >= 0 && (n as u64 >> 3) < max => Ok(n as u64),
        _ => Err(CmdError::msg(
            "ERR bit offset is not an integer or out of range",
        )),
    }
}

fn parse_fields(
    ctx: &Ctx<'_, '_>,
    req: &Request<'_>,
    read_only: bool,
) -> Result<Vec<Field>, CmdError> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut i = 2;
    while i < req.len() {
        let sub = req.arg(i);
        let takes = if eq_ic(sub, "get") {
            2
        } else if eq_ic(sub, "set") || eq_ic(sub, "incrby") {
            3
        } else if eq_ic(sub, "overflow") {
            1
        } else {
            return Err(CmdError::Syntax);
        };
        if i + takes >= req.len() {
            return Err(CmdError::Syntax);
        }
        if takes == 1 {
            let kind = req.arg(i + 1);
            overflow = if eq_ic(kind, "wrap") {
                Overflow::Wrap
            } else if eq_ic(kind, "sat") {
                Overflow::Sat
            } else if eq_ic(kind, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::msg("ERR Invalid OVERFLOW type specified"));
            };
            i += 2;
            continue;
        }
        let (signed, bits) = parse_type(req.arg(i + 1))?;
        let offset = parse_field_offset(ctx, req.arg(i + 2), bits)?;
        let op = if takes == 2 {
            FieldOp::Get
        } else {
            let n = parse_int(req.arg(i + 3))?;
            if eq_ic(sub, "set") {
                FieldOp::Set(n)
            } else {
                FieldOp::IncrBy(n)
            }
        };
        if read_only && !matches!(op, FieldOp::Get) {
            return Err(CmdError::msg(
                "ERR BITFIELD_RO only supports the GET subcommand",
            ));
        }
        fields.push(Field {
            op,
            signed,
            bits,
            offset,
            overflow,
        });
        i += takes + 1;
    }
    Ok(fields)
}

fn get_unsigned(bytes: &[u8], offset: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0, |v, j| (v << 1) | u64::from(bit_at(bytes, offset + j)))
}

fn get_signed(bytes: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_unsigned(bytes, offset, bits);
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

fn set_unsigned(bytes: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..u64::from(bits) {
        let i = offset + j;
        let mask = 0x80u8 >> (i & 7);
        let byte = &mut bytes[(i >> 3) as usize];
        if value & (1 << (u64::from(bits) - 1 - j)) != 0 {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// Redis's checkUnsignedBitfieldOverflow: whether `value + incr` leaves `bits` bits, and
/// the value WRAP or SAT turn it into.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, how: Overflow) -> Option<u64> {
    let max = (1u64 << bits) - 1;
    let wrap = || value.wrapping_add(incr as u64) & max;
    let over = value > max || (incr > 0 && incr as u64 > max - value);
    let under = !over && incr < 0 && incr.unsigned_abs() > value;
    match (over, under, how) {
        (false, false, _) => None,
        (_, _, Overflow::Wrap) => Some(wrap()),
        (true, _, _) => Some(max),
        (_, true, _) => Some(0),
    }
}

/// Redis's checkSignedBitfieldOverflow.
fn signed_overflow(value: i64, incr: i64, bits: u32, how: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let over =
        value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr);
    let under = !over
        && (value < min
            || (bits != 64 && incr < minincr)
            || (value < 0 && incr < 0 && incr < minincr));
    let wrap = || {
        let c = (value as u64).wrapping_add(incr as u64);
        if bits == 64 {
            c as i64
        } else if c & (1 << (bits - 1)) != 0 {
            (c | (u64::MAX << bits)) as i64
        } else {
            (c & !(u64::MAX << bits)) as i64
        }
    };
    match (over, under, how) {
        (false, false, _) => None,
        (_, _, Overflow::Wrap) => Some(wrap()),
        (true, _, _) => Some(max),
        (_, true, _) => Some(min),
    }
}

/// A field's value (bits past the string's end read as zeros).
fn read_field(bytes: &[u8], f: &Field) -> i64 {
    if f.signed {
        get_signed(bytes, f.offset, f.bits)
    } else {
        get_unsigned(bytes, f.offset, f.bits) as i64
    }
}

/// Runs one field's operation: its reply (None: null, a write refused by OVERFLOW FAIL) and
/// whether it changed the field's bits.
fn apply_field(bytes: &mut [u8], f: &Field) -> (Option<i64>, bool) {
    let (value, incr) = match f.op {
        FieldOp::Get => return (Some(read_field(bytes, f)), false),
        FieldOp::Set(v) => (v, 0),
        FieldOp::IncrBy(n) => (n, n),
    };
    let set = matches!(f.op, FieldOp::Set(_));
    let (new, reply) = if f.signed {
        let old = get_signed(bytes, f.offset, f.bits);
        let (base, add) = if set { (value, 0) } else { (old, incr) };
        let overflow = signed_overflow(base, add, f.bits, f.overflow);
        if overflow.is_some() && f.overflow == Overflow::Fail {
            return (None, false);
        }
        let new = overflow.unwrap_or_else(|| base.wrapping_add(add));
        (new as u64, if set { old } else { new })
    } else {
        let old = get_unsigned(bytes, f.offset, f.bits);
        let (base, add) = if set { (value as u64, 0) } else { (old, incr) };
        let overflow = unsigned_overflow(base, add, f.bits, f.overflow);
        if overflow.is_some() && f.overflow == Overflow::Fail {
            return (None, false);
        }
        let new = overflow.unwrap_or_else(|| base.wrapping_add(add as u64));
        (new, if set { old as i64 } else { new as i64 })
    };
    let mask = if f.bits == 64 {
        u64::MAX
    } else {
        (1 << f.bits) - 1
    };
    let changed = get_unsigned(bytes, f.offset, f.bits) != new & mask;
    set_unsigned(bytes, f.offset, f.bits, new);
    (Some(reply), changed)
}

fn reply_fields(out: &mut ReplyBuf, replies: &[Option<i64>]) {
    out.array(replies.len());
    for r in replies {
        match r {
            Some(n) => out.int(*n),
            None => out.null(),
        }
    }
}

/// `BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset increment]
/// [OVERFLOW WRAP|SAT|FAIL] ...`: every argument is checked before anything runs; a write
/// grows the string to the farthest field written.
fn bitfield(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let fields = parse_fields(ctx, req, false)?;
    let Some(reach) = fields
        .iter()
        .filter(|f| !matches!(f.op, FieldOp::Get))
        .map(|f| ((f.offset + u64::from(f.bits) - 1) >> 3) as usize + 1)
        .max()
    else {
        return read_fields(ctx, req.arg(1), &fields);
    };
    let key = req.arg(1);
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    let mut replies = Vec::with_capacity(fields.len());
    let mut changes = 0;
    // As Redis: a write counts as a change (WATCH, notification) when it changed its bits
    // or the string was created or grown for it.
    let Some(e) = shard.peek(slot, key, clock.ms) else {
        let mut value = vec![0u8; reach];
        for f in &fields {
            let (r, _) = apply_field(&mut value, f);
            changes += usize::from(r.is_some() && !matches!(f.op, FieldOp::Get));
            replies.push(r);
        }
        let mut e = Entry::string(key, &value, 0, clock.initial_lru());
        e.set_raw();
        shard.insert(slot, e);
        if changes > 0 {
            shard.events.emit(notify::STRING, "setbit", key);
        }
        reply_fields(ctx.out, &replies);
        return Ok(());
    };
    let len = e.as_str().ok_or(CmdError::WrongType)?.len();
    shard.changing(key);
    let e = shard.peek(slot, key, clock.ms).expect("a live string");
    e.set_lru(lru_for_write(Some(e.lru()), &clock));
    let bytes = e.str_resize(len.max(reach)).expect("a string");
    let grown = reach > len;
    for f in &fields {
        let (r, changed) = apply_field(bytes, f);
        changes += usize::from(r.is_some() && !matches!(f.op, FieldOp::Get) && (grown || changed));
        replies.push(r);
    }
    if changes > 0 {
        shard.changed(key);
        shard.events.emit(notify::STRING, "setbit", key);
    }
    reply_fields(ctx.out, &replies);
    Ok(())
}

/// GETs only: a missing key reads as zeros, nothing is created.
fn read_fields(ctx: &mut Ctx<'_, '_>, key: &[u8], fields: &[Field]) -> CmdResult {
    let (mut shard, slot) = ctx.db.lock_key(key);
    let bytes: &[u8] = match shard.get(slot, key, &ctx.clock) {
        None => &[],
        Some(e) => e.as_str().ok_or(CmdError::WrongType)?,
    };
    let replies: Vec<Option<i64>> = fields.iter().map(|f| Some(read_field(bytes, f))).collect();
    drop(shard);
    reply_fields(ctx.out, &replies);
    Ok(())
}

fn bitfield_ro(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let fields = parse_fields(ctx, req, true)?;
    read_fields(ctx, req.arg(1), &fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_count_and_search_bits() {
        let b = [0b1010_0000u8, 0xFF, 0b0000_0001];
        assert_eq!(bit_span(3, 0, -1, false), Some((0, 23)));
        assert_eq!(bit_span(3, 1, 1, false), Some((8, 15)));
        assert_eq!(bit_span(3, 5, 17, true), Some((5, 17)));
        assert_eq!(bit_span(3, -100, 100, false), Some((0, 23)));
        assert_eq!(bit_span(3, 2, 1, false), None);
        assert_eq!(bit_span(0, 0, -1, false), None);
        assert_eq!(count_bits(&b, (0, 23)), 11);
        assert_eq!(count_bits(&b, (1, 23)), 10);
        assert_eq!(count_bits(&b, (2, 9)), 3);
        assert_eq!(count_bits(&b, (23, 23)), 1);
        assert_eq!(first_bit(&b, (0, 23), true), Some(0));
        assert_eq!(first_bit(&b, (1, 23), true), Some(2));
        assert_eq!(first_bit(&b, (0, 23), false), Some(1));
        assert_eq!(first_bit(&b, (8, 15), false), None);
        assert_eq!(first_bit(&b, (8, 22), false), Some(16));
        assert_eq!(first_bit(&b, (16, 22), true), None);
    }
}
