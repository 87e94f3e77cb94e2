//! Test harness: the control service run in-process on 127.0.0.1:0, and `FakeNode`, a real
//! gRPC server implementing the Node service that records StartMigration calls and reports
//! back to control like a source node would.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use autocache_control::Config;
use autocache_proto::pb::control::{self as cpb, control_client::ControlClient};
use autocache_proto::pb::node::{self as npb, node_server};
use autocache_proto::slotmap::SlotMap;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

/// Polls `cond` until it holds; panics after 30 s.
pub async fn wait_until<F, Fut>(what: &str, cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_until_within(what, Duration::from_secs(30), cond).await
}

/// Polls `cond` until it holds; panics after `limit` (a hang guard, not a timing check).
pub async fn wait_until_within<F, Fut>(what: &str, limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub struct TestControl {
    pub addr: SocketAddr,
    client: ControlClient<Channel>,
    pub data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), autocache_control::Error>>>,
}

impl TestControl {
    /// With a node timeout long enough that fakes which never heartbeat stay healthy.
    pub async fn start(data_dir: &Path) -> TestControl {
        Self::with(data_dir, |c| c.node_timeout = Duration::from_secs(600)).await
    }

    pub async fn with(data_dir: &Path, tweak: impl FnOnce(&mut Config)) -> TestControl {
        let mut config = Config::with_data_dir(data_dir);
        tweak(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(autocache_control::run(listener, config, async move {
            let _ = rx.await;
        }));
        TestControl {
            addr,
            client: lazy_client(&format!("http://{addr}")),
            data_dir: data_dir.to_path_buf(),
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client on the control's shared test channel.
    pub async fn client(&self) -> ControlClient<Channel> {
        self.client.clone()
    }

    /// Graceful stop; returns once `run` has returned.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("control did not stop")
            .unwrap()
            .unwrap();
    }

    pub async fn status(&self) -> cpb::StatusReply {
        self.client()
            .await
            .status(cpb::StatusRequest {})
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn map(&self) -> SlotMap {
        SlotMap::from_proto(self.status().await.map.as_ref().unwrap()).unwrap()
    }

    /// Waits until no migration is active or queued. Generous: a full rebalance is thousands
    /// of migrations, each persisted twice (fsync), in a debug build on a shared machine.
    pub async fn wait_moves_done(&self) {
        let limit = Duration::from_secs(180);
        wait_until_within("migrations to finish", limit, || async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            self.status().await.moves.is_empty()
        })
        .await;
    }
}

/// What a fake source node does when asked to start a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Report MigrationDone at once.
    Done,
    /// Report MigrationFailed at once.
    Fail,
    /// Only record; the test reports.
    Manual,
}

struct FakeInner {
    id: String,
    control: Mutex<ControlClient<Channel>>,
    mode: Mutex<Mode>,
    calls: Mutex<Vec<npb::StartMigrationRequest>>,
}

/// A node as control sees it: a real gRPC Node server on 127.0.0.1:0.
#[derive(Clone)]
pub struct FakeNode {
    inner: Arc<FakeInner>,
    pub grpc_addr: SocketAddr,
    /// A distinct, fake RESP address (nothing listens there: control never dials it).
    pub resp_addr: String,
}

struct NodeService(Arc<FakeInner>);

#[tonic::async_trait]
impl node_server::Node for NodeService {
    type ExecuteStream = tokio_stream::Empty<Result<npb::ReplyBatch, Status>>;

    async fn execute(
        &self,
        _: Request<tonic::Streaming<npb::CommandBatch>>,
    ) -> Result<Response<Self::ExecuteStream>, Status> {
        Err(Status::unimplemented("fake node: Execute"))
    }

    async fn import_slot(
        &self,
        _: Request<tonic::Streaming<npb::SlotChunk>>,
    ) -> Result<Response<npb::ImportAck>, Status> {
        Err(Status::unimplemented("fake node: ImportSlot"))
    }

    async fn start_migration(
        &self,
        req: Request<npb::StartMigrationRequest>,
    ) -> Result<Response<npb::StartMigrationReply>, Status> {
        let req = req.into_inner();
        self.0.calls.lock().unwrap().push(req.clone());
        let mode = *self.0.mode.lock().unwrap();
        if mode != Mode::Manual {
            let inner = self.0.clone();
            // Reported after the RPC returns, as a real node streams in the background.
            tokio::spawn(async move {
                let control = inner.control.lock().unwrap().clone();
                report(control, &inner.id, req.slot, req.epoch, mode == Mode::Done).await;
            });
        }
        Ok(Response::new(npb::StartMigrationReply {}))
    }

