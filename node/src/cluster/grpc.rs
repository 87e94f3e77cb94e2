//! The node's gRPC service. `Execute` is the proxy's data path: each stream is one client
//! session (its own ClientState, so MULTI/WATCH/blocking pops work on a dedicated stream),
//! each batch runs in one go through the normal dispatcher and answers in one message.
//! `ImportSlot`, `StartMigration` are the two ends of a slot migration; `NodeInfo` reports
//! identity, epoch and per-slot key counts.

use super::migrate;
use super::redirect::{self, Redirect};
use crate::blocking::Blocked;
use crate::client::{ClientHandle, ClientState};
use crate::cmd;
use crate::server::Server;
use autocache_proto::pb::node::{
    self as pb, node_server::Node, node_server::NodeServer, reply, CommandBatch, ImportAck,
    NodeInfoReply, NodeInfoRequest, ReplyBatch, SlotChunk, SlotKeys, StartMigrationReply,
    StartMigrationRequest,
};
use autocache_proto::resp::{Limits, OwnedRequest, Parsed, Protocol, ReplyBuf, RequestParser};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::{Request, Response, Status, Streaming};

pub async fn serve(server: Arc<Server>, listener: TcpListener, mut stop: watch::Receiver<bool>) {
    let svc = NodeServer::new(NodeService(server))
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = tonic::transport::Server::builder()
        .add_service(svc)
        // Nagle off: small replies (acks, reply batches) must not wait for a delayed ACK.
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
    {
        tracing::error!("gRPC server failed: {e}");
    }
}

struct NodeService(Arc<Server>);

#[tonic::async_trait]
impl Node for NodeService {
    type ExecuteStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<ReplyBatch, Status>> + Send + 'static>,
    >;

    async fn execute(
        &self,
        req: Request<Streaming<CommandBatch>>,
    ) -> Result<Response<Self::ExecuteStream>, Status> {
        let peer = req
            .remote_addr()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let session = Session::new(self.0.clone(), peer, req.into_inner());
        Ok(Response::new(Box::pin(futures::stream::unfold(
            session,
            |mut s| async move { s.next_batch().await.map(|b| (Ok(b), s)) },
        ))))
    }

    async fn import_slot(
        &self,
        req: Request<Streaming<SlotChunk>>,
    ) -> Result<Response<ImportAck>, Status> {
        let mut input = req.into_inner();
        let mut ack = ImportAck::default();
        while let Some(chunk) = input.message().await? {
            ack.slot = chunk.slot;
            ack.keys_imported += migrate::import(&self.0, &chunk).await?;
            if chunk.last {
                break;
            }
        }
        Ok(Response::new(ack))
    }

    async fn start_migration(
        &self,
        req: Request<StartMigrationRequest>,
    ) -> Result<Response<StartMigrationReply>, Status> {
        let r = req.into_inner();
        let slot = u16::try_from(r.slot)
            .ok()
            .filter(|s| (*s as usize) < autocache_proto::slot::SLOT_COUNT)
            .ok_or_else(|| Status::invalid_argument("slot out of range"))?;
        migrate::start(&self.0, slot, r.target_grpc_addr, r.epoch);
        Ok(Response::new(StartMigrationReply {}))
    }

    async fn node_info(
        &self,
        _req: Request<NodeInfoRequest>,
    ) -> Result<Response<NodeInfoReply>, Status> {
        let cluster = self.0.cluster.as_deref().expect("cluster mode");
        let mut slots = Vec::new();
        for i in 0..crate::db::SHARDS {
            let shard = self.0.keyspace.lock_shard(i);
            for (slot, t) in shard.tables() {
                if !t.is_empty() {
                    slots.push(SlotKeys {
                        slot: slot.into(),
                        keys: t.len() as u64,
                    });
                }
            }
        }
        slots.sort_by_key(|s| s.slot);
        Ok(Response::new(NodeInfoReply {
            id: cluster.id.clone(),
            epoch: cluster.epoch(),
            slots,
        }))
    }
}

/// One Execute stream: a client session until the proxy closes it or the server stops.
/// The reply stream runs the session itself (no task of its own between the HTTP/2 stream
/// and the dispatcher: one wake-up less per batch); when the proxy closes the stream, the
/// stream is dropped, mid-wait or not, and `Drop` leaves the session's queues and watches.
struct Session {
    server: Arc<Server>,
    state: ClientState,
    out: ReplyBuf,
    /// Parses the commands the proxy forwards as the client's bytes (`Command.raw`).
    parser: RequestParser,
    input: Streaming<CommandBatch>,
    stop: watch::Receiver<bool>,
}

