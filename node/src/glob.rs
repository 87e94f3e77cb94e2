//! Redis's glob matcher (`stringmatchlen` in util.c), used by KEYS, SCAN MATCH and pattern
//! subscriptions: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x` escapes, optionally ignoring ASCII
//! case. Ported branch for branch so that odd patterns (an unclosed `[`, a trailing `\`)
//! behave exactly as in Redis, including its guard against exponential backtracking.

/// Redis's limit on `*` recursion depth: deeper patterns simply do not match.
const MAX_NESTING: usize = 1000;

/// Whether `subject` matches the glob `pattern`.
pub fn glob_match(pattern: &[u8], subject: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    let m = Matcher {
        pat: pattern,
        nocase,
    };
    m.run(0, subject, &mut skip_longer, 0)
}

struct Matcher<'p> {
    pat: &'p [u8],
    nocase: bool,
}

impl Matcher<'_> {
    /// The pattern byte at `i`, or 0 past the end: the C code reads the NUL terminator there.
    fn at(&self, i: usize) -> u8 {
        self.pat.get(i).copied().unwrap_or(0)
    }

    fn fold(&self, c: u8) -> u8 {
        if self.nocase {
            c.to_ascii_lowercase()
        } else {
            c
        }
    }

    /// Matches `pat[p..]` against `s`. `skip_longer` is Redis's early exit: once the rest of a
    /// pattern after a `*` failed at every position, no earlier `*` can help either.
    fn run(&self, mut p: usize, mut s: &[u8], skip_longer: &mut bool, nesting: usize) -> bool {
        if nesting > MAX_NESTING {
            return false;
        }
        let end = self.pat.len();
        while p < end && !s.is_empty() {
            match self.pat[p] {
                b'*' => {
                    while p < end && self.at(p + 1) == b'*' {
                        p += 1;
                    }
                    if end - p == 1 {
                        return true;
                    }
                    while !s.is_empty() {
                        if self.run(p + 1, s, skip_longer, nesting + 1) {
                            return true;
                        }
                        if *skip_longer {
                            return false;
                        }
                        s = &s[1..];
                    }
                    *skip_longer = true;
                    return false;
                }
                b'?' => s = &s[1..],
                b'[' => {
                    let (matched, next) = self.class(p + 1, s[0]);
                    if !matched {
                        return false;
                    }
                    p = next;
                    s = &s[1..];
                }
                c => {
                    let lit = if c == b'\\' && end - p >= 2 {
                        p += 1;
                        self.pat[p]
                    } else {
                        c
                    };
                    if self.fold(lit) != self.fold(s[0]) {
                        return false;
                    }
                    s = &s[1..];
                }
            }
            p += 1;
            if s.is_empty() {
                while p < end && self.pat[p] == b'*' {
                    p += 1;
                }
                break;
            }
        }
        p >= end && s.is_empty()
    }

    /// A `[...]` class starting right after the `[`: whether `c` matches, and the index of the
    /// class's last byte (its `]`, or the pattern's last byte when unclosed).
    fn class(&self, mut p: usize, c: u8) -> (bool, usize) {
        let end = self.pat.len();
        let not = self.at(p) == b'^';
        if not {
            p += 1;
        }
        let mut matched = false;
        loop {
            let left = end.saturating_sub(p);
            if self.at(p) == b'\\' && left >= 2 {
                p += 1;
                if self.pat[p] == c {
                    matched = true;
                }
            } else if self.at(p) == b']' && left > 0 {
                break;
            } else if left == 0 {
                // Unclosed class: Redis steps back so the caller's increment ends the pattern.
                p -= 1;
                break;
            } else if left >= 3 && self.pat[p + 1] == b'-' {
                let (mut lo, mut hi) = (self.pat[p], self.pat[p + 2]);
                if lo > hi {
                    std::mem::swap(&mut lo, &mut hi);
                }
                let (lo, hi, ch) = (self.fold(lo), self.fold(hi), self.fold(c));
                if ch >= lo && ch <= hi {
                    matched = true;
                }
                p += 2;
            } else if self.fold(self.pat[p]) == self.fold(c) {
                matched = true;
            }
            p += 1;
        }
        (matched != not, p)
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(m("hello", "hello"));
        assert!(!m("hello", "hell"));
        assert!(!m("hell", "hello"));
        assert!(m("h?llo", "hallo"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("*", "anything"));
        assert!(m("a*", "a"));
        assert!(m("a**", "a"));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(!m("*a*b*", "xxbxxaxx"));
        assert!(m("", ""));
        assert!(!m("", "a"));
    }

    #[test]
    fn empty_subject_against_star_is_no_match_as_in_redis() {
        // stringmatchlen's loop needs a non-empty string; KEYS/SCAN short-cut "*" themselves.
        assert!(!m("*", ""));
    }

    #[test]
    fn classes() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("h[b-a]llo", "hallo"), "reversed range");
        assert!(m("[\\]]", "]"));
        assert!(m("[a\\-z]", "-"));
        assert!(!m("[a\\-z]", "b"));
        assert!(!m("[]", "a"), "empty class matches nothing");
    }

    #[test]
    fn unclosed_class_and_escapes() {
        assert!(m("[abc", "a"));
        assert!(!m("[abc", "d"));
        assert!(!m("[", "x"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("a\\", "a\\"), "a trailing backslash is literal");
        assert!(m("\\?", "?"));
        assert!(!m("\\?", "x"));
    }

    #[test]
    fn nocase() {
        assert!(glob_match(b"HeLLo", b"hello", true));
        assert!(glob_match(b"h[A-Z]llo", b"hello", true));
        assert!(!glob_match(b"HeLLo", b"hello", false));
    }

    #[test]
    fn pathological_patterns_finish() {
        let subject = vec![b'a'; 1000];
        let pattern = "*a".repeat(200) + "b";
        assert!(!glob_match(pattern.as_bytes(), &subject, false));
        // Would match, but nests `*` deeper than Redis allows: no match, no stack overflow.
        let deep = "*a".repeat(1100);
        assert!(!glob_match(deep.as_bytes(), &subject[..], false));
        assert!(glob_match("*a".repeat(900).as_bytes(), &subject[..], false));
    }

    #[test]
    fn random_inputs_never_panic() {
        let mut rng = fastrand::Rng::with_seed(7);
        let alphabet = b"ab*?[]^-\\";
        for _ in 0..20_000 {
            let p: Vec<u8> = (0..rng.usize(..12))
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let s: Vec<u8> = (0..rng.usize(..12))
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            glob_match(&p, &s, rng.bool());
        }
    }
}
