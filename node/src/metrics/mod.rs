//! The node's Prometheus series on `--metrics-addr`, with `/healthz` and `/readyz` (the
//! endpoint itself is `autocache_proto::http`). Everything is read at scrape time from the
//! counters the server keeps anyway for INFO (commandstats, stats, tiers); the command path
//! adds one relaxed increment, its latency bucket (`latency`). `family` builds the text;
//! `tiers` and `cluster` add theirs.

mod cluster;
mod family;
mod latency;
mod tiers;

use crate::db::Db;
use crate::info::KeyspaceSummary;
use crate::server::Server;
use autocache_proto::command::COMMANDS;
use autocache_proto::http::Endpoints;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

pub use family::Families;
pub use latency::Latency;
pub use tiers::tier_stats;

/// What the endpoint answers for `server`.
pub fn endpoints(server: &Arc<Server>) -> Arc<Endpoints> {
    let (probed, scraped) = (server.clone(), server.clone());
    Endpoints::checked(
        Box::new(move || ready(&probed)),
        Some(Box::new(move || render(&scraped))),
    )
}

/// Ready to serve: storage is open (the server exists only then) and, in cluster mode, the
/// node has a slot map that lists it (before that every keyed command is refused). The
/// endpoint stops with the server, so a node shutting down answers no probe at all.
pub fn ready(server: &Server) -> bool {
    server
        .cluster
        .as_ref()
        .is_none_or(|c| c.view().me.is_some())
}

/// The exposition text of every series, as things are now.
pub fn render(server: &Server) -> String {
    let ks = KeyspaceSummary::collect(&mut Db::Free(&server.keyspace));
    let mut f = Families::default();
    commands(server, &mut f);
    connections(server, &mut f);
    keyspace(server, &ks, &mut f);
    tiers::families(server, &ks, &mut f);
    cluster::families(server, &mut f);
    f.encode()
}

/// Per command (by table name, as INFO commandstats): only commands seen since start or
/// the last CONFIG RESETSTAT have series.
fn commands(server: &Server, f: &mut Families) {
    let seen: Vec<_> = COMMANDS
        .iter()
        .zip(server.stats.commands.iter())
        .map(|(spec, st)| {
            let calls = st.calls.load(Relaxed);
            let errors = st.failed.load(Relaxed) + st.rejected.load(Relaxed);
            (spec.name, calls, errors, st)
        })
        .filter(|&(_, calls, errors, _)| calls > 0 || errors > 0)
        .collect();
    f.counters(
        "autocache_node_commands_total",
        "Commands executed, by name.",
        "cmd",
        seen.iter().map(|&(cmd, calls, _, _)| (cmd, calls)),
    );
    f.counters(
        "autocache_node_command_errors_total",
        "Commands answered with an error: failed while running or rejected before (OOM).",
        "cmd",
        seen.iter().map(|&(cmd, _, errors, _)| (cmd, errors)),
    );
    f.histograms(
        "autocache_node_command_duration_seconds",
        "Time executing commands, by name (commands inside EXEC count in EXEC's time, not \
         their own).",
        "cmd",
        seen.iter().map(|&(cmd, _, _, st)| {
            let (cumulative, count) = st.latency.cumulative();
            let buckets = latency::bounds_seconds().zip(cumulative).collect();
            (cmd, buckets, count, st.usec.load(Relaxed) as f64 / 1e6)
        }),
    );
}

fn connections(server: &Server, f: &mut Families) {
    let st = &server.stats;
    f.gauge(
        "autocache_node_connected_clients",
        "Client connections open now.",
        server.clients.len() as f64,
    );
    f.gauge(
        "autocache_node_blocked_clients",
        "Clients waiting in a blocking command.",
        st.blocked_clients.load(Relaxed) as f64,
    );
    f.counter(
        "autocache_node_connections_received_total",
        "Client connections accepted.",
        st.total_connections_received.load(Relaxed),
    );
    f.counter(
        "autocache_node_rejected_connections_total",
        "Client connections refused (maxclients).",
        st.rejected_connections.load(Relaxed),
    );
    f.counter(
        "autocache_node_net_input_bytes_total",
        "Bytes read from clients.",
        st.net_input_bytes.load(Relaxed),
    );
    f.counter(
        "autocache_node_net_output_bytes_total",
        "Bytes written to clients.",
        st.net_output_bytes.load(Relaxed),
    );
}

fn keyspace(server: &Server, ks: &KeyspaceSummary, f: &mut Families) {
    f.gauge(
        "autocache_node_memory_bytes",
        "Bytes allocated by the node (INFO used_memory): what maxmemory bounds.",
        server.memory.used() as f64,
    );
    f.gauge(
        "autocache_node_maxmemory_bytes",
        "The memory limit (0: none).",
        server.settings.maxmemory.load(Relaxed) as f64,
    );
    f.gauge(
        "autocache_node_keys_with_ttl",
        "Keys with an expiry.",
        ks.expires as f64,
    );
    f.counter(
        "autocache_node_keyspace_hits_total",
        "Key lookups that found the key.",
        ks.stats.hits,
    );
    f.counter(
        "autocache_node_keyspace_misses_total",
        "Key lookups that did not find the key.",
        ks.stats.misses,
    );
    f.counter(
        "autocache_node_evicted_keys_total",
        "Keys deleted to stay under maxmemory (tiered storage demotes them instead).",
        ks.stats.evicted,
    );
    f.counter(
        "autocache_node_expired_keys_total",
        "Keys deleted because their TTL passed.",
        ks.stats.expired,
    );
}
