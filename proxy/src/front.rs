//! Client connections: one task per connection reads whatever bytes are available, parses
//! every complete request and dispatches each at once (routed commands run concurrently,
//! batched with other connections' on the shared streams), then writes the replies in request
//! order. Stateful clients (MULTI/WATCH, blocking pops, subscriptions) use a dedicated
//! session stream for their duration.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use autocache_proto::command::{
    flags, lookup_position, lookup_sub, CommandSpec, Routing, COMMANDS,
};
use autocache_proto::resp::{Limits, Parsed, Protocol, Request, RequestParser};
use autocache_proto::slot::key_slot;
use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};

use crate::fanout::{self, Merge};
use crate::session::{reply_bytes, Session, Subscription};
use crate::{error, resp, Proxy};

const CROSSSLOT: &[u8] = b"CROSSSLOT Keys in request don't hash to the same slot";
/// Bytes in one read above which the client is taken to pipeline (one GET or SET of a
/// small value is well under it).
const PIPELINED_READ: usize = 256;

pub(crate) const NOT_SERVED: &[u8] = b"CLUSTERDOWN Hash slot not served";

/// What CLIENT LIST shows of a connection.
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub created: Instant,
    pub last_active: Mutex<Instant>,
    pub name: Mutex<Option<Bytes>>,
    pub lib_name: Mutex<String>,
    pub lib_ver: Mutex<String>,
    pub resp: AtomicU8,
    pub last_cmd: Mutex<&'static str>,
    pub multi: AtomicBool,
    pub subscribed: AtomicBool,
    pub killed: Notify,
}

/// Connected clients, by id.
#[derive(Default)]
pub struct Clients {
    map: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_id: AtomicU64,
}

impl Clients {
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.map.lock().values().cloned().collect()
    }
}

/// Removes a connection from the registry however its task ends.
struct Deregister<'a>(&'a Proxy, u64);

impl Drop for Deregister<'_> {
    fn drop(&mut self) {
        self.0.clients.map.lock().remove(&self.1);
    }
}

pub async fn accept_loop(
    proxy: Arc<Proxy>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    stop_tx: &watch::Sender<bool>,
) {
    let stop = stop_tx.subscribe();
    let mut conns = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    proxy.stats.connections_received.fetch_add(1, Relaxed);
                    conns.spawn(serve(proxy.clone(), stream, peer, stop.clone()));
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    // Connections notice the flag after their current batch.
    let _ = stop_tx.send(true);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain)
        .await
        .is_err()
    {
        conns.abort_all();
    }
}

