//! LZF decompression (liblzf's `lzf_decompress`, which Redis uses for RDB_ENC_LZF strings).
//! The output is bounded by the length the payload declares; anything that would write
//! past it, reference before the start, or stop short of it is malformed.

/// The most output one input byte can yield: a 3-byte back-reference copies 264 bytes.
const MAX_RATIO: usize = 88;

/// Decompresses `input` into exactly `out_len` bytes; `None` when the data is malformed or
/// does not fill `out_len` exactly.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    // A declared length no input of this size can reach is refused before allocating it.
    if out_len > input.len().saturating_mul(MAX_RATIO) {
        return None;
    }
    let mut out = Vec::with_capacity(out_len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            // A literal run of ctrl + 1 bytes.
            let lit = input.get(i..i + ctrl + 1)?;
            if out.len() + lit.len() > out_len {
                return None;
            }
            out.extend_from_slice(lit);
            i += lit.len();
        } else {
            // A back-reference: length in the top 3 bits (7 = extended by the next byte),
            // distance in the low 5 bits and the byte after.
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(i)? as usize;
                i += 1;
            }
            len += 2;
            let back = ((ctrl & 0x1f) << 8) + *input.get(i)? as usize + 1;
            i += 1;
            if back > out.len() || out.len() + len > out_len {
                return None;
            }
            let start = out.len() - back;
            if back >= len {
                out.extend_from_within(start..start + len);
            } else {
                // Overlapping copy: a run repeating the last `back` bytes.
                for k in start..start + len {
                    out.push(out[k]);
                }
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_back_reference() {
        // "abcabcabc": literal "abc", then copy 6 bytes from 3 back.
        let data = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(decompress(&data, 9).unwrap(), b"abcabcabc");
        // The declared length must be met exactly.
        assert_eq!(decompress(&data, 8), None);
        assert_eq!(decompress(&data, 10), None);
    }

    #[test]
    fn redis_compressed_string() {
        // From redis-server 7.0: DUMP of 1000 × 'a' is 0x00 0xC3, clen 18, len 1000, then this.
        let data = b"\x01aa\xe0\xff\x00\xe0\xff\x00\xe0\xff\x00\xe0\xc3\x00\x01aa";
        assert_eq!(data.len(), 18);
        let out = decompress(&data[..], 1000);
        assert_eq!(out.as_deref(), Some(&[b'a'; 1000][..]));
    }

    #[test]
    fn malformed_input_is_refused() {
        // Reference before the start of the output.
        assert_eq!(decompress(&[0, b'a', 0x20, 5], 4), None);
        // Truncated literal and truncated back-reference.
        assert_eq!(decompress(&[5, b'a'], 6), None);
        assert_eq!(decompress(&[0, b'a', 0xe0], 20), None);
        // A huge declared length is refused up front.
        assert_eq!(decompress(&[0, b'a'], usize::MAX), None);
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..20_000 {
            let n = rng.usize(..40);
            let data: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
            let _ = decompress(&data, rng.usize(..2000));
        }
    }
}
