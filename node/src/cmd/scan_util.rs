//! What HSCAN, SSCAN (and ZSCAN) share: the cursor argument, the MATCH/COUNT options and the
//! two-element reply. Parsing order follows Redis's: the cursor is checked before the key is
//! looked up, the options only once the key holds a collection of the right type.

use super::{eq_ic, parse_int, CmdError};
use autocache_proto::resp::{ReplyBuf, Request};

/// Redis's default COUNT.
pub const DEFAULT_COUNT: usize = 10;

/// A cursor as Redis's `parseScanCursorOrReply` reads it (`strtoul`).
pub fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    autocache_proto::resp::parse_cursor(arg).ok_or_else(|| CmdError::msg("ERR invalid cursor"))
}

/// MATCH and COUNT, from argument `from` on.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions<'a> {
    /// `None` when absent or `*` (everything matches).
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
}

impl<'a> ScanOptions<'a> {
    pub fn parse(req: &Request<'a>, from: usize) -> Result<ScanOptions<'a>, CmdError> {
        let mut opts = ScanOptions {
            pattern: None,
            count: DEFAULT_COUNT,
        };
        let mut i = from;
        while i < req.len() {
            let has_value = i + 1 < req.len();
            let opt = req.arg(i);
            if eq_ic(opt, "count") && has_value {
                let n = parse_int(req.arg(i + 1))?;
                if n < 1 {
                    return Err(CmdError::Syntax);
                }
                opts.count = usize::try_from(n).unwrap_or(usize::MAX);
            } else if eq_ic(opt, "match") && has_value {
                let p = req.arg(i + 1);
                opts.pattern = (p != b"*").then_some(p);
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
        Ok(opts)
    }

    pub fn matches(&self, subject: &[u8]) -> bool {
        self.pattern
            .is_none_or(|p| crate::glob::glob_match(p, subject, false))
    }
}

/// The scan reply's head: the next cursor as a bulk string, then the header of the flat
/// array of `len` items the caller writes.
pub fn reply_header(out: &mut ReplyBuf, cursor: u64, len: usize) {
    out.array(2);
    out.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    out.array(len);
}

/// The whole scan reply: the next cursor, then a flat array of `items`.
pub fn reply(out: &mut ReplyBuf, cursor: u64, items: &[&[u8]]) {
    reply_header(out, cursor, items.len());
    for i in items {
        out.bulk(i);
    }
}

/// The reply for a missing key: cursor 0, nothing.
pub fn reply_empty(out: &mut ReplyBuf) {
    reply_header(out, 0, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Ok(0));
        assert_eq!(parse_cursor(b"123"), Ok(123));
        assert_eq!(parse_cursor(b"+7"), Ok(7));
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [
            &b"18446744073709551616"[..],
            b" 1",
            b"1 ",
            b"x",
            b"-",
            b"1.5",
            b"0x10",
        ] {
            assert!(
                parse_cursor(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
