//! The reply writer: appends RESP2 or RESP3 replies to one output buffer, so a whole pipeline
//! of replies leaves in one write. Shapes that differ between the protocols (maps, sets,
//! nulls, doubles, booleans, pushes) are written according to the connection's protocol.

use bytes::{BufMut, BytesMut};

/// The RESP version a connection speaks (`HELLO 2` / `HELLO 3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// An output buffer plus the protocol to write it in.
#[derive(Debug, Default)]
pub struct ReplyBuf {
    pub buf: BytesMut,
    pub proto: Protocol,
}

impl ReplyBuf {
    pub fn new(proto: Protocol) -> Self {
        ReplyBuf {
            buf: BytesMut::with_capacity(16 * 1024),
            proto,
        }
    }

    pub fn resp3(&self) -> bool {
        self.proto == Protocol::Resp3
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn header(&mut self, tag: u8, n: i64) {
        let mut b = itoa::Buffer::new();
        let s = b.format(n);
        self.buf.reserve(s.len() + 3);
        self.buf.put_u8(tag);
        self.buf.put_slice(s.as_bytes());
        self.buf.put_slice(b"\r\n");
    }

    /// `+OK`
    pub fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    /// `+<s>`; `s` must not contain CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.buf.reserve(s.len() + 3);
        self.buf.put_u8(b'+');
        self.buf.put_slice(s.as_bytes());
        self.buf.put_slice(b"\r\n");
    }

    /// `-<msg>`: `msg` carries its own code (`ERR …`, `WRONGTYPE …`). Newlines, which would
    /// break the framing, become spaces as in Redis.
    pub fn error(&mut self, msg: &str) {
        self.buf.reserve(msg.len() + 3);
        self.buf.put_u8(b'-');
        for &b in msg.as_bytes() {
            self.buf
                .put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.buf.put_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.buf.put_slice(data);
        self.buf.put_slice(b"\r\n");
    }

    /// A bulk string of a number's decimal text.
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// The null bulk string: `$-1` (RESP2) or `_` (RESP3).
    pub fn null(&mut self) {
        if self.resp3() {
            self.buf.put_slice(b"_\r\n");
        } else {
            self.buf.put_slice(b"$-1\r\n");
        }
    }

    /// The null array: `*-1` (RESP2) or `_` (RESP3).
    pub fn null_array(&mut self) {
        if self.resp3() {
            self.buf.put_slice(b"_\r\n");
        } else {
            self.buf.put_slice(b"*-1\r\n");
        }
    }

    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as i64);
    }

    /// A map of `len` pairs: `%len` (RESP3) or a flat array of `2*len` (RESP2).
    pub fn map(&mut self, len: usize) {
        if self.resp3() {
            self.header(b'%', len as i64);
        } else {
            self.header(b'*', 2 * len as i64);
        }
    }

    /// A set: `~len` (RESP3) or an array (RESP2).
    pub fn set(&mut self, len: usize) {
        let tag = if self.resp3() { b'~' } else { b'*' };
        self.header(tag, len as i64);
    }

    /// A push message: `>len` (RESP3) or an array (RESP2).
    pub fn push(&mut self, len: usize) {
        let tag = if self.resp3() { b'>' } else { b'*' };
        self.header(tag, len as i64);
    }

    /// A double: `,<d>` (RESP3) or a bulk string (RESP2), formatted as Redis does.
    pub fn double(&mut self, d: f64) {
        let text = format_double(d);
        if self.resp3() {
            self.buf.reserve(text.len() + 3);
            self.buf.put_u8(b',');
            self.buf.put_slice(text.as_bytes());
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text.as_bytes());
        }
    }

    /// A boolean: `#t`/`#f` (RESP3) or `:1`/`:0` (RESP2).
    pub fn boolean(&mut self, b: bool) {
        if self.resp3() {
            self.buf.put_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.buf.put_slice(if b { b":1\r\n" } else { b":0\r\n" });
        }
    }

    /// Verbatim text (`INFO`, `CLIENT LIST`): `=len\r\ntxt:…` (RESP3) or a bulk string.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3() {
            self.header(b'=', text.len() as i64 + 4);
            self.buf.put_slice(b"txt:");
            self.buf.put_slice(text);
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Raw bytes that are already RESP (a reply computed elsewhere).
    pub fn raw(&mut self, resp: &[u8]) {
        self.buf.put_slice(resp);
    }
}

/// Formats a double as Redis 7.0's `addReplyDouble` does: `inf`, `-inf`, `nan`, and
/// otherwise `%.17g` (17 significant digits, trailing zeros trimmed, exponent when needed).
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // %.17g: scientific with 17 significant digits decides the exponent.
    let sci = format!("{:.16e}", d);
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if !(-4..17).contains(&exp) {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (16 - exp).max(0) as usize;
        trim_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_like_redis() {
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(1.1), "1.1000000000000001");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1e16), "10000000000000000");
        assert_eq!(format_double(1.25e-5), "1.2500000000000001e-05");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn shapes_per_protocol() {
        let mut r2 = ReplyBuf::new(Protocol::Resp2);
        r2.map(1);
        r2.null();
        r2.double(2.0);
        r2.boolean(true);
        assert_eq!(&r2.buf[..], b"*2\r\n$-1\r\n$1\r\n2\r\n:1\r\n");
        let mut r3 = ReplyBuf::new(Protocol::Resp3);
        r3.map(1);
        r3.null();
        r3.double(2.0);
        r3.boolean(true);
        r3.verbatim(b"a");
        assert_eq!(&r3.buf[..], b"%1\r\n_\r\n,2\r\n#t\r\n=5\r\ntxt:a\r\n");
    }

    #[test]
    fn errors_keep_framing() {
        let mut r = ReplyBuf::new(Protocol::Resp2);
        r.error("ERR bad\r\nthing");
        assert_eq!(&r.buf[..], b"-ERR bad  thing\r\n");
    }
}
