//! Server commands: DBSIZE, FLUSHDB/FLUSHALL, TIME, INFO and CONFIG. CONFIG reads and
//! changes the run-time settings (`config::Settings`) through one table of parameters, with
//! Redis 7.0's multi-parameter `CONFIG SET`: every pair is checked before any is applied.

use super::connection::reply_help;
use super::{eq_ic, free_memory, CmdError, CmdResult, Ctx, Handler};
use crate::config::parse_memory;
use crate::db::evict::Policy;
use crate::db::ShardStats;
use crate::glob::glob_match;
use crate::info::{self, KeyspaceSummary};
use crate::server::Server;
use autocache_proto::resp::{parse_i64, Request};
use std::sync::atomic::Ordering::Relaxed;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("dbsize", dbsize),
    ("flushdb", flush),
    ("flushall", flush),
    ("time", time),
    ("info", info),
    ("config", config),
];

fn dbsize(ctx: &mut Ctx<'_, '_>, _req: &Request<'_>) -> CmdResult {
    let n = ctx.db.len();
    ctx.out.int(n as i64);
    Ok(())
}

/// FLUSHDB and FLUSHALL are one thing with a single database. `ASYNC` frees in place too.
fn flush(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    match req.get(1) {
        None => {}
        Some(mode) if req.len() == 2 && (eq_ic(mode, "sync") || eq_ic(mode, "async")) => {}
        Some(_) => return Err(CmdError::Syntax),
    }
    ctx.db.clear_all();
    ctx.server.memory.refresh();
    ctx.out.ok();
    Ok(())
}

fn time(ctx: &mut Ctx<'_, '_>, _req: &Request<'_>) -> CmdResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk_int(now.as_secs() as i64);
    ctx.out.bulk_int(now.subsec_micros() as i64);
    Ok(())
}

fn info(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let args: Vec<&[u8]> = req.iter().skip(1).collect();
    let sections = info::select(&args);
    let ks = if info::needs_keyspace(&sections) {
        KeyspaceSummary::collect(&mut ctx.db)
    } else {
        KeyspaceSummary::default()
    };
    let text = info::render(ctx.server, &ks, &sections);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

// ---- CONFIG ----

const CONFIG_HELP: &[&str] = &[
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
];

fn config(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let sub = req.arg(1);
    if eq_ic(sub, "get") {
        config_get(ctx, req)
    } else if eq_ic(sub, "set") {
        config_set(ctx, req)
    } else if eq_ic(sub, "resetstat") {
        ctx.server.stats.reset();
        ctx.db
            .for_each_shard(|shard| shard.stats = ShardStats::default());
        ctx.out.ok();
        Ok(())
    } else if eq_ic(sub, "help") {
        reply_help(ctx.out, "config", CONFIG_HELP);
        Ok(())
    } else {
        Err(CmdError::msg(format!(
            "ERR unknown subcommand '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(sub)
        )))
    }
}

/// How a parameter's value is written and checked (Redis's config types and bounds).
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A byte amount such as `100mb` (Redis's MEMORY_CONFIG), within bounds.
    Memory {
        min: u64,
        max: u64,
    },
    /// A decimal integer within bounds.
    Int {
        min: i64,
        max: i64,
    },
    Policy,
    Text,
    /// notify-keyspace-events' class characters.
    Events,
    /// Fixed for the life of the process (the listener, the data directory).
    Immutable,
    /// A value reported for tools that ask (persistence, databases); setting it to the value
    /// it has is accepted, anything else is refused like an immutable parameter.
    Fixed,
}

struct Param {
    name: &'static str,
    kind: Kind,
}

const INT_MAX: i64 = i32::MAX as i64;
const LONG_MAX: u64 = i64::MAX as u64;
const MB: u64 = 1024 * 1024;

/// Every parameter CONFIG knows, in the order CONFIG GET lists pattern matches.
const PARAMS: &[Param] = &[
    Param {
        name: "bind",
        kind: Kind::Immutable,
    },
    Param {
        name: "port",
        kind: Kind::Immutable,
    },
    Param {
        name: "requirepass",
        kind: Kind::Text,
    },
    Param {
        name: "maxclients",
        kind: Kind::Int {
            min: 1,
            max: u32::MAX as i64,
        },
    },
    Param {
        name: "maxmemory",
        kind: Kind::Memory {
            min: 0,
            max: u64::MAX,
        },
    },
    Param {
        name: "maxmemory-policy",
        kind: Kind::Policy,
    },
    Param {
        name: "maxmemory-samples",
        kind: Kind::Int {
            min: 1,
            max: INT_MAX,
        },
    },
    Param {
        name: "timeout",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
        },
    },
    Param {
        name: "proto-max-bulk-len",
        kind: Kind::Memory {
            min: MB,
            max: LONG_MAX,
        },
    },
    Param {
        name: "client-query-buffer-limit",
        kind: Kind::Memory {
            min: MB,
            max: LONG_MAX,
        },
    },
    Param {
        name: "hz",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
        },
    },
    Param {
        name: "lfu-log-factor",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
        },
    },
    Param {
        name: "lfu-decay-time",
        kind: Kind::Int {
            min: 0,
            max: INT_MAX,
        },
    },
    Param {
        name: "busy-reply-threshold",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
        },
    },
    // Redis's older name for busy-reply-threshold.
    Param {
        name: "lua-time-limit",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
        },
    },
    Param {
        name: "dir",
        kind: Kind::Immutable,
    },
    Param {
        name: "save",
        kind: Kind::Fixed,
    },
    Param {
        name: "appendonly",
        kind: Kind::Fixed,
    },
    Param {
        name: "notify-keyspace-events",
        kind: Kind::Events,
    },
    Param {
        name: "databases",
        kind: Kind::Immutable,
    },
    Param {
        name: "cluster-enabled",
        kind: Kind::Immutable,
    },
];

