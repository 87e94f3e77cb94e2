//! DUMP / RESTORE payloads. Laid out like Redis's (value ‖ format version ‖ checksum) but in
//! our own encoding: a type tag (0 = string, otherwise the tag `Value::encode` writes), the
//! value bytes, a 2-byte little-endian format version, and an 8-byte little-endian checksum
//! (CRC-32, zero-extended) over everything before it. RESTORE checks length, version and
//! checksum before decoding anything, so garbage is rejected without being parsed.

use crate::db::Entry;
use crate::types::Value;

/// Bumped whenever the encoding changes; RESTORE refuses other versions.
pub const VERSION: u16 = 1;

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

/// A decoded payload: string bytes (borrowed from the payload) or a collection.
#[derive(Debug)]
pub enum Decoded<'a> {
    Str(&'a [u8]),
    Value(Value),
}

/// The payload of `entry`'s value (DUMP).
pub fn dump(entry: &Entry) -> Vec<u8> {
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
    out.extend_from_slice(&VERSION.to_le_bytes());
    let crc = crc32fast::hash(&out) as u64;
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks a payload's framing and returns its body (tag and value bytes).
pub fn verify(payload: &[u8]) -> Result<&[u8], PayloadError> {
    if payload.len() < 1 + TRAILER {
        return Err(PayloadError::VersionOrChecksum);
    }
    let (covered, sum) = payload.split_at(payload.len() - 8);
    let (body, version) = covered.split_at(covered.len() - 2);
    if u16::from_le_bytes([version[0], version[1]]) != VERSION {
        return Err(PayloadError::VersionOrChecksum);
    }
    let sum = u64::from_le_bytes(sum.try_into().expect("8 bytes"));
    if sum != crc32fast::hash(covered) as u64 {
        return Err(PayloadError::VersionOrChecksum);
    }
    Ok(body)
}

/// Verifies and decodes a payload (RESTORE). An empty collection is refused: no key may hold
/// one.
pub fn decode(payload: &[u8]) -> Result<Decoded<'_>, PayloadError> {
    let body = verify(payload)?;
    match body.split_first() {
        Some((&TAG_STRING, s)) => Ok(Decoded::Str(s)),
        _ => match Value::decode(body) {
            Some(v) if !v.is_empty() => Ok(Decoded::Value(v)),
            _ => Err(PayloadError::BadData),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string_payload(v: &[u8]) -> Vec<u8> {
        dump(&Entry::string(b"k", v, 0, 0))
    }

    #[test]
    fn string_round_trip() {
        for v in [&b""[..], b"x", b"hello world", &[0u8, 255, 13, 10][..]] {
            let p = string_payload(v);
            match decode(&p) {
                Ok(Decoded::Str(s)) => assert_eq!(s, v),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn any_flipped_bit_is_detected() {
        let p = string_payload(b"some value");
        for i in 0..p.len() {
            for bit in 0..8 {
                let mut q = p.clone();
                q[i] ^= 1 << bit;
                assert_eq!(decode(&q).unwrap_err(), PayloadError::VersionOrChecksum);
            }
        }
    }

    #[test]
    fn truncated_and_extended_payloads_are_rejected() {
        let p = string_payload(b"some value");
        for n in 0..p.len() {
            assert!(decode(&p[..n]).is_err(), "prefix of {n} bytes accepted");
        }
        let mut longer = p.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
    }

    #[test]
    fn other_version_is_rejected_even_with_a_good_checksum() {
        let mut p = vec![TAG_STRING, b'a'];
        p.extend_from_slice(&(VERSION + 1).to_le_bytes());
        let crc = crc32fast::hash(&p) as u64;
        p.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(decode(&p).unwrap_err(), PayloadError::VersionOrChecksum);
    }

    #[test]
    fn intact_but_unknown_body_is_bad_data() {
        for body in [
            &[9u8, 1, 2][..],
            &[1u8][..],
            &[2u8, 0, 0, 0, 0, 0, 0, 0, 0][..],
        ] {
            let mut p = body.to_vec();
            p.extend_from_slice(&VERSION.to_le_bytes());
            let crc = crc32fast::hash(&p) as u64;
            p.extend_from_slice(&crc.to_le_bytes());
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
        let good = string_payload(b"value");
        for _ in 0..50_000 {
            let n = rng.usize(..64);
            let garbage: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
            let _ = decode(&garbage);
            // Also garbage with a valid trailer, so the decoders themselves are exercised.
            let mut framed = garbage.clone();
            framed.extend_from_slice(&VERSION.to_le_bytes());
            let crc = crc32fast::hash(&framed) as u64;
            framed.extend_from_slice(&crc.to_le_bytes());
            let _ = decode(&framed);
            let cut = rng.usize(..good.len());
            let _ = decode(&good[..cut]);
        }
    }
}