impl Session {
    fn new(server: Arc<Server>, peer: SocketAddr, input: Streaming<CommandBatch>) -> Session {
        let id = server.clients.next_id();
        let handle = Arc::new(ClientHandle::new(id, peer, peer));
        // The proxy authenticates its clients itself.
        let state = ClientState::new(handle, true);
        let stop = server.shutdown.clone();
        Session {
            server,
            state,
            out: ReplyBuf::new(Protocol::Resp2),
            parser: RequestParser::new(Limits::default()),
            input,
            stop,
        }
    }

    /// Runs the next batch; None when the stream ends or the server stops.
    async fn next_batch(&mut self) -> Option<ReplyBatch> {
        let batch = tokio::select! {
            m = self.input.message() => match m {
                Ok(Some(b)) => b,
                _ => return None,
            },
            _ = self.stop.changed() => return None,
        };
        let mut replies = Vec::with_capacity(batch.commands.len());
        for c in batch.commands {
            let s = &mut *self;
            replies.push(run_one(&s.server, &mut s.state, &mut s.out, &mut s.parser, c).await);
        }
        let mut pipelines = Vec::with_capacity(batch.pipelines.len());
        for p in batch.pipelines {
            let s = &mut *self;
            pipelines
                .push(run_pipeline(&s.server, &mut s.state, &mut s.out, &mut s.parser, p).await);
        }
        Some(ReplyBatch { replies, pipelines })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(mut b) = self.state.blocked.take() {
            b.unregister(&self.server);
        }
        cmd::transaction::unwatch_all(&self.server, &mut self.state);
        cmd::pubsub::unsubscribe_all(&self.server, &mut self.state);
    }
}

async fn run_one(
    server: &Server,
    state: &mut ClientState,
    out: &mut ReplyBuf,
    parser: &mut RequestParser,
    c: pb::Command,
) -> pb::Reply {
    out.buf.clear();
    out.proto = protocol(c.resp_version);
    if c.asking {
        state.asking = true;
    }
    let owned;
    let req = if !c.raw.is_empty() {
        // The client's own bytes, forwarded by the proxy: exactly one request.
        match parser.parse(&c.raw, true) {
            Ok(Parsed::Request { request, consumed })
                if consumed == c.raw.len() && !request.is_empty() =>
            {
                Ok(request)
            }
            Ok(Parsed::Request { .. }) => Err("ERR Protocol error: not one request".to_string()),
            Ok(Parsed::Incomplete) => Err("ERR Protocol error: incomplete request".to_string()),
            Err(e) => Err(format!("ERR {e}")),
        }
    } else if c.args.is_empty() {
        Err("ERR empty command".to_string())
    } else {
        owned = OwnedRequest::from_args(&c.args);
        Ok(owned.as_request())
    };
    let result = match req {
        Err(msg) => {
            // A parser that stopped mid-request keeps state: start the next one afresh.
            *parser = RequestParser::new(Limits::default());
            out.error(&msg);
            count_command(server);
            None
        }
        Ok(req) => run_request(server, state, out, &req).await,
    };
    let result = match result {
        Some(r) => reply::Result::Redirect(redirect(r)),
        None => reply::Result::Resp(bytes::Bytes::copy_from_slice(&out.buf)),
    };
    pb::Reply {
        id: c.id,
        result: Some(result),
    }
}

/// Runs a client's requests for this node in order, as a connection of its own would (but
/// keeping this stream's session), and answers them in one piece.
async fn run_pipeline(
    server: &Server,
    state: &mut ClientState,
    out: &mut ReplyBuf,
    parser: &mut RequestParser,
    p: pb::Pipeline,
) -> pb::PipelineReply {
    let mut reply = pb::PipelineReply::default();
    let mut resp = bytes::BytesMut::with_capacity(p.requests.len().max(64));
    let mut at = 0;
    // One clock read per command, as for a connection's batch: each one starts where the
    // previous ended (restarted after any wait).
    state.timer = Some(Instant::now());
    while at < p.requests.len() {
        out.buf.clear();
        out.proto = protocol(p.resp_version);
        let redirected = match parser.parse(&p.requests[at..], true) {
            Ok(Parsed::Request { request, consumed }) if !request.is_empty() => {
                at += consumed;
                run_request(server, state, out, &request).await
            }
            Ok(Parsed::Request { consumed, .. }) => {
                at += consumed;
                continue;
            }
            failed => {
                let msg = match failed {
                    Err(e) => format!("ERR {e}"),
                    _ => "ERR Protocol error: incomplete request".to_string(),
                };
                *parser = RequestParser::new(Limits::default());
                out.error(&msg);
                count_command(server);
                at = p.requests.len();
                None
            }
        };
        match redirected {
            Some(r) => {
                reply.redirected.push(reply.ends.len() as u32);
                reply.redirects.push(redirect(r));
            }
            None => resp.extend_from_slice(&out.buf),
        }
        reply.ends.push(resp.len() as u32);
    }
    state.timer = None;
    reply.resp = resp.freeze();
    reply
}

