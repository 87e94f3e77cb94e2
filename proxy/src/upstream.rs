//! Per-node connection pools: a few long-lived bidi `Execute` streams per node, shared by
//! every client connection. Commands queued for a stream from all connections leave together
//! as one `CommandBatch`; replies come back by id and are handed to whoever waits for them.
//! tower layers bound each command: a timeout, and a per-node in-flight limit that sheds
//! load with a clear error instead of queueing without end. Each stream observes its batch
//! sizes and reply latencies (metrics), once per batch.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use autocache_proto::pb::node::{
    node_client::NodeClient, reply, Command, CommandBatch, Pipeline, PipelineReply, Reply,
    ReplyBatch,
};
use bytes::{Bytes, BytesMut};
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
    pub batches_in_flight: usize,
    pub timeout: Duration,
    pub max_inflight: usize,
}

/// What a caller hands a node's shared streams.
pub enum Work {
    /// Single commands (by arguments, or as the client sent them), answered by id; of the
    /// client given, if any (which picks the stream, as for its pipelines).
    Commands(Vec<Command>, Option<u64>),
    /// One client's requests for the node as it sent them, forwarded in one piece.
    /// `client` picks the stream, so that one client's work stays in order.
    Pipeline {
        requests: Vec<Bytes>,
        resp_version: u32,
        client: u64,
    },
}

impl Work {
    /// Commands it carries.
    pub fn len(&self) -> usize {
        match self {
            Work::Commands(c, _) => c.len(),
            Work::Pipeline { requests, .. } => requests.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn truncate(&mut self, n: usize) {
        match self {
            Work::Commands(c, _) => c.truncate(n),
            Work::Pipeline { requests, .. } => requests.truncate(n),
        }
    }
}

/// One reply per command of a [`Work`], in its order.
pub type Replies = Vec<Result<Reply, UpError>>;

/// What a stream sends for one [`Work`].
enum Wire {
    Commands(Vec<Command>),
    Pipeline(Pipeline, usize),
}

/// Work waiting for its stream to send it.
struct Job {
    wire: Wire,
    reply: oneshot::Sender<Result<Vec<Reply>, UpError>>,
}

/// The innermost service: hands work to one of the node's streams (round robin) and
/// resolves with its replies.
#[derive(Clone)]
struct StreamService {
    addr: Arc<str>,
    streams: Arc<[mpsc::UnboundedSender<Job>]>,
    next: Arc<AtomicUsize>,
}

type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Service<Work> for StreamService {
    type Response = Vec<Reply>;
    type Error = UpError;
    type Future = BoxFut<Result<Vec<Reply>, UpError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), UpError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, work: Work) -> Self::Future {
        let i = match &work {
            Work::Commands(_, None) => self.next.fetch_add(1, Relaxed),
            Work::Commands(_, Some(client)) | Work::Pipeline { client, .. } => *client as usize,
        } % self.streams.len();
        let wire = match work {
            Work::Commands(c, _) => Wire::Commands(c),
            Work::Pipeline {
                requests,
                resp_version,
                ..
            } => {
                let n = requests.len();
                let requests = match <[Bytes; 1]>::try_from(requests) {
                    Ok([one]) => one,
                    Err(many) => {
                        let mut joined = BytesMut::with_capacity(many.iter().map(Bytes::len).sum());
                        many.iter().for_each(|r| joined.extend_from_slice(r));
                        joined.freeze()
                    }
                };
                Wire::Pipeline(
                    Pipeline {
                        requests,
                        resp_version,
                    },
                    n,
                )
            }
        };
        let (tx, rx) = oneshot::channel();
        let sent = self.streams[i].send(Job { wire, reply: tx }).is_ok();
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

/// A tower layer bounding the commands in flight to a node (not the calls: one call may carry
/// a client's whole pipeline). What is over the bound fails at once with
/// [`UpError::Overloaded`] (load shedding) instead of queueing without end; the rest of the
/// call goes on. Errors of the inner service become one error per command.
struct InflightLimit<S> {
    inner: S,
    max: usize,
    inflight: Arc<AtomicUsize>,
    addr: Arc<str>,
}

/// Commands admitted by [`InflightLimit`], given back when their call ends (or is dropped).
struct Permits(Arc<AtomicUsize>, usize);

impl Drop for Permits {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Relaxed);
    }
}

