//! DUMP / RESTORE payloads, in two formats told apart by their footer:
//! - Redis's, which DUMP emits so that migration tools can move keys between Redis and us
//!   with DUMP/RESTORE: an RDB object ([`rdb`]), the 2-byte little-endian RDB version (10,
//!   Redis 7.0's) and a CRC-64 ([`crc64`]) over everything before it, little-endian.
//! - Ours ("native"), used only between our nodes by slot migration because it is cheaper to
//!   write and read: a type tag (0 = string, otherwise the tag `Value::encode` writes), the
//!   value bytes, format version 1 and a CRC-32 zero-extended to 8 bytes.
//!
//! RESTORE takes either. Version and checksum are checked before anything is decoded, so
//! garbage is rejected without being parsed.

pub mod crc64;
mod lzf;
mod packed;
mod rdb;

use crate::db::Entry;
use crate::types::Value;
use std::borrow::Cow;

pub use rdb::RDB_VERSION;

/// The native format's version; bumped whenever its encoding changes.
pub const NATIVE_VERSION: u16 = 1;

const TAG_STRING: u8 = 0;
const TRAILER: usize = 2 + 8;

/// Why a payload cannot be restored; each maps to one of Redis's RESTORE errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadError {
    /// Too short, another version, or a checksum mismatch.
    VersionOrChecksum,
    /// Intact but not a value we can decode.
    BadData,
}

/// A decoded native payload: string bytes (borrowed from the payload) or a collection.
#[derive(Debug)]
pub enum Decoded<'a> {
    Str(&'a [u8]),
    Value(Value),
}

/// A decoded RESTORE payload of either format: a string (borrowed from the payload unless
/// it was compressed or integer-encoded) or a collection.
#[derive(Debug)]
pub enum Restored<'a> {
    Str(Cow<'a, [u8]>),
    Value(Value),
}

/// The Redis-format payload of `entry`'s value (DUMP).
pub fn dump(entry: &Entry) -> Vec<u8> {
    let mut out = Vec::new();
    rdb::write_object(entry, &mut out);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The native payload of `entry`'s value (slot migration).
pub fn dump_native(entry: &Entry) -> Vec<u8> {
    let mut out = Vec::new();
    match entry.value() {
        Some(v) => v.encode(&mut out),
        None => {
            let s = entry.as_str().unwrap_or_default();
            out.reserve(1 + s.len() + TRAILER);
            out.push(TAG_STRING);
            out.extend_from_slice(s);
        }
    }
    out.extend_from_slice(&NATIVE_VERSION.to_le_bytes());
    let crc = crc32fast::hash(&out) as u64;
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Splits a payload into (body, version, checksum); `None` when too short for the footer.
fn split_footer(payload: &[u8]) -> Option<(&[u8], u16, u64)> {
    let (covered, sum) = payload.split_last_chunk::<8>()?;
    let (body, version) = covered.split_last_chunk::<2>()?;
    Some((body, u16::from_le_bytes(*version), u64::from_le_bytes(*sum)))
}

/// The body of a native payload whose framing checks out.
fn verify_native(payload: &[u8]) -> Option<&[u8]> {
    let (body, version, sum) = split_footer(payload)?;
    let covered = &payload[..payload.len() - 8];
    let ok = !body.is_empty() && version == NATIVE_VERSION;
    (ok && sum == crc32fast::hash(covered) as u64).then_some(body)
}

/// The body of a Redis payload whose framing checks out: an RDB version no newer than
/// ours (as Redis 7.0 accepts) and a matching CRC-64.
fn verify_redis(payload: &[u8]) -> Option<&[u8]> {
    let (body, version, sum) = split_footer(payload)?;
    let covered = &payload[..payload.len() - 8];
    (version <= RDB_VERSION && sum == crc64::crc64(0, covered)).then_some(body)
}

/// Decodes a verified native body. An empty collection is refused: no key may hold one.
fn decode_native_body(body: &[u8]) -> Result<Decoded<'_>, PayloadError> {
    match body.split_first() {
        Some((&TAG_STRING, s)) => Ok(Decoded::Str(s)),
        _ => match Value::decode(body) {
            Some(v) if !v.is_empty() => Ok(Decoded::Value(v)),
            _ => Err(PayloadError::BadData),
        },
    }
}

/// Verifies and decodes a native payload (slot migration).
pub fn decode_native(payload: &[u8]) -> Result<Decoded<'_>, PayloadError> {
    let body = verify_native(payload).ok_or(PayloadError::VersionOrChecksum)?;
    decode_native_body(body)
}