async fn serve(
    proxy: Arc<Proxy>,
    mut stream: TcpStream,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    if proxy.clients.len() >= proxy.config.maxclients {
        proxy.stats.rejected_connections.fetch_add(1, Relaxed);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    let id = proxy.clients.next_id.fetch_add(1, Relaxed) + 1;
    let laddr = stream.local_addr().unwrap_or(proxy.addr);
    let handle = Arc::new(ClientHandle {
        id,
        addr: peer,
        laddr,
        created: Instant::now(),
        last_active: Mutex::new(Instant::now()),
        name: Mutex::new(None),
        lib_name: Mutex::new(String::new()),
        lib_ver: Mutex::new(String::new()),
        resp: AtomicU8::new(2),
        last_cmd: Mutex::new("NULL"),
        multi: AtomicBool::new(false),
        subscribed: AtomicBool::new(false),
        killed: Notify::new(),
    });
    proxy.clients.map.lock().insert(id, handle.clone());
    let _deregister = Deregister(&proxy, id);
    let mut conn = Conn {
        authenticated: proxy.config.requirepass.is_empty(),
        proxy: proxy.clone(),
        handle,
        stream,
        rbuf: BytesMut::with_capacity(16 * 1024),
        out: BytesMut::with_capacity(16 * 1024),
        parser: RequestParser::new(Limits::default()),
        pending: VecDeque::new(),
        proto: Protocol::Resp2,
        close: false,
        tx: None,
        watch: None,
        blocking: None,
        sub: None,
        raw: None,
        outgoing: Vec::new(),
        routed: VecDeque::new(),
        stream_key: 0,
    };
    if let Err(e) = conn.run(stop).await {
        tracing::debug!(client = id, error = %e, "connection ended");
    }
}

/// A reply in the making: ready now, or on its way from nodes.
pub enum Pending {
    Ready(Bytes),
    /// Already queued on a node stream; polled when the reply's turn comes.
    Fut(std::pin::Pin<Box<dyn Future<Output = Bytes> + Send>>),
    /// The next reply of the oldest batch of routed commands ([`Conn::routed`]).
    Routed,
}

/// Commands for single slots from one read of the client, sent together (per node); their
/// replies, once they came.
struct RoutedBatch {
    replies: Option<std::pin::Pin<Box<dyn Future<Output = Vec<Bytes>> + Send>>>,
    ready: std::vec::IntoIter<Bytes>,
}

/// MULTI state: commands queued locally until EXEC pins them to one node.
#[derive(Default)]
pub struct Tx {
    pub queued: Vec<Vec<Bytes>>,
    pub slot: Option<u16>,
    /// A queued command was refused: EXEC answers EXECABORT.
    pub dirty: bool,
}

/// WATCH state: the session holding the watches, and their slot.
pub struct Watch {
    pub session: Session,
    pub slot: u16,
}

pub struct Conn {
    pub proxy: Arc<Proxy>,
    pub handle: Arc<ClientHandle>,
    stream: TcpStream,
    rbuf: BytesMut,
    out: BytesMut,
    parser: RequestParser,
    pending: VecDeque<Pending>,
    pub proto: Protocol,
    pub authenticated: bool,
    pub close: bool,
    pub tx: Option<Tx>,
    pub watch: Option<Watch>,
    /// Kept between blocking commands to the same node.
    blocking: Option<Session>,
    pub sub: Option<Subscription>,
    /// The request being dispatched, as the client sent it: a command routed to one slot
    /// forwards these bytes to its node rather than its arguments re-encoded.
    raw: Option<Bytes>,
    /// Commands for one slot each, gathered from the requests read so far: they leave
    /// together (per node) before anything else runs, or once the input is parsed.
    outgoing: Vec<crate::Routed>,
    /// Batches of them sent, oldest first, for [`Pending::Routed`].
    routed: VecDeque<RoutedBatch>,
    /// Picks the node stream of everything sent for the read being handled (one stream per
    /// read keeps its commands in order; the next read waits for every reply of this one).
    pub stream_key: u64,
}

impl Conn {
    pub fn resp(&self) -> u32 {
        if self.proto == Protocol::Resp3 {
            3
        } else {
            2
        }
    }

    async fn run(&mut self, mut stop: watch::Receiver<bool>) -> std::io::Result<()> {
        let handle = self.handle.clone();
        loop {
            if self.close || *stop.borrow() {
                return self.flush().await;
            }
            let sub = self.sub.as_mut();
            tokio::select! {
                n = self.stream.read_buf(&mut self.rbuf) => {
                    if n? == 0 {
                        return Ok(());
                    }
                    *handle.last_active.lock() = Instant::now();
                    self.handle_input().await;
                    self.flush().await?;
                }
                push = next_push(sub) => match push {
                    Ok(bytes) => {
                        self.stream.write_all(&bytes).await?;
                        if leaves_subscribed_mode(&bytes) {
                            self.leave_subscribed();
                        }
                    }
                    Err(_) => {
                        // The node went away: nothing will be delivered any more.
                        self.leave_subscribed();
                        self.stream.write_all(&error(b"CLUSTERDOWN subscription lost: node unreachable")).await?;
                    }
                },
                _ = handle.killed.notified() => return self.flush().await,
                changed = stop.changed() => {
                    if changed.is_err() {
                        return self.flush().await;
                    }
                }
            }
        }
    }

    pub fn leave_subscribed(&mut self) {
        self.sub = None;
        self.handle.subscribed.store(false, Relaxed);
    }

    /// Parses and dispatches every complete request in the read buffer; sends what it
    /// gathered for the nodes.
    async fn handle_input(&mut self) {
        // A read of one small request shares stream 0 with every other such read, so that
        // unpipelined clients make big batches; a pipelined read takes its client's own
        // stream, so that pipelines spread over the node's sessions (and its cores).
        self.stream_key = if self.rbuf.len() > PIPELINED_READ {
            self.handle.id
        } else {
            0
        };
        self.parse_input().await;
        self.send_routed();
    }

    async fn parse_input(&mut self) {
        while !self.close {
            let base = self.rbuf.as_ptr() as usize;
            let parsed = self.parser.parse(&self.rbuf, self.authenticated);
            // Arguments of a multibulk request lie in the read buffer: remember where, and
            // slice them out of the request's frozen bytes without copying. Inline requests
            // are unquoted into the parser's own buffer and are copied.
            let (spans, consumed) = match parsed {
                Ok(Parsed::Request { request, consumed }) => {
                    // The common case first: a command for one slot, forwarded as it came
                    // without splitting it into arguments.
                    let plain = self.authenticated && self.sub.is_none() && self.tx.is_none();
                    if let Some((position, slot)) = plain.then(|| routed_as_is(&request)).flatten()
                    {
                        let stats = &self.proxy.stats;
                        stats.commands_processed.fetch_add(1, Relaxed);
                        stats.commands[position].fetch_add(1, Relaxed);
                        *self.handle.last_cmd.lock() = COMMANDS[position].name;
                        let raw = self.rbuf.split_to(consumed).freeze();
                        self.outgoing.push(crate::Routed { slot, raw });
                        self.pending.push_back(Pending::Routed);
                        continue;
                    }
                    let spans: Vec<Result<(usize, usize), Bytes>> = request
                        .iter()
                        .map(|a| {
                            let off = (a.as_ptr() as usize).wrapping_sub(base);
                            if off + a.len() <= consumed {
                                Ok((off, a.len()))
                            } else {
                                Err(Bytes::copy_from_slice(a))
                            }
                        })
                        .collect();
                    (spans, consumed)
                }
                Ok(Parsed::Incomplete) => return,
                Err(e) => {
                    self.push(error(format!("ERR {e}").as_bytes()));
                    self.close = true;
                    return;
                }
            };
            let frozen = self.rbuf.split_to(consumed).freeze();
            let args: Vec<Bytes> = spans
                .into_iter()
                .map(|s| s.map_or_else(|b| b, |(off, len)| frozen.slice(off..off + len)))
                .collect();
            if !args.is_empty() {
                self.raw = Some(frozen);
                self.dispatch(args).await;
                self.raw = None;
            }
        }
    }

    pub fn push(&mut self, b: Bytes) {
        self.pending.push_back(Pending::Ready(b));
    }

    /// A reply already on its way (queued on a node stream), awaited in its turn.
    pub fn push_fut(&mut self, f: impl Future<Output = Bytes> + Send + 'static) {
        self.pending.push_back(Pending::Fut(Box::pin(f)));
    }

    /// Sends the commands gathered in `outgoing`.
    fn send_routed(&mut self) {
        if self.outgoing.is_empty() {
            return;
        }
        let items = std::mem::take(&mut self.outgoing);
        let replies = self.proxy.start_routed(items, self.resp(), self.stream_key);
        self.routed.push_back(RoutedBatch {
            replies: Some(Box::pin(replies)),
            ready: Vec::new().into_iter(),
        });
    }

    /// Waits for every pending reply, in order, and writes them all at once.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        self.send_routed();
        while let Some(p) = self.pending.pop_front() {
            let b = match p {
                Pending::Ready(b) => b,
                Pending::Fut(f) => f.await,
                Pending::Routed => self.next_routed().await,
            };
            self.out.extend_from_slice(&b);
        }
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        Ok(())
    }

    /// The next reply of the oldest routed batch.
    async fn next_routed(&mut self) -> Bytes {
        loop {
            let Some(batch) = self.routed.front_mut() else {
                return error(b"ERR internal error in the proxy");
            };
            if let Some(replies) = batch.replies.take() {
                batch.ready = replies.await.into_iter();
            }
            match batch.ready.next() {
                Some(b) => return b,
                None => {
                    self.routed.pop_front();
                }
            }
        }
    }

    async fn dispatch(&mut self, args: Vec<Bytes>) {
        let stats = &self.proxy.stats;
        stats.commands_processed.fetch_add(1, Relaxed);
        let spec = match resolve(&args) {
            Ok((position, spec)) => {
                stats.commands[position].fetch_add(1, Relaxed);
                spec
            }
            Err(e) if args[0].eq_ignore_ascii_case(b"exec") => {
                // As Redis: a refused EXEC discards the transaction.
                self.tx = None;
                self.handle.multi.store(false, Relaxed);
                self.watch = None;
                let reason = e.strip_prefix(b"-ERR ").unwrap_or(&e[1..]);
                let reason = reason.strip_suffix(b"\r\n").unwrap_or(reason);
                let mut msg = b"EXECABORT Transaction discarded because of: ".to_vec();
                msg.extend_from_slice(reason);
                return self.push(error(&msg));
            }
            Err(e) => {
                self.flag_tx();
                return self.push(e);
            }
        };
        *self.handle.last_cmd.lock() = spec.name;
        if !self.authenticated && !spec.has(flags::NO_AUTH) {
            return self.push(error(b"NOAUTH Authentication required."));
        }
        if self.sub.is_some() {
            return self.dispatch_subscribed(spec, args).await;
        }
        if self.tx.is_some() && !runs_inside_multi(spec.name) {
            return self.queue(spec, args);
        }
        self.execute(spec, args).await;
    }

    fn flag_tx(&mut self) {
        if let Some(tx) = self.tx.as_mut() {
            tx.dirty = true;
        }
    }

    async fn execute(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) {
        if let Some(slot) = self.one_slot(spec, &args) {
            if let Some(raw) = self.raw.take() {
                self.outgoing.push(crate::Routed { slot, raw });
                return self.pending.push_back(Pending::Routed);
            }
        }
        // Anything else runs after what came before it reached its nodes.
        self.send_routed();
        if crate::local::handles(spec.name) {
            return crate::local::run(self, spec, args).await;
        }
        match spec.name {
            "publish" | "spublish" => self.route_slot(key_slot(&args[1]), args),
            "subscribe" => self.subscribe(args).await,
            "unsubscribe" | "punsubscribe" => self.unsubscribe_idle(args),
            "psubscribe" => self.push(error(
                b"ERR PSUBSCRIBE is not supported through the proxy (patterns span every node)",
            )),
            "watch" => self.watch(args).await,
            "scan" => {
                let reply = fanout::scan(&self.proxy, args, self.resp(), self.stream_key);
                self.push_fut(reply);
            }
            "randomkey" => {
                let reply = fanout::randomkey(&self.proxy, args, self.resp(), self.stream_key);
                self.push_fut(reply);
            }
            "keys" => self.all_nodes(args, Merge::Concat),
            "dbsize" => self.all_nodes(args, Merge::Sum),
            "flushall" | "flushdb" => self.all_nodes(args, Merge::AllOk),
            _ if spec.has(flags::BLOCKING) => self.blocking(spec, args).await,
            _ => self.route(spec, args),
        }
    }

    /// The slot of a command that goes to the node owning it, as is (no split, no session).
    fn one_slot(&self, spec: &'static CommandSpec, args: &[Bytes]) -> Option<u16> {
        match spec.name {
            "publish" | "spublish" => Some(key_slot(&args[1])),
            "subscribe" | "unsubscribe" | "punsubscribe" | "psubscribe" | "watch" | "scan"
            | "randomkey" | "keys" | "dbsize" | "flushall" | "flushdb" => None,
            _ if spec.has(flags::BLOCKING)
                || spec.routing != Routing::ByKey
                || crate::local::handles(spec.name) =>
            {
                None
            }
            _ => command_slot(spec, args).ok().flatten(),
        }
    }

    pub fn all_nodes(&mut self, args: Vec<Bytes>, merge: Merge) {
        let replies = fanout::all_nodes(&self.proxy, args, merge, self.resp(), self.stream_key);
        self.push_fut(replies);
    }

    /// Sends a keyless command to any one node serving slots.
    pub fn any_node(&mut self, args: Vec<Bytes>) {
        let nodes = self.proxy.router.serving_nodes();
        let Some((_, node)) = nodes.get(fastrand::usize(..nodes.len().max(1))).cloned() else {
            return self.push(error(NOT_SERVED));
        };
        let reply =
            self.proxy
                .start_node(&node.grpc_addr, args, self.resp(), Some(self.stream_key));
        self.push_fut(reply);
    }

    /// A keyed command: to the node of its keys' slot, split when it may be, else CROSSSLOT.
    fn route(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) {
        if spec.routing == Routing::AllNodes {
            return self.all_nodes(args, Merge::AllOk);
        }
        if spec.routing != Routing::ByKey {
            return self.any_node(args);
        }
        match command_slot(spec, &args) {
            Ok(Some(slot)) => self.route_slot(slot, args),
            Ok(None) => self.any_node(args),
            Err(_) if fanout::splittable(spec.name).is_some() => {
                let step = fanout::splittable(spec.name).unwrap_or(1);
                let (resp, client) = (self.resp(), self.stream_key);
                let replies = fanout::split(&self.proxy, spec.name, args, step, resp, client);
                self.push_fut(replies);
            }
            Err(e) => self.push(e),
        }
    }

    fn route_slot(&mut self, slot: u16, args: Vec<Bytes>) {
        let proxy = self.proxy.clone();
        let resp = self.resp();
        let raw = self.raw.take();
        self.push_fut(proxy.start_slot(slot, args, raw, resp, Some(self.stream_key)));
    }

    // ---- transactions ----

    fn queue(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) {
        // A transaction runs on one node: a command about every node's keys would see (or
        // flush) only that node's.
        if spec.routing == Routing::AllNodes {
            self.flag_tx();
            let msg = format!(
                "ERR '{}' is not allowed inside a transaction through the proxy: a transaction runs on one node",
                spec.name
            );
            return self.push(error(msg.as_bytes()));
        }
        let slot = match command_slot(spec, &args) {
            Ok(s) => s,
            Err(e) => {
                self.flag_tx();
                return self.push(e);
            }
        };
        let watch_slot = self.watch.as_ref().map(|w| w.slot);
        let Some(tx) = self.tx.as_mut() else { return };
        if let Some(slot) = slot {
            match tx.slot.or(watch_slot) {
                Some(s) if s != slot => {
                    tx.dirty = true;
                    return self.push(error(CROSSSLOT));
                }
                _ => tx.slot = Some(slot),
            }
        }
        tx.queued.push(args);
        self.push(Bytes::from_static(b"+QUEUED\r\n"));
    }

    pub fn multi(&mut self) {
        if self.tx.is_some() {
            return self.push(error(b"ERR MULTI calls can not be nested"));
        }
        self.tx = Some(Tx::default());
        self.handle.multi.store(true, Relaxed);
        self.push(Bytes::from_static(b"+OK\r\n"));
    }

    pub fn discard(&mut self) {
        if self.tx.take().is_none() {
            return self.push(error(b"ERR DISCARD without MULTI"));
        }
        self.handle.multi.store(false, Relaxed);
        self.watch = None;
        self.push(Bytes::from_static(b"+OK\r\n"));
    }

    pub async fn exec(&mut self) {
        let Some(tx) = self.tx.take() else {
            return self.push(error(b"ERR EXEC without MULTI"));
        };
        self.handle.multi.store(false, Relaxed);
        // EXEC ends the watches, whatever happens.
        let watch = self.watch.take();
        if tx.dirty {
            return self.push(error(
                b"EXECABORT Transaction discarded because of previous errors.",
            ));
        }
        if tx.queued.is_empty() && watch.is_none() {
            return self.push(Bytes::from_static(b"*0\r\n"));
        }
        let _ = self.flush().await;
        let reply = self.run_tx(tx, watch).await;
        self.push(reply);
    }

    /// Ships MULTI, the queued commands and EXEC in one batch on a session to the owner of
    /// the transaction's slot. Without WATCH a slot that moved meanwhile is retried.
    async fn run_tx(&mut self, tx: Tx, watch: Option<Watch>) -> Bytes {
        let mut cmds = Vec::with_capacity(tx.queued.len() + 2);
        cmds.push(vec![Bytes::from_static(b"MULTI")]);
        cmds.extend(tx.queued);
        cmds.push(vec![Bytes::from_static(b"EXEC")]);
        let resp = self.resp();
        if let Some(mut w) = watch {
            return match w.session.call_many(cmds, resp).await {
                Ok(mut replies) => reply_bytes(replies.pop().unwrap_or_default()),
                Err(e) => error(e.to_string().as_bytes()),
            };
        }
        for _ in 0..5 {
            let epoch = self.proxy.router.map().epoch;
            let mut session = match self.session_for(tx.slot).await {
                Ok(s) => s,
                Err(e) => return e,
            };
            let replies = match session.call_many(cmds.clone(), resp).await {
                Ok(r) => r,
                Err(e) => return error(e.to_string().as_bytes()),
            };
            let redirected = replies.iter().any(|r| {
                matches!(
                    r.result,
                    Some(autocache_proto::pb::node::reply::Result::Redirect(_))
                )
            });
            if !redirected {
                return replies
                    .into_iter()
                    .last()
                    .map(reply_bytes)
                    .unwrap_or_default();
            }
            self.proxy
                .router
                .wait_newer(epoch, Duration::from_millis(500))
                .await;
        }
        error(b"TRYAGAIN the transaction's slot is moving")
    }

    /// A new session on the owner of `slot` (any serving node when None).
    fn session_for(
        &self,
        slot: Option<u16>,
    ) -> impl Future<Output = Result<Session, Bytes>> + Send + 'static {
        open_session(self.proxy.clone(), slot)
    }

    async fn watch(&mut self, args: Vec<Bytes>) {
        if self.tx.is_some() {
            return self.push(error(b"ERR WATCH inside MULTI is not allowed"));
        }
        let slot = match same_slot(args[1..].iter()) {
            Some(s) => s,
            None => return self.push(error(CROSSSLOT)),
        };
        if self.watch.as_ref().is_some_and(|w| w.slot != slot) {
            return self.push(error(CROSSSLOT));
        }
        let _ = self.flush().await;
        if self.watch.is_none() {
            match self.session_for(Some(slot)).await {
                Ok(session) => self.watch = Some(Watch { session, slot }),
                Err(e) => return self.push(e),
            }
        }
        let resp = self.resp();
        let w = self.watch.as_mut().expect("set above");
        let reply = match w.session.call(args, resp).await {
            Ok(r) => reply_bytes(r),
            Err(e) => {
                self.watch = None;
                error(e.to_string().as_bytes())
            }
        };
        self.push(reply);
    }

    pub fn unwatch(&mut self) {
        // Closing the session drops its watches on the node.
        self.watch = None;
        self.push(Bytes::from_static(b"+OK\r\n"));
    }

    // ---- blocking commands ----

    /// Runs a blocking command on a dedicated session to its slot's node, noticing meanwhile
    /// when the client hangs up (the session then closes, unblocking the node side).
    async fn blocking(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) {
        let slot = match command_slot(spec, &args) {
            Ok(Some(s)) => s,
            Ok(None) => return self.push(error(NOT_SERVED)),
            Err(e) => return self.push(e),
        };
        if self.flush().await.is_err() {
            self.close = true;
            return;
        }
        let reply = self.blocking_call(slot, args).await;
        if let Some(r) = reply {
            self.push(r);
        }
    }

    async fn blocking_call(&mut self, slot: u16, args: Vec<Bytes>) -> Option<Bytes> {
        let resp = self.resp();
        for _ in 0..5 {
            let Some(target) = self.proxy.router.owner(slot) else {
                return Some(error(NOT_SERVED));
            };
            let reuse = self
                .blocking
                .take()
                .filter(|s| s.addr() == target.grpc_addr);
            let mut session = match reuse {
                Some(s) => s,
                None => match self.session_for(Some(slot)).await {
                    Ok(s) => s,
                    Err(e) => return Some(e),
                },
            };
            let epoch = self.proxy.router.map().epoch;
            if let Err(e) = session.send(vec![args.clone()], resp) {
                return Some(error(e.to_string().as_bytes()));
            }
            let reply = tokio::select! {
                r = session.next() => r,
                n = self.stream.read_buf(&mut self.rbuf) => {
                    if matches!(n, Ok(0) | Err(_)) {
                        self.close = true;
                        return None;
                    }
                    // More pipelined input: keep waiting for the blocked reply first.
                    let r = session.next().await;
                    r
                }
            };
            match reply {
                Ok(r) => match r.result {
                    Some(autocache_proto::pb::node::reply::Result::Redirect(_)) => {
                        self.proxy
                            .router
                            .wait_newer(epoch, Duration::from_millis(500))
                            .await;
                    }
                    _ => {
                        self.blocking = Some(session);
                        return Some(reply_bytes(r));
                    }
                },
                Err(e) => return Some(error(e.to_string().as_bytes())),
            }
        }
        Some(error(b"TRYAGAIN the key's slot is moving"))
    }

    // ---- pub/sub ----

    /// SUBSCRIBE: channels route by their slot; all of one client's channels must share a
    /// slot (CROSSSLOT otherwise), as they share one session to one node.
    async fn subscribe(&mut self, args: Vec<Bytes>) {
        let Some(slot) = same_slot(args[1..].iter()) else {
            return self.push(error(CROSSSLOT));
        };
        if self.sub.as_ref().is_some_and(|s| s.slot != slot) {
            return self.push(error(CROSSSLOT));
        }
        if self.flush().await.is_err() {
            self.close = true;
            return;
        }
        if self.sub.is_none() {
            let Some(target) = self.proxy.router.owner(slot) else {
                return self.push(error(NOT_SERVED));
            };
            match Subscription::open(&target.resp_addr, slot, self.resp()).await {
                Ok(sub) => {
                    self.sub = Some(sub);
                    self.handle.subscribed.store(true, Relaxed);
                }
                Err(_) => {
                    let msg = format!("CLUSTERDOWN node {} is unreachable", target.resp_addr);
                    return self.push(error(msg.as_bytes()));
                }
            }
        }
        self.send_sub(args).await;
    }

    /// Forwards a command to the subscription's node; its replies arrive as pushes.
    async fn send_sub(&mut self, args: Vec<Bytes>) {
        let Some(sub) = self.sub.as_mut() else { return };
        if sub.send(&args).await.is_err() {
            self.leave_subscribed();
            self.push(error(b"CLUSTERDOWN subscription lost: node unreachable"));
        }
    }

    async fn dispatch_subscribed(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) {
        match spec.name {
            "subscribe" => self.subscribe(args).await,
            "unsubscribe" | "ping" => {
                if self.flush().await.is_err() {
                    self.close = true;
                    return;
                }
                self.send_sub(args).await;
            }
            "quit" | "reset" => crate::local::run(self, spec, args).await,
            "punsubscribe" => self.unsubscribe_idle(args),
            name => self.push(error(
                format!(
                    "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
                )
                .as_bytes(),
            )),
        }
    }

    /// (P)UNSUBSCRIBE with nothing subscribed: Redis still confirms each channel (or one nil)
    /// with a count of 0.
    fn unsubscribe_idle(&mut self, args: Vec<Bytes>) {
        let kind = if args[0].eq_ignore_ascii_case(b"punsubscribe") {
            "punsubscribe"
        } else {
            "unsubscribe"
        };
        let head = if self.proto == Protocol::Resp3 {
            '>'
        } else {
            '*'
        };
        let mut out = Vec::new();
        let mut one = |ch: Option<&[u8]>| {
            out.extend_from_slice(format!("{head}3\r\n${}\r\n{kind}\r\n", kind.len()).as_bytes());
            match ch {
                Some(c) => {
                    out.extend_from_slice(format!("${}\r\n", c.len()).as_bytes());
                    out.extend_from_slice(c);
                    out.extend_from_slice(b"\r\n");
                }
                None if head == '>' => out.extend_from_slice(b"_\r\n"),
                None => out.extend_from_slice(b"$-1\r\n"),
            }
            out.extend_from_slice(b":0\r\n");
        };
        if args.len() == 1 {
            one(None);
        } else {
            args[1..].iter().for_each(|c| one(Some(c)));
        }
        self.push(Bytes::from(out));
    }

    /// RESET: back to a fresh connection's state.
    pub fn reset_state(&mut self) {
        self.tx = None;
        self.watch = None;
        self.blocking = None;
        self.handle.multi.store(false, Relaxed);
        self.leave_subscribed();
        *self.handle.name.lock() = None;
        self.set_protocol(2);
        self.authenticated = self.proxy.config.requirepass.is_empty();
    }

    pub fn set_protocol(&mut self, v: u8) {
        self.proto = if v == 3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
        self.handle.resp.store(v, Relaxed);
    }
}

