//! INCRBYFLOAT and HINCRBYFLOAT's numbers, as Redis computes them on x86-64: C `long double`
//! (x87 extended precision, a 64-bit significand), read as `strtold` reads them and written
//! as `"%.17Lf"` less trailing zeros. In a double, 0.1 + 0.2 prints 0.30000000000000004;
//! Redis prints 0.3, and keeps integers up to 2^64 exact.

use rustc_apfloat::ieee::X87DoubleExtended as Ld;
use rustc_apfloat::{Float, Round, Status};

/// Redis's MAX_LONG_DOUBLE_CHARS: longer input is not a number.
const MAX_CHARS: usize = 5 * 1024;

#[derive(Clone, Copy, Debug)]
pub struct LongDouble(Ld);

impl LongDouble {
    pub fn zero() -> LongDouble {
        LongDouble(Ld::ZERO)
    }

    /// A number as Redis's `string2ld` reads it: all of `s` must be one `strtold` number
    /// (decimal, `0x` hexadecimal, `inf`/`infinity`), with no leading space; NaN, and
    /// values that overflow or underflow to zero, are not numbers.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.is_empty() || s.len() >= MAX_CHARS || is_c_space(s[0]) {
            return None;
        }
        let s = std::str::from_utf8(s).ok()?;
        let (neg, body) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let lower = body.to_ascii_lowercase();
        let value = if lower == "inf" || lower == "infinity" {
            Ld::INFINITY
        } else {
            let text = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
                Some(hex) => hex_text(hex)?,
                None => decimal(body).then(|| body.to_string())?,
            };
            let read = Ld::from_str_r(&text, Round::NearestTiesToEven).ok()?;
            // strtold's ERANGE: an overflow is HUGE_VAL, a nonzero number read as zero an
            // underflow; Redis refuses both.
            if read.value.is_infinite() || (read.value.is_zero() && read.status != Status::OK) {
                return None;
            }
            read.value
        };
        Some(LongDouble(if neg { -value } else { value }))
    }

    /// C's `(long long)` cast on x86-64: toward zero; a value out of range (infinities too)
    /// becomes LLONG_MIN, the x87 "integer indefinite".
    pub fn to_i64_trunc(self) -> i64 {
        let r = self.0.to_i128(64);
        if r.status.contains(Status::INVALID_OP) {
            return i64::MIN;
        }
        i64::try_from(r.value).unwrap_or(i64::MIN)
    }

    /// C's `ceill`.
    pub fn ceil(self) -> LongDouble {
        LongDouble(self.0.round_to_integral(Round::TowardPositive).value)
    }

    pub fn from_u32(v: u32) -> LongDouble {
        LongDouble(Ld::from_u128(v.into()).value)
    }

    pub fn is_finite(self) -> bool {
        self.0.is_finite()
    }

    /// Redis's `ld2string(.., LD_STR_HUMAN)`: `"%.17Lf"`, trailing zeros and a trailing
    /// point removed, "-0" written "0". A finite value only.
    pub fn to_human(self) -> String {
        debug_assert!(self.is_finite());
        let bits = self.0.to_bits();
        let sig = bits as u64;
        let biased = ((bits >> 64) & 0x7fff) as i32;
        let mut out = String::new();
        if (bits >> 79) & 1 == 1 {
            out.push('-');
        }
        // value = sig * 2^exp (a denormal's exponent is that of the smallest normal).
        let exp = biased.max(1) - 16383 - 63;
        if exp >= 0 {
            out.push_str(&shifted_decimal(sig, exp as u32));
        } else {
            // The value times 10^17, rounded half to even (as glibc's printf rounds): the
            // digits "%.17Lf" prints. sig * 10^17 < 2^121.
            const SCALE: u128 = 100_000_000_000_000_000;
            let scaled = u128::from(sig) * SCALE;
            let shift = exp.unsigned_abs();
            let q = if shift >= 122 {
                0 // below half a unit of the 17th decimal
            } else {
                let q = scaled >> shift;
                let rem = scaled & ((1u128 << shift) - 1);
                let half = 1u128 << (shift - 1);
                q + u128::from(rem > half || (rem == half && q & 1 == 1))
            };
            out.push_str(&(q / SCALE).to_string());
            let frac = q % SCALE;
            if frac != 0 {
                let digits = format!("{frac:017}");
                out.push('.');
                out.push_str(digits.trim_end_matches('0'));
            }
        }
        if out == "-0" {
            out = "0".into();
        }
        out
    }
}

