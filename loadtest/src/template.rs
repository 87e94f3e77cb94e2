//! Command templates: `LPUSH __key__ __data__` with `__key__` and `__data__` placeholders
//! (whole arguments or parts of one), weighted, and the `SET:GET[:DEL]` ratio as templates.
//! Templates whose shape is exactly `SET key value`, `GET key` or `DEL key` are the ones
//! `--verify` understands.

use crate::keys::write_key;
use crate::resp::push_header;
use std::str::FromStr;

const KEY: &str = "__key__";
const DATA: &str = "__data__";

/// What a template does to its key, as far as verification is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Set,
    Get,
    Del,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(Vec<u8>),
    Key,
    Data,
}

/// One command shape with its weight in the mix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub weight: u32,
    /// Upper-case command name, the row label in reports.
    pub name: String,
    pub kind: Kind,
    args: Vec<Vec<Part>>,
}

impl FromStr for Template {
    type Err = String;

    /// `[WEIGHT:]COMMAND ARG…`, arguments split on whitespace, e.g. `3:LPUSH __key__ __data__`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (weight, body) = match s.split_once(':') {
            Some((w, rest)) if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) => {
                let w = w
                    .parse::<u32>()
                    .map_err(|_| format!("weight '{w}' is too large"))?;
                (w, rest)
            }
            _ => (1, s),
        };
        if weight == 0 {
            return Err(format!("template '{s}' has weight 0"));
        }
        let words: Vec<&str> = body.split_whitespace().collect();
        if words.is_empty() {
            return Err("empty command template".into());
        }
        let args: Vec<Vec<Part>> = words.iter().map(|w| split_parts(w)).collect();
        let name = words[0].to_ascii_uppercase();
        let kind = kind_of(&name, &args);
        Ok(Template {
            weight,
            name,
            kind,
            args,
        })
    }
}

fn split_parts(word: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut rest = word;
    while !rest.is_empty() {
        let next = [(rest.find(KEY), Part::Key), (rest.find(DATA), Part::Data)]
            .into_iter()
            .filter_map(|(at, p)| at.map(|a| (a, p)))
            .min_by_key(|(a, _)| *a);
        match next {
            Some((at, part)) => {
                if at > 0 {
                    parts.push(Part::Lit(rest.as_bytes()[..at].to_vec()));
                }
                let len = if part == Part::Key {
                    KEY.len()
                } else {
                    DATA.len()
                };
                parts.push(part);
                rest = &rest[at + len..];
            }
            None => {
                parts.push(Part::Lit(rest.as_bytes().to_vec()));
                rest = "";
            }
        }
    }
    parts
}

fn kind_of(name: &str, args: &[Vec<Part>]) -> Kind {
    let is = |i: usize, p: &Part| args.get(i).is_some_and(|a| a.len() == 1 && a[0] == *p);
    match (name, args.len()) {
        ("SET", 3) if is(1, &Part::Key) && is(2, &Part::Data) => Kind::Set,
        ("GET", 2) if is(1, &Part::Key) => Kind::Get,
        ("DEL" | "UNLINK", 2) if is(1, &Part::Key) => Kind::Del,
        _ => Kind::Other,
    }
}

impl Template {
    /// True when the command names a key (then it is routed by the key's slot).
    pub fn has_key(&self) -> bool {
        self.args.iter().flatten().any(|p| *p == Part::Key)
    }

    pub fn has_data(&self) -> bool {
        self.args.iter().flatten().any(|p| *p == Part::Data)
    }

    /// Appends the command for key `key` (already rendered) and value `data` as RESP.
    pub fn encode(&self, out: &mut Vec<u8>, key: &[u8], data: &[u8]) {
        push_header(out, b'*', self.args.len());
        for arg in &self.args {
            let len: usize = arg
                .iter()
                .map(|p| match p {
                    Part::Lit(l) => l.len(),
                    Part::Key => key.len(),
                    Part::Data => data.len(),
                })
                .sum();
            push_header(out, b'$', len);
            for p in arg {
                out.extend_from_slice(match p {
                    Part::Lit(l) => l,
                    Part::Key => key,
                    Part::Data => data,
                });
            }
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// The `--ratio SET:GET[:DEL]` weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    pub set: u32,
    pub get: u32,
    pub del: u32,
}

impl FromStr for Ratio {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let nums: Result<Vec<u32>, _> = s.split(':').map(|p| p.trim().parse::<u32>()).collect();
        let bad = || format!("'{s}' is not SET:GET or SET:GET:DEL with whole numbers");
        let nums = nums.map_err(|_| bad())?;
        let r = match nums[..] {
            [set, get] => Ratio { set, get, del: 0 },
            [set, get, del] => Ratio { set, get, del },
            _ => return Err(bad()),
        };
        if r.set == 0 && r.get == 0 && r.del == 0 {
            return Err(format!("ratio '{s}' sends nothing"));
        }
        Ok(r)
    }
}

impl Ratio {
    /// The ratio as SET/GET/DEL templates (zero weights left out).
    pub fn templates(&self) -> Vec<Template> {
        [
            (self.set, "SET __key__ __data__"),
            (self.get, "GET __key__"),
            (self.del, "DEL __key__"),
        ]
        .into_iter()
        .filter(|(w, _)| *w > 0)
        .map(|(w, t)| {
            let mut t: Template = t.parse().expect("built-in template");
            t.weight = w;
            t
        })
        .collect()
    }
}

/// Weighted choice among templates.
#[derive(Debug, Clone)]
pub struct Mix {
    pub templates: Vec<Template>,
    cumulative: Vec<u64>,
}

impl Mix {
    pub fn new(templates: Vec<Template>) -> Mix {
        let mut total = 0;
        let cumulative = templates
            .iter()
            .map(|t| {
                total += u64::from(t.weight);
                total
            })
            .collect();
        Mix {
            templates,
            cumulative,
        }
    }

