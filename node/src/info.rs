//! INFO: the server's state as Redis 7.0's INFO text — `# Section` headers, `field:value`
//! lines ending in CRLF, a blank line between sections — with Redis's field names, so
//! monitoring tools and client libraries that parse INFO read it unchanged. Rendering only:
//! the keyspace figures are gathered by the caller, which knows how to lock the shards.

use crate::db::{Db, ShardStats};
use crate::memory::{self, human};
use crate::server::Server;
use autocache_proto::command::COMMANDS;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

/// The Redis version this server answers as (INFO, HELLO): the one whose behaviour it follows.
pub const REDIS_VERSION: &str = "7.0.15";

/// Keyspace figures summed over every shard.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyspaceSummary {
    pub keys: u64,
    /// Of `keys`, those only the warm tier holds; and memory's changes not yet flushed.
    pub cold_keys: u64,
    pub dirty_keys: u64,
    pub expires: u64,
    pub stats: ShardStats,
}

impl KeyspaceSummary {
    /// Visits each shard in turn (inside EXEC they are already held).
    pub fn collect(db: &mut Db<'_, '_>) -> KeyspaceSummary {
        let mut s = KeyspaceSummary::default();
        db.for_each_shard(|shard| {
            s.keys += shard.key_count() as u64;
            s.cold_keys += shard.cold_len() as u64;
            s.dirty_keys += shard.dirty_len() as u64;
            s.expires += shard.volatile() as u64;
            s.stats.hits += shard.stats.hits;
            s.stats.misses += shard.stats.misses;
            s.stats.expired += shard.stats.expired;
            s.stats.evicted += shard.stats.evicted;
        });
        s
    }
}

type Section = fn(&Server, &KeyspaceSummary, &mut String);

/// Every section, in Redis's order, and whether a bare `INFO` includes it.
const SECTIONS: &[(&str, Section, bool)] = &[
    ("server", server_section, true),
    ("clients", clients_section, true),
    ("memory", memory_section, true),
    ("stats", stats_section, true),
    ("replication", replication_section, true),
    ("commandstats", commandstats_section, false),
    ("cluster", cluster_section, true),
    ("keyspace", keyspace_section, true),
    ("tiers", tiers_section, false),
];

/// The sections `INFO args…` asks for, in output order. Names are case-insensitive;
/// `default` (also no argument), `all` and `everything` select groups; unknown names select
/// nothing, as in Redis.
pub fn select(args: &[&[u8]]) -> Vec<&'static str> {
    let wanted = |name: &str, default: bool| {
        if args.is_empty() {
            return default;
        }
        args.iter().any(|a| {
            a.eq_ignore_ascii_case(name.as_bytes())
                || a.eq_ignore_ascii_case(b"all")
                || a.eq_ignore_ascii_case(b"everything")
                || (default && a.eq_ignore_ascii_case(b"default"))
        })
    };
    SECTIONS
        .iter()
        .filter(|(name, _, default)| wanted(name, *default))
        .map(|(name, _, _)| *name)
        .collect()
}

/// Whether rendering `sections` needs the keyspace figures (so the caller can skip locking).
pub fn needs_keyspace(sections: &[&str]) -> bool {
    sections
        .iter()
        .any(|s| matches!(*s, "stats" | "keyspace" | "tiers"))
}

/// The INFO text of `sections` (as [`select`] returns them).
pub fn render(server: &Server, ks: &KeyspaceSummary, sections: &[&str]) -> String {
    let mut out = String::with_capacity(4096);
    for (i, name) in sections.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        if let Some((_, f, _)) = SECTIONS.iter().find(|(n, _, _)| n == name) {
            f(server, ks, &mut out);
        }
    }
    out
}

/// Appends `key:value\r\n`.
macro_rules! field {
    ($out:expr, $key:expr, $($value:tt)+) => {{
        let _ = write!($out, "{}:", $key);
        let _ = write!($out, $($value)+);
        $out.push_str("\r\n");
    }};
}