impl<S> InflightLimit<S> {
    /// Takes up to `n` of the free places; how many it got.
    fn admit(&self, n: usize) -> usize {
        let mut cur = self.inflight.load(Relaxed);
        loop {
            let k = n.min(self.max.saturating_sub(cur));
            if k == 0 {
                return 0;
            }
            match self
                .inflight
                .compare_exchange_weak(cur, cur + k, Relaxed, Relaxed)
            {
                Ok(_) => return k,
                Err(now) => cur = now,
            }
        }
    }
}

impl<S> Service<Work> for InflightLimit<S>
where
    S: Service<Work, Response = Vec<Reply>, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = Replies;
    type Error = BoxError;
    type Future = BoxFut<Result<Replies, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut work: Work) -> Self::Future {
        let n = work.len();
        let admitted = self.admit(n);
        let addr = self.addr.clone();
        let shed = move |out: &mut Replies| {
            out.extend((out.len()..n).map(|_| Err(UpError::Overloaded(addr.to_string()))))
        };
        if admitted == 0 {
            let mut out = Vec::with_capacity(n);
            shed(&mut out);
            return Box::pin(std::future::ready(Ok(out)));
        }
        work.truncate(admitted);
        let permits = Permits(self.inflight.clone(), admitted);
        let fut = self.inner.call(work);
        let addr = self.addr.clone();
        Box::pin(async move {
            let result = fut.await;
            drop(permits);
            let mut out: Replies = match result {
                Ok(replies) if replies.len() == admitted => replies.into_iter().map(Ok).collect(),
                Ok(_) => vec![Err(UpError::Unreachable(addr.to_string())); admitted],
                Err(e) => vec![Err(classify(&addr, e)); admitted],
            };
            shed(&mut out);
            Ok(out)
        })
    }
}

/// The client-facing error for what the timeout or the stream service failed with.
fn classify(addr: &str, e: BoxError) -> UpError {
    if e.is::<tower::timeout::error::Elapsed>() {
        UpError::Timeout(addr.to_string())
    } else {
        match e.downcast::<UpError>() {
            Ok(up) => *up,
            Err(_) => UpError::Unreachable(addr.to_string()),
        }
    }
}

