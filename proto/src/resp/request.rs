//! Incremental parser for client requests: RESP multibulk arrays and inline commands.
//!
//! A request is parsed in place: arguments are `(start, end)` ranges into the caller's read
//! buffer, so executing a command copies nothing. A partial request is not an error; the
//! parser remembers how far it got, so a huge request arriving in many reads is scanned once.
//! Nothing is allocated from a length the client declared before the bytes have arrived.

use super::ProtocolError;

/// Redis's `PROTO_INLINE_MAX_SIZE`: an inline request or a count line must end within it.
pub const INLINE_MAX: usize = 64 * 1024;
/// Unauthenticated clients may send at most this many arguments (Redis: 10).
const UNAUTH_MAX_ARGS: i64 = 10;
/// Unauthenticated clients may send bulk strings of at most this many bytes (Redis: 16384).
const UNAUTH_MAX_BULK: i64 = 16384;

/// Size limits, as Redis's `proto-max-bulk-len` and friends.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bulk_len: usize,
    pub max_multibulk_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as usize,
        }
    }
}

/// Where in a multibulk request the parser stopped for lack of bytes.
#[derive(Debug, Clone, Copy)]
struct Partial {
    /// Arguments still to come.
    remaining: usize,
    /// Offset of the next unparsed byte.
    pos: usize,
}

/// One parsed request: arguments are ranges into `data`.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    data: &'a [u8],
    args: &'a [(usize, usize)],
}

impl<'a> Request<'a> {
    pub fn len(&self) -> usize {
        self.args.len()
    }

    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// Argument `i` (0 is the command name). Panics past the end, like slice indexing.
    pub fn arg(&self, i: usize) -> &'a [u8] {
        let (s, e) = self.args[i];
        &self.data[s..e]
    }

    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        self.args.get(i).map(|&(s, e)| &self.data[s..e])
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let data = self.data;
        self.args.iter().map(move |&(s, e)| &data[s..e])
    }

    /// An owned copy, for requests kept past the read buffer (MULTI queue, blocked
    /// commands).
    pub fn to_owned(&self) -> OwnedRequest {
        let mut data = Vec::with_capacity(self.iter().map(|a| a.len()).sum());
        let mut args = Vec::with_capacity(self.len());
        for a in self.iter() {
            args.push((data.len(), data.len() + a.len()));
            data.extend_from_slice(a);
        }
        OwnedRequest { data, args }
    }
}

/// A request that owns its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnedRequest {
    data: Vec<u8>,
    args: Vec<(usize, usize)>,
}

impl OwnedRequest {
    /// Builds a request from its arguments.
    pub fn from_args<A: AsRef<[u8]>>(args: &[A]) -> OwnedRequest {
        let mut r = OwnedRequest::default();
        for a in args {
            let a = a.as_ref();
            r.args.push((r.data.len(), r.data.len() + a.len()));
            r.data.extend_from_slice(a);
        }
        r
    }

    pub fn as_request(&self) -> Request<'_> {
        Request {
            data: &self.data,
            args: &self.args,
        }
    }
}

/// Parses requests out of a connection's read buffer. One per connection.
#[derive(Debug, Default)]
pub struct RequestParser {
    limits: Limits,
    args: Vec<(usize, usize)>,
    /// Inline arguments after unquoting; `args` index into it for inline requests.
    inline: Vec<u8>,
    partial: Option<Partial>,
}

/// What [`RequestParser::parse`] found at the head of the buffer.
#[derive(Debug)]
pub enum Parsed<'a> {
    /// A complete request that used `consumed` bytes. It may have no arguments (an empty
    /// inline line, `*0`): the caller skips it.
    Request {
        request: Request<'a>,
        consumed: usize,
    },
    /// More bytes are needed.
    Incomplete,
}