fn server_section(server: &Server, _ks: &KeyspaceSummary, out: &mut String) {
    let uptime = server.started.elapsed().as_secs();
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let hz = server.settings.hz.load(Relaxed);
    out.push_str("# Server\r\n");
    field!(out, "redis_version", "{REDIS_VERSION}");
    field!(out, "redis_git_sha1", "00000000");
    field!(out, "redis_git_dirty", "0");
    field!(out, "redis_build_id", "0");
    field!(out, "redis_mode", "standalone");
    field!(out, "os", "{}", os_name());
    field!(out, "arch_bits", "{}", usize::BITS);
    field!(out, "multiplexing_api", "epoll");
    field!(out, "process_id", "{}", std::process::id());
    field!(out, "process_supervised", "no");
    field!(out, "run_id", "{}", server.run_id);
    field!(out, "tcp_port", "{}", server.port);
    field!(out, "server_time_usec", "{now_us}");
    field!(out, "uptime_in_seconds", "{uptime}");
    field!(out, "uptime_in_days", "{}", uptime / 86_400);
    field!(out, "hz", "{hz}");
    field!(out, "configured_hz", "{hz}");
    field!(out, "lru_clock", "{}", server.clock().lru);
    field!(out, "executable", "{exe}");
    field!(out, "config_file", "");
    field!(out, "io_threads_active", "0");
    field!(out, "autocache_version", "{}", env!("CARGO_PKG_VERSION"));
}

/// `uname -s -r -m`, as Redis prints it.
fn os_name() -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let sys = read("/proc/sys/kernel/ostype");
    let sys = if sys.is_empty() {
        std::env::consts::OS.to_string()
    } else {
        sys
    };
    format!(
        "{sys} {} {}",
        read("/proc/sys/kernel/osrelease"),
        std::env::consts::ARCH
    )
}

fn clients_section(server: &Server, _ks: &KeyspaceSummary, out: &mut String) {
    let clients = server.clients.all();
    let max_in = clients.iter().map(|c| c.qbuf.load(Relaxed)).max();
    let max_out = clients.iter().map(|c| c.omem.load(Relaxed)).max();
    out.push_str("# Clients\r\n");
    field!(out, "connected_clients", "{}", clients.len());
    field!(out, "cluster_connections", "0");
    field!(
        out,
        "maxclients",
        "{}",
        server.settings.maxclients.load(Relaxed)
    );
    field!(
        out,
        "client_recent_max_input_buffer",
        "{}",
        max_in.unwrap_or(0)
    );
    field!(
        out,
        "client_recent_max_output_buffer",
        "{}",
        max_out.unwrap_or(0)
    );
    field!(
        out,
        "blocked_clients",
        "{}",
        server.stats.blocked_clients.load(Relaxed)
    );
    field!(out, "tracking_clients", "0");
}

fn memory_section(server: &Server, _ks: &KeyspaceSummary, out: &mut String) {
    // Fresh figures, not the cached tick: INFO is what people check after a change.
    server.memory.refresh();
    let used = server.memory.used();
    let peak = server.memory.peak().max(used);
    let rss = memory::rss_now();
    let startup = server.memory.startup();
    let system = total_system_memory();
    let max = server.settings.maxmemory.load(Relaxed);
    out.push_str("# Memory\r\n");
    field!(out, "used_memory", "{used}");
    field!(out, "used_memory_human", "{}", human(used));
    field!(out, "used_memory_rss", "{rss}");
    field!(out, "used_memory_rss_human", "{}", human(rss));
    field!(out, "used_memory_peak", "{peak}");
    field!(out, "used_memory_peak_human", "{}", human(peak));
    field!(out, "used_memory_peak_perc", "{:.2}%", percent(used, peak));
    field!(out, "used_memory_startup", "{startup}");
    field!(
        out,
        "used_memory_dataset",
        "{}",
        used.saturating_sub(startup)
    );
    let scripts = &server.scripts;
    let lua = scripts.lua_memory.load(Relaxed);
    field!(out, "used_memory_lua", "{lua}");
    field!(out, "used_memory_vm_eval", "{lua}");
    field!(out, "used_memory_lua_human", "{}", human(lua as u64));
    let bodies = scripts.body_bytes.load(Relaxed);
    field!(out, "used_memory_scripts_eval", "{bodies}");
    field!(
        out,
        "number_of_cached_scripts",
        "{}",
        scripts.cached.load(Relaxed)
    );
    field!(out, "total_system_memory", "{system}");
    field!(out, "total_system_memory_human", "{}", human(system));
    field!(out, "maxmemory", "{max}");
    field!(out, "maxmemory_human", "{}", human(max));
    field!(
        out,
        "maxmemory_policy",
        "{}",
        server.settings.policy().name()
    );
    field!(out, "mem_fragmentation_ratio", "{:.2}", ratio(rss, used));
    field!(
        out,
        "mem_fragmentation_bytes",
        "{}",
        rss as i64 - used as i64
    );
    field!(
        out,
        "mem_not_counted_for_evict",
        "{}",
        server.memory.not_counted()
    );
    field!(out, "mem_allocator", "{}", allocator_name());
}

