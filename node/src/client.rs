//! One client connection: read what is available, parse every complete request, execute them
//! in order into one output buffer, write once. Pipelining is the common case.

use crate::blocking::{BlockRequest, Blocked};
use crate::cluster::redirect;
use crate::cmd;
use crate::server::Server;
use autocache_proto::resp::{Limits, Parsed, Protocol, ReplyBuf, Request, RequestParser};
use bytes::{Buf, Bytes, BytesMut};
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// What other connections may see or do to this one (CLIENT LIST, CLIENT KILL).
#[derive(Debug)]
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub created: Instant,
    /// Milliseconds since `created` at the last command.
    pub last_active_ms: AtomicU64,
    pub name: Mutex<Option<Bytes>>,
    pub lib_name: Mutex<String>,
    pub lib_ver: Mutex<String>,
    /// Index in the command table of the last command, +1 (0 = none yet).
    pub last_cmd: AtomicUsize,
    pub resp: AtomicU8,
    /// Commands queued in MULTI, -1 outside a transaction.
    pub multi: AtomicI64,
    pub qbuf: AtomicUsize,
    pub omem: AtomicUsize,
    killed: AtomicBool,
    kill: Notify,
}

impl ClientHandle {
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr) -> ClientHandle {
        ClientHandle {
            id,
            addr,
            laddr,
            created: Instant::now(),
            last_active_ms: AtomicU64::new(0),
            name: Mutex::new(None),
            lib_name: Mutex::new(String::new()),
            lib_ver: Mutex::new(String::new()),
            last_cmd: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            multi: AtomicI64::new(-1),
            qbuf: AtomicUsize::new(0),
            omem: AtomicUsize::new(0),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
        }
    }

    /// Asks the connection to close (CLIENT KILL); it does after its current batch.
    pub fn kill(&self) {
        self.killed.store(true, Relaxed);
        self.kill.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Relaxed)
    }

    pub fn idle(&self) -> Duration {
        let active = Duration::from_millis(self.last_active_ms.load(Relaxed));
        self.created.elapsed().saturating_sub(active)
    }
}

/// A queued MULTI command, owned.
pub type Queued = autocache_proto::resp::OwnedRequest;

/// Per-connection state only this connection touches.
pub struct ClientState {
    pub handle: Arc<ClientHandle>,
    pub authenticated: bool,
    /// Close once the replies so far are written (QUIT, protocol error, CLIENT KILL self).
    pub close: bool,
    /// `Some` inside MULTI: the queued commands.
    pub multi: Option<Vec<Queued>>,
    /// A command failed to queue: EXEC must answer EXECABORT.
    pub multi_error: bool,
    /// WATCHed keys with the expiry they had when watched (0: none), and the flag a write
    /// to any of them sets.
    pub watched: Vec<(Box<[u8]>, u64)>,
    pub watch_flag: crate::db::WatchFlag,
    /// Set by a blocking command that found nothing; the connection then parks.
    pub block: Option<BlockRequest>,
    /// The parked command, while blocked.
    pub blocked: Option<Blocked>,
    pub subs: cmd::pubsub::Subscriptions,
    /// Cluster mode: ASKING was sent (serves an IMPORTING slot for the next command).
    pub asking: bool,
    /// Cluster mode: the last command was redirected (the gRPC path answers it structured).
    pub redirect: Option<crate::cluster::redirect::Redirect>,
    /// Cold values the next command needs, to fetch before it runs.
    pub faults: Vec<crate::tier::prefetch::Fault>,
    /// The next command's cold values were fetched: run it without checking again.
    pub prefetched: bool,
    /// Fetching them failed: the next command answers this instead of running.
    pub cold_error: Option<String>,
    /// Cluster mode: a key of the next command is in flight to a migration target; the
    /// connection waits for it to land first.
    pub inflight: Option<(u16, Box<[u8]>)>,
    /// That wait is over: run the next command without checking again.
    pub inflight_waited: bool,
    /// A script runs: the next command waits for it to end (or to pass
    /// busy-reply-threshold, then it is answered BUSY) without holding a thread.
    pub script_wait: bool,
    /// That wait is over: run the next command without checking again.
    pub script_waited: bool,
    /// Inside `process` only: when the previous command of the batch ended, which is the
    /// next one's start (one clock read per command instead of two). None elsewhere, so a
    /// command run after a wait times itself.
    pub timer: Option<std::time::Instant>,
}