fn lookup_param(name: &[u8]) -> Option<&'static Param> {
    PARAMS.iter().find(|p| eq_ic(name, p.name))
}

/// A parameter's current value, as CONFIG GET shows it.
fn param_value(server: &Server, name: &str) -> String {
    let s = &server.settings;
    let n = |a: &std::sync::atomic::AtomicU64| a.load(Relaxed).to_string();
    match name {
        "bind" => bind_address(server),
        "port" => server.port.to_string(),
        "requirepass" => s.requirepass.read().clone(),
        "maxclients" => n(&s.maxclients),
        "maxmemory" => n(&s.maxmemory),
        "maxmemory-policy" => s.policy().name().to_string(),
        "maxmemory-samples" => n(&s.maxmemory_samples),
        "timeout" => n(&s.timeout),
        "proto-max-bulk-len" => n(&s.proto_max_bulk_len),
        "client-query-buffer-limit" => n(&s.client_query_buffer_limit),
        "hz" => n(&s.hz),
        "lfu-log-factor" => n(&s.lfu_log_factor),
        "lfu-decay-time" => n(&s.lfu_decay_time),
        "busy-reply-threshold" | "lua-time-limit" => n(&server.scripts.run.threshold_ms),
        "dir" => {
            let dir = &server.config.data_dir;
            std::fs::canonicalize(dir)
                .unwrap_or_else(|_| dir.clone())
                .display()
                .to_string()
        }
        "notify-keyspace-events" => crate::notify::format(server.keyspace.events.flags()),
        "save" => String::new(),
        "appendonly" => "no".to_string(),
        "databases" => "1".to_string(),
        "cluster-enabled" => "no".to_string(),
        _ => String::new(),
    }
}

/// The interface the listener was bound to: `--addr`'s host when given, else `--bind`.
fn bind_address(server: &Server) -> String {
    match &server.config.addr {
        Some(addr) => addr
            .rsplit_once(':')
            .map_or(addr.as_str(), |(host, _)| host)
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        None => server.config.bind.clone(),
    }
}

/// `CONFIG GET pattern [pattern ...]`: a name without glob characters is looked up (and
/// answered under the spelling asked), a pattern is matched case-insensitively; each
/// parameter appears once.
fn config_get(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let mut found: Vec<(String, &'static Param)> = Vec::new();
    let seen = |found: &[(String, &Param)], p: &Param| found.iter().any(|(_, q)| q.name == p.name);
    for pattern in req.iter().skip(2) {
        if !pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            if let Some(p) = lookup_param(pattern).filter(|p| !seen(&found, p)) {
                found.push((String::from_utf8_lossy(pattern).into_owned(), p));
            }
            continue;
        }
        for p in PARAMS {
            if !seen(&found, p) && glob_match(pattern, p.name.as_bytes(), true) {
                found.push((p.name.to_string(), p));
            }
        }
    }
    ctx.out.map(found.len());
    for (name, p) in found {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(param_value(ctx.server, p.name).as_bytes());
    }
    Ok(())
}

/// A checked new value, ready to apply.
enum Value {
    Unsigned(u64),
    Policy(Policy),
    Text(String),
    Events(u32),
    /// Setting a fixed parameter to the value it has: nothing to do.
    Unchanged,
}

fn set_failed(name: &str, why: &str) -> CmdError {
    CmdError::msg(format!(
        "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
    ))
}

/// Redis's `memtoull`: digits with an optional unit (b, k, kb, m, mb, g, gb), no sign or
/// blanks.
fn parse_bytes(v: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(v).ok()?;
    if !s.starts_with(|c: char| c.is_ascii_digit()) || s.trim() != s {
        return None;
    }
    parse_memory(s).ok()
}