/// One node: its channel, its shared streams and the layered service in front of them.
pub struct NodePool {
    addr: String,
    channel: Channel,
    /// One instance shared by every caller (polled and called under the lock): cloning it
    /// per call cost an allocation or two of its own.
    service: Mutex<BoxService<Work, Replies, BoxError>>,
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
    /// Batches allowed at the node at once (not a metric: the stream's one setting).
    in_flight: usize,
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
                in_flight: opts.batches_in_flight.max(1),
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
            .layer_fn(|inner| InflightLimit {
                inner,
                max: opts.max_inflight.max(1),
                inflight: Arc::new(AtomicUsize::new(0)),
                addr: addr.into(),
            })
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
        self.start(args, Bytes::new(), resp_version, asking, None)
            .await
    }

    /// Hands one command to a stream now (so that it joins the next batch even before
    /// anyone polls the result) and returns the future of its reply.
    /// `raw`, when not empty, is the request as the client sent it, forwarded in place of
    /// `args`; `client`, when given, keeps it on that client's stream (behind its earlier
    /// commands).
    pub fn start(
        self: &Arc<Self>,
        args: Vec<Bytes>,
        raw: Bytes,
        resp_version: u32,
        asking: bool,
        client: Option<u64>,
    ) -> impl Future<Output = Result<Reply, UpError>> + Send + 'static {
        let cmd = Command {
            id: self.ids.fetch_add(1, Relaxed),
            args,
            resp_version,
            asking,
            raw,
        };
        let replies = self.start_work(Work::Commands(vec![cmd], client));
        async move {
            replies
                .await
                .pop()
                .unwrap_or_else(|| Err(UpError::Unreachable(String::new())))
        }
    }

    /// Hands `work` to a stream now and returns the future of its replies, one per command
    /// in order (each a reply or why there is none).
    pub fn start_work(
        self: &Arc<Self>,
        work: Work,
    ) -> impl Future<Output = Replies> + Send + 'static {
        let n = work.len();
        let pool = self.clone();
        // The limit sheds load instead of waiting, so the stack is always ready: readiness
        // is checked without a real waker, and `call` queues the work at once.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let started = {
            let mut service = self.service.lock();
            match service.poll_ready(&mut cx) {
                Poll::Ready(Ok(())) => Some(service.call(work)),
                _ => None,
            }
        };
        async move {
            let mut replies = match started {
                Some(fut) => fut
                    .await
                    .unwrap_or_else(|e| vec![Err(classify(&pool.addr, e)); n]),
                None => vec![Err(UpError::Overloaded(pool.addr.clone())); n],
            };
            for r in &mut replies {
                if let Err(e) = r {
                    pool.errors[e.kind()].fetch_add(1, Relaxed);
                }
            }
            replies
        }
    }

    /// Opens a dedicated stream (a node-side session of its own) for a stateful client.
    pub async fn open_session(&self) -> Result<crate::session::Session, UpError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let inbound = node_client(self.channel.clone())
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
        let opened = node_client(channel.clone())
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
/// broke (reconnect); either way all work still waiting fails. The node answers each batch
/// with one reply batch, in order, so the work of each sent batch waits in a queue.
async fn serve(
    addr: &str,
    jobs: &mut mpsc::UnboundedReceiver<Job>,
    out: mpsc::UnboundedSender<CommandBatch>,
    mut inbound: Streaming<ReplyBatch>,
    metrics: &StreamMetrics,
) -> bool {
    struct Sent {
        at: Instant,
        jobs: Vec<Waiting>,
    }
    /// A job sent: how many command replies it takes (None: one pipeline reply).
    struct Waiting {
        commands: Option<usize>,
        pipeline_len: usize,
        reply: oneshot::Sender<Result<Vec<Reply>, UpError>>,
    }
    let mut sent: VecDeque<Sent> = VecDeque::new();
    // Observed here, without atomics; flushed to the shared histogram once per batch.
    let latency = metrics.latency.local();
    let mut buf = Vec::with_capacity(256);
    let stopped = loop {
        tokio::select! {
            // At most `in_flight` batches at the node: later work waits, and joins the next.
            n = jobs.recv_many(&mut buf, 1024), if sent.len() < metrics.in_flight => {
                if n == 0 {
                    break true;
                }
                // The first job woke this task before the other clients with input ready
                // had run: let them run and queue theirs, so that one batch carries them all.
                tokio::task::yield_now().await;
                while buf.len() < 1024 {
                    match jobs.try_recv() {
                        Ok(job) => buf.push(job),
                        Err(_) => break,
                    }
                }
                let mut batch = CommandBatch::default();
                let mut waiting = Vec::with_capacity(buf.len());
                let mut broke = false;
                for job in buf.drain(..) {
                    // Already timed out: not worth sending.
                    if job.reply.is_closed() {
                        continue;
                    }
                    // The node runs a batch's commands before its pipelines: commands queued
                    // after a pipeline go in the next batch, so that each client's work
                    // runs in the order it was queued.
                    if matches!(job.wire, Wire::Commands(_)) && !batch.pipelines.is_empty() {
                        let full = std::mem::take(&mut batch);
                        let jobs = std::mem::take(&mut waiting);
                        if !ship(&out, &mut sent, full, jobs, metrics, addr) {
                            broke = true;
                        }
                    }
                    let (c, pipeline_len) = match job.wire {
                        Wire::Commands(c) => {
                            let n = c.len();
                            batch.commands.extend(c);
                            (Some(n), 0)
                        }
                        Wire::Pipeline(p, n) => {
                            batch.pipelines.push(p);
                            (None, n)
                        }
                    };
                    waiting.push(Waiting { commands: c, pipeline_len, reply: job.reply });
                }
                if broke || !ship(&out, &mut sent, batch, waiting, metrics, addr) {
                    break false;
                }
            }
            msg = inbound.message() => match msg {
                Ok(Some(batch)) => {
                    let Some(done) = sent.pop_front() else {
                        tracing::warn!(node = %addr, "reply batch for nothing sent");
                        break false;
                    };
                    latency.observe(done.at.elapsed().as_secs_f64());
                    latency.flush();
                    if !deliver(addr, done.jobs, batch) {
                        tracing::warn!(node = %addr, "reply batch does not match the batch sent");
                        break false;
                    }
                }
                Ok(None) => break false,
                Err(e) => {
                    tracing::debug!(node = %addr, error = %e, "execute stream error");
                    break false;
                }
            },
        }
    };
    for s in sent {
        fail(addr, s.jobs);
    }
    return stopped;

    /// Sends one batch and queues its jobs for the reply; false when the stream is gone
    /// (the jobs failed).
    fn ship(
        out: &mpsc::UnboundedSender<CommandBatch>,
        sent: &mut VecDeque<Sent>,
        batch: CommandBatch,
        jobs: Vec<Waiting>,
        metrics: &StreamMetrics,
        addr: &str,
    ) -> bool {
        if jobs.is_empty() {
            return true;
        }
        let commands: usize = jobs
            .iter()
            .map(|j| j.commands.unwrap_or(j.pipeline_len))
            .sum();
        metrics.batch_size.observe(commands as f64);
        if out.send(batch).is_err() {
            fail(addr, jobs);
            return false;
        }
        sent.push_back(Sent {
            at: Instant::now(),
            jobs,
        });
        true
    }

    /// Hands each job its replies; false (and nothing delivered to the rest) when the
    /// batch does not have the shape of what was sent.
    fn deliver(addr: &str, jobs: Vec<Waiting>, batch: ReplyBatch) -> bool {
        let want: usize = jobs.iter().filter_map(|j| j.commands).sum();
        let pipelines = jobs.iter().filter(|j| j.commands.is_none()).count();
        if batch.replies.len() != want || batch.pipelines.len() != pipelines {
            return false;
        }
        let mut replies = batch.replies.into_iter();
        let mut piped = batch.pipelines.into_iter();
        for job in jobs {
            let r = match job.commands {
                Some(n) => Ok(replies.by_ref().take(n).collect()),
                None => split(addr, piped.next().unwrap_or_default(), job.pipeline_len),
            };
            let _ = job.reply.send(r);
        }
        true
    }

    fn fail(addr: &str, jobs: Vec<Waiting>) {
        for job in jobs {
            let _ = job.reply.send(Err(UpError::Unreachable(addr.to_string())));
        }
    }
}

