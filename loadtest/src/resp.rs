//! The client side of RESP: encoding commands, finding where a reply ends without allocating
//! (the hot path only needs to skip replies), and decoding the few replies the tool looks
//! into (errors, GET values, CLUSTER SLOTS, INFO). Reads RESP2 and RESP3 alike.

use bytes::Bytes;

/// A reply that does not follow RESP: the connection cannot be trusted any more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("protocol error: {0}")]
pub struct ProtocolError(pub &'static str);

/// A decoded reply. RESP3 maps, sets and pushes read as flat arrays, booleans as integers,
/// doubles and big numbers as simple strings.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Simple(Bytes),
    Error(String),
    Int(i64),
    Bulk(Bytes),
    Nil,
    Array(Vec<Reply>),
}

impl Reply {
    /// The reply as text, for simple strings and bulk strings.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Reply::Simple(b) | Reply::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// Appends `args` as a RESP array of bulk strings.
pub fn encode_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    push_header(out, b'*', args.len());
    for arg in args {
        push_header(out, b'$', arg.len());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends `<kind><n>\r\n`.
pub fn push_header(out: &mut Vec<u8>, kind: u8, n: usize) {
    out.push(kind);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Length of the first complete reply in `buf`, or `None` while more bytes are needed.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
    let mut pos = 0;
    // Replies still to skip: aggregates add their elements instead of recursing.
    let mut pending: u64 = 1;
    while pending > 0 {
        pending -= 1;
        let Some(end) = find_crlf(buf, pos) else {
            return Ok(None);
        };
        let kind = buf[pos];
        let line = &buf[pos + 1..end];
        pos = end + 2;
        match kind {
            b'+' | b'-' | b':' | b',' | b'#' | b'(' | b'_' => {}
            b'$' | b'!' | b'=' => {
                let n = parse_len(line)?;
                if n >= 0 {
                    let body_end = pos + n as usize;
                    if buf.len() < body_end + 2 {
                        return Ok(None);
                    }
                    if &buf[body_end..body_end + 2] != b"\r\n" {
                        return Err(ProtocolError("bulk string not terminated by CRLF"));
                    }
                    pos = body_end + 2;
                }
            }
            b'*' | b'~' | b'>' => pending += parse_len(line)?.max(0) as u64,
            b'%' => pending += 2 * parse_len(line)?.max(0) as u64,
            // An attribute map comes before the reply it describes.
            b'|' => pending += 2 * parse_len(line)?.max(0) as u64 + 1,
            _ => return Err(ProtocolError("unknown reply type")),
        }
    }
    Ok(Some(pos))
}

/// Decodes one complete reply (as delimited by [`frame_len`]).
pub fn parse(frame: &Bytes) -> Result<Reply, ProtocolError> {
    let mut pos = 0;
    parse_at(frame, &mut pos)
}

fn parse_at(buf: &Bytes, pos: &mut usize) -> Result<Reply, ProtocolError> {
    let end = find_crlf(buf, *pos).ok_or(ProtocolError("incomplete reply"))?;
    let kind = buf[*pos];
    let line = buf.slice(*pos + 1..end);
    *pos = end + 2;
    Ok(match kind {
        b'+' | b',' | b'(' => Reply::Simple(line),
        b'-' => Reply::Error(String::from_utf8_lossy(&line).into_owned()),
        b':' => Reply::Int(parse_len(&line)?),
        b'#' => Reply::Int(i64::from(&line[..] == b"t")),
        b'_' => Reply::Nil,
        b'$' | b'!' | b'=' => {
            let n = parse_len(&line)?;
            if n < 0 {
                return Ok(Reply::Nil);
            }
            let body = buf.slice(*pos..*pos + n as usize);
            *pos += n as usize + 2;
            if kind == b'!' {
                Reply::Error(String::from_utf8_lossy(&body).into_owned())
            } else {
                Reply::Bulk(body)
            }
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = parse_len(&line)?;
            if n < 0 {
                return Ok(Reply::Nil);
            }
            let count = if matches!(kind, b'%' | b'|') {
                2 * n
            } else {
                n
            };
            let mut items = Vec::with_capacity(count as usize);
            for _ in 0..count {
                items.push(parse_at(buf, pos)?);
            }
            if kind == b'|' {
                // Attributes are metadata: the reply is what follows them.
                return parse_at(buf, pos);
            }
            Reply::Array(items)
        }
        _ => return Err(ProtocolError("unknown reply type")),
    })
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    if from >= buf.len() {
        return None;
    }
    let mut i = from;
    while let Some(off) = buf[i..].iter().position(|&b| b == b'\r') {
        let at = i + off;
        if at + 1 >= buf.len() {
            return None;
        }
        if buf[at + 1] == b'\n' {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

fn parse_len(line: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or(ProtocolError("invalid length or integer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(s: &[u8]) -> Option<usize> {
        frame_len(s).unwrap()
    }

    #[test]
    fn frame_len_finds_the_end_of_each_reply_type() {
        for r in [
            &b"+OK\r\n"[..],
            b"-ERR bad\r\n",
            b":42\r\n",
            b"$3\r\nfoo\r\n",
            b"$-1\r\n",
            b"*-1\r\n",
            b"_\r\n",
            b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
            b"%1\r\n+k\r\n$1\r\nv\r\n",
            b"|1\r\n+a\r\n+b\r\n+OK\r\n",
            b"$4\r\na\r\nb\r\n",
        ] {
            assert_eq!(whole(r), Some(r.len()), "{}", String::from_utf8_lossy(r));
            let mut longer = r.to_vec();
            longer.extend_from_slice(b"+NEXT\r\n");
            assert_eq!(whole(&longer), Some(r.len()));
            for cut in 0..r.len() {
                assert_eq!(whole(&r[..cut]), None, "prefix {cut} of {r:?}");
            }
        }
    }

    #[test]
    fn malformed_replies_are_errors() {
        assert!(frame_len(b"?x\r\n").is_err());
        assert!(frame_len(b"$x\r\n").is_err());
        assert!(frame_len(b"$1\r\nabc\r\n").is_err());
    }

    #[test]
    fn parse_decodes_nested_replies() {
        let f = Bytes::from_static(b"*3\r\n:1\r\n$-1\r\n*2\r\n+a\r\n-ERR x\r\n");
        assert_eq!(
            parse(&f).unwrap(),
            Reply::Array(vec![
                Reply::Int(1),
                Reply::Nil,
                Reply::Array(vec![
                    Reply::Simple(Bytes::from_static(b"a")),
                    Reply::Error("ERR x".into())
                ]),
            ])
        );
        let f = Bytes::from_static(b"$5\r\nhello\r\n");
        assert_eq!(
            parse(&f).unwrap(),
            Reply::Bulk(Bytes::from_static(b"hello"))
        );
    }

    #[test]
    fn encode_command_writes_bulk_arrays() {
        let mut out = Vec::new();
        encode_command(&mut out, &[b"SET", b"k", b""]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }
}
