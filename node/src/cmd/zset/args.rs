//! Argument parsing shared by the sorted-set commands: scores as Redis reads them (C's
//! strtod, hex floats and range errors included) and score / lex range bounds.

use crate::cmd::CmdError;
use crate::types::zset::{LexBound, LexRange, ScoreRange};

/// glibc's strtod over a whole string (no leading space): decimal, hex (`0x1.8p3`),
/// `inf`/`infinity`, `nan`. Returns the value and whether it over- or underflowed (ERANGE).
fn c_strtod(s: &str) -> Option<(f64, bool)> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (v, erange) = if lower == "inf" || lower == "infinity" {
        (f64::INFINITY, false)
    } else if lower == "nan" {
        (f64::NAN, false)
    } else if let Some(hex) = lower.strip_prefix("0x") {
        hex_float(hex)?
    } else {
        if !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return None;
        }
        let v: f64 = body.parse().ok()?;
        let mantissa = body.split(['e', 'E']).next().unwrap_or("");
        let nonzero = mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
        (v, v.is_infinite() || (v == 0.0 && nonzero))
    };
    Some((if neg { -v } else { v }, erange))
}

/// The digits of a hex float after `0x`: `h[.h][p[+-]d]`.
fn hex_float(s: &str) -> Option<(f64, bool)> {
    let (mantissa, exp) = match s.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = || int.chars().chain(frac.chars());
    if int.len() + frac.len() == 0 || !digits().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let m = digits().fold(0.0f64, |m, c| {
        m * 16.0 + f64::from(c.to_digit(16).unwrap_or(0))
    });
    let scale = exp.saturating_sub(4 * frac.len() as i32);
    let v = m * 2f64.powi(scale);
    Some((v, v.is_infinite() || (v == 0.0 && m != 0.0)))
}

/// A score, increment or weight as Redis's getDoubleFromObject reads it: no surrounding
/// space, no NaN, no overflow to infinity or underflow to zero.
pub(super) fn parse_score(arg: &[u8]) -> Result<f64, CmdError> {
    let s = std::str::from_utf8(arg).map_err(|_| CmdError::NotFloat)?;
    if s.starts_with(|c: char| c.is_ascii_whitespace()) {
        return Err(CmdError::NotFloat);
    }
    match c_strtod(s) {
        Some((v, erange)) if !v.is_nan() && !(erange && (v.is_infinite() || v == 0.0)) => Ok(v),
        _ => Err(CmdError::NotFloat),
    }
}

/// strtod as range bounds are read (zslParseRange): leading spaces allowed, nothing may
/// follow, NaN refused, out-of-range values kept. An empty string reads as 0 (strtod
/// stops at the NUL).
fn strtod(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() {
        return Some(0.0);
    }
    let s = std::str::from_utf8(arg).ok()?;
    let (v, _) = c_strtod(s.trim_start_matches(|c: char| c.is_ascii_whitespace()))?;
    (!v.is_nan()).then_some(v)
}

fn score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    match arg.strip_prefix(b"(") {
        Some(rest) => Some((strtod(rest)?, true)),
        None => Some((strtod(arg)?, false)),
    }
}

/// `min max` of ZRANGEBYSCORE & co: `(` exclusive, `-inf`/`+inf`.
pub(super) fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    let err = || CmdError::msg("ERR min or max is not a float");
    let (min, minex) = score_bound(min).ok_or_else(err)?;
    let (max, maxex) = score_bound(max).ok_or_else(err)?;
    Ok(ScoreRange {
        min,
        minex,
        max,
        maxex,
    })
}

fn lex_bound(arg: &[u8]) -> Option<LexBound> {
    match arg.first()? {
        b'+' if arg.len() == 1 => Some(LexBound::PosInf),
        b'-' if arg.len() == 1 => Some(LexBound::NegInf),
        b'(' => Some(LexBound::Excl(arg[1..].into())),
        b'[' => Some(LexBound::Incl(arg[1..].into())),
        _ => None,
    }
}

/// `min max` of ZRANGEBYLEX & co: `[x`, `(x`, `-`, `+`.
pub(super) fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    let err = || CmdError::msg("ERR min or max not valid string range item");
    Ok(LexRange {
        min: lex_bound(min).ok_or_else(err)?,
        max: lex_bound(max).ok_or_else(err)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_like_get_double_from_object() {
        assert_eq!(parse_score(b"1.5"), Ok(1.5));
        assert_eq!(parse_score(b"-inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+Infinity"), Ok(f64::INFINITY));
        assert_eq!(parse_score(b"0x1p3"), Ok(8.0));
        assert_eq!(parse_score(b"-0X1.8P1"), Ok(-3.0));
        assert_eq!(parse_score(b".5"), Ok(0.5));
        assert_eq!(parse_score(b"4.9e-324"), Ok(4.9e-324));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"1e400",
            b"-1e400",
            b"1e-400",
            b"0x",
            b"abc",
            b"--1",
            b"1e",
        ] {
            assert_eq!(
                parse_score(bad),
                Err(CmdError::NotFloat),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn range_bounds_like_zsl_parse_range() {
        let r = parse_score_range(b"(1", b"+inf").unwrap();
        assert_eq!(
            (r.min, r.minex, r.max, r.maxex),
            (1.0, true, f64::INFINITY, false)
        );
        let r = parse_score_range(b"(", b" 2").unwrap();
        assert_eq!((r.min, r.minex, r.max), (0.0, true, 2.0));
        assert_eq!(
            parse_score_range(b"1e400", b"1").unwrap().min,
            f64::INFINITY
        );
        assert!(parse_score_range(b"((1", b"2").is_err());
        assert!(parse_score_range(b"1", b"nan").is_err());
        assert!(parse_score_range(b"  ", b"1").is_err());
        let l = parse_lex_range(b"[a", b"+").unwrap();
        assert_eq!(
            (l.min, l.max),
            (LexBound::Incl(b"a"[..].into()), LexBound::PosInf)
        );
        assert!(parse_lex_range(b"a", b"+").is_err());
        assert!(parse_lex_range(b"", b"+").is_err());
        assert!(parse_lex_range(b"-", b"+x").is_err());
    }
}
