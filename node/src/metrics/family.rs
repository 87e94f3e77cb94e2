//! Metric families built from values read at scrape time, in the `prometheus` crate's data
//! model so that its encoder writes the text format. Families without a sample are left out
//! (the encoder refuses them), as are labelled samples still at zero where noted.

use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};
use prometheus::{Encoder, TextEncoder};

/// The families of one scrape, in the order they are added.
#[derive(Default)]
pub struct Families(Vec<MetricFamily>);

impl Families {
    /// A counter without labels.
    pub fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.counters(name, help, "", [("", value)]);
    }

    /// A counter per label value; zeros are kept (a series should exist before it moves).
    pub fn counters<'a>(
        &mut self,
        name: &str,
        help: &str,
        label: &str,
        samples: impl IntoIterator<Item = (&'a str, u64)>,
    ) {
        let metrics = samples
            .into_iter()
            .map(|(value, n)| {
                let mut m = sample(label, value);
                let mut c = Counter::default();
                c.set_value(n as f64);
                m.set_counter(c);
                m
            })
            .collect();
        self.push(name, help, MetricType::COUNTER, metrics);
    }

    /// A gauge without labels.
    pub fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.gauges(name, help, "", [("", value)]);
    }

    /// A gauge per label value.
    pub fn gauges<'a>(
        &mut self,
        name: &str,
        help: &str,
        label: &str,
        samples: impl IntoIterator<Item = (&'a str, f64)>,
    ) {
        let metrics = samples
            .into_iter()
            .map(|(value, v)| {
                let mut m = sample(label, value);
                let mut g = Gauge::default();
                g.set_value(v);
                m.set_gauge(g);
                m
            })
            .collect();
        self.push(name, help, MetricType::GAUGE, metrics);
    }

    /// A histogram per label value: the `le` bounds, each with its cumulative count, then
    /// the total count (the `+Inf` bucket and `_count`) and the sum of what was observed.
    pub fn histograms<'a>(
        &mut self,
        name: &str,
        help: &str,
        label: &str,
        samples: impl IntoIterator<Item = (&'a str, Vec<(f64, u64)>, u64, f64)>,
    ) {
        let metrics = samples
            .into_iter()
            .map(|(value, buckets, count, sum)| {
                let mut m = sample(label, value);
                let mut h = Histogram::default();
                h.set_bucket(
                    buckets
                        .into_iter()
                        .map(|(le, n)| {
                            let mut b = Bucket::default();
                            b.set_upper_bound(le);
                            b.set_cumulative_count(n);
                            b
                        })
                        .collect(),
                );
                h.set_sample_count(count);
                h.set_sample_sum(sum);
                m.set_histogram(h);
                m
            })
            .collect();
        self.push(name, help, MetricType::HISTOGRAM, metrics);
    }

    /// Families gathered elsewhere (a `prometheus` histogram's `collect()`, say).
    pub fn extend(&mut self, families: impl IntoIterator<Item = MetricFamily>) {
        self.0
            .extend(families.into_iter().filter(|f| !f.get_metric().is_empty()));
    }

    fn push(&mut self, name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) {
        if metrics.is_empty() {
            return;
        }
        let mut f = MetricFamily::default();
        f.set_name(name.to_string());
        f.set_help(help.to_string());
        f.set_field_type(kind);
        f.set_metric(metrics);
        self.0.push(f);
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = Vec::with_capacity(16 * 1024);
        TextEncoder::new()
            .encode(&self.0, &mut out)
            .expect("families are checked non-empty");
        String::from_utf8(out).expect("exposition text is UTF-8")
    }
}

/// A sample with one label (none when `label` is empty).
fn sample(label: &str, value: &str) -> Metric {
    if label.is_empty() {
        return Metric::default();
    }
    let mut pair = LabelPair::default();
    pair.set_name(label.to_string());
    pair.set_value(value.to_string());
    Metric::from_label(vec![pair])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format() {
        let mut f = Families::default();
        f.counter("a_total", "A things.", 3);
        f.counters("b_total", "B by kind.", "kind", [("x", 1), ("y", 0)]);
        f.gauges("c", "C.", "tier", []);
        f.histograms(
            "d_seconds",
            "D.",
            "cmd",
            [("get", vec![(0.0000025, 1), (0.5, 3)], 4, 0.5)],
        );
        f.gauge("e_bytes", "E.", 1.5);
        assert_eq!(
            f.encode(),
            "# HELP a_total A things.\n# TYPE a_total counter\na_total 3\n\
             # HELP b_total B by kind.\n# TYPE b_total counter\n\
             b_total{kind=\"x\"} 1\nb_total{kind=\"y\"} 0\n\
             # HELP d_seconds D.\n# TYPE d_seconds histogram\n\
             d_seconds_bucket{cmd=\"get\",le=\"0.0000025\"} 1\n\
             d_seconds_bucket{cmd=\"get\",le=\"0.5\"} 3\n\
             d_seconds_bucket{cmd=\"get\",le=\"+Inf\"} 4\n\
             d_seconds_sum{cmd=\"get\"} 0.5\nd_seconds_count{cmd=\"get\"} 4\n\
             # HELP e_bytes E.\n# TYPE e_bytes gauge\ne_bytes 1.5\n"
        );
    }
}
