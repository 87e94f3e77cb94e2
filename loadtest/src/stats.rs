//! Counting and reporting: an HDR latency histogram per command, merged across clients, and
//! the final report as a table or JSON.

use crate::verify::VerifyReport;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;

/// One command's counters in one client (then merged).
#[derive(Debug, Clone)]
pub struct CmdStats {
    /// Latency in microseconds, from intended send time to reply.
    pub hist: Histogram<u64>,
    /// Replies, errors included.
    pub count: u64,
    /// Error replies.
    pub errors: u64,
    /// Commands sent without a reply (the connection broke or timed out).
    pub failed: u64,
}

impl Default for CmdStats {
    fn default() -> Self {
        CmdStats {
            // 1 µs to 1 hour at 3 significant digits.
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
            count: 0,
            errors: 0,
            failed: 0,
        }
    }
}

impl CmdStats {
    pub fn record(&mut self, latency: Duration) {
        self.hist
            .saturating_record(latency.as_micros().max(1) as u64);
        self.count += 1;
    }

    pub fn merge(&mut self, other: &CmdStats) {
        self.hist.add(&other.hist).expect("same bounds");
        self.count += other.count;
        self.errors += other.errors;
        self.failed += other.failed;
    }

    fn report(&self, command: &str, secs: f64) -> CommandReport {
        let ms = |us: u64| us as f64 / 1000.0;
        let q = |p: f64| {
            if self.hist.is_empty() {
                0.0
            } else {
                ms(self.hist.value_at_quantile(p))
            }
        };
        CommandReport {
            command: command.to_string(),
            count: self.count,
            errors: self.errors,
            failed: self.failed,
            ops_per_sec: if secs > 0.0 {
                self.count as f64 / secs
            } else {
                0.0
            },
            latency_ms: Latency {
                mean: if self.hist.is_empty() {
                    0.0
                } else {
                    self.hist.mean() / 1000.0
                },
                p50: q(0.5),
                p90: q(0.9),
                p99: q(0.99),
                p999: q(0.999),
                max: ms(self.hist.max()),
            },
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    #[serde(rename = "p99.9")]
    pub p999: f64,
    pub max: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandReport {
    pub command: String,
    /// Replies received, error replies included.
    pub count: u64,
    pub errors: u64,
    /// Sent but never answered.
    pub failed: u64,
    pub ops_per_sec: f64,
    pub latency_ms: Latency,
}

/// Everything a run measured; `--json` writes exactly this.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub target: String,
    pub clients: usize,
    pub threads: usize,
    pub pipeline: usize,
    /// Open-loop rate in requests per second, if any.
    pub rate: Option<f64>,
    pub key_pattern: String,
    pub keyspace: u64,
    pub duration_secs: f64,
    pub commands: Vec<CommandReport>,
    pub total: CommandReport,
    /// Cluster MOVED/ASK redirects followed.
    pub redirects: u64,
    /// Clients that stopped after repeated connection failures.
    pub clients_failed: u64,
    pub last_error: Option<String>,
    pub verify: Option<VerifyReport>,
}

/// Builds the per-command rows and the total from merged counters.
pub fn summarize(
    labels: &[String],
    stats: &[CmdStats],
    elapsed: Duration,
) -> (Vec<CommandReport>, CommandReport) {
    let secs = elapsed.as_secs_f64();
    let mut total = CmdStats::default();
    let rows = labels
        .iter()
        .zip(stats)
        .map(|(label, s)| {
            total.merge(s);
            s.report(label, secs)
        })
        .collect();
    (rows, total.report("TOTAL", secs))
}

impl Report {
    /// The human-readable summary printed at the end of a run.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let rate = self.rate.map_or("closed loop".to_string(), |r| {
            format!("open loop at {r} req/s")
        });
        let _ = writeln!(
            out,
            "{}: {} clients, {} threads, pipeline {}, {}, keys {} ({}), {:.2} s",
            self.target,
            self.clients,
            self.threads,
            self.pipeline,
            rate,
            self.keyspace,
            self.key_pattern,
            self.duration_secs
        );
        let _ = writeln!(
            out,
            "{:<10} {:>10} {:>12} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "command",
            "count",
            "ops/sec",
            "errors",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms"
        );
        for row in self.commands.iter().chain(std::iter::once(&self.total)) {
            let l = &row.latency_ms;
            let _ = writeln!(
                out,
                "{:<10} {:>10} {:>12.1} {:>8} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                row.command,
                row.count,
                row.ops_per_sec,
                row.errors + row.failed,
                l.p50,
                l.p90,
                l.p99,
                l.p999,
                l.max
            );
        }
        if self.redirects > 0 {
            let _ = writeln!(out, "{} MOVED/ASK redirects followed", self.redirects);
        }
        if self.clients_failed > 0 {
            let _ = writeln!(
                out,
                "{} clients gave up after repeated connection errors (last: {})",
                self.clients_failed,
                self.last_error.as_deref().unwrap_or("?")
            );
        }
        if let Some(v) = &self.verify {
            let _ = writeln!(
                out,
                "verify: {} keys checked, {} lost, {} stale, {} resurrected, {} unknown, {} read errors, {} lost during the run",
                v.keys_checked, v.lost, v.stale, v.resurrected, v.unknown, v.read_errors, v.lost_during
            );
            for e in &v.examples {
                let _ = writeln!(out, "  {e}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut s = CmdStats::default();
        for us in 1..=1000u64 {
            s.record(Duration::from_micros(us));
        }
        s.errors = 2;
        let (rows, total) = summarize(&["GET".into()], &[s], Duration::from_secs(2));
        let r = &rows[0];
        assert_eq!((r.count, r.errors), (1000, 2));
        assert_eq!(r.ops_per_sec, 500.0);
        assert!((r.latency_ms.p50 - 0.5).abs() < 0.002, "{:?}", r.latency_ms);
        assert!((r.latency_ms.p99 - 0.99).abs() < 0.002);
        assert!((r.latency_ms.max - 1.0).abs() < 0.002);
        assert_eq!(total.count, 1000);
        assert_eq!(total.command, "TOTAL");
    }
}
