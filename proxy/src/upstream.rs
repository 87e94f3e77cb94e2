//! Per-node connection pools: a few long-lived bidi `Execute` streams per node, shared by
//! every client connection. Commands queued for a stream from all connections leave together
//! as one `CommandBatch`; replies come back by id and are handed to whoever waits for them.
//! tower layers bound each command: a timeout, and a per-node in-flight limit that sheds
//! load with a clear error instead of queueing without end. Each stream observes its batch
//! sizes and reply latencies (metrics), once per batch.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use autocache_proto::pb::node::{
    node_client::NodeClient, Command, CommandBatch, Reply, ReplyBatch,
};
use bytes::Bytes;
use parking_lot::Mutex;
use prometheus::Histogram;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tonic::Streaming;
use tower::util::BoxService;
use tower::{BoxError, Service, ServiceBuilder};

use crate::metrics::UpstreamMetrics;

/// Why a command got no reply from its node. The texts are what the client sees.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpError {
    #[error("CLUSTERDOWN node {0} is unreachable")]
    Unreachable(String),
    #[error("TRYAGAIN node {0} did not answer in time")]
    Timeout(String),
    #[error("TRYAGAIN too many commands in flight to node {0}")]
    Overloaded(String),
}

impl UpError {
    /// Metric label of each kind, in [`UpError::kind`] order.
    pub const KINDS: [&'static str; 3] = ["unreachable", "timeout", "overloaded"];

    pub fn kind(&self) -> usize {
        match self {
            UpError::Unreachable(_) => 0,
            UpError::Timeout(_) => 1,
            UpError::Overloaded(_) => 2,
        }
    }
}

/// How pools are built (from the proxy's config).
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub streams: usize,
    pub timeout: Duration,
    pub max_inflight: usize,
}

/// A command waiting for its stream to send it.
struct Job {
    cmd: Command,
    reply: oneshot::Sender<Result<Reply, UpError>>,
}

/// The innermost service: hands a command to one of the node's streams (round robin) and
/// resolves with its reply.
#[derive(Clone)]
struct StreamService {
    addr: Arc<str>,
    streams: Arc<[mpsc::UnboundedSender<Job>]>,
    next: Arc<AtomicUsize>,
}

type BoxFut = Pin<Box<dyn Future<Output = Result<Reply, UpError>> + Send>>;

impl Service<Command> for StreamService {
    type Response = Reply;
    type Error = UpError;
    type Future = BoxFut;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), UpError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, cmd: Command) -> BoxFut {
        let (tx, rx) = oneshot::channel();
        let i = self.next.fetch_add(1, Relaxed) % self.streams.len();
        let sent = self.streams[i].send(Job { cmd, reply: tx }).is_ok();
        let addr = self.addr.clone();
        Box::pin(async move {
            if !sent {
                return Err(UpError::Unreachable(addr.to_string()));
            }
            rx.await
                .unwrap_or_else(|_| Err(UpError::Unreachable(addr.to_string())))
        })
    }
}

/// One node: its channel, its shared streams and the layered service in front of them.
pub struct NodePool {
    addr: String,
    channel: Channel,
    /// One instance shared by every caller (polled and called under the lock): cloning it
    /// per command cost an allocation or two of its own.
    service: Mutex<BoxService<Command, Reply, BoxError>>,
    ids: AtomicU64,
    /// Shared streams open now.
    open: Arc<AtomicUsize>,
    /// Commands that got no reply, by [`UpError::kind`].
    errors: [AtomicU64; 3],
}

/// What one stream task observes, for its node.
struct StreamMetrics {
    batch_size: Histogram,
    latency: Histogram,
    open: Arc<AtomicUsize>,
}

