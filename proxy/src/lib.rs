//! AutoCache proxy: a stateless RESP front that routes each key by slot to its node.
//!
//! `run(listener, config, shutdown)` serves legacy (non-cluster) clients as if the proxy were
//! one big Redis: connections in `front`, commands answered locally in `local`, slot routing
//! from the map watched from control in `router`, batched shared gRPC streams per node in
//! `upstream`, multi-key splits and fan-outs in `fanout`, dedicated streams for stateful
//! clients in `session`, Prometheus series in `metrics`. The only state is the slot map (and
//! per-connection state).
#![forbid(unsafe_code)]

pub mod config;
mod fanout;
mod front;
mod local;
pub mod metrics;
mod resp;
pub mod router;
mod session;
pub mod upstream;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use autocache_proto::pb::node::{redirect, reply, Reply};
use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use autocache_proto::{command, slot};
pub use config::Config;
use router::{Router, Target};
use upstream::{PoolOptions, UpError, Upstreams, Work};

/// Redirects followed for one command before giving up with TRYAGAIN.
const MAX_REDIRECTS: usize = 5;
/// TRYAGAIN replies (keys of a slot in flight) retried, backing off from 5 ms to 100 ms (about
/// 2.5 s in all: a migration batch under load can take that long), before the
/// client sees one.
const MAX_TRYAGAIN: usize = 30;

/// Proxy-wide counters (INFO stats, and metrics at scrape time).
#[derive(Debug)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub commands_processed: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub redirects_followed: AtomicU64,
    /// Commands received, indexed like the command table (subcommands count as their parent).
    pub commands: Box<[AtomicU64]>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            connections_received: AtomicU64::new(0),
            commands_processed: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            redirects_followed: AtomicU64::new(0),
            commands: command::COMMANDS
                .iter()
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }
}

/// Everything connections share.
pub struct Proxy {
    pub config: Config,
    pub router: Arc<Router>,
    pub upstreams: Upstreams,
    pub clients: front::Clients,
    pub stats: Stats,
    pub metrics: metrics::Metrics,
    pub started: Instant,
    /// 40 hex characters: the proxy's id in CLUSTER NODES and INFO's run_id.
    pub run_id: String,
    pub addr: SocketAddr,
}

/// Serves RESP clients on `listener` until `shutdown` resolves; then stops accepting, lets
/// connections finish their current batch and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let proxy = Arc::new(Proxy::new(config, addr));
    let mut background = tokio::task::JoinSet::new();
    if let Some(control) = proxy.config.control.clone() {
        let watcher = format!("proxy {addr}");
        background.spawn(router::watch_control(
            proxy.router.clone(),
            control,
            watcher,
            stop_rx.clone(),
        ));
    }
    if let Some(addr) = proxy.config.metrics_addr {
        background.spawn(autocache_proto::http::serve(
            TcpListener::bind(addr).await?,
            metrics::endpoints(&proxy),
            stop_rx.clone(),
        ));
    }
    front::accept_loop(proxy, listener, shutdown, &stop_tx).await;
    while background.join_next().await.is_some() {}
    Ok(())
}

impl Proxy {
    pub fn new(config: Config, addr: SocketAddr) -> Proxy {
        let opts = PoolOptions {
            streams: config.streams_per_node,
            batches_in_flight: config.batches_in_flight,
            timeout: config.request_timeout,
            max_inflight: config.max_inflight,
        };
        let metrics = metrics::Metrics::new();
        Proxy {
            config,
            router: Arc::new(Router::new()),
            upstreams: Upstreams::new(opts, metrics.upstream.clone()),
            clients: front::Clients::default(),
            stats: Stats::default(),
            metrics,
            started: Instant::now(),
            run_id: (0..40)
                .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
                .collect(),
            addr,
        }
    }