impl ClientState {
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> ClientState {
        ClientState {
            handle,
            authenticated,
            close: false,
            multi: None,
            multi_error: false,
            watched: Vec::new(),
            watch_flag: Arc::new(AtomicBool::new(false)),
            block: None,
            blocked: None,
            subs: Default::default(),
            asking: false,
            redirect: None,
            faults: Vec::new(),
            prefetched: false,
            cold_error: None,
            inflight: None,
            inflight_waited: false,
            script_wait: false,
            script_waited: false,
            timer: None,
        }
    }
}

struct Deregister<'a>(&'a Server, u64);

impl Drop for Deregister<'_> {
    fn drop(&mut self) {
        self.0.clients.remove(self.1);
    }
}

/// Serves one client until it quits, errs, idles out, is killed, or the server stops.
pub async fn serve(server: Arc<Server>, mut stream: TcpStream, peer: SocketAddr, id: u64) {
    let _ = stream.set_nodelay(true);
    let laddr = stream.local_addr().unwrap_or(peer);
    let max = server.settings.maxclients.load(Relaxed) as usize;
    if server.clients.len() >= max {
        server.stats.rejected_connections.fetch_add(1, Relaxed);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    let handle = Arc::new(ClientHandle::new(id, peer, laddr));
    server.clients.add(handle.clone());
    let _deregister = Deregister(&server, handle.id);
    let authenticated = !server.settings.auth_required();
    let mut state = ClientState::new(handle.clone(), authenticated);
    let mut parser = RequestParser::new(limits(&server));
    let mut inbuf = BytesMut::with_capacity(16 * 1024);
    let mut out = ReplyBuf::new(Protocol::Resp2);
    let mut stop = server.shutdown.clone();
    let mut resume = false;
    let result: std::io::Result<()> = async {
        loop {
            let timeout = server.settings.timeout.load(Relaxed);
            let idle_limit = if timeout == 0 {
                Duration::MAX
            } else {
                Duration::from_secs(timeout)
            };
            if std::mem::take(&mut resume) {
                // Cold values were fetched, or a key in flight landed, for the request
                // waiting in `inbuf`: run it now.
            } else if let Some(blocked) = state.blocked.take() {
                if !out.is_empty() {
                    stream.write_all(&out.buf).await?;
                    out.buf.clear();
                }
                let served = wait_blocked(
                    &server,
                    &mut state,
                    blocked,
                    &mut stream,
                    &mut inbuf,
                    &mut out,
                    &mut stop,
                )
                .await?;
                if !served {
                    return Ok(());
                }
            } else {
                tokio::select! {
                    n = stream.read_buf(&mut inbuf) => {
                        if n? == 0 {
                            return Ok(());
                        }
                    }
                    _ = handle.kill.notified() => return Ok(()),
                    _ = stop.changed() => return Ok(()),
                    _ = subscriber_ready(&state) => {}
                    _ = tokio::time::sleep(idle_limit.saturating_sub(handle.idle())), if timeout > 0 => {
                        if handle.idle() >= idle_limit {
                            return Ok(());
                        }
                        continue;
                    }
                }
            }
            server
                .stats
                .net_input_bytes
                .fetch_add(inbuf.len() as u64, Relaxed);
            parser.set_limits(limits(&server));
            process(&server, &mut state, &mut parser, &mut inbuf, &mut out);
            if let Some(outbox) = &state.subs.outbox {
                if outbox.overflowed() {
                    return Ok(());
                }
                let messages = outbox.take();
                out.buf.extend_from_slice(&messages);
            }
            if !out.is_empty() {
                // Let every other client with input ready run first, then write: replies
                // leave in one burst per scheduler pass, as Redis writes them before it
                // sleeps, and the client wakes once for many of them.
                tokio::task::yield_now().await;
                stream.write_all(&out.buf).await?;
                server
                    .stats
                    .net_output_bytes
                    .fetch_add(out.len() as u64, Relaxed);
                out.buf.clear();
                if out.buf.capacity() > 1024 * 1024 {
                    out.buf = BytesMut::with_capacity(16 * 1024);
                }
            }
            let qlimit = server.settings.client_query_buffer_limit.load(Relaxed) as usize;
            if state.close || handle.is_killed() || inbuf.len() > qlimit {
                if inbuf.len() > qlimit {
                    tracing::warn!(client = handle.id, "closing client: query buffer over client-query-buffer-limit");
                }
                return Ok(());
            }
            if inbuf.capacity() > 1024 * 1024 && inbuf.is_empty() {
                inbuf = BytesMut::with_capacity(16 * 1024);
            }
            handle.qbuf.store(inbuf.len(), Relaxed);
            if let Some((slot, key)) = state.inflight.take() {
                if let Some(cluster) = &server.cluster {
                    let limit = crate::cluster::redirect::INFLIGHT_WAIT;
                    cluster.wait_inflight(slot, &key, limit).await;
                }
                state.inflight_waited = true;
                resume = true;
            }
            if !state.faults.is_empty() {
                let faults = std::mem::take(&mut state.faults);
                if let Err(msg) = crate::tier::prefetch::resolve(&server, faults).await {
                    state.cold_error = Some(msg);
                }
                state.prefetched = true;
                resume = true;
            }
            if std::mem::take(&mut state.script_wait) {
                server.scripts.wait().await;
                state.script_waited = true;
                resume = true;
            }
        }
    }
    .await;
    if let Err(e) = result {
        tracing::debug!(client = handle.id, "connection closed: {e}");
    }
    if let Some(mut b) = state.blocked.take() {
        b.unregister(&server);
    }
    cmd::transaction::unwatch_all(&server, &mut state);
    cmd::pubsub::unsubscribe_all(&server, &mut state);
}

/// Resolves when messages wait in this subscriber's outbox (never for non-subscribers).
async fn subscriber_ready(state: &ClientState) {
    match &state.subs.outbox {
        Some(o) => o.ready.notified().await,
        None => std::future::pending().await,
    }
}

/// Parks a blocked command until a write to one of its keys lets it through (its reply is
/// then in `out`), its timeout passes (the null reply is in `out`), or the connection must
/// close (returns false). Input arriving meanwhile is buffered, not executed.
async fn wait_blocked(
    server: &Server,
    state: &mut ClientState,
    mut blocked: Blocked,
    stream: &mut TcpStream,
    inbuf: &mut BytesMut,
    out: &mut ReplyBuf,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<bool> {
    blocked.register(server);
    let handle = state.handle.clone();
    let mut epochs = server.cluster.as_ref().map(|c| c.watch_epoch());
    // Re-run once right after joining the queues: a write may have landed in between.
    let mut woken = true;
    loop {
        if woken {
            cmd::execute(server, state, out, &blocked.request.as_request());
            if state.block.take().is_none() {
                blocked.unregister(server);
                return Ok(true);
            }
        }
        let deadline = blocked.deadline;
        let sleep_until = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = blocked.waiter.notify.notified() => woken = true,
            _ = tokio::time::sleep_until(sleep_until.into()), if deadline.is_some() => {
                if Instant::now() >= sleep_until {
                    blocked.unregister(server);
                    blocked.reply.write(out);
                    return Ok(true);
                }
                woken = false;
            }
            n = stream.read_buf(inbuf) => {
                let qlimit = server.settings.client_query_buffer_limit.load(Relaxed) as usize;
                if n? == 0 || inbuf.len() > qlimit {
                    blocked.unregister(server);
                    return Ok(false);
                }
                woken = false;
            }
            _ = handle.kill.notified() => {
                blocked.unregister(server);
                return Ok(false);
            }
            _ = stop.changed() => {
                blocked.unregister(server);
                return Ok(false);
            }
            _ = map_changed(&mut epochs) => {
                if let Some(refusal) = redirect::blocked_refusal(server, &blocked.keys) {
                    blocked.unregister(server);
                    redirect::refuse_blocked(state, out, refusal);
                    return Ok(true);
                }
                woken = false;
            }
        }
    }
}

/// Resolves when the slot map in use changes (never outside cluster mode).
pub(crate) async fn map_changed(epochs: &mut Option<tokio::sync::watch::Receiver<u64>>) {
    match epochs {
        Some(rx) => {
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// Cluster mode, a slot migrating: whether `request` waits for a key in flight (in
/// `state.inflight`) first.
fn needs_inflight_wait(server: &Server, state: &mut ClientState, request: &Request<'_>) -> bool {
    if state.inflight_waited {
        return false;
    }
    state.inflight = crate::cluster::redirect::inflight_key(server, state, request);
    state.inflight.is_some()
}

/// A script runs: whether `request` waits for it (in `state.script_wait`) first.
fn needs_script_wait(server: &Server, state: &mut ClientState, request: &Request<'_>) -> bool {
    if state.script_waited || !server.scripts.running() || server.scripts.busy() {
        return false;
    }
    state.script_wait = !crate::script::allowed_while_busy(request);
    state.script_wait
}

/// Tiered with cold values: whether `request` waits for some (in `state.faults`) first.
fn needs_fetch(server: &Server, state: &mut ClientState, request: &Request<'_>) -> bool {
    if state.prefetched {
        return false;
    }
    state.faults = crate::tier::prefetch::wanted(server, state, request);
    !state.faults.is_empty()
}

fn limits(server: &Server) -> Limits {
    Limits {
        max_bulk_len: server.settings.proto_max_bulk_len.load(Relaxed) as usize,
        max_multibulk_len: i32::MAX as usize,
    }
}

/// Parses and executes every complete request in `inbuf`, appending replies to `out`.
fn process(
    server: &Server,
    state: &mut ClientState,
    parser: &mut RequestParser,
    inbuf: &mut BytesMut,
    out: &mut ReplyBuf,
) {
    let mut executed = 0u64;
    state.timer = Some(std::time::Instant::now());
    loop {
        let consumed = match parser.parse(inbuf, state.authenticated) {
            Ok(Parsed::Incomplete) => break,
            Ok(Parsed::Request { request, consumed }) => {
                if let Some(msg) = state.cold_error.take() {
                    out.error(&msg);
                    state.prefetched = false;
                    executed += 1;
                } else if !request.is_empty() {
                    if needs_inflight_wait(server, state, &request)
                        || needs_fetch(server, state, &request)
                        || needs_script_wait(server, state, &request)
                    {
                        break;
                    }
                    state.prefetched = false;
                    state.inflight_waited = false;
                    state.script_waited = false;
                    cmd::execute(server, state, out, &request);
                    executed += 1;
                    if let Some(block) = state.block.take() {
                        state.blocked = Some(Blocked::new(block, request.to_owned()));
                    }
                }
                consumed
            }
            Err(e) => {
                out.error(&format!("ERR {e}"));
                state.close = true;
                inbuf.clear();
                break;
            }
        };
        inbuf.advance(consumed);
        if state.close || state.blocked.is_some() {
            break;
        }
    }
    state.timer = None;
    if executed > 0 {
        server
            .stats
            .total_commands_processed
            .fetch_add(executed, Relaxed);
        let h = &state.handle;
        h.last_active_ms
            .store(h.created.elapsed().as_millis() as u64, Relaxed);
    }
}