impl NodePool {
    fn new(addr: &str, opts: PoolOptions, metrics: &UpstreamMetrics) -> Result<NodePool, UpError> {
        let channel = channel(addr).ok_or_else(|| UpError::Unreachable(addr.to_string()))?;
        let open = Arc::new(AtomicUsize::new(0));
        let mut streams = Vec::with_capacity(opts.streams.max(1));
        for _ in 0..opts.streams.max(1) {
            let (tx, rx) = mpsc::unbounded_channel();
            let observe = StreamMetrics {
                batch_size: metrics.batch_size.with_label_values(&[addr]),
                latency: metrics.latency.with_label_values(&[addr]),
                open: open.clone(),
            };
            tokio::spawn(run_stream(addr.to_string(), channel.clone(), rx, observe));
            streams.push(tx);
        }
        let inner = StreamService {
            addr: addr.into(),
            streams: streams.into(),
            next: Arc::new(AtomicUsize::new(0)),
        };
        let service = ServiceBuilder::new()
            .load_shed()
            .concurrency_limit(opts.max_inflight.max(1))
            .timeout(opts.timeout)
            .service(inner);
        Ok(NodePool {
            addr: addr.to_string(),
            channel,
            service: Mutex::new(BoxService::new(service)),
            ids: AtomicU64::new(1),
            open,
            errors: Default::default(),
        })
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Whether at least one shared stream to the node is open.
    pub fn connected(&self) -> bool {
        self.open.load(Relaxed) > 0
    }

    /// Commands that got no reply so far, by [`UpError::kind`].
    pub fn errors(&self) -> [u64; 3] {
        self.errors.each_ref().map(|n| n.load(Relaxed))
    }

    fn failed(&self, e: UpError) -> UpError {
        self.errors[e.kind()].fetch_add(1, Relaxed);
        e
    }

    /// Sends one command on a shared stream and waits for its reply.
    pub async fn call(
        self: &Arc<Self>,
        args: Vec<Bytes>,
        resp_version: u32,
        asking: bool,
    ) -> Result<Reply, UpError> {
        self.start(args, Bytes::new(), resp_version, asking).await
    }

    /// Hands the command to a stream now (so that it joins the next batch even before
    /// anyone polls the result) and returns the future of its reply.
    /// `raw`, when not empty, is the request as the client sent it, forwarded in place of
    /// `args`.
    pub fn start(
        self: &Arc<Self>,
        args: Vec<Bytes>,
        raw: Bytes,
        resp_version: u32,
        asking: bool,
    ) -> impl Future<Output = Result<Reply, UpError>> + Send + 'static {
        let cmd = Command {
            id: self.ids.fetch_add(1, Relaxed),
            args,
            resp_version,
            asking,
            raw,
        };
        let pool = self.clone();
        // The outer layer sheds load instead of waiting, so it is always ready: readiness
        // is checked without a real waker, and `call` queues the command at once.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let started = {
            let mut service = self.service.lock();
            match service.poll_ready(&mut cx) {
                Poll::Ready(Ok(())) => Some(service.call(cmd)),
                _ => None,
            }
        };
        async move {
            let e = match started {
                Some(fut) => match fut.await {
                    Ok(reply) => return Ok(reply),
                    Err(e) => pool.classify(e),
                },
                None => UpError::Overloaded(pool.addr.clone()),
            };
            Err(pool.failed(e))
        }
    }

    fn classify(&self, e: BoxError) -> UpError {
        if e.is::<tower::timeout::error::Elapsed>() {
            UpError::Timeout(self.addr.clone())
        } else if e.is::<tower::load_shed::error::Overloaded>() {
            UpError::Overloaded(self.addr.clone())
        } else {
            match e.downcast::<UpError>() {
                Ok(up) => *up,
                Err(_) => UpError::Unreachable(self.addr.clone()),
            }
        }
    }

    /// Opens a dedicated stream (a node-side session of its own) for a stateful client.
    pub async fn open_session(&self) -> Result<crate::session::Session, UpError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let inbound = NodeClient::new(self.channel.clone())
            .execute(UnboundedReceiverStream::new(rx))
            .await
            .map_err(|_| self.failed(UpError::Unreachable(self.addr.clone())))?
            .into_inner();
        Ok(crate::session::Session::new(self.addr.clone(), tx, inbound))
    }
}

/// A lazily connecting channel with TCP_NODELAY and HTTP/2 windows sized for batches.
fn channel(addr: &str) -> Option<Channel> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).ok()?;
    Some(
        endpoint
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(1))
            .initial_stream_window_size(Some(4 << 20))
            .initial_connection_window_size(Some(16 << 20))
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5))
            .keep_alive_while_idle(true)
            .connect_lazy(),
    )
}

/// Pools by gRPC address, created on first use.
pub struct Upstreams {
    opts: PoolOptions,
    metrics: UpstreamMetrics,
    pools: Mutex<HashMap<String, Arc<NodePool>>>,
}

impl Upstreams {
    pub fn new(opts: PoolOptions, metrics: UpstreamMetrics) -> Upstreams {
        Upstreams {
            opts,
            metrics,
            pools: Mutex::new(HashMap::new()),
        }
    }