    async fn node_info(
        &self,
        _: Request<npb::NodeInfoRequest>,
    ) -> Result<Response<npb::NodeInfoReply>, Status> {
        Ok(Response::new(npb::NodeInfoReply {
            id: self.0.id.clone(),
            epoch: 0,
            slots: vec![],
        }))
    }
}

/// A source node's report to control; returns whether it was applied.
pub async fn report(
    mut c: ControlClient<Channel>,
    node: &str,
    slot: u32,
    epoch: u64,
    done: bool,
) -> bool {
    let r = cpb::MigrationReport {
        node_id: node.to_string(),
        slot,
        epoch,
        keys_sent: 3,
        error: if done {
            String::new()
        } else {
            "target refused".into()
        },
    };
    let reply = if done {
        c.migration_done(r).await
    } else {
        c.migration_failed(r).await
    };
    reply.unwrap().into_inner().applied
}

/// A lazily connected client: one channel per fake node, however many reports it sends.
fn lazy_client(url: &str) -> ControlClient<Channel> {
    let ch = tonic::transport::Endpoint::from_shared(url.to_string())
        .unwrap()
        .connect_lazy();
    ControlClient::new(ch)
}

impl FakeNode {
    /// Starts the fake's gRPC server and registers it with control.
    pub async fn start(control: &TestControl, id: &str, mode: Mode) -> FakeNode {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc_addr = listener.local_addr().unwrap();
        let inner = Arc::new(FakeInner {
            id: id.to_string(),
            control: Mutex::new(lazy_client(&control.url())),
            mode: Mutex::new(mode),
            calls: Mutex::new(Vec::new()),
        });
        let svc = node_server::NodeServer::new(NodeService(inner.clone()));
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming(TcpListenerStream::new(listener)),
        );
        let node = FakeNode {
            inner,
            grpc_addr,
            resp_addr: format!("127.0.0.1:{}", 20000 + grpc_addr.port() % 20000),
        };
        node.register().await;
        node
    }

    pub fn id(&self) -> &str {
        &self.inner.id
    }

    pub async fn register(&self) -> cpb::SlotMap {
        let mut c = self.inner.control.lock().unwrap().clone();
        let req = cpb::RegisterRequest {
            node_id: self.inner.id.clone(),
            resp_addr: self.resp_addr.clone(),
            grpc_addr: self.grpc_addr.to_string(),
        };
        c.register(req).await.unwrap().into_inner().map.unwrap()
    }

    pub async fn heartbeat(&self) -> u64 {
        self.heartbeat_with(&[]).await
    }

    /// A heartbeat reporting keys sent per migrating slot.
    pub async fn heartbeat_with(&self, progress: &[(u32, u64)]) -> u64 {
        let mut c = self.inner.control.lock().unwrap().clone();
        let migrations = progress
            .iter()
            .map(|&(slot, keys_sent)| cpb::MigrationProgress { slot, keys_sent })
            .collect();
        let req = cpb::HeartbeatRequest {
            node_id: self.inner.id.clone(),
            epoch: 0,
            migrations,
        };
        c.heartbeat(req).await.unwrap().into_inner().epoch
    }

    /// Heartbeats every 30 ms until the returned handle is aborted.
    pub fn keep_alive(&self) -> JoinHandle<()> {
        let node = self.clone();
        tokio::spawn(async move {
            loop {
                node.heartbeat().await;
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        })
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.inner.mode.lock().unwrap() = mode;
    }

    /// Points the fake at another control (after a restart).
    pub fn set_control(&self, control: &TestControl) {
        *self.inner.control.lock().unwrap() = lazy_client(&control.url());
    }

    pub fn calls(&self) -> Vec<npb::StartMigrationRequest> {
        self.inner.calls.lock().unwrap().clone()
    }

    /// Reports the outcome of a recorded call to the current control.
    pub async fn report(&self, call: &npb::StartMigrationRequest, done: bool) -> bool {
        let control = self.inner.control.lock().unwrap().clone();
        report(control, &self.inner.id, call.slot, call.epoch, done).await
    }
}

pub fn slot_range(start: u32, end: u32) -> cpb::SlotRange {
    cpb::SlotRange { start, end }
}

/// Ranges owned by node `id` in `map`.
pub fn ranges_of(map: &SlotMap, id: &str) -> Vec<(u16, u16)> {
    map.node_by_id(id)
        .map(|(i, _)| map.ranges_of(i))
        .unwrap_or_default()
}