impl RequestParser {
    pub fn new(limits: Limits) -> Self {
        RequestParser {
            limits,
            ..Default::default()
        }
    }

    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Parses the request at the start of `buf`. After a `Request`, the caller must drop the
    /// first `consumed` bytes before the next call; after `Incomplete`, it must keep `buf`
    /// and append to it. `authenticated` tightens limits as Redis does for clients that still
    /// owe an AUTH.
    pub fn parse<'a>(
        &'a mut self,
        buf: &'a [u8],
        authenticated: bool,
    ) -> Result<Parsed<'a>, ProtocolError> {
        let Some(&first) = buf.first() else {
            return Ok(Parsed::Incomplete);
        };
        if first != b'*' && self.partial.is_none() {
            return self.parse_inline(buf);
        }
        let (mut remaining, mut pos) = match self.partial.take() {
            Some(p) => (p.remaining, p.pos),
            None => {
                self.args.clear();
                let Some((count, next)) = read_line_int(buf, 1, ProtocolError::TooBigMbulkCount)?
                else {
                    return Ok(Parsed::Incomplete);
                };
                let count = count.ok_or(ProtocolError::InvalidMultibulkLength)?;
                if count > self.limits.max_multibulk_len as i64 {
                    return Err(ProtocolError::InvalidMultibulkLength);
                }
                if count > UNAUTH_MAX_ARGS && !authenticated {
                    return Err(ProtocolError::UnauthenticatedMultibulkLength);
                }
                if count <= 0 {
                    return Ok(Parsed::Request {
                        request: Request {
                            data: buf,
                            args: &[],
                        },
                        consumed: next,
                    });
                }
                // Reserve for what a request usually holds, not for what the client claims.
                self.args.reserve((count as usize).min(1024));
                (count as usize, next)
            }
        };
        while remaining > 0 {
            let Some(&tag) = buf.get(pos) else {
                self.partial = Some(Partial { remaining, pos });
                return Ok(Parsed::Incomplete);
            };
            if tag != b'$' {
                return Err(ProtocolError::ExpectedDollar(tag));
            }
            let Some((len, next)) = read_line_int(buf, pos + 1, ProtocolError::TooBigBulkCount)?
            else {
                self.partial = Some(Partial { remaining, pos });
                return Ok(Parsed::Incomplete);
            };
            let len = match len {
                Some(l) if l >= 0 && l as u64 <= self.limits.max_bulk_len as u64 => l as usize,
                _ => return Err(ProtocolError::InvalidBulkLength),
            };
            if len as i64 > UNAUTH_MAX_BULK && !authenticated {
                return Err(ProtocolError::UnauthenticatedBulkLength);
            }
            // Like Redis, the two bytes after the payload are skipped, not inspected.
            if buf.len() < next + len + 2 {
                self.partial = Some(Partial { remaining, pos });
                return Ok(Parsed::Incomplete);
            }
            self.args.push((next, next + len));
            pos = next + len + 2;
            remaining -= 1;
        }
        Ok(Parsed::Request {
            request: Request {
                data: buf,
                args: &self.args,
            },
            consumed: pos,
        })
    }

    fn parse_inline<'a>(&'a mut self, buf: &'a [u8]) -> Result<Parsed<'a>, ProtocolError> {
        let Some(nl) = memchr(b'\n', buf) else {
            if buf.len() > INLINE_MAX {
                return Err(ProtocolError::TooBigInline);
            }
            return Ok(Parsed::Incomplete);
        };
        let mut line = &buf[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        self.args.clear();
        self.inline.clear();
        split_args(line, &mut self.inline, &mut self.args)?;
        Ok(Parsed::Request {
            request: Request {
                data: &self.inline,
                args: &self.args,
            },
            consumed: nl + 1,
        })
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Reads `<integer>\r\n` starting at `start`. `Ok(None)`: the line is not complete yet.
/// `Ok(Some((None, _)))`: the line is complete but not an integer.
fn read_line_int(
    buf: &[u8],
    start: usize,
    too_big: ProtocolError,
) -> Result<Option<(Option<i64>, usize)>, ProtocolError> {
    let rest = &buf[start.min(buf.len())..];
    let Some(cr) = memchr(b'\r', rest) else {
        if rest.len() > INLINE_MAX {
            return Err(too_big);
        }
        return Ok(None);
    };
    if cr > INLINE_MAX {
        return Err(too_big);
    }
    if rest.len() < cr + 2 {
        return Ok(None);
    }
    Ok(Some((parse_i64(&rest[..cr]), start + cr + 2)))
}

/// A SCAN cursor as Redis's `parseScanCursorOrReply` reads it (`strtoul`): decimal, an
/// optional sign (a negative one wraps), "" is 0, no spaces, no overflow.
pub fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let (negative, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        None => return Some(0),
        Some(_) => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if negative { n.wrapping_neg() } else { n })
}

/// Strict decimal i64, as Redis's `string2ll`: optional `-`, no `+`, no leading zeros, no
/// spaces.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 || (digits[0] == b'0' && s.len() > 1) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = (d - b'0') as i64;
        v = if neg {
            v.checked_mul(10)?.checked_sub(d)?
        } else {
            v.checked_mul(10)?.checked_add(d)?
        };
    }
    Some(v)
}

