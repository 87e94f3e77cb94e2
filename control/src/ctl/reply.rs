//! Replies as `redis-cli` prints them on a terminal: `(integer) 1`, quoted bulk strings,
//! `(nil)`, numbered and indented arrays, `1#` maps, `1~` sets. One neutral tree built from
//! either decoder (RESP2 by default, RESP3 after `HELLO 3`).

use autocache_proto::resp::{format_double, ReplyFrame};
use redis_protocol::resp2::types::BytesFrame as Resp2Frame;

/// A decoded reply, whichever protocol it came in.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Status(String),
    Error(String),
    Int(i64),
    Double(String),
    BigNumber(String),
    Bulk(Vec<u8>),
    Verbatim(Vec<u8>),
    Nil,
    Bool(bool),
    Array(Vec<Shown>),
    Map(Vec<(Shown, Shown)>),
    Set(Vec<Shown>),
    Push(Vec<Shown>),
}

impl Shown {
    pub fn is_error(&self) -> bool {
        matches!(self, Shown::Error(_))
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl From<Resp2Frame> for Shown {
    fn from(f: Resp2Frame) -> Self {
        match f {
            Resp2Frame::SimpleString(s) => Shown::Status(text(&s)),
            Resp2Frame::Error(e) => Shown::Error(e.to_string()),
            Resp2Frame::Integer(n) => Shown::Int(n),
            Resp2Frame::BulkString(b) => Shown::Bulk(b.to_vec()),
            Resp2Frame::Array(items) => Shown::Array(items.into_iter().map(Shown::from).collect()),
            Resp2Frame::Null => Shown::Nil,
        }
    }
}

impl From<ReplyFrame> for Shown {
    fn from(f: ReplyFrame) -> Self {
        match f {
            ReplyFrame::SimpleString { data, .. } => Shown::Status(text(&data)),
            ReplyFrame::SimpleError { data, .. } => Shown::Error(data.to_string()),
            ReplyFrame::BlobError { data, .. } => Shown::Error(text(&data)),
            ReplyFrame::Number { data, .. } => Shown::Int(data),
            ReplyFrame::Double { data, .. } => Shown::Double(format_double(data)),
            ReplyFrame::BigNumber { data, .. } => Shown::BigNumber(text(&data)),
            ReplyFrame::BlobString { data, .. } => Shown::Bulk(data.to_vec()),
            ReplyFrame::VerbatimString { data, .. } => Shown::Verbatim(data.to_vec()),
            ReplyFrame::Boolean { data, .. } => Shown::Bool(data),
            ReplyFrame::Null => Shown::Nil,
            ReplyFrame::Array { data, .. } => {
                Shown::Array(data.into_iter().map(Shown::from).collect())
            }
            ReplyFrame::Push { data, .. } => {
                Shown::Push(data.into_iter().map(Shown::from).collect())
            }
            ReplyFrame::Set { data, .. } => Shown::Set(data.into_iter().map(Shown::from).collect()),
            ReplyFrame::Map { data, .. } => Shown::Map(
                data.into_iter()
                    .map(|(k, v)| (Shown::from(k), Shown::from(v)))
                    .collect(),
            ),
            // HELLO frames and streaming markers never reach a one-shot client.
            other => Shown::Error(format!("unexpected frame {other:?}")),
        }
    }
}

/// `sdscatrepr`: quoted, with C escapes and `\xHH` for other non-printable bytes.
pub fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// The reply as `redis-cli` prints it on a terminal, ending with a newline.
pub fn format(reply: &Shown) -> String {
    format_prefixed(reply, "")
}

fn format_prefixed(reply: &Shown, prefix: &str) -> String {
    match reply {
        Shown::Error(e) => format!("(error) {e}\n"),
        Shown::Status(s) => format!("{s}\n"),
        Shown::Int(n) => format!("(integer) {n}\n"),
        Shown::Double(d) => format!("(double) {d}\n"),
        Shown::BigNumber(n) => format!("(big number) {n}\n"),
        Shown::Bulk(b) => format!("{}\n", quote(b)),
        Shown::Verbatim(b) => format!("{}\n", text(b)),
        Shown::Nil => "(nil)\n".to_string(),
        Shown::Bool(b) => format!("({b})\n"),
        Shown::Array(items) => {
            format_list(items.iter(), items.len(), ')', prefix, "(empty array)\n")
        }
        Shown::Set(items) => format_list(items.iter(), items.len(), '~', prefix, "(empty set)\n"),
        Shown::Push(items) => format_list(items.iter(), items.len(), ')', prefix, "(empty push)\n"),
        Shown::Map(pairs) => format_map(pairs, prefix),
    }
}

/// Width of the largest index, and the prefix nested replies get (that width plus 2 spaces).
fn index_layout(count: usize, prefix: &str) -> (usize, String) {
    let width = count.to_string().len();
    (width, format!("{prefix}{}", " ".repeat(width + 2)))
}

fn format_list<'a>(
    items: impl Iterator<Item = &'a Shown>,
    count: usize,
    sep: char,
    prefix: &str,
    empty: &str,
) -> String {
    if count == 0 {
        return empty.to_string();
    }
    let (width, nested) = index_layout(count, prefix);
    let mut out = String::new();
    for (i, item) in items.enumerate() {
        // The parent already wrote the prefix for the first line.
        let lead = if i == 0 { "" } else { prefix };
        out.push_str(&format!("{lead}{:>width$}{sep} ", i + 1));
        out.push_str(&format_prefixed(item, &nested));
    }
    out
}

fn format_map(pairs: &[(Shown, Shown)], prefix: &str) -> String {
    if pairs.is_empty() {
        return "(empty hash)\n".to_string();
    }
    let (width, nested) = index_layout(pairs.len(), prefix);
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        let lead = if i == 0 { "" } else { prefix };
        out.push_str(&format!("{lead}{:>width$}# ", i + 1));
        let key = format_prefixed(k, &nested);
        out.push_str(key.strip_suffix('\n').unwrap_or(&key));
        out.push_str(" => ");
        out.push_str(&format_prefixed(v, &nested));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Shown {
        Shown::Bulk(s.as_bytes().to_vec())
    }

    #[test]
    fn scalars() {
        assert_eq!(format(&Shown::Status("OK".into())), "OK\n");
        assert_eq!(format(&Shown::Int(-3)), "(integer) -3\n");
        assert_eq!(format(&Shown::Nil), "(nil)\n");
        assert_eq!(format(&Shown::Error("ERR bad".into())), "(error) ERR bad\n");
        assert_eq!(
            format(&Shown::Bulk(b"a\"b\n\x01".to_vec())),
            "\"a\\\"b\\n\\x01\"\n"
        );
        assert_eq!(format(&Shown::Bool(true)), "(true)\n");
        assert_eq!(format(&Shown::Double("1.5".into())), "(double) 1.5\n");
    }

    #[test]
    fn nested_arrays_are_indented() {
        let reply = Shown::Array(vec![
            bulk("a"),
            Shown::Array(vec![Shown::Int(1), Shown::Array(vec![])]),
            Shown::Nil,
        ]);
        assert_eq!(
            format(&reply),
            "1) \"a\"\n2) 1) (integer) 1\n   2) (empty array)\n3) (nil)\n"
        );
    }

    #[test]
    fn wide_indexes_are_right_aligned() {
        let reply = Shown::Array((0..10).map(Shown::Int).collect());
        let out = format(&reply);
        assert!(out.starts_with(" 1) (integer) 0\n 2) (integer) 1\n"));
        assert!(out.ends_with("10) (integer) 9\n"));
    }

    #[test]
    fn maps_and_sets() {
        let reply = Shown::Map(vec![
            (bulk("k"), bulk("v")),
            (bulk("n"), Shown::Set(vec![bulk("x"), bulk("y")])),
        ]);
        assert_eq!(
            format(&reply),
            "1# \"k\" => \"v\"\n2# \"n\" => 1~ \"x\"\n   2~ \"y\"\n"
        );
        assert_eq!(format(&Shown::Map(vec![])), "(empty hash)\n");
    }
}