/// A new session on the owner of `slot` (any serving node when None). Takes the proxy by
/// value: a connection's state is not `Sync`, so no borrow of it may cross an await.
async fn open_session(proxy: Arc<Proxy>, slot: Option<u16>) -> Result<Session, Bytes> {
    let addr = match slot {
        Some(s) => proxy.router.owner(s).map(|t| t.grpc_addr),
        None => proxy
            .router
            .serving_nodes()
            .first()
            .map(|n| n.1.grpc_addr.clone()),
    };
    let addr = addr.ok_or_else(|| error(NOT_SERVED))?;
    let pool = proxy
        .upstreams
        .get(&addr)
        .map_err(|e| error(e.to_string().as_bytes()))?;
    pool.open_session()
        .await
        .map_err(|e| error(e.to_string().as_bytes()))
}

/// The next message of a subscription; pending forever without one.
async fn next_push(sub: Option<&mut Subscription>) -> std::io::Result<Bytes> {
    match sub {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// Whether a confirmation says the client has no subscription left.
fn leaves_subscribed_mode(reply: &[u8]) -> bool {
    let Some(els) = resp::elements(reply) else {
        return false;
    };
    els.len() == 3
        && matches!(
            resp::bulk(els[0]),
            Some(b"unsubscribe") | Some(b"punsubscribe")
        )
        && resp::integer(els[2]) == Some(0)
}

/// Commands that act at once even inside MULTI.
fn runs_inside_multi(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Looks the command (and its subcommand) up and checks arity, with Redis's error texts.
/// Returns the command's table position (the parent's for a subcommand) and the spec to
/// route with (the subcommand's).
fn resolve(args: &[Bytes]) -> Result<(usize, &'static CommandSpec), Bytes> {
    let Some(position) = lookup_position(&args[0]) else {
        return Err(error(unknown_command(args).as_bytes()));
    };
    let spec = &COMMANDS[position];
    if !spec.arity_ok(args.len()) {
        return Err(arity(spec.name));
    }
    if spec.subcommands.is_empty() || args.len() < 2 {
        return Ok((position, spec));
    }
    let Some(sub) = lookup_sub(spec, &args[1]) else {
        return Err(error(
            format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                String::from_utf8_lossy(&args[1]),
                spec.name.to_ascii_uppercase()
            )
            .as_bytes(),
        ));
    };
    if !sub.arity_ok(args.len()) {
        return Err(arity(sub.name));
    }
    Ok((position, sub))
}

fn arity(name: &str) -> Bytes {
    error(format!("ERR wrong number of arguments for '{name}' command").as_bytes())
}

fn unknown_command(args: &[Bytes]) -> String {
    let mut msg = format!(
        "ERR unknown command '{}', with args beginning with: ",
        String::from_utf8_lossy(&args[0][..args[0].len().min(128)])
    );
    for a in args.iter().skip(1).take(20) {
        msg.push('\'');
        msg.push_str(&String::from_utf8_lossy(&a[..a.len().min(128)]));
        msg.push_str("' ");
    }
    msg
}

/// The table position and slot of a request that goes as it came to the node owning its
/// keys' one slot: a known command of the right arity, keys at fixed positions, none of the
/// commands the proxy answers, splits, fans out or runs on a session of their own.
fn routed_as_is(req: &Request<'_>) -> Option<(usize, u16)> {
    let position = lookup_position(req.get(0)?)?;
    let spec = &COMMANDS[position];
    if !spec.arity_ok(req.len())
        || !spec.subcommands.is_empty()
        || spec.routing != Routing::ByKey
        || spec.has(flags::BLOCKING)
        || matches!(
            spec.name,
            "watch" | "subscribe" | "unsubscribe" | "publish" | "spublish"
        )
        || crate::local::handles(spec.name)
    {
        return None;
    }
    spec.fixed_keys_slot(req.len(), |i| req.arg(i))
        .map(|slot| (position, slot))
}

/// The one slot of a command's keys: None without keys, CROSSSLOT (or the key-count error)
/// when they span several.
fn command_slot(spec: &CommandSpec, args: &[Bytes]) -> Result<Option<u16>, Bytes> {
    let idx = spec
        .key_indexes(args)
        .map_err(|e| error(format!("ERR {e}").as_bytes()))?;
    if idx.is_empty() {
        return Ok(None);
    }
    same_slot(idx.iter().map(|&i| &args[i]))
        .map(Some)
        .ok_or_else(|| error(CROSSSLOT))
}

fn same_slot<'a>(mut keys: impl Iterator<Item = &'a Bytes>) -> Option<u16> {
    let first = key_slot(keys.next()?);
    keys.all(|k| key_slot(k) == first).then_some(first)
}