/// Splits an inline request like Redis's `sdssplitargs`: blanks separate arguments,
/// `"…"` takes C escapes (`\n`, `\xHH` …), `'…'` takes `\'`, and a closing quote must be
/// followed by a blank.
fn split_args(
    line: &[u8],
    out: &mut Vec<u8>,
    args: &mut Vec<(usize, usize)>,
) -> Result<(), ProtocolError> {
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Ok(());
        }
        let start = out.len();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\' && i + 3 < n && line[i + 1] == b'x' {
                    if let (Some(h), Some(l)) = (hex(line[i + 2]), hex(line[i + 3])) {
                        out.push(h * 16 + l);
                        i += 4;
                        continue;
                    }
                }
                if c == b'\\' && i + 1 < n {
                    out.push(match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                    i += 2;
                } else if c == b'"' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                    i += 1;
                }
            } else if in_sq {
                if i >= n {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    out.push(b'\'');
                    i += 2;
                } else if c == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                    i += 1;
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => out.push(c),
                }
                i += 1;
            }
        }
        args.push((start, out.len()));
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut p = RequestParser::new(Limits::default());
        let mut buf = input.to_vec();
        let mut out = Vec::new();
        loop {
            match p.parse(&buf, true)? {
                Parsed::Incomplete => return Ok(out),
                Parsed::Request { request, consumed } => {
                    out.push(request.iter().map(|a| a.to_vec()).collect());
                    buf.drain(..consumed);
                }
            }
        }
    }

    #[test]
    fn multibulk_and_inline() {
        let got =
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\nset a \"b c\\x41\"\r\n").unwrap();
        assert_eq!(
            got,
            vec![
                vec![b"GET".to_vec(), b"k".to_vec()],
                vec![b"PING".to_vec()],
                vec![b"set".to_vec(), b"a".to_vec(), b"b cA".to_vec()],
            ]
        );
    }

    #[test]
    fn every_split_point_resumes() {
        let input = b"*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$10\r\n0123456789\r\n";
        for cut in 0..input.len() {
            let mut p = RequestParser::new(Limits::default());
            let mut buf = input[..cut].to_vec();
            assert!(matches!(p.parse(&buf, true).unwrap(), Parsed::Incomplete));
            buf.extend_from_slice(&input[cut..]);
            match p.parse(&buf, true).unwrap() {
                Parsed::Request { request, consumed } => {
                    assert_eq!(consumed, input.len());
                    assert_eq!(request.arg(2), b"0123456789");
                }
                Parsed::Incomplete => panic!("incomplete at cut {cut}"),
            }
        }
    }

    #[test]
    fn protocol_errors() {
        let err = |b: &[u8]| parse_all(b).unwrap_err().to_string();
        assert_eq!(
            err(b"*1\r\n+OK\r\n"),
            "Protocol error: expected '$', got '+'"
        );
        assert_eq!(err(b"*x\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(
            err(b"*3000000000\r\n"),
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(err(b"*1\r\n$-5\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(
            err(b"*1\r\n$600000000\r\n"),
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            err(b"set a \"b\n"),
            "Protocol error: unbalanced quotes in request"
        );
        let long = vec![b'a'; INLINE_MAX + 1];
        assert_eq!(err(&long), "Protocol error: too big inline request");
        let mut long = b"*".to_vec();
        long.extend(vec![b'1'; INLINE_MAX + 1]);
        assert_eq!(err(&long), "Protocol error: too big mbulk count string");
    }

    #[test]
    fn unauthenticated_limits() {
        let mut p = RequestParser::new(Limits::default());
        let e = p.parse(b"*11\r\n", false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Protocol error: unauthenticated multibulk length"
        );
        let mut p = RequestParser::new(Limits::default());
        let e = p.parse(b"*1\r\n$16385\r\n", false).unwrap_err();
        assert_eq!(e.to_string(), "Protocol error: unauthenticated bulk length");
    }

    #[test]
    fn empty_requests_are_skippable() {
        assert_eq!(
            parse_all(b"\r\n*0\r\n*-1\r\n").unwrap(),
            vec![vec![], vec![], vec![]] as Vec<Vec<Vec<u8>>>
        );
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"012"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b""), None);
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_i64(b"0"), Some(0));
    }

    /// The parser agrees with redis-protocol's decoder on well-formed input, whatever the
    /// read boundaries (a differential check; the fuzz target explores malformed input).
    #[test]
    fn agrees_with_redis_protocol_decoder() {
        use redis_protocol::resp2::decode::decode_bytes_mut;
        use redis_protocol::resp2::types::BytesFrame;
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..200 {
            let mut wire = Vec::new();
            let mut expected = Vec::new();
            for _ in 0..rng.usize(1..5) {
                let n = rng.usize(1..6);
                wire.extend_from_slice(format!("*{n}\r\n").as_bytes());
                let mut cmd = Vec::new();
                for _ in 0..n {
                    let arg: Vec<u8> = (0..rng.usize(0..40)).map(|_| rng.u8(..)).collect();
                    wire.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                    wire.extend_from_slice(&arg);
                    wire.extend_from_slice(b"\r\n");
                    cmd.push(arg);
                }
                expected.push(cmd);
            }
            let mut theirs = bytes::BytesMut::from(&wire[..]);
            let mut decoded = Vec::new();
            while let Some((frame, _, _)) = decode_bytes_mut(&mut theirs).unwrap() {
                let BytesFrame::Array(items) = frame else {
                    panic!("not an array")
                };
                decoded.push(
                    items
                        .into_iter()
                        .map(|f| match f {
                            BytesFrame::BulkString(b) => b.to_vec(),
                            other => panic!("unexpected {other:?}"),
                        })
                        .collect::<Vec<_>>(),
                );
            }
            assert_eq!(decoded, expected);
            assert_eq!(parse_all(&wire).unwrap(), expected);
        }
    }
}