    /// Every pool created so far.
    pub fn all(&self) -> Vec<Arc<NodePool>> {
        self.pools.lock().values().cloned().collect()
    }

    pub fn get(&self, addr: &str) -> Result<Arc<NodePool>, UpError> {
        let mut pools = self.pools.lock();
        if let Some(p) = pools.get(addr) {
            return Ok(p.clone());
        }
        let pool = Arc::new(NodePool::new(addr, self.opts, &self.metrics)?);
        pools.insert(addr.to_string(), pool.clone());
        Ok(pool)
    }
}

const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// One shared stream: (re)opens `Execute`, ships batches, routes replies back by id. While
/// the node is unreachable, commands fail at once rather than wait for a reconnect.
async fn run_stream(
    addr: String,
    channel: Channel,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    metrics: StreamMetrics,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let (tx, rx) = mpsc::unbounded_channel();
        let opened = NodeClient::new(channel.clone())
            .execute(UnboundedReceiverStream::new(rx))
            .await;
        match opened {
            Ok(resp) => {
                backoff = MIN_BACKOFF;
                metrics.open.fetch_add(1, Relaxed);
                let stopped = serve(&addr, &mut jobs, tx, resp.into_inner(), &metrics).await;
                metrics.open.fetch_sub(1, Relaxed);
                if stopped {
                    return;
                }
                tracing::warn!(node = %addr, "execute stream broke; reconnecting");
            }
            Err(e) => tracing::debug!(node = %addr, error = %e, "execute stream failed to open"),
        }
        let pause = tokio::time::sleep(backoff);
        tokio::pin!(pause);
        loop {
            tokio::select! {
                _ = &mut pause => break,
                job = jobs.recv() => match job {
                    Some(job) => { let _ = job.reply.send(Err(UpError::Unreachable(addr.clone()))); }
                    None => return,
                },
            }
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Runs one open stream. Returns true when the pool is gone (stop), false when the stream
/// broke (reconnect); either way every command still waiting fails.
async fn serve(
    addr: &str,
    jobs: &mut mpsc::UnboundedReceiver<Job>,
    out: mpsc::UnboundedSender<CommandBatch>,
    mut inbound: Streaming<ReplyBatch>,
    metrics: &StreamMetrics,
) -> bool {
    type Waiter = (Instant, oneshot::Sender<Result<Reply, UpError>>);
    let mut waiting: HashMap<u64, Waiter> = HashMap::new();
    // Observed here, without atomics; flushed to the shared histogram once per batch.
    let latency = metrics.latency.local();
    let mut buf = Vec::with_capacity(256);
    let stopped = loop {
        tokio::select! {
            n = jobs.recv_many(&mut buf, 1024) => {
                if n == 0 {
                    break true;
                }
                // The first command woke this task before the other clients with input ready
                // had run: let them run and queue theirs, so that one batch carries them all.
                tokio::task::yield_now().await;
                while buf.len() < 1024 {
                    match jobs.try_recv() {
                        Ok(job) => buf.push(job),
                        Err(_) => break,
                    }
                }
                let n = buf.len();
                let mut batch = CommandBatch { commands: Vec::with_capacity(n) };
                let now = Instant::now();
                for job in buf.drain(..) {
                    // Already timed out: not worth sending.
                    if job.reply.is_closed() {
                        continue;
                    }
                    waiting.insert(job.cmd.id, (now, job.reply));
                    batch.commands.push(job.cmd);
                }
                if batch.commands.is_empty() {
                    continue;
                }
                metrics.batch_size.observe(batch.commands.len() as f64);
                if out.send(batch).is_err() {
                    break false;
                }
            }
            msg = inbound.message() => match msg {
                Ok(Some(batch)) => {
                    let now = Instant::now();
                    for reply in batch.replies {
                        if let Some((sent, tx)) = waiting.remove(&reply.id) {
                            latency.observe(now.duration_since(sent).as_secs_f64());
                            let _ = tx.send(Ok(reply));
                        }
                    }
                    latency.flush();
                }
                Ok(None) => break false,
                Err(e) => {
                    tracing::debug!(node = %addr, error = %e, "execute stream error");
                    break false;
                }
            },
        }
    };
    for (_, (_, tx)) in waiting {
        let _ = tx.send(Err(UpError::Unreachable(addr.to_string())));
    }
    stopped
}
