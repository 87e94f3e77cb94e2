//! Collection values: hashes, lists, sets, sorted sets. Each type lives in its own module with
//! its compact (listpack/intset-like) and large encodings; the keyspace only sees [`Value`].

pub mod dense;
pub mod hash;
pub mod list;
pub mod packlist;
pub mod set;
pub mod zset;

use crate::db::Kind;

/// A collection type as commands see it: reached inside a [`Value`], created empty, and
/// deleted with its key once empty. `cmd::collection` does the shared lookup/create/delete.
pub trait Collection: Sized {
    fn empty() -> Self;
    fn of(value: &Value) -> Option<&Self>;
    fn of_mut(value: &mut Value) -> Option<&mut Self>;
    fn into_value(self) -> Value;
    fn is_empty(&self) -> bool;
}

macro_rules! collection {
    ($variant:ident, $ty:ty) => {
        impl Collection for $ty {
            fn empty() -> Self {
                <$ty>::new()
            }
            fn of(value: &Value) -> Option<&Self> {
                match value {
                    Value::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn of_mut(value: &mut Value) -> Option<&mut Self> {
                match value {
                    Value::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn into_value(self) -> Value {
                Value::$variant(self)
            }
            fn is_empty(&self) -> bool {
                <$ty>::is_empty(self)
            }
        }
    };
}

collection!(Hash, hash::Hash);
collection!(Set, set::Set);

#[derive(Debug, Clone)]
pub enum Value {
    Hash(hash::Hash),
    List(list::List),
    Set(set::Set),
    ZSet(zset::ZSet),
}

impl Value {
    pub fn kind(&self) -> Kind {
        match self {
            Value::Hash(_) => Kind::Hash,
            Value::List(_) => Kind::List,
            Value::Set(_) => Kind::Set,
            Value::ZSet(_) => Kind::ZSet,
        }
    }

    /// Number of elements; a collection that reaches 0 is deleted by the command that emptied
    /// it.
    pub fn len(&self) -> usize {
        match self {
            Value::Hash(v) => v.len(),
            Value::List(v) => v.len(),
            Value::Set(v) => v.len(),
            Value::ZSet(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING's name for the current representation.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Hash(v) => v.encoding(),
            Value::List(v) => v.encoding(),
            Value::Set(v) => v.encoding(),
            Value::ZSet(v) => v.encoding(),
        }
    }

    /// Approximate heap bytes, for eviction accounting and MEMORY USAGE.
    pub fn mem_usage(&self) -> usize {
        match self {
            Value::Hash(v) => v.mem_usage(),
            Value::List(v) => v.mem_usage(),
            Value::Set(v) => v.mem_usage(),
            Value::ZSet(v) => v.mem_usage(),
        }
    }
}

/// Serialized form of collection values (DUMP/RESTORE payloads, later the warm tier):
/// a type tag, then the type's own encoding.
impl Value {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Hash(v) => {
                out.push(1);
                v.encode(out)
            }
            Value::List(v) => {
                out.push(2);
                v.encode(out)
            }
            Value::Set(v) => {
                out.push(3);
                v.encode(out)
            }
            Value::ZSet(v) => {
                out.push(4);
                v.encode(out)
            }
        }
    }

    /// The inverse of [`Value::encode`]; `None` for malformed input.
    pub fn decode(data: &[u8]) -> Option<Value> {
        let (&tag, rest) = data.split_first()?;
        Some(match tag {
            1 => Value::Hash(hash::Hash::decode(rest)?),
            2 => Value::List(list::List::decode(rest)?),
            3 => Value::Set(set::Set::decode(rest)?),
            4 => Value::ZSet(zset::ZSet::decode(rest)?),
            _ => return None,
        })
    }
}

/// Length-prefixed byte strings: the building block of the type encodings.
pub mod codec {
    pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
        put_len(out, b.len());
        out.extend_from_slice(b);
    }

    pub fn put_len(out: &mut Vec<u8>, n: usize) {
        out.extend_from_slice(&(n as u64).to_le_bytes());
    }

    /// Reads a length written by [`put_len`], advancing `data`.
    pub fn get_len(data: &mut &[u8]) -> Option<usize> {
        let (n, rest) = data.split_first_chunk::<8>()?;
        *data = rest;
        usize::try_from(u64::from_le_bytes(*n)).ok()
    }

    /// Reads a byte string written by [`put_bytes`], advancing `data`.
    pub fn get_bytes<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
        let n = get_len(data)?;
        if data.len() < n {
            return None;
        }
        let (b, rest) = data.split_at(n);
        *data = rest;
        Some(b)
    }
}