    /// Index of a template drawn by weight.
    pub fn pick(&self, rng: &mut fastrand::Rng) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1);
        let x = rng.u64(0..total);
        self.cumulative.partition_point(|&c| c <= x)
    }

    /// Report labels: the command name, with `#2`, `#3` for repeated names.
    pub fn labels(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.templates {
            let seen = out
                .iter()
                .filter(|l| l.split('#').next() == Some(t.name.as_str()))
                .count();
            out.push(if seen == 0 {
                t.name.clone()
            } else {
                format!("{}#{}", t.name, seen + 1)
            });
        }
        out
    }

    /// True when some template deletes keys (then verification expects absences).
    pub fn deletes(&self) -> bool {
        self.templates.iter().any(|t| t.kind == Kind::Del)
    }
}

/// Renders key `idx` into a reusable buffer.
pub fn render_key(buf: &mut Vec<u8>, prefix: &str, idx: u64) {
    buf.clear();
    write_key(buf, prefix, idx);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(t: &str, key: &[u8], data: &[u8]) -> String {
        let t: Template = t.parse().unwrap();
        let mut out = Vec::new();
        t.encode(&mut out, key, data);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn templates_fill_placeholders() {
        assert_eq!(
            enc("LPUSH __key__ __data__", b"k1", b"vv"),
            "*3\r\n$5\r\nLPUSH\r\n$2\r\nk1\r\n$2\r\nvv\r\n"
        );
        assert_eq!(
            enc("HSET h:__key__ f __data__x", b"k", b"v"),
            "*4\r\n$4\r\nHSET\r\n$3\r\nh:k\r\n$1\r\nf\r\n$2\r\nvx\r\n"
        );
    }

    #[test]
    fn templates_know_their_kind_and_weight() {
        let t: Template = "3:set __key__ __data__".parse().unwrap();
        assert_eq!((t.weight, t.name.as_str(), t.kind), (3, "SET", Kind::Set));
        let t: Template = "SET __key__ __data__ EX 10".parse().unwrap();
        assert_eq!(t.kind, Kind::Other);
        let t: Template = "unlink __key__".parse().unwrap();
        assert_eq!(t.kind, Kind::Del);
        let t: Template = "PING".parse().unwrap();
        assert!(!t.has_key());
        assert!("0:GET __key__".parse::<Template>().is_err());
        assert!("  ".parse::<Template>().is_err());
    }

    #[test]
    fn ratios_parse() {
        assert_eq!(
            "1:10".parse(),
            Ok(Ratio {
                set: 1,
                get: 10,
                del: 0
            })
        );
        assert_eq!("1:9:1".parse::<Ratio>().unwrap().del, 1);
        assert!("0:0".parse::<Ratio>().is_err());
        assert!("1".parse::<Ratio>().is_err());
        assert!("a:b".parse::<Ratio>().is_err());
        let names: Vec<String> = "1:0:2"
            .parse::<Ratio>()
            .unwrap()
            .templates()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["SET", "DEL"]);
    }

    #[test]
    fn mix_picks_by_weight() {
        let mix = Mix::new(vec![
            "1:SET __key__ __data__".parse().unwrap(),
            "3:GET __key__".parse().unwrap(),
        ]);
        let mut rng = fastrand::Rng::with_seed(5);
        let mut counts = [0u32; 2];
        for _ in 0..40_000 {
            counts[mix.pick(&mut rng)] += 1;
        }
        assert!((9_000..11_000).contains(&counts[0]), "{counts:?}");
        let labels = Mix::new(vec![
            "GET __key__".parse().unwrap(),
            "GET x__key__".parse().unwrap(),
        ])
        .labels();
        assert_eq!(labels, ["GET", "GET#2"]);
    }
}
