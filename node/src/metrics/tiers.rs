//! Series of the tiers below memory: where keys live, tier sizes, and the `TierStats`
//! counters (loads, demotions, write-behind). A tier's new counters go in [`tier_stats`].

use super::Families;
use crate::info::KeyspaceSummary;
use crate::server::Server;
use crate::tier::TierStats;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const KEYS: &str = "autocache_node_keys";
const KEYS_HELP: &str =
    "Keys by the tier holding their value: memory (flushed below or not) or warm (only there).";

pub(super) fn families(server: &Server, ks: &KeyspaceSummary, f: &mut Families) {
    let Some(w) = server.keyspace.warm() else {
        f.gauges(KEYS, KEYS_HELP, "tier", [("memory", ks.keys as f64)]);
        return;
    };
    let memory = ks.keys.saturating_sub(ks.cold_keys);
    f.gauges(
        KEYS,
        KEYS_HELP,
        "tier",
        [("memory", memory as f64), ("warm", ks.cold_keys as f64)],
    );
    f.gauges(
        "autocache_node_tier_bytes",
        "Approximate bytes a tier below memory holds on disk.",
        "tier",
        [("warm", w.store.size_bytes() as f64)],
    );
    f.gauge(
        "autocache_node_writebehind_pending_keys",
        "Keys changed in memory and not yet written to the warm tier (write-behind lag).",
        ks.dirty_keys as f64,
    );
    tier_stats(&w.stats, f);
    if let Some(c) = &w.cold {
        cold_stats(c, f);
    }
}

/// The S3 cold tier: keys and bytes in segments, garbage, traffic, errors, latency.
fn cold_stats(c: &crate::tier::cold::Cold, f: &mut Families) {
    let n = |c: &AtomicU64| c.load(Relaxed);
    let st = &c.stats;
    let (segments, bytes, live, records) = c.totals();
    f.gauge(
        "autocache_node_cold_keys",
        "Values held in cold segments (their pointers in the warm tier).",
        records as f64,
    );
    f.gauge(
        "autocache_node_cold_segments",
        "Segment objects in the cold tier.",
        segments as f64,
    );
    f.gauge(
        "autocache_node_cold_segment_bytes",
        "Bytes of the cold tier's segment objects.",
        bytes as f64,
    );
    f.gauge(
        "autocache_node_cold_live_bytes",
        "Bytes of segments still pointed at (the rest is garbage awaiting collection).",
        live as f64,
    );
    f.counter(
        "autocache_node_cold_promotions_total",
        "Cold values fetched and brought into memory.",
        n(&st.promotions),
    );
    f.counter(
        "autocache_node_cold_demotions_total",
        "Warm values moved into cold segments.",
        n(&st.demotions),
    );
    f.counter(
        "autocache_node_s3_requests_total",
        "Requests to the cold tier's object store.",
        n(&st.requests),
    );
    f.counter(
        "autocache_node_s3_errors_total",
        "Failed or timed-out requests to the cold tier's object store.",
        n(&st.errors),
    );
    f.gauge(
        "autocache_node_s3_request_seconds_total",
        "Time spent in object store requests, growing like a counter (divided by the \
         requests: the mean latency).",
        n(&st.request_usec) as f64 / 1e6,
    );
    f.counters(
        "autocache_node_s3_bytes_total",
        "Bytes moved to or from the object store.",
        "direction",
        [
            ("read", n(&st.bytes_read)),
            ("written", n(&st.bytes_written)),
        ],
    );
    f.counters(
        "autocache_node_cold_segment_operations_total",
        "Segment objects written and deleted (garbage collection included).",
        "op",
        [
            ("written", n(&st.segments_written)),
            ("deleted", n(&st.segments_deleted)),
        ],
    );
}

/// The counters of [`TierStats`].
pub fn tier_stats(st: &TierStats, f: &mut Families) {
    let n = |c: &AtomicU64| c.load(Relaxed);
    f.counters(
        "autocache_node_tier_loads_total",
        "Reads that missed memory and loaded the key from this tier.",
        "tier",
        [("warm", n(&st.loads))],
    );
    f.counters(
        "autocache_node_tier_demotions_total",
        "Entries dropped from the tier above because this tier holds them.",
        "tier",
        [("warm", n(&st.demotions))],
    );
    f.counters(
        "autocache_node_tier_read_errors_total",
        "Failed reads of this tier.",
        "tier",
        [("warm", n(&st.read_errors))],
    );
    f.counters(
        "autocache_node_tier_write_errors_total",
        "Failed writes to this tier.",
        "tier",
        [("warm", n(&st.write_errors))],
    );
    f.counter(
        "autocache_node_writebehind_flushed_keys_total",
        "Keys written from memory to the warm tier.",
        n(&st.flushed_keys),
    );
    f.counter(
        "autocache_node_writebehind_batches_total",
        "Write-behind batches written to the warm tier.",
        n(&st.flush_batches),
    );
    f.counter(
        "autocache_node_writebehind_fsyncs_total",
        "Syncs of the warm tier's log.",
        n(&st.syncs),
    );
    f.gauge(
        "autocache_node_writebehind_last_fsync_timestamp_seconds",
        "Unix time of the last sync of the warm tier's log (0: none yet).",
        n(&st.last_sync_ms) as f64 / 1e3,
    );
}
