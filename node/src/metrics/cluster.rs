//! Cluster-mode series: the map in use, the slots this node owns, and migration traffic.
//! Nothing in standalone mode.

use super::Families;
use crate::cluster::migrate::Outcome;
use crate::server::Server;
use std::sync::atomic::Ordering::Relaxed;

pub(super) fn families(server: &Server, f: &mut Families) {
    let Some(cluster) = &server.cluster else {
        return;
    };
    let view = cluster.view();
    f.gauge(
        "autocache_node_map_epoch",
        "Epoch of the slot map in use.",
        view.map.epoch as f64,
    );
    let owned = match view.me {
        Some(me) => view.map.owners().iter().filter(|o| **o == Some(me)).count(),
        None => 0,
    };
    f.gauge(
        "autocache_node_slots_owned",
        "Slots the map in use assigns to this node.",
        owned as f64,
    );
    let running = cluster
        .migrations
        .lock()
        .values()
        .filter(|o| matches!(o, Outcome::Running(_)))
        .count();
    f.gauge(
        "autocache_node_migrations_running",
        "Slots this node is streaming to a new owner now.",
        running as f64,
    );
    f.counters(
        "autocache_node_migration_keys_total",
        "Keys moved by slot migrations: delivered to targets (out) or imported (in).",
        "direction",
        [
            ("out", cluster.keys_migrated_out.load(Relaxed)),
            ("in", cluster.keys_migrated_in.load(Relaxed)),
        ],
    );
}
