//! Just enough RESP reading to merge node replies: split an aggregate reply into the raw
//! bytes of its elements (to reorder MGET values, concatenate KEYS), read integers (to sum
//! DEL counts) and bulk strings (SCAN cursors, INFO text). Elements are never re-encoded, so
//! RESP2 and RESP3 replies merge alike.

/// End offset of the element starting at `pos`, or None when `buf` is malformed or short.
pub fn skip(buf: &[u8], pos: usize) -> Option<usize> {
    let tag = *buf.get(pos)?;
    let (line, next) = line(buf, pos + 1)?;
    match tag {
        b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => Some(next),
        b'$' | b'!' | b'=' => {
            let n = parse(line)?;
            if n < 0 {
                return Some(next);
            }
            let end = next + n as usize + 2;
            (end <= buf.len()).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = parse(line)?;
            let count = if tag == b'%' || tag == b'|' { n * 2 } else { n };
            let mut p = next;
            for _ in 0..count.max(0) {
                p = skip(buf, p)?;
            }
            // An attribute precedes the element it describes.
            if tag == b'|' {
                return skip(buf, p);
            }
            Some(p)
        }
        _ => None,
    }
}

/// The header line after the tag at `pos`, and the offset past its CRLF.
fn line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(pos..)?;
    let cr = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..cr], pos + cr + 2))
}

fn parse(s: &[u8]) -> Option<i64> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// The elements of an array/set/push reply, as raw slices. None for anything else.
pub fn elements(buf: &[u8]) -> Option<Vec<&[u8]>> {
    let tag = *buf.first()?;
    if !matches!(tag, b'*' | b'~' | b'>') {
        return None;
    }
    let (line, mut p) = line(buf, 1)?;
    let n = parse(line)?;
    // Each element takes at least 3 bytes: a header never reserves more than the buffer holds.
    let mut out = Vec::with_capacity((n.max(0) as usize).min(buf.len() / 3));
    for _ in 0..n.max(0) {
        let end = skip(buf, p)?;
        out.push(&buf[p..end]);
        p = end;
    }
    Some(out)
}

/// An integer reply's value.
pub fn integer(buf: &[u8]) -> Option<i64> {
    if buf.first() != Some(&b':') {
        return None;
    }
    parse(line(buf, 1)?.0)
}

/// A bulk (or verbatim) string's content; a verbatim string loses its `txt:` prefix.
pub fn bulk(buf: &[u8]) -> Option<&[u8]> {
    let tag = *buf.first()?;
    let (line, next) = line(buf, 1)?;
    let n = parse(line)?;
    if !matches!(tag, b'$' | b'=') || n < 0 {
        return None;
    }
    let body = buf.get(next..next + n as usize)?;
    Some(if tag == b'=' { body.get(4..)? } else { body })
}

/// Whether the reply is an error (`-…` or RESP3 `!…`).
pub fn is_error(buf: &[u8]) -> bool {
    matches!(buf.first(), Some(b'-') | Some(b'!'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_nested() {
        let buf = b"*3\r\n$1\r\na\r\n$-1\r\n*2\r\n:1\r\n%1\r\n+k\r\n_\r\n";
        let els = elements(buf).unwrap();
        assert_eq!(
            els,
            vec![
                &b"$1\r\na\r\n"[..],
                b"$-1\r\n",
                b"*2\r\n:1\r\n%1\r\n+k\r\n_\r\n"
            ]
        );
        assert_eq!(skip(buf, 0), Some(buf.len()));
        assert_eq!(skip(b"*2\r\n:1\r\n", 0), None);
    }

    #[test]
    fn scalars() {
        assert_eq!(integer(b":42\r\n"), Some(42));
        assert_eq!(integer(b"+42\r\n"), None);
        assert_eq!(bulk(b"$3\r\nabc\r\n"), Some(&b"abc"[..]));
        assert_eq!(bulk(b"=7\r\ntxt:abc\r\n"), Some(&b"abc"[..]));
        assert_eq!(bulk(b"$-1\r\n"), None);
        assert!(is_error(b"-ERR x\r\n"));
        assert!(!is_error(b"+OK\r\n"));
    }
}