fn percent(part: u64, whole: u64) -> f64 {
    ratio(part, whole) * 100.0
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// `jemalloc-5.3.0`, as Redis reports its allocator.
fn allocator_name() -> String {
    match tikv_jemalloc_ctl::version::read() {
        Ok(v) => format!("jemalloc-{}", v.split('-').next().unwrap_or(v)),
        Err(_) => "jemalloc".to_string(),
    }
}

/// Per-server rate samples for the `instantaneous_*` fields (keyed by run id, since several
/// servers may share a process in tests). Redis samples every 100 ms in its cron; here a
/// rate covers the interval since the previous INFO, once at least 100 ms have passed.
#[derive(Clone, Copy)]
struct RateSample {
    at: Instant,
    commands: u64,
    input: u64,
    output: u64,
    /// Rates of the last completed interval: ops/s, input KB/s, output KB/s.
    rates: (f64, f64, f64),
}

fn rates(server: &Server) -> (f64, f64, f64) {
    static SAMPLES: Mutex<Option<HashMap<String, RateSample>>> = Mutex::new(None);
    let now = Instant::now();
    let commands = server.stats.total_commands_processed.load(Relaxed);
    let input = server.stats.net_input_bytes.load(Relaxed);
    let output = server.stats.net_output_bytes.load(Relaxed);
    let mut samples = SAMPLES.lock();
    let map = samples.get_or_insert_with(HashMap::new);
    let fresh = RateSample {
        at: now,
        commands,
        input,
        output,
        rates: (0.0, 0.0, 0.0),
    };
    let s = map.entry(server.run_id.clone()).or_insert(fresh);
    let secs = now.duration_since(s.at).as_secs_f64();
    if secs >= 0.1 {
        let per_sec = |now: u64, then: u64| now.saturating_sub(then) as f64 / secs;
        s.rates = (
            per_sec(commands, s.commands),
            per_sec(input, s.input) / 1024.0,
            per_sec(output, s.output) / 1024.0,
        );
        *s = RateSample {
            rates: s.rates,
            ..fresh
        };
    }
    s.rates
}

fn stats_section(server: &Server, ks: &KeyspaceSummary, out: &mut String) {
    let st = &server.stats;
    let (ops, kbps_in, kbps_out) = rates(server);
    out.push_str("# Stats\r\n");
    field!(
        out,
        "total_connections_received",
        "{}",
        st.total_connections_received.load(Relaxed)
    );
    field!(
        out,
        "total_commands_processed",
        "{}",
        st.total_commands_processed.load(Relaxed)
    );
    field!(out, "instantaneous_ops_per_sec", "{}", ops.round() as u64);
    field!(
        out,
        "total_net_input_bytes",
        "{}",
        st.net_input_bytes.load(Relaxed)
    );
    field!(
        out,
        "total_net_output_bytes",
        "{}",
        st.net_output_bytes.load(Relaxed)
    );
    field!(out, "instantaneous_input_kbps", "{kbps_in:.2}");
    field!(out, "instantaneous_output_kbps", "{kbps_out:.2}");
    field!(
        out,
        "rejected_connections",
        "{}",
        st.rejected_connections.load(Relaxed)
    );
    field!(out, "expired_keys", "{}", ks.stats.expired);
    field!(out, "evicted_keys", "{}", ks.stats.evicted);
    field!(out, "keyspace_hits", "{}", ks.stats.hits);
    field!(out, "keyspace_misses", "{}", ks.stats.misses);
}

fn replication_section(server: &Server, _ks: &KeyspaceSummary, out: &mut String) {
    out.push_str("# Replication\r\n");
    field!(out, "role", "master");
    field!(out, "connected_slaves", "0");
    field!(out, "master_failover_state", "no-failover");
    field!(out, "master_replid", "{}", server.run_id);
    field!(out, "master_replid2", "{}", "0".repeat(40));
    field!(out, "master_repl_offset", "0");
    field!(out, "second_repl_offset", "-1");
    field!(out, "repl_backlog_active", "0");
    field!(out, "repl_backlog_size", "1048576");
    field!(out, "repl_backlog_first_byte_offset", "0");
    field!(out, "repl_backlog_histlen", "0");
}

fn commandstats_section(server: &Server, _ks: &KeyspaceSummary, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    for (spec, st) in COMMANDS.iter().zip(server.stats.commands.iter()) {
        let calls = st.calls.load(Relaxed);
        let failed = st.failed.load(Relaxed);
        let rejected = st.rejected.load(Relaxed);
        if calls == 0 && failed == 0 && rejected == 0 {
            continue;
        }
        let usec = st.usec.load(Relaxed);
        let per_call = if calls == 0 {
            0.0
        } else {
            usec as f64 / calls as f64
        };
        field!(
            out,
            format_args!("cmdstat_{}", spec.name),
            "calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}"
        );
    }
}

fn cluster_section(server: &Server, _ks: &KeyspaceSummary, out: &mut String) {
    out.push_str("# Cluster\r\n");
    let enabled = if server.cluster.is_some() { "1" } else { "0" };
    field!(out, "cluster_enabled", "{enabled}");
}

/// Ours: where the keys are (memory, warm) and how write-behind is doing.
fn tiers_section(server: &Server, ks: &KeyspaceSummary, out: &mut String) {
    out.push_str("# Tiers\r\n");
    let Some(w) = server.keyspace.warm() else {
        field!(out, "storage", "memory");
        field!(out, "memory_keys", "{}", ks.keys);
        return;
    };
    let st = &w.stats;
    let n = |c: &std::sync::atomic::AtomicU64| c.load(Relaxed);
    field!(out, "storage", "tiered");
    field!(out, "memory_keys", "{}", ks.keys - ks.cold_keys);
    field!(out, "warm_only_keys", "{}", ks.cold_keys);
    field!(out, "dirty_keys", "{}", ks.dirty_keys);
    field!(out, "warm_engine", "{}", w.store.name());
    field!(out, "warm_bytes", "{}", w.store.size_bytes());
    field!(out, "appendfsync", "{}", w.fsync.name());
    field!(out, "warm_loads", "{}", n(&st.loads));
    field!(out, "demotions", "{}", n(&st.demotions));
    field!(out, "flushed_keys", "{}", n(&st.flushed_keys));
    field!(out, "flush_batches", "{}", n(&st.flush_batches));
    field!(out, "fsyncs", "{}", n(&st.syncs));
    field!(out, "last_fsync_ms", "{}", n(&st.last_sync_ms));
    field!(out, "write_errors", "{}", n(&st.write_errors));
    field!(out, "read_errors", "{}", n(&st.read_errors));
    field!(out, "warm_max_bytes", "{}", w.max_bytes);
    field!(out, "warm_live_bytes", "{}", w.live_bytes());
    field!(out, "warm_engine_live_bytes", "{}", w.store.live_bytes());
    let Some(c) = &w.cold else {
        field!(out, "cold", "none");
        return;
    };
    let cs = &c.stats;
    let (segments, bytes, live, records) = c.totals();
    field!(out, "cold", "{}", c.store_name());
    field!(out, "cold_keys", "{records}");
    field!(out, "cold_segments", "{segments}");
    field!(out, "cold_segment_bytes", "{bytes}");
    field!(out, "cold_live_bytes", "{live}");
    let garbage = if bytes == 0 {
        0.0
    } else {
        1.0 - live as f64 / bytes as f64
    };
    field!(out, "cold_garbage_ratio", "{garbage:.3}");
    field!(out, "cold_promotions", "{}", n(&cs.promotions));
    field!(out, "cold_demotions", "{}", n(&cs.demotions));
    field!(out, "cold_requests", "{}", n(&cs.requests));
    field!(out, "cold_errors", "{}", n(&cs.errors));
    field!(out, "cold_bytes_read", "{}", n(&cs.bytes_read));
    field!(out, "cold_bytes_written", "{}", n(&cs.bytes_written));
    field!(out, "cold_segments_written", "{}", n(&cs.segments_written));
    field!(out, "cold_segments_deleted", "{}", n(&cs.segments_deleted));
}

fn keyspace_section(_server: &Server, ks: &KeyspaceSummary, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    if ks.keys > 0 {
        field!(
            out,
            "db0",
            "keys={},expires={},avg_ttl=0",
            ks.keys,
            ks.expires
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_selection() {
        let all: Vec<&str> = SECTIONS.iter().map(|s| s.0).collect();
        assert_eq!(select(&[b"everything"]), all);
        assert_eq!(select(&[b"ALL"]), all);
        assert!(!select(&[]).contains(&"commandstats"));
        assert_eq!(select(&[]), select(&[b"default"]));
        assert_eq!(
            select(&[b"keyspace", b"Server"]),
            vec!["server", "keyspace"]
        );
        assert!(select(&[b"nosuch"]).is_empty());
    }

    #[test]
    fn ratios_never_divide_by_zero() {
        assert_eq!(ratio(5, 0), 0.0);
        assert_eq!(percent(1, 4), 25.0);
    }
}