    /// Runs one command on the node owning `slot`, following MOVED/ASK (bounded); failures
    /// become error replies. The first attempt is queued on the node's stream right away,
    /// before anything the client sends later. `raw`, the request as the client sent it, is
    /// what is forwarded when given; `client` keeps it on that client's stream.
    pub fn start_slot(
        self: &Arc<Self>,
        slot: u16,
        args: Vec<Bytes>,
        raw: Option<Bytes>,
        resp: u32,
        client: Option<u64>,
    ) -> impl Future<Output = Bytes> + Send + 'static {
        let proxy = self.clone();
        let fwd = match raw {
            Some(raw) => Forward::Raw(raw),
            None => Forward::Args(args),
        };
        let (epoch, first) = self.router.with_owner(slot, |addr| {
            addr.map(|a| {
                self.upstreams
                    .get(a)
                    .map(|pool| fwd.start(&pool, resp, false, client))
            })
        });
        async move {
            let first = match first {
                None => return error(NOT_SERVED),
                Some(Ok(fut)) => fut.await,
                Some(Err(e)) => Err(e),
            };
            proxy.finish_slot(slot, fwd, resp, epoch, first).await
        }
    }

    /// Sends a client pipeline's commands for single slots, as the client sent them: those
    /// for one node leave together, as one piece of work queued now. The future resolves to
    /// their replies in order, redirects followed.
    pub fn start_routed(
        self: &Arc<Self>,
        items: Vec<Routed>,
        resp: u32,
        client: u64,
    ) -> impl Future<Output = Vec<Bytes>> + Send + 'static {
        let map = self.router.map();
        let epoch = map.epoch;
        // Per owning node (its index in the map): the positions of its commands.
        let mut groups: Vec<(u16, Vec<usize>)> = Vec::with_capacity(1);
        let mut unserved = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match map.owner(item.slot) {
                Some(node) => match groups.iter_mut().find(|g| g.0 == node) {
                    Some(g) => g.1.push(i),
                    None => groups.push((node, vec![i])),
                },
                None => unserved.push(i),
            }
        }
        let started: Vec<_> = groups
            .into_iter()
            .map(|(node, positions)| {
                let addr = &map.nodes[node as usize].grpc_addr;
                let replies = self.upstreams.get(addr).map(|pool| {
                    pool.start_work(Work::Pipeline {
                        requests: positions.iter().map(|&i| items[i].raw.clone()).collect(),
                        resp_version: resp,
                        client,
                    })
                });
                (positions, replies)
            })
            .collect();
        let proxy = self.clone();
        async move {
            let mut out = vec![Bytes::new(); items.len()];
            for i in unserved {
                out[i] = error(NOT_SERVED);
            }
            for (positions, replies) in started {
                let replies = match replies {
                    Ok(fut) => fut.await,
                    Err(e) => vec![Err(e); positions.len()],
                };
                for (i, reply) in positions.into_iter().zip(replies) {
                    out[i] = match reply {
                        Ok(Reply {
                            result: Some(reply::Result::Resp(b)),
                            ..
                        }) if !b.starts_with(b"-TRYAGAIN") => b,
                        first => {
                            let item = &items[i];
                            let fwd = Forward::Raw(item.raw.clone());
                            proxy.finish_slot(item.slot, fwd, resp, epoch, first).await
                        }
                    };
                }
            }
            out
        }
    }

    /// Follows redirects and retries TRYAGAIN after the first attempt's reply.
    async fn finish_slot(
        &self,
        slot: u16,
        fwd: Forward,
        resp: u32,
        mut epoch: u64,
        first: Result<Reply, UpError>,
    ) -> Bytes {
        let mut reply = first;
        let (mut redirects, mut retries) = (0, 0);
        let mut backoff = Duration::from_millis(5);
        loop {
            let asking;
            let target: Target;
            match reply {
                Err(e) => return error(e.to_string().as_bytes()),
                // A key of a migrating slot is in flight: the node asks to retry shortly,
                // as cluster clients do.
                Ok(Reply {
                    result: Some(reply::Result::Resp(b)),
                    ..
                }) if b.starts_with(b"-TRYAGAIN") && retries < MAX_TRYAGAIN => {
                    retries += 1;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(100));
                    asking = false;
                    target = match self.router.owner(slot) {
                        Some(t) => t,
                        None => return error(NOT_SERVED),
                    };
                }
                Ok(Reply {
                    result: Some(reply::Result::Resp(b)),
                    ..
                }) => return b,
                Ok(Reply {
                    result: Some(reply::Result::Redirect(r)),
                    ..
                }) => {
                    redirects += 1;
                    if redirects > MAX_REDIRECTS {
                        return error(b"TRYAGAIN Too many redirects, the slot is moving");
                    }
                    self.stats.redirects_followed.fetch_add(1, Relaxed);
                    asking = r.kind() == redirect::Kind::Ask;
                    target = match self.follow(slot, &r.address, asking, epoch).await {
                        Some(t) => t,
                        None => return error(NOT_SERVED),
                    };
                }
                Ok(Reply { result: None, .. }) => return error(b"ERR empty reply from node"),
            }
            epoch = self.router.map().epoch;
            reply = match self.upstreams.get(&target.grpc_addr) {
                Ok(pool) => fwd.start(&pool, resp, asking, None).await,
                Err(e) => Err(e),
            };
        }
    }

    /// Where to go after a redirect. MOVED means our map is stale: wait a little for the
    /// watch to deliver a newer one, then prefer the map's owner; ASK goes to the named node
    /// once (with the asking flag) without touching the map.
    async fn follow(&self, slot: u16, address: &str, ask: bool, epoch: u64) -> Option<Target> {
        if ask {
            return self.router.by_resp_addr(address);
        }
        if self.router.map().epoch == epoch {
            self.router
                .wait_newer(epoch, Duration::from_millis(200))
                .await;
        }
        self.router
            .by_resp_addr(address)
            .or_else(|| self.router.owner(slot))
    }

    /// Runs a keyless command on one node (by map index), without redirects.
    pub async fn call_node(&self, grpc_addr: &str, args: Vec<Bytes>, resp: u32) -> Bytes {
        self.start_node(grpc_addr, args, resp, None).await
    }

    /// Like [`Proxy::call_node`], but queued on the node's stream now: what the client sends
    /// after it cannot overtake it.
    pub fn start_node(
        &self,
        grpc_addr: &str,
        args: Vec<Bytes>,
        resp: u32,
        client: Option<u64>,
    ) -> impl Future<Output = Bytes> + Send + 'static {
        let started = self
            .upstreams
            .get(grpc_addr)
            .map(|pool| pool.start(args, Bytes::new(), resp, false, client));
        async move {
            match started {
                Ok(fut) => match fut.await {
                    Ok(r) => session::reply_bytes(r),
                    Err(e) => error(e.to_string().as_bytes()),
                },
                Err(e) => error(e.to_string().as_bytes()),
            }
        }
    }
}

const NOT_SERVED: &[u8] = b"CLUSTERDOWN Hash slot not served";

/// A command for one slot, as the client sent it.
pub struct Routed {
    pub slot: u16,
    pub raw: Bytes,
}

/// What is sent (again, after a redirect) for a command.
enum Forward {
    Args(Vec<Bytes>),
    Raw(Bytes),
}

impl Forward {
    fn start(
        &self,
        pool: &Arc<upstream::NodePool>,
        resp: u32,
        asking: bool,
        client: Option<u64>,
    ) -> impl Future<Output = Result<Reply, UpError>> + Send + 'static {
        match self {
            Forward::Args(args) => pool.start(args.clone(), Bytes::new(), resp, asking, client),
            Forward::Raw(raw) => pool.start(Vec::new(), raw.clone(), resp, asking, client),
        }
    }
}

/// `-<msg>\r\n`; CR and LF in `msg` become spaces so the reply stays one line.
pub fn error(msg: &[u8]) -> Bytes {
    let mut v = Vec::with_capacity(msg.len() + 3);
    v.push(b'-');
    v.extend(
        msg.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    v.extend_from_slice(b"\r\n");
    Bytes::from(v)
}
