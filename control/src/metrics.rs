//! The control tier's Prometheus series, computed from the shared state at scrape time (so
//! they can never drift from it): nodes by health, slots by state, migrations by state, the
//! epoch and the number of slot-map watchers.

use prometheus::{Encoder, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::shared::Shared;
use autocache_proto::slotmap::Health;

pub struct ControlMetrics {
    registry: Registry,
    nodes: IntGaugeVec,
    slots: IntGaugeVec,
    migrations: IntGaugeVec,
    epoch: IntGauge,
    watchers: IntGauge,
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, label: &str) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), &[label]).expect("valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("unique metric");
    g
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("unique metric");
    g
}

impl Default for ControlMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ControlMetrics {
    pub fn new() -> Self {
        let r = Registry::new();
        ControlMetrics {
            nodes: gauge_vec(
                &r,
                "autocache_control_nodes",
                "Registered nodes by health (up, down).",
                "health",
            ),
            slots: gauge_vec(
                &r,
                "autocache_control_slots",
                "Slots by state (assigned, unassigned, migrating, queued).",
                "state",
            ),
            migrations: gauge_vec(
                &r,
                "autocache_control_migrations",
                "Slot migrations running now, and done or failed since start.",
                "state",
            ),
            epoch: gauge(&r, "autocache_control_epoch", "Current slot map epoch."),
            watchers: gauge(
                &r,
                "autocache_control_watchers",
                "Open slot map watch streams (nodes and proxies).",
            ),
            registry: r,
        }
    }

    /// The exposition text for the state as it is now.
    pub fn render(&self, shared: &Shared) -> String {
        shared.read(|st| {
            let (mut up, mut down) = (0, 0);
            for n in &st.map.nodes {
                match n.health {
                    Health::Healthy => up += 1,
                    Health::Failed => down += 1,
                }
            }
            self.nodes.with_label_values(&["up"]).set(up);
            self.nodes.with_label_values(&["down"]).set(down);
            let assigned = st.map.owners().iter().filter(|o| o.is_some()).count() as i64;
            let total = st.map.owners().len() as i64;
            let running = st.map.migrations().len() as i64;
            self.slots.with_label_values(&["assigned"]).set(assigned);
            self.slots
                .with_label_values(&["unassigned"])
                .set(total - assigned);
            self.slots.with_label_values(&["migrating"]).set(running);
            self.slots
                .with_label_values(&["queued"])
                .set(st.queue.len() as i64);
            self.migrations.with_label_values(&["running"]).set(running);
            self.migrations
                .with_label_values(&["done"])
                .set(st.outcomes.done as i64);
            self.migrations
                .with_label_values(&["failed"])
                .set(st.outcomes.failed as i64);
            self.epoch.set(st.map.epoch as i64);
        });
        self.watchers.set(shared.watchers() as i64);
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding into a Vec");
        String::from_utf8(out).expect("exposition text is UTF-8")
    }
}
