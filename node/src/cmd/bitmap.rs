//! Bitmaps: SETBIT GETBIT BITCOUNT BITPOS BITOP, on string values as Redis 7.0 defines them
//! (bit 0 is the most significant bit of the first byte; a missing key is all zeros). SETBIT
//! changes the value in place; growth leaves spare room past 1 KiB, so setting bits at rising
//! offsets costs no copy of the whole bitmap each time.

use super::keys::lru_for_write;
use super::{eq_ic, parse_int, CmdError, CmdResult, Ctx, Handler};
use crate::db::Entry;
use crate::notify;
use autocache_proto::resp::Request;
use std::sync::atomic::Ordering::Relaxed;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("setbit", setbit),
    ("getbit", getbit),
    ("bitcount", bitcount),
    ("bitpos", bitpos),
    ("bitop", bitop),
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
        shard.insert(slot, Entry::string(key, &value, 0, clock.initial_lru()));
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
        shard.insert(
            slot,
            Entry::string(dst, &out, 0, lru_for_write(old, &clock)),
        );
        shard.events.emit(notify::STRING, "set", dst);
    }
    ctx.out.int(len as i64);
    Ok(())
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