/// C's `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `digits [. digits] [e [sign] digits]`, at least one mantissa digit: what `strtold` reads
/// whole as a decimal number.
fn decimal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// A hexadecimal number after its `0x` (`hexdigits [. hexdigits] [p [sign] digits]`) as
/// the parser wants it (the binary exponent is not optional there); None if `strtold`
/// would not read it whole.
fn hex_text(s: &str) -> Option<String> {
    let (mantissa, exp) = match s.find(['p', 'P']) {
        Some(p) => (&s[..p], Some(&s[p + 1..])),
        None => (s, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let hex = |t: &str| t.bytes().all(|b| b.is_ascii_hexdigit());
    if int.len() + frac.len() == 0 || !hex(int) || !hex(frac) {
        return None;
    }
    let exp = match exp {
        None => "0",
        Some(e) => {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            e
        }
    };
    Some(format!("0x{mantissa}p{exp}"))
}

/// `sig * 2^shift` in decimal.
fn shifted_decimal(sig: u64, shift: u32) -> String {
    // Little-endian 32-bit limbs of sig << shift.
    let mut limbs = vec![0u32; (shift / 32) as usize];
    let wide = u128::from(sig) << (shift % 32);
    limbs.extend([wide as u32, (wide >> 32) as u32, (wide >> 64) as u32]);
    while limbs.last() == Some(&0) && limbs.len() > 1 {
        limbs.pop();
    }
    // Nine decimal digits at a time, least significant first.
    let mut chunks = Vec::new();
    while limbs.len() > 1 || limbs[0] != 0 {
        let mut rem = 0u64;
        for limb in limbs.iter_mut().rev() {
            let cur = (rem << 32) | u64::from(*limb);
            *limb = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        chunks.push(rem as u32);
        while limbs.last() == Some(&0) && limbs.len() > 1 {
            limbs.pop();
        }
    }
    let mut out = chunks.pop().map_or("0".into(), |c| c.to_string());
    for c in chunks.iter().rev() {
        out.push_str(&format!("{c:09}"));
    }
    out
}

/// Rounded to nearest, ties to even, as the x87 unit adds.
impl std::ops::Add for LongDouble {
    type Output = LongDouble;

    fn add(self, other: LongDouble) -> LongDouble {
        LongDouble((self.0 + other.0).value)
    }
}

impl std::ops::Mul for LongDouble {
    type Output = LongDouble;

    fn mul(self, other: LongDouble) -> LongDouble {
        LongDouble((self.0 * other.0).value)
    }
}

#[cfg(test)]
mod tests {
    use super::LongDouble;

    fn sum(a: &str, b: &str) -> String {
        let a = LongDouble::parse(a.as_bytes()).expect("a number");
        let b = LongDouble::parse(b.as_bytes()).expect("a number");
        (a + b).to_human()
    }

    /// Every expected string is what redis-server 7.0 (x86-64) replies to `SET k a` then
    /// `INCRBYFLOAT k b`.
    #[test]
    fn sums_print_as_redis_prints_them() {
        let cases = [
            ("0.2", "0.1", "0.3"),
            ("0", "3.0e3", "3000"),
            ("5.5", "-5.5", "0"),
            ("0", "1e-20", "0"),
            ("0", "1.5e-10", "0.00000000015"),
            ("0x10", "1", "17"),
            ("9223372036854775807", "1e-5", "9223372036854775807"),
            ("-9223372036854775808", "-1", "-9223372036854775809"),
            ("10.5", "0.1", "10.6"),
            ("0", "-0", "0"),
            ("-0.000000000000000001", "0", "0"),
            ("0", "0x.8", "0.5"),
            ("0", "0x1p4", "16"),
            ("0", "1E3", "1000"),
            ("0", "+.5", "0.5"),
            ("0", "5.", "5"),
        ];
        for (a, b, want) in cases {
            assert_eq!(sum(a, b), want, "{a} + {b}");
        }
        assert_eq!(
            sum("1.7976931348623157e308", "0"),
            "179769313486231569995921046774104434048386446944329178485314420765176628523124396354701868608387085564428793419425520689308708363451136055357897278026477617073498977686288394835618163294045594434929537447290627480669417384648879122776218333598953852832103282504751611691208117720159985926376802466863339536384"
        );
        assert!(sum("1.0e400", "1").starts_with("10000000000000000000281880683947586514586"));
    }

    #[test]
    fn only_whole_strtold_numbers_parse() {
        for bad in [
            "", " 1", "1 ", "\t1", "abc", "1e", "1e+", ".", "-", "+", "0x", "0xg", "0x1p", "1.2.3",
            "nan", "NaN", "-nan", "nan(1)", "1e99999", "1e-99999", "1_0", "0x1p+",
        ] {
            assert!(LongDouble::parse(bad.as_bytes()).is_none(), "{bad:?}");
        }
        for inf in ["inf", "-inf", "+INF", "Infinity", "-infinity"] {
            let v = LongDouble::parse(inf.as_bytes()).expect("infinity reads");
            assert!(!v.is_finite(), "{inf}");
        }
        assert!(LongDouble::parse(b"0e-99999").is_some_and(|v| v.to_human() == "0"));
        assert!(LongDouble::parse(&vec![b'1'; 5120]).is_none());
        assert_eq!(LongDouble::zero().to_human(), "0");
    }

    #[test]
    fn casts_to_long_long_as_x86_does() {
        let ms = |s: &str| {
            (LongDouble::parse(s.as_bytes()).unwrap() * LongDouble::from_u32(1000))
                .ceil()
                .to_i64_trunc()
        };
        assert_eq!(ms("1.5"), 1500);
        assert_eq!(ms("0.0001"), 1);
        assert_eq!(ms("-0.0001"), 0);
        assert_eq!(ms("9223372036854775.808"), i64::MIN);
        assert_eq!(ms("-1"), -1000);
        assert_eq!(ms("0x10"), 16000);
        assert_eq!(ms("9223372036854775"), 9_223_372_036_854_775_000);
        for out_of_range in ["9223372036854776", "1e100", "inf", "-inf", "-1e100"] {
            assert_eq!(ms(out_of_range), i64::MIN, "{out_of_range}");
        }
    }
}
