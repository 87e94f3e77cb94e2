//! The command table: one row per command, shared by the node (which executes with it) and
//! the proxy (which routes with it). Adding a command is one row here plus one handler.
//!
//! Arity follows Redis: positive = exact argument count (name included), negative = at least
//! that many. Key positions follow `COMMAND INFO`: `first`, `last` (negative counts from the
//! end), `step`; commands whose keys move with their arguments use a [`KeyRule`] shape.

mod reply;
mod table;

pub use reply::*;
pub use table::COMMANDS;

/// Command flags, as bits. Names mirror Redis's `COMMAND INFO` flags.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const FAST: u32 = 1 << 9;
    pub const NO_AUTH: u32 = 1 << 10;
    pub const NO_MULTI: u32 = 1 << 11;
    pub const ALLOW_BUSY: u32 = 1 << 12;
    /// Not a Redis flag: the command touches no key and is answered by whoever receives it
    /// (a proxy answers it itself or fans it out; see [`super::Routing`]).
    pub const KEYLESS: u32 = 1 << 13;
    /// Not a Redis flag: allowed while the connection is in RESP2 subscriber mode.
    pub const PUBSUB_CONTEXT: u32 = 1 << 14;
}

/// Where a command's keys are among its arguments (index 0 is the command name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRule {
    /// No keys.
    None,
    /// Keys at `first`, `first+step`, … up to `last` (negative: counted from the end, -1 is
    /// the last argument).
    Range { first: i32, last: i32, step: i32 },
    /// A count of keys at `numkeys`, the keys right after it (`EVAL`, `LMPOP`, `ZUNION`,
    /// `SINTERCARD`), plus an optional destination key before it (`ZUNIONSTORE dest …`).
    NumKeys { numkeys: usize, dest: Option<usize> },
}

/// How a proxy treats a command that names no key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// Routed by its keys' slot.
    ByKey,
    /// Answered by whoever receives it (PING, ECHO, CLIENT, HELLO …).
    Local,
    /// Sent to every node, replies merged (DBSIZE, FLUSHALL, KEYS, SCAN …).
    AllNodes,
    /// Sent to any one node (RANDOMKEY, TIME …).
    AnyNode,
}

/// One row of the command table.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// Lower-case name, as `COMMAND` reports it.
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub keys: KeyRule,
    /// Redis's ACL category of the family (`string`, `keyspace`, `connection` …).
    pub group: &'static str,
    pub routing: Routing,
    /// Subcommands (`CONFIG GET`, `CLIENT LIST` …): rows named `parent|sub`.
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Whether `argc` (name included) satisfies the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = self.arity as i64;
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// `(first, last, step)` as `COMMAND INFO` reports them.
    pub fn key_positions(&self) -> (i64, i64, i64) {
        match self.keys {
            KeyRule::None => (0, 0, 0),
            KeyRule::Range { first, last, step } => (first as i64, last as i64, step as i64),
            // Redis reports movable-key commands with their fixed prefix only.
            KeyRule::NumKeys { dest: Some(d), .. } => (d as i64, d as i64, 1),
            KeyRule::NumKeys { .. } => (0, 0, 0),
        }
    }

    /// The slot shared by the keys of a command whose keys sit at fixed positions, without
    /// allocating (the proxy's per-command path): None when it has no keys, keys found by a
    /// numkeys argument, or keys in several slots. `arg(i)` is argument `i` of `argc`.
    pub fn fixed_keys_slot<'a>(&self, argc: usize, arg: impl Fn(usize) -> &'a [u8]) -> Option<u16> {
        if !matches!(self.keys, KeyRule::Range { .. }) {
            return None;
        }
        let mut keys = self.key_index_iter(argc, &arg).ok()?;
        let slot = crate::slot::key_slot(arg(keys.next()?));
        keys.all(|i| crate::slot::key_slot(arg(i)) == slot)
            .then_some(slot)
    }

    pub fn movable_keys(&self) -> bool {
        matches!(self.keys, KeyRule::NumKeys { .. })
    }

    /// Indexes of the key arguments in `args` (args[0] is the name), or an error text when the
    /// arguments do not allow extracting them. `argc` and the numkeys argument are enough.
    pub fn key_indexes<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Vec<usize>, KeysError> {
        Ok(self
            .key_index_iter(args.len(), |i| args[i].as_ref())?
            .collect())
    }

    /// [`CommandSpec::key_indexes`] without allocating: `arg(i)` is argument `i` of `argc`
    /// (only the numkeys argument is read).
    pub fn key_index_iter<'a>(
        &self,
        argc: usize,
        arg: impl Fn(usize) -> &'a [u8],
    ) -> Result<impl Iterator<Item = usize>, KeysError> {
        let (dest, range, step) = match self.keys {
            KeyRule::None => (None, 0..0, 1),
            KeyRule::Range { first, last, step } => {
                let first = first as usize;
                let last = if last < 0 {
                    argc as i64 + last as i64
                } else {
                    last as i64
                };
                if last < first as i64 || first >= argc {
                    (None, 0..0, 1)
                } else {
                    let last = (last as usize).min(argc - 1);
                    (None, first..last + 1, step.max(1) as usize)
                }
            }
            KeyRule::NumKeys { numkeys, dest } => {
                let n = (numkeys < argc)
                    .then(|| arg(numkeys))
                    .and_then(|a| std::str::from_utf8(a).ok())
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or(KeysError::NumKeysNotInteger)?;
                if n < 0 || numkeys as i64 + 1 + n > argc as i64 {
                    return Err(KeysError::NumKeysOutOfRange);
                }
                (dest, numkeys + 1..numkeys + 1 + n as usize, 1)
            }
        };
        Ok(dest.into_iter().chain(range.step_by(step)))
    }
}