/// One reply per request of a pipeline's answer (`n` requests).
fn split(addr: &str, p: PipelineReply, n: usize) -> Result<Vec<Reply>, UpError> {
    if p.ends.len() != n || p.ends.last().is_some_and(|&e| e as usize != p.resp.len()) {
        tracing::warn!(node = %addr, "malformed pipeline reply");
        return Err(UpError::Unreachable(addr.to_string()));
    }
    let mut redirects = p.redirected.iter().zip(p.redirects).peekable();
    let mut start = 0;
    let mut out = Vec::with_capacity(n);
    for (i, &end) in p.ends.iter().enumerate() {
        let end = end as usize;
        let result = match redirects.peek() {
            Some((&at, _)) if at as usize == i => {
                redirects.next().map(|(_, r)| reply::Result::Redirect(r))
            }
            _ if end >= start => Some(reply::Result::Resp(p.resp.slice(start..end))),
            _ => None,
        };
        out.push(Reply { id: 0, result });
        start = end.max(start);
    }
    Ok(out)
}

/// A client of a node's gRPC service with no message size limit (tonic's default is 4 MiB):
/// a batch or a reply carries whole values, and a Redis string may be 512 MB. The node's
/// server has no limit either (`node/src/cluster/grpc.rs`).
fn node_client(channel: Channel) -> NodeClient<Channel> {
    NodeClient::new(channel)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX)
}
