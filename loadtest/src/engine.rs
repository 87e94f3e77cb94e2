//! The request loops. Each client owns a connection (or one per cluster node) and sends its
//! requests in rounds of up to `pipeline` commands. Closed loop: a round starts when the last
//! one is answered. Open loop (`--rate`): requests have scheduled send times; a round sends
//! whatever is due, and latency counts from the scheduled time, so a slow server cannot hide
//! its stalls by holding back the client (coordinated omission).
//!
//! A `--requests` bound is a shared pool of tickets, so the total is exact whatever the
//! number of clients; a `--duration` bound stops new rounds at the deadline.

use crate::config::Config;
use crate::conn::ConnOpts;
use crate::keys::KeyGen;
use crate::stats::{summarize, CmdStats, Report};
use crate::target::{Batch, Outcome, Router, Target};
use crate::template::{render_key, Kind, Mix};
use crate::verify::{write_id, Ledger, ID_LEN};
use crate::Error;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// A finished workload, before any read-back.
#[derive(Debug)]
pub struct Workload {
    pub report: Report,
    /// The acknowledged writes, with `--verify`.
    pub ledger: Option<Ledger>,
    /// `--verify-during` misses seen while the workload ran.
    pub lost_during: u64,
}

/// State all clients of a run share.
struct Shared {
    start: Instant,
    deadline: Option<Instant>,
    /// Requests left to send, when the run is bounded by a count.
    tickets: Option<AtomicU64>,
    keys: KeyGen,
    mix: Mix,
    ledger: Option<Ledger>,
    /// For the progress line: replies so far and the sum of their latencies.
    done: AtomicU64,
    latency_us: AtomicU64,
    lost_during: AtomicU64,
}

impl Shared {
    /// Claims up to `want` tickets.
    fn take(&self, want: u64) -> u64 {
        let Some(t) = &self.tickets else {
            return want;
        };
        let mut left = t.load(Relaxed);
        loop {
            if left == 0 {
                return 0;
            }
            let n = left.min(want);
            match t.compare_exchange_weak(left, left - n, Relaxed, Relaxed) {
                Ok(_) => return n,
                Err(now) => left = now,
            }
        }
    }

    fn nanos(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.start).as_nanos() as u64
    }

    fn past_deadline(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| now >= d)
    }
}

/// What one client hands back.
struct ClientResult {
    stats: Vec<CmdStats>,
    redirects: u64,
    gave_up: bool,
    last_error: Option<String>,
}

/// Runs the workload of `cfg` against its target and measures it.
pub async fn run_workload(cfg: &Config) -> Result<Workload, Error> {
    cfg.validate()?;
    let opts = ConnOpts {
        auth: cfg.auth.clone(),
        timeout: cfg.timeout,
    };
    let routers = connect_all(cfg, &opts).await?;
    let start = Instant::now();
    let shared = Arc::new(Shared {
        start,
        deadline: cfg.duration.map(|d| start + d),
        tickets: cfg.request_bound().map(AtomicU64::new),
        keys: KeyGen::new(cfg.key_pattern, cfg.keyspace),
        mix: Mix::new(cfg.templates.clone()),
        ledger: cfg.verify.then(Ledger::new),
        done: AtomicU64::new(0),
        latency_us: AtomicU64::new(0),
        lost_during: AtomicU64::new(0),
    });
    let cfg_arc = Arc::new(cfg.clone());
    let mut clients = JoinSet::new();
    for (id, router) in routers.into_iter().enumerate() {
        let client = Client::new(id as u64, cfg_arc.clone(), shared.clone(), router);
        clients.spawn(client.run());
    }
    let progress = cfg.progress.then(|| spawn_progress(cfg, shared.clone()));
    let mut results = Vec::new();
    while let Some(r) = clients.join_next().await {
        results.push(r.map_err(|e| Error::Run(format!("client task failed: {e}")))?);
    }
    let elapsed = start.elapsed();
    if let Some((task, bar)) = progress {
        task.abort();
        bar.finish_and_clear();
    }
    let shared = Arc::try_unwrap(shared).unwrap_or_else(|_| unreachable!("clients finished"));
    finish(cfg, shared, results, elapsed)
}