/// Why keys could not be extracted from a command's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    #[error("numkeys is not an integer or out of range")]
    NumKeysNotInteger,
    #[error("Number of keys can't be greater than number of args")]
    NumKeysOutOfRange,
}

/// Looks a command up by name, case-insensitively. Names are ASCII; anything longer than the
/// longest command name cannot match.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    lookup_position(name).map(|i| &COMMANDS[i])
}

/// Like [`lookup`], but the command's [`position`] (for per-command tables).
pub fn lookup_position(name: &[u8]) -> Option<usize> {
    let mut lower = [0u8; MAX_NAME];
    let lower = lower.get_mut(..name.len())?;
    for (dst, src) in lower.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    index().get(&*lower).copied()
}

/// Position of `spec` in [`COMMANDS`]: a dense id for per-command tables (handlers, stats).
/// A spec from the table (what the lookups return) is found by its address, without
/// hashing its name again on every command.
pub fn position(spec: &CommandSpec) -> usize {
    let base = COMMANDS.as_ptr() as usize;
    let at = spec as *const CommandSpec as usize;
    match at
        .checked_sub(base)
        .map(|off| off / std::mem::size_of::<CommandSpec>())
    {
        Some(i) if i < COMMANDS.len() && std::ptr::eq(&COMMANDS[i], spec) => i,
        _ => index()[spec.name.as_bytes()],
    }
}

const MAX_NAME: usize = 32;

/// FNV-1a: command names are short and the table is fixed (nothing a client sends is
/// inserted), so a keyed hash buys nothing here; SipHash showed in per-command profiles.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type Index = std::collections::HashMap<&'static [u8], usize, std::hash::BuildHasherDefault<Fnv>>;

fn index() -> &'static Index {
    static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        COMMANDS
            .iter()
            .enumerate()
            .map(|(i, c)| {
                assert!(
                    c.name.len() <= MAX_NAME,
                    "command name too long: {}",
                    c.name
                );
                (c.name.as_bytes(), i)
            })
            .collect()
    })
}

/// The row a call of `spec` runs with: its own, or for a container called with a
/// subcommand (`OBJECT ENCODING`, `SCRIPT KILL`) that subcommand's; None when the container
/// has no such subcommand. `sub` is the call's first argument, if any.
pub fn row_for(spec: &'static CommandSpec, sub: Option<&[u8]>) -> Option<&'static CommandSpec> {
    match sub {
        Some(sub) if !spec.subcommands.is_empty() => lookup_sub(spec, sub),
        _ => Some(spec),
    }
}

/// Looks a subcommand (`CONFIG GET`) up under its parent.
pub fn lookup_sub(parent: &'static CommandSpec, sub: &[u8]) -> Option<&'static CommandSpec> {
    parent.subcommands.iter().find(|s| {
        let short = s.name.rsplit('|').next().unwrap_or(s.name);
        short.as_bytes().eq_ignore_ascii_case(sub)
    })
}

#[cfg(test)]
mod position_tests {
    use super::*;

    #[test]
    fn position_is_the_index_in_the_table() {
        for (i, spec) in COMMANDS.iter().enumerate() {
            assert_eq!(position(spec), i, "{}", spec.name);
            assert_eq!(lookup_position(spec.name.as_bytes()), Some(i));
            assert_eq!(
                lookup_position(spec.name.to_uppercase().as_bytes()),
                Some(i)
            );
        }
        assert_eq!(lookup_position(b"nosuchcommand"), None);
    }

    #[test]
    fn fixed_keys_slot_of_one_and_several_keys() {
        let get = lookup(b"get").unwrap();
        let slot = crate::slot::key_slot;
        assert_eq!(
            get.fixed_keys_slot(2, |i| [&b"get"[..], b"foo"][i]),
            Some(slot(b"foo"))
        );
        let del = lookup(b"del").unwrap();
        let same = [&b"del"[..], b"{t}a", b"{t}b"];
        assert_eq!(del.fixed_keys_slot(3, |i| same[i]), Some(slot(b"t")));
        let spread = [&b"del"[..], b"a", b"b"];
        assert_eq!(del.fixed_keys_slot(3, |i| spread[i]), None);
        let mset = lookup(b"mset").unwrap();
        let pairs = [&b"mset"[..], b"{t}a", b"1", b"{t}b", b"2"];
        assert_eq!(mset.fixed_keys_slot(5, |i| pairs[i]), Some(slot(b"t")));
        // Keys named by a numkeys argument are not at fixed positions.
        let lmpop = lookup(b"lmpop").unwrap();
        let args = [&b"lmpop"[..], b"1", b"k", b"LEFT"];
        assert_eq!(lmpop.fixed_keys_slot(4, |i| args[i]), None);
        assert_eq!(
            lookup(b"ping").unwrap().fixed_keys_slot(1, |_| b"ping"),
            None
        );
    }
}