fn check_value(server: &Server, p: &Param, v: &[u8]) -> Result<Value, String> {
    let bounds =
        |min: i128, max: i128| format!("argument must be between {min} and {max} inclusive");
    match p.kind {
        Kind::Memory { min, max } => {
            let n = parse_bytes(v).ok_or("argument must be a memory value")?;
            if n < min || n > max {
                return Err(bounds(min.into(), max.into()));
            }
            Ok(Value::Unsigned(n))
        }
        Kind::Int { min, max } => {
            let n = parse_i64(v).ok_or("argument couldn't be parsed into an integer")?;
            if n < min || n > max {
                return Err(bounds(min.into(), max.into()));
            }
            Ok(Value::Unsigned(n as u64))
        }
        Kind::Policy => {
            let policy = std::str::from_utf8(v).ok().and_then(Policy::parse);
            policy.map(Value::Policy).ok_or_else(|| {
                "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction".to_string()
            })
        }
        Kind::Text => Ok(Value::Text(String::from_utf8_lossy(v).into_owned())),
        Kind::Events => crate::notify::parse(v)
            .map(Value::Events)
            .ok_or_else(|| crate::notify::INVALID.to_string()),
        Kind::Fixed if v.eq_ignore_ascii_case(param_value(server, p.name).as_bytes()) => {
            Ok(Value::Unchanged)
        }
        Kind::Fixed | Kind::Immutable => Err("can't set immutable config".to_string()),
    }
}

fn apply(server: &Server, name: &str, value: Value) {
    let s = &server.settings;
    let n = match value {
        Value::Unchanged => return,
        Value::Policy(p) => return s.set_policy(p),
        Value::Events(flags) => return server.keyspace.events.set_flags(flags),
        Value::Text(t) => {
            *s.requirepass.write() = t;
            return;
        }
        Value::Unsigned(n) => n,
    };
    let target = match name {
        "maxclients" => &s.maxclients,
        "maxmemory" => &s.maxmemory,
        "maxmemory-samples" => &s.maxmemory_samples,
        "timeout" => &s.timeout,
        "proto-max-bulk-len" => &s.proto_max_bulk_len,
        "client-query-buffer-limit" => &s.client_query_buffer_limit,
        "lfu-log-factor" => &s.lfu_log_factor,
        "lfu-decay-time" => &s.lfu_decay_time,
        "busy-reply-threshold" | "lua-time-limit" => &server.scripts.run.threshold_ms,
        // Redis takes any hz but runs within 1..=500.
        "hz" => return s.hz.store(n.clamp(1, 500), Relaxed),
        _ => return,
    };
    target.store(n, Relaxed);
}

/// `CONFIG SET name value [name value ...]`: all or nothing. Names are resolved first (the
/// first unknown, immutable or repeated one fails the command), then every value is checked,
/// then all are applied.
fn config_set(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    if req.len() & 1 != 0 {
        return Err(CmdError::Syntax);
    }
    let pairs: Vec<(&[u8], &[u8])> = (2..req.len())
        .step_by(2)
        .map(|i| (req.arg(i), req.arg(i + 1)))
        .collect();
    let mut params: Vec<&'static Param> = Vec::with_capacity(pairs.len());
    for (name, _) in &pairs {
        let typed = String::from_utf8_lossy(name);
        let Some(p) = lookup_param(name) else {
            return Err(CmdError::msg(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{typed}'"
            )));
        };
        if matches!(p.kind, Kind::Immutable) {
            return Err(set_failed(&typed, "can't set immutable config"));
        }
        if params.iter().any(|q| q.name == p.name) {
            return Err(set_failed(&typed, "duplicate parameter"));
        }
        params.push(p);
    }
    let mut values = Vec::with_capacity(params.len());
    for (p, (_, v)) in params.iter().zip(&pairs) {
        values.push(check_value(ctx.server, p, v).map_err(|why| set_failed(p.name, &why))?);
    }
    let mut maxmemory_set = false;
    for (p, v) in params.iter().zip(values) {
        maxmemory_set |= p.name == "maxmemory";
        apply(ctx.server, p.name, v);
    }
    if maxmemory_set {
        evict_to_limit(ctx);
    }
    ctx.out.ok();
    Ok(())
}

/// A lower maxmemory takes effect at once: evict per policy down to it (bounded per call;
/// later writes continue). Inside EXEC every shard is held, so that waits for the next write.
fn evict_to_limit(ctx: &mut Ctx<'_, '_>) {
    let max = ctx.server.settings.maxmemory.load(Relaxed);
    if max == 0 || ctx.in_exec() {
        return;
    }
    ctx.server.memory.refresh();
    if ctx.server.memory.for_eviction() > max {
        tracing::warn!(
            maxmemory = max,
            used = ctx.server.memory.used(),
            "maxmemory set below current usage: evicting per maxmemory-policy"
        );
        // Under noeviction nothing can go; writes are then refused with OOM, as in Redis.
        let _ = free_memory(ctx.server, max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_values_like_memtoull() {
        assert_eq!(parse_bytes(b"1mb"), Some(MB));
        assert_eq!(parse_bytes(b"1MB"), Some(MB));
        assert_eq!(parse_bytes(b"100"), Some(100));
        assert_eq!(parse_bytes(b"-1"), None);
        assert_eq!(parse_bytes(b" 1"), None);
        assert_eq!(parse_bytes(b"abc"), None);
        assert_eq!(parse_bytes(b""), None);
    }

    #[test]
    fn every_param_is_unique_and_lower_case() {
        for (i, p) in PARAMS.iter().enumerate() {
            assert_eq!(p.name, p.name.to_ascii_lowercase());
            assert!(PARAMS[..i].iter().all(|q| q.name != p.name), "{}", p.name);
        }
    }
}