/// Opens every client's connection up front: a bad target fails before any load is sent.
async fn connect_all(cfg: &Config, opts: &ConnOpts) -> Result<Vec<Router>, Error> {
    let mut set = JoinSet::new();
    for i in 0..cfg.clients {
        let (target, opts) = (cfg.target.clone(), opts.clone());
        set.spawn(async move { (i, Router::open(&target, &opts).await) });
    }
    let mut routers: Vec<Option<Router>> = (0..cfg.clients).map(|_| None).collect();
    while let Some(r) = set.join_next().await {
        let (i, router) = r.map_err(|e| Error::Run(format!("connect task failed: {e}")))?;
        routers[i] = Some(router?);
    }
    Ok(routers
        .into_iter()
        .map(|r| r.expect("every client connected"))
        .collect())
}

fn finish(
    cfg: &Config,
    shared: Shared,
    results: Vec<ClientResult>,
    elapsed: Duration,
) -> Result<Workload, Error> {
    let labels = shared.mix.labels();
    let mut stats: Vec<CmdStats> = labels.iter().map(|_| CmdStats::default()).collect();
    for r in &results {
        for (total, s) in stats.iter_mut().zip(&r.stats) {
            total.merge(s);
        }
    }
    let clients_failed = results.iter().filter(|r| r.gave_up).count() as u64;
    let last_error = results.iter().rev().find_map(|r| r.last_error.clone());
    if clients_failed == cfg.clients as u64 {
        return Err(Error::Run(format!(
            "every connection to {} failed: {}",
            cfg.target,
            last_error.unwrap_or_default()
        )));
    }
    let (commands, total) = summarize(&labels, &stats, elapsed);
    let report = Report {
        target: cfg.target.to_string(),
        clients: cfg.clients,
        threads: cfg.threads,
        pipeline: cfg.pipeline,
        rate: cfg.rate,
        key_pattern: cfg.key_pattern.to_string(),
        keyspace: cfg.keyspace,
        duration_secs: elapsed.as_secs_f64(),
        commands,
        total,
        redirects: results.iter().map(|r| r.redirects).sum(),
        clients_failed,
        last_error,
        verify: None,
    };
    Ok(Workload {
        report,
        lost_during: shared.lost_during.load(Relaxed),
        ledger: shared.ledger,
    })
}

/// The live progress line: done/total (or elapsed/duration), current rate and latency.
fn spawn_progress(cfg: &Config, shared: Arc<Shared>) -> (tokio::task::JoinHandle<()>, ProgressBar) {
    let by_count = cfg.request_bound();
    let bar = match by_count {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new(cfg.duration.map_or(0, |d| d.as_millis() as u64)),
    };
    let template = "{elapsed_precise} [{bar:30}] {percent:>3}% {msg}";
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("valid template")
            .progress_chars("=> "),
    );
    let b = bar.clone();
    let task = tokio::spawn(async move {
        let (mut last_done, mut last_lat, mut last_t) = (0u64, 0u64, Instant::now());
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let (done, lat, now) = (
                shared.done.load(Relaxed),
                shared.latency_us.load(Relaxed),
                Instant::now(),
            );
            let ops = done - last_done;
            let rate = ops as f64 / (now - last_t).as_secs_f64();
            let avg_ms = if ops > 0 {
                (lat - last_lat) as f64 / ops as f64 / 1000.0
            } else {
                0.0
            };
            b.set_position(match by_count {
                Some(_) => done,
                None => (now - shared.start).as_millis() as u64,
            });
            b.set_message(format!("{rate:>10.0} ops/s  avg {avg_ms:.3} ms"));
            (last_done, last_lat, last_t) = (done, lat, now);
        }
    });
    (task, bar)
}