fn protocol(resp_version: u32) -> Protocol {
    if resp_version == 3 {
        Protocol::Resp3
    } else {
        Protocol::Resp2
    }
}

fn count_command(server: &Server) {
    server
        .stats
        .total_commands_processed
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Runs one request, its reply left in `out`; `Some` when the reply is a redirect instead.
async fn run_request(
    server: &Server,
    state: &mut ClientState,
    out: &mut ReplyBuf,
    req: &autocache_proto::resp::Request<'_>,
) -> Option<Redirect> {
    state.redirect = None;
    let mut waited = false;
    // A key in flight to a migration target lands first (then ASK, or served).
    if let Some((slot, key)) = redirect::inflight_key(server, state, req) {
        if let Some(cluster) = &server.cluster {
            cluster
                .wait_inflight(slot, &key, redirect::INFLIGHT_WAIT)
                .await;
            waited = true;
        }
    }
    // Cold values the command names are fetched first, no lock held meanwhile.
    let faults = crate::tier::prefetch::wanted(server, state, req);
    let fetched = if faults.is_empty() {
        Ok(())
    } else {
        waited = true;
        crate::tier::prefetch::resolve(server, faults).await
    };
    if waited && state.timer.is_some() {
        state.timer = Some(Instant::now());
    }
    match fetched {
        Ok(()) => cmd::execute(server, state, out, req),
        Err(msg) => out.error(&msg),
    }
    if let Some(block) = state.block.take() {
        let blocked = Blocked::new(block, req.to_owned());
        wait_blocked(server, state, out, blocked).await;
        if state.timer.is_some() {
            state.timer = Some(Instant::now());
        }
    }
    count_command(server);
    state.redirect.take()
}

fn redirect(r: Redirect) -> pb::Redirect {
    let (kind, slot, address) = match r {
        Redirect::Moved { slot, addr } => (pb::redirect::Kind::Moved, slot, addr),
        Redirect::Ask { slot, addr } => (pb::redirect::Kind::Ask, slot, addr),
    };
    pb::Redirect {
        kind: kind as i32,
        slot: slot.into(),
        address,
    }
}

/// A blocking pop on a session stream: parks until a write to one of its keys serves it or
/// its timeout passes (the stream is dedicated to this client, so waiting here is right).
/// The proxy closing the stream (its client hung up) drops this wait, and `Parked` leaves the
/// queues: a waiter nobody reads would otherwise take the next pushed element with it.
async fn wait_blocked(server: &Server, state: &mut ClientState, out: &mut ReplyBuf, b: Blocked) {
    let mut parked = Parked { server, b };
    let b = &mut parked.b;
    b.register(server);
    let mut epochs = server.cluster.as_ref().map(|c| c.watch_epoch());
    let mut run = true;
    loop {
        if run {
            out.buf.clear();
            cmd::execute(server, state, out, &b.request.as_request());
            if state.block.take().is_none() {
                break;
            }
            out.buf.clear();
        }
        run = true;
        let until = b
            .deadline
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = b.waiter.notify.notified() => {}
            _ = tokio::time::sleep_until(until.into()) => {
                if b.deadline.is_some_and(|d| Instant::now() >= d) {
                    b.reply.write(out);
                    break;
                }
            }
            _ = crate::client::map_changed(&mut epochs) => {
                if let Some(refusal) = redirect::blocked_refusal(server, &b.keys) {
                    redirect::refuse_blocked(state, out, refusal);
                    break;
                }
                run = false;
            }
        }
    }
}

/// A blocked session's place in the wait queues, left when the wait ends or is dropped.
struct Parked<'a> {
    server: &'a Server,
    b: Blocked,
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.b.unregister(self.server);
    }
}