/// Verifies and decodes a RESTORE payload in either format. A payload whose footer is
/// neither a valid native one nor a valid Redis one is a version or checksum error.
pub fn decode(payload: &[u8]) -> Result<Restored<'_>, PayloadError> {
    if let Some(body) = verify_native(payload) {
        return decode_native_body(body).map(|d| match d {
            Decoded::Str(s) => Restored::Str(Cow::Borrowed(s)),
            Decoded::Value(v) => Restored::Value(v),
        });
    }
    let body = verify_redis(payload).ok_or(PayloadError::VersionOrChecksum)?;
    rdb::read_object(body).map_err(|_| PayloadError::BadData)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::hash::Hash;
    use crate::types::list::{End, List};
    use crate::types::set::Set;
    use crate::types::zset::ZSet;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// `body` with a Redis footer (RDB `version`, CRC-64).
    fn redis_framed(body: &[u8], version: u16) -> Vec<u8> {
        let mut p = body.to_vec();
        p.extend_from_slice(&version.to_le_bytes());
        let crc = crc64::crc64(0, &p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    }

    fn native_framed(body: &[u8], version: u16) -> Vec<u8> {
        let mut p = body.to_vec();
        p.extend_from_slice(&version.to_le_bytes());
        let crc = crc32fast::hash(&p) as u64;
        p.extend_from_slice(&crc.to_le_bytes());
        p
    }

    fn string_entry(v: &[u8]) -> Entry {
        Entry::string(b"k", v, 0, 0)
    }

    fn restored_str(p: &[u8]) -> Vec<u8> {
        match decode(p) {
            Ok(Restored::Str(s)) => s.into_owned(),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn restored_value(p: &[u8]) -> Value {
        match decode(p) {
            Ok(Restored::Value(v)) => v,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// A value's contents in a comparable form: lists in order, the rest sorted.
    fn contents(v: &Value) -> Vec<Vec<u8>> {
        match v {
            Value::List(l) => l.iter().map(|e| e.to_vec()).collect(),
            Value::Set(s) => {
                let mut m: Vec<_> = s.iter().map(|e| e.to_vec()).collect();
                m.sort();
                m
            }
            Value::Hash(h) => {
                let mut m: Vec<_> = h.iter().map(|(f, v)| [f, b"=", v].concat()).collect();
                m.sort();
                m
            }
            Value::ZSet(z) => z
                .iter()
                .map(|(m, s)| [m, b"=", s.to_string().as_bytes()].concat())
                .collect(),
        }
    }

    fn strs(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    // ---- the Redis format ----

    #[test]
    fn strings_match_redis_byte_for_byte() {
        // DUMP output of redis-server 7.0 for these values (integer encodings, raw).
        for (v, payload) in [
            ("12345", "00c139300a009d94ea2793fc08b9"),
            ("-5", "00c0fb0a0049c4c6f4d7263f68"),
            ("123456789", "00c215cd5b070a00a4b7c909e0e9379e"),
        ] {
            assert_eq!(dump(&string_entry(v.as_bytes())), hex(payload), "{v}");
            assert_eq!(restored_str(&hex(payload)), v.as_bytes());
        }
    }

    #[test]
    fn strings_round_trip() {
        let long = vec![b'q'; 70_000];
        for v in [
            &b""[..],
            b"x",
            b"0",
            b"-0",
            b"007",
            b"127",
            b"-128",
            b"128",
            b"32768",
            b"2147483647",
            b"2147483648",
            b"12345678901",
            b"hello world",
            &[0u8, 255, 13, 10][..],
            &long,
        ] {
            assert_eq!(restored_str(&dump(&string_entry(v))), v);
        }
    }

    #[test]
    fn reads_redis_lzf_string() {
        let p = hex(
            "00c31243e80161 61e0ff00e0ff00e0ff00e0c300016161 0a00 86c212db54819e3c"
                .replace(' ', "")
                .as_str(),
        );
        assert_eq!(restored_str(&p), vec![b'a'; 1000]);
    }

    #[test]
    fn reads_redis_collections() {
        // RPUSH pl a <150 × x> 5 with the packed threshold at 100: a plain node (LZF) between
        // two listpack nodes.
        let v = restored_value(&hex("1203020a0a0000000100816102ff01c3094096017878e0890001787802090900000001000501ff0a0068fb900fc973cd11"));
        assert_eq!(
            contents(&v),
            vec![b"a".to_vec(), vec![b'x'; 150], b"5".to_vec()]
        );
        // HSET h f1 v1 f2 17 (listpack).
        let v = restored_value(&hex(
            "10151500000004008266310382763103826632031101ff0a00235d96ec2ef0b787",
        ));
        assert_eq!(contents(&v), strs(&["f1=v1", "f2=17"]));
        // SADD is 3 -70000 100000 (intset).
        let v = restored_value(&hex(
            "0b14040000000300000090eefeff03000000a08601000a005a7bd350a8a6a0d1",
        ));
        assert_eq!(contents(&v), strs(&["-70000", "100000", "3"]));
        // ZADD z 1.5 a -2 b inf c 3 d (listpack).
        let v = restored_value(&hex("1122220000000800816202dffe0281610283312e3504816402030181630283696e6604ff0a0059a3d654d8f7ee52"));
        assert_eq!(contents(&v), strs(&["b=-2", "a=1.5", "d=3", "c=inf"]));
    }

    #[test]
    fn streams_are_bad_data() {
        // XADD st * a 1 on redis-server 7.0.
        let p = hex("130110000001a21d798d3d00000000000000001c1c0000000a00010100010101816102000102010001000101010401ff0181000001a21d798d3d0081000001a21d798d3d00000001000a002ae1c4a824ff0fde");
        assert_eq!(decode(&p).unwrap_err(), PayloadError::BadData);
    }

    fn round_trip(v: Value) -> Value {
        let e = Entry::object(b"k", v, 0, 0);
        let back = restored_value(&dump(&e));
        assert_eq!(contents(&back), contents(e.value().unwrap()));
        assert_eq!(back.encoding(), e.value().unwrap().encoding());
        back
    }

    #[test]
    fn collections_round_trip_small_and_large() {
        let mut list = List::default();
        for v in ["a", "", "1", "-5", "70000", "9223372036854775807", "x y"] {
            list.push(End::Tail, v.as_bytes());
        }
        round_trip(Value::List(list));
        // Past one 8 KiB node, with an element bigger than a node.
        let mut list = List::default();
        for i in 0..3000 {
            list.push(End::Tail, format!("element-{i}").as_bytes());
        }
        list.push(End::Head, &[b'b'; 20_000]);
        let back = round_trip(Value::List(list));
        assert_eq!(back.len(), 3001);

        for members in [
            vec!["1".to_string(), "-2".into(), "300".into()],
            vec!["a".into(), "1".into()],
            (0..1000).map(|i| i.to_string()).collect(),
            (0..300).map(|i| format!("m{i}")).collect(),
        ] {
            let mut s = Set::new();
            for m in &members {
                s.insert(m.as_bytes());
            }
            round_trip(Value::Set(s));
        }

        for (n, vlen) in [(3, 5), (500, 5), (3, 100)] {
            let mut h = Hash::new();
            for i in 0..n {
                h.insert(format!("f{i}").as_bytes(), &vec![b'v'; vlen]);
            }
            round_trip(Value::Hash(h));
        }

        for n in [4, 500] {
            let mut z = ZSet::default();
            for i in 0..n {
                z.insert(format!("m{i}").as_bytes(), (i as f64 - 2.0) / 3.0);
            }
            z.insert(b"top", f64::INFINITY);
            z.insert(b"bottom", f64::NEG_INFINITY);
            round_trip(Value::ZSet(z));
        }
    }

    #[test]
    fn list_nodes_stay_within_8k() {
        let mut list = List::default();
        for i in 0..5000 {
            list.push(End::Tail, format!("{i:>20}").as_bytes());
        }
        let p = dump(&Entry::object(b"k", Value::List(list), 0, 0));
        assert_eq!(p[0], 18, "RDB_TYPE_LIST_QUICKLIST_2");
        // 5000 entries of 22 bytes: 14 nodes of up to 8 KiB.
        assert_eq!(p[1], 14);
    }

    #[test]
    fn older_rdb_types_are_read() {
        // RDB_TYPE_LIST, RDB_TYPE_SET, RDB_TYPE_ZSET (text scores), RDB 9 footers.
        let v = restored_value(&redis_framed(b"\x01\x03\x01a\xc0\x07\x00", 9));
        assert_eq!(contents(&v), strs(&["a", "7", ""]));
        let v = restored_value(&redis_framed(b"\x03\x03\x01a\x031.5\x01b\xfe\x01c\xff", 9));
        assert_eq!(contents(&v), strs(&["c=-inf", "a=1.5", "b=inf"]));
        let v = restored_value(&redis_framed(b"\x02\x02\x01x\x01y", 6));
        assert_eq!(contents(&v), strs(&["x", "y"]));
    }

    #[test]
    fn newer_rdb_version_is_refused() {
        let p = redis_framed(b"\x00\x01a", RDB_VERSION + 1);
        assert_eq!(decode(&p).unwrap_err(), PayloadError::VersionOrChecksum);
        assert_eq!(restored_str(&redis_framed(b"\x00\x01a", RDB_VERSION)), b"a");
    }

    #[test]
    fn intact_but_malformed_bodies_are_bad_data() {
        for body in [
            &b""[..],
            b"\x00",                                          // string without a length
            b"\x00\x05ab",                                    // string shorter than its length
            b"\x00\x01ab",                                    // trailing bytes
            b"\x00\xc4",                                      // unknown string encoding
            b"\x00\xc3\x02\x05\x00a",                         // LZF that does not fill its length
            b"\x01\x00",                                      // empty list
            b"\x02\x02\x01a\x01a",                            // repeated set member
            b"\x04\x02\x01f\x01v\x01f\x01w",                  // repeated hash field
            b"\x03\x01\x01a\xfd",                             // NaN score
            b"\x05\x01\x01a\x00\x00\x00\x00\x00\x00\xf8\x7f", // NaN binary score
            b"\x02\x84\x00\x00\x00\x00\x01a",                 // 2^32 members claimed
            b"\x02\x81\xff\xff\xff\xff\xff\xff\xff\xff\x01a",
            b"\x06\x00",                             // module
            b"\x0f\x00",                             // stream
            b"\x09\x00",                             // zipmap
            b"\x12\x01\x03\x01a",                    // unknown quicklist container
            b"\x12\x01\x02\x00",                     // empty quicklist node
            b"\x10\x07\x07\x00\x00\x00\x00\x00\xff", // empty hash listpack
        ] {
            let p = redis_framed(body, RDB_VERSION);
            assert_eq!(
                decode(&p).unwrap_err(),
                PayloadError::BadData,
                "body {body:?}"
            );
        }
    }

    #[test]
    fn redis_any_flipped_bit_is_detected() {
        let p = dump(&string_entry(b"some value"));
        for i in 0..p.len() {
            for bit in 0..8 {
                let mut q = p.clone();
                q[i] ^= 1 << bit;
                assert_eq!(decode(&q).unwrap_err(), PayloadError::VersionOrChecksum);
            }
        }
        for n in 0..p.len() {
            assert!(decode(&p[..n]).is_err(), "prefix of {n} bytes accepted");
        }
    }

    #[test]
    fn mutated_payloads_never_panic() {
        let mut rng = fastrand::Rng::with_seed(3);
        let mut h = Hash::new();
        let mut z = ZSet::default();
        let mut l = List::default();
        for i in 0..20 {
            h.insert(format!("f{i}").as_bytes(), format!("{i}").as_bytes());
            z.insert(format!("m{i}").as_bytes(), i as f64 * 0.5);
            l.push(End::Tail, format!("{}", i * 1000).as_bytes());
        }
        let mut bodies: Vec<Vec<u8>> = [Value::Hash(h), Value::ZSet(z), Value::List(l)]
            .into_iter()
            .map(|v| {
                let p = dump(&Entry::object(b"k", v, 0, 0));
                p[..p.len() - TRAILER].to_vec()
            })
            .collect();
        for p in [
            "1203020a0a0000000100816102ff01c3094096017878e0890001787802090900000001000501ff0a0068fb900fc973cd11",
            "10151500000004008266310382763103826632031101ff0a00235d96ec2ef0b787",
            "0b14040000000300000090eefeff03000000a08601000a005a7bd350a8a6a0d1",
            "1122220000000800816202dffe0281610283312e3504816402030181630283696e6604ff0a0059a3d654d8f7ee52",
        ] {
            let p = hex(p);
            bodies.push(p[..p.len() - TRAILER].to_vec());
        }
        for _ in 0..20_000 {
            let mut b = bodies[rng.usize(..bodies.len())].clone();
            match rng.u8(..3) {
                0 => {
                    for _ in 0..rng.usize(1..4) {
                        let i = rng.usize(..b.len());
                        b[i] = rng.u8(..);
                    }
                }
                1 => b.truncate(rng.usize(..b.len())),
                _ => b.insert(rng.usize(..b.len()), rng.u8(..)),
            }
            let _ = decode(&redis_framed(&b, RDB_VERSION));
        }
    }

    // ---- the native format ----

    fn native_string(v: &[u8]) -> Vec<u8> {
        dump_native(&string_entry(v))
    }

    #[test]
    fn native_string_round_trip() {
        for v in [&b""[..], b"x", b"hello world", &[0u8, 255, 13, 10][..]] {
            let p = native_string(v);
            match decode_native(&p) {
                Ok(Decoded::Str(s)) => assert_eq!(s, v),
                other => panic!("unexpected {other:?}"),
            }
            // RESTORE takes native payloads too.
            assert_eq!(restored_str(&p), v);
        }
    }

    #[test]
    fn native_collections_restore() {
        let mut h = Hash::new();
        h.insert(b"f", b"v");
        let p = dump_native(&Entry::object(b"k", Value::Hash(h), 0, 0));
        assert_eq!(contents(&restored_value(&p)), strs(&["f=v"]));
        // And a Redis payload is not a native one.
        assert_eq!(
            decode_native(&dump(&string_entry(b"x"))).unwrap_err(),
            PayloadError::VersionOrChecksum
        );
    }

    #[test]
    fn native_any_flipped_bit_is_detected() {
        let p = native_string(b"some value");
        for i in 0..p.len() {
            for bit in 0..8 {
                let mut q = p.clone();
                q[i] ^= 1 << bit;
                assert_eq!(
                    decode_native(&q).unwrap_err(),
                    PayloadError::VersionOrChecksum
                );
                assert_eq!(decode(&q).unwrap_err(), PayloadError::VersionOrChecksum);
            }
        }
    }

    #[test]
    fn native_truncated_and_extended_payloads_are_rejected() {
        let p = native_string(b"some value");
        for n in 0..p.len() {
            assert!(
                decode_native(&p[..n]).is_err(),
                "prefix of {n} bytes accepted"
            );
            assert!(decode(&p[..n]).is_err(), "prefix of {n} bytes accepted");
        }
        let mut longer = p.clone();
        longer.push(0);
        assert!(decode_native(&longer).is_err());
        assert!(decode(&longer).is_err());
    }

    #[test]
    fn native_other_version_is_rejected_even_with_a_good_checksum() {
        let p = native_framed(&[TAG_STRING, b'a'], NATIVE_VERSION + 1);
        assert_eq!(
            decode_native(&p).unwrap_err(),
            PayloadError::VersionOrChecksum
        );
        assert_eq!(decode(&p).unwrap_err(), PayloadError::VersionOrChecksum);
    }

    #[test]
    fn native_intact_but_unknown_body_is_bad_data() {
        for body in [
            &[9u8, 1, 2][..],
            &[1u8][..],
            &[2u8, 0, 0, 0, 0, 0, 0, 0, 0][..],
        ] {
            let p = native_framed(body, NATIVE_VERSION);
            assert_eq!(
                decode_native(&p).unwrap_err(),
                PayloadError::BadData,
                "body {body:?}"
            );
            assert_eq!(
                decode(&p).unwrap_err(),
                PayloadError::BadData,
                "body {body:?}"
            );
        }
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut rng = fastrand::Rng::with_seed(42);
        let good = native_string(b"value");
        let good_redis = dump(&string_entry(b"value"));
        for _ in 0..50_000 {
            let n = rng.usize(..64);
            let garbage: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
            let _ = decode(&garbage);
            // Also garbage with valid trailers, so the decoders themselves are exercised.
            let _ = decode(&native_framed(&garbage, NATIVE_VERSION));
            let _ = decode(&redis_framed(&garbage, RDB_VERSION));
            let _ = decode(&good[..rng.usize(..good.len())]);
            let _ = decode(&good_redis[..rng.usize(..good_redis.len())]);
        }
    }
}
