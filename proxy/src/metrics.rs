//! The proxy's Prometheus series on `--metrics-addr` (the endpoint is
//! `autocache_proto::http`). The command path only bumps plain atomics (`Stats`, and each
//! node pool's error counts), copied into the registry at scrape time; the two upstream
//! histograms are observed by each node's stream task, once per batch (see `upstream`).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use autocache_proto::command::COMMANDS;
use autocache_proto::http::Endpoints;
use parking_lot::Mutex;
use prometheus::{
    exponential_buckets, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    Opts, Registry, TextEncoder,
};

use crate::upstream::UpError;
use crate::Proxy;

/// Upper bounds of the upstream latency histogram, 50 µs to 5 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0,
];

/// The histograms node streams observe, by node (gRPC address).
#[derive(Clone)]
pub struct UpstreamMetrics {
    /// Commands per `CommandBatch` sent.
    pub batch_size: HistogramVec,
    /// From a batch leaving to each of its replies arriving.
    pub latency: HistogramVec,
}

pub struct Metrics {
    registry: Registry,
    /// Scrapes copy counters into the registry: one at a time.
    scrape: Mutex<()>,
    clients: IntGauge,
    epoch: IntGauge,
    commands: IntCounterVec,
    connections: IntCounter,
    rejected: IntCounter,
    redirects: IntCounter,
    upstream_errors: IntCounterVec,
    pub upstream: UpstreamMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            let opts = HistogramOpts::new(name, help).buckets(buckets);
            let h = HistogramVec::new(opts, &["node"]).expect("valid metric");
            r.register(Box::new(h.clone())).expect("unique metric");
            h
        };
        let upstream = UpstreamMetrics {
            batch_size: histogram(
                "autocache_proxy_upstream_batch_size",
                "Commands per batch sent on a node's shared stream.",
                exponential_buckets(1.0, 2.0, 11).expect("valid buckets"),
            ),
            latency: histogram(
                "autocache_proxy_upstream_latency_seconds",
                "Time from a batch leaving for a node to each of its replies arriving.",
                LATENCY_BUCKETS.to_vec(),
            ),
        };
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid metric");
            r.register(Box::new(c.clone())).expect("unique metric");
            c
        };
        let counters = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            r.register(Box::new(c.clone())).expect("unique metric");
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            r.register(Box::new(g.clone())).expect("unique metric");
            g
        };
        Metrics {
            clients: gauge(
                "autocache_proxy_connected_clients",
                "Client connections open now.",
            ),
            epoch: gauge("autocache_proxy_map_epoch", "Epoch of the slot map in use."),
            commands: counters(
                "autocache_proxy_commands_total",
                "Commands received from clients, by name.",
                &["cmd"],
            ),
            connections: counter(
                "autocache_proxy_connections_received_total",
                "Client connections accepted.",
            ),
            rejected: counter(
                "autocache_proxy_rejected_connections_total",
                "Client connections refused (maxclients).",
            ),
            redirects: counter(
                "autocache_proxy_redirects_total",
                "MOVED and ASK redirects followed.",
            ),
            upstream_errors: counters(
                "autocache_proxy_upstream_errors_total",
                "Commands a node did not answer, by node and reason (unreachable, timeout, \
                 overloaded).",
                &["node", "error"],
            ),
            upstream,
            scrape: Mutex::new(()),
            registry: r,
        }
    }

    /// The exposition text for the proxy as it is now.
    pub fn render(&self, proxy: &Proxy) -> String {
        let _one = self.scrape.lock();
        let st = &proxy.stats;
        self.clients.set(proxy.clients.len() as i64);
        self.epoch.set(proxy.router.map().epoch as i64);
        for (spec, n) in COMMANDS.iter().zip(st.commands.iter()) {
            let n = n.load(Relaxed);
            if n > 0 {
                catch_up(&self.commands.with_label_values(&[spec.name]), n);
            }
        }
        catch_up(&self.connections, st.connections_received.load(Relaxed));
        catch_up(&self.rejected, st.rejected_connections.load(Relaxed));
        catch_up(&self.redirects, st.redirects_followed.load(Relaxed));
        for pool in proxy.upstreams.all() {
            for (kind, n) in UpError::KINDS.iter().zip(pool.errors()) {
                let c = self.upstream_errors.with_label_values(&[pool.addr(), kind]);
                catch_up(&c, n);
            }
        }
        let mut out = Vec::with_capacity(8 * 1024);
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding into a Vec");
        String::from_utf8(out).expect("exposition text is UTF-8")
    }
}

/// Moves a registry counter up to `now`, a monotonic atomic it mirrors.
fn catch_up(c: &IntCounter, now: u64) {
    let seen = c.get();
    if now > seen {
        c.inc_by(now - seen);
    }
}

/// What the endpoint answers for `proxy`: ready once it has a slot map with owned slots and
/// an open stream to at least one of their nodes (streams are opened by the check itself if
/// no command did yet). One node down leaves the proxy ready: it still serves the others.
pub fn endpoints(proxy: &Arc<Proxy>) -> Arc<Endpoints> {
    let (probed, scraped) = (proxy.clone(), proxy.clone());
    Endpoints::checked(
        Box::new(move || ready(&probed)),
        Some(Box::new(move || scraped.metrics.render(&scraped))),
    )
}

fn ready(proxy: &Proxy) -> bool {
    proxy
        .router
        .serving_nodes()
        .iter()
        .filter_map(|(_, node)| proxy.upstreams.get(&node.grpc_addr).ok())
        .any(|pool| pool.connected())
}