/// Per-command bookkeeping for one command of the current round.
struct Meta {
    template: usize,
    key: u64,
    value_id: u64,
    /// Where latency counts from (open loop, see `plan_round`); `None`: the round's send.
    intended: Option<Instant>,
}

struct Client {
    id: u64,
    cfg: Arc<Config>,
    shared: Arc<Shared>,
    router: Router,
    rng: fastrand::Rng,
    stats: Vec<CmdStats>,
    batch: Batch,
    metas: Vec<Meta>,
    /// Scratch for the current key, and value bytes sliced per command.
    key: Vec<u8>,
    data: Vec<u8>,
    next_write: u64,
    /// Open loop: the next scheduled send, the spacing between this client's sends, and
    /// when the last round was answered.
    next_due: Instant,
    interval: Duration,
    last_round_end: Instant,
}

impl Client {
    fn new(id: u64, cfg: Arc<Config>, shared: Arc<Shared>, router: Router) -> Client {
        let interval = cfg.rate.map_or(Duration::ZERO, |r| {
            Duration::from_secs_f64(cfg.clients as f64 / r)
        });
        // Stagger the clients' schedules across one interval.
        let next_due = shared.start + interval.mul_f64(id as f64 / cfg.clients as f64);
        Client {
            id,
            rng: fastrand::Rng::with_seed(cfg.seed ^ id.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            stats: shared
                .mix
                .templates
                .iter()
                .map(|_| CmdStats::default())
                .collect(),
            batch: Batch::default(),
            metas: Vec::with_capacity(cfg.pipeline),
            key: Vec::with_capacity(64),
            data: vec![b'x'; cfg.data_size.max],
            next_write: 0,
            next_due,
            interval,
            last_round_end: shared.start,
            cfg,
            shared,
            router,
        }
    }

    async fn run(mut self) -> ClientResult {
        let mut failures = 0u32;
        let mut last_error = None;
        let mut gave_up = false;
        while let Some(planned) = self.plan_round().await {
            self.build(&planned);
            let sent = Instant::now();
            self.note_deletes(sent);
            let res = self.router.execute(&mut self.batch).await;
            self.settle(sent);
            self.last_round_end = Instant::now();
            match res {
                Ok(()) => failures = 0,
                Err(e) => {
                    last_error = Some(e.to_string());
                    failures += 1;
                    if failures > self.cfg.reconnects {
                        gave_up = true;
                        break;
                    }
                    // Back off before reconnecting: 100 ms, 200 ms, 400 ms …
                    let backoff = Duration::from_millis(100 << (failures - 1).min(5));
                    tokio::time::sleep(backoff).await;
                }
            }
        }
        ClientResult {
            redirects: self.router.redirects(),
            stats: self.stats,
            gave_up,
            last_error,
        }
    }

    /// Waits until the next round is due and claims its tickets; the scheduled send times
    /// (open loop) or `None`s (closed loop), or `None` when the run is over.
    async fn plan_round(&mut self) -> Option<Vec<Option<Instant>>> {
        let pipeline = self.cfg.pipeline as u64;
        if self.cfg.rate.is_none() {
            if self.shared.past_deadline(Instant::now()) {
                return None;
            }
            let n = self.shared.take(pipeline);
            return (n > 0).then(|| vec![None; n as usize]);
        }
        let wake = match self.shared.deadline {
            Some(d) => self.next_due.min(d),
            None => self.next_due,
        };
        tokio::time::sleep_until(wake).await;
        let now = Instant::now();
        if self.shared.past_deadline(now) {
            return None;
        }
        let mut due = 0;
        while due < pipeline && self.next_due + self.interval * due as u32 <= now {
            due += 1;
        }
        let n = self.shared.take(due.max(1));
        // A request that fell due while the previous round waited for the server counts
        // from its scheduled time; one that fell due while the client slept counts from
        // the actual send, so the timer's millisecond granularity is not charged to the
        // server.
        let times = (0..n)
            .map(|i| self.next_due + self.interval * i as u32)
            .map(|t| (t < self.last_round_end).then_some(t))
            .collect();
        self.next_due += self.interval * n as u32;
        (n > 0).then_some(times)
    }

    /// Encodes the round's commands.
    fn build(&mut self, planned: &[Option<Instant>]) {
        self.batch.clear();
        self.metas.clear();
        let (min, max) = (self.cfg.data_size.min, self.cfg.data_size.max);
        let cluster = matches!(self.cfg.target, Target::Cluster(_));
        for &intended in planned {
            let t = self.shared.mix.pick(&mut self.rng);
            let template = &self.shared.mix.templates[t];
            let key = if template.has_key() {
                self.shared.keys.next(&mut self.rng)
            } else {
                0
            };
            let mut value_id = 0;
            let len = if template.has_data() {
                self.rng.usize(min..=max)
            } else {
                0
            };
            if self.cfg.verify && template.kind == Kind::Set {
                // Unique across clients: client id in the top bits, a counter below.
                value_id = (self.id << 40) | self.next_write;
                self.next_write += 1;
                write_id(&mut self.data[..ID_LEN], value_id);
            }
            render_key(&mut self.key, &self.cfg.key_prefix, key);
            let (key_bytes, data) = (&self.key, &self.data[..len]);
            // Only a cluster routes by key: skip the slot hash otherwise.
            let route = (cluster && template.has_key()).then_some(key_bytes.as_slice());
            self.batch
                .push(route, false, |out| template.encode(out, key_bytes, data));
            self.metas.push(Meta {
                template: t,
                key,
                value_id,
                intended,
            });
        }
    }

    /// Verification: DELs are noted before they leave, so reads can allow for them.
    fn note_deletes(&self, sent: Instant) {
        let Some(ledger) = &self.shared.ledger else {
            return;
        };
        for m in &self.metas {
            if self.shared.mix.templates[m.template].kind == Kind::Del {
                ledger.del_sent(m.key, self.shared.nanos(sent));
            }
        }
    }

    /// Records every reply of the round: latency, errors, and what verification needs.
    fn settle(&mut self, sent: Instant) {
        let (mut done, mut latency_sum) = (0u64, 0u64);
        for (op, m) in self.batch.ops.iter().zip(&self.metas) {
            let kind = self.shared.mix.templates[m.template].kind;
            let stats = &mut self.stats[m.template];
            if op.outcome == Outcome::Pending {
                stats.failed += 1;
                if let Some(ledger) = &self.shared.ledger {
                    match kind {
                        Kind::Set => ledger.unknown(m.key, Some(m.value_id)),
                        Kind::Del => ledger.unknown(m.key, None),
                        _ => {}
                    }
                }
                continue;
            }
            let latency = op.at.saturating_duration_since(m.intended.unwrap_or(sent));
            stats.record(latency);
            done += 1;
            latency_sum += latency.as_micros() as u64;
            if let Outcome::Error(_) = op.outcome {
                stats.errors += 1;
                continue;
            }
            if let Some(ledger) = &self.shared.ledger {
                let (s, a) = (self.shared.nanos(sent), self.shared.nanos(op.at));
                match kind {
                    Kind::Set => ledger.acked(m.key, Some(m.value_id), s, a),
                    Kind::Del => ledger.acked(m.key, None, s, a),
                    Kind::Get
                        if self.cfg.verify_during
                            && op.outcome == Outcome::Nil
                            && ledger.nil_read_is_lost(m.key, s, a) =>
                    {
                        self.shared.lost_during.fetch_add(1, Relaxed);
                    }
                    _ => {}
                }
            }
        }
        self.shared.done.fetch_add(done, Relaxed);
        self.shared.latency_us.fetch_add(latency_sum, Relaxed);
    }
}
