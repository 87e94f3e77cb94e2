//! The `Control` gRPC service: node membership and heartbeats, the slot map watch, the admin
//! API and migration reports, each a thin translation onto `ClusterState` transitions.

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Instant;

use autocache_proto::pb::control::{self as pb, control_server::Control};
use autocache_proto::slotmap::checked_range;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::shared::Shared;
use crate::state::{ClusterState, Planned, Report, StateError};

pub struct ControlService {
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    reports: Reports,
}

impl ControlService {
    pub fn new(shared: Arc<Shared>, stop: watch::Receiver<bool>) -> Self {
        ControlService {
            shared,
            stop,
            reports: Reports::default(),
        }
    }

    /// Settles one report in a group commit: whoever holds the turn applies every report
    /// queued so far in one state change (one write of the state file, one epoch, which also
    /// starts the queued moves that now fit), so the reports that arrive while a group is
    /// being written all go into the next group. A slot's report costs a share of one fsync
    /// instead of a whole one. Returns whether it applied and the epoch after.
    async fn settle(&self, report: Report) -> (bool, u64) {
        let (tx, rx) = oneshot::channel();
        lock(&self.reports.pending).push((report, tx));
        {
            let _turn = self.reports.turn.lock().await;
            // The previous holder may have taken ours already; then this finds none or others.
            let group = std::mem::take(&mut *lock(&self.reports.pending));
            if !group.is_empty() {
                let reports: Vec<Report> = group.iter().map(|(r, _)| r.clone()).collect();
                let max = self.shared.max_migrations;
                let (applied, epoch) = self
                    .shared
                    .mutate(|s| (s.settle_and_refill(&reports, max), s.map.epoch));
                // The driver sends the migrations the settlement started.
                self.shared.migrate_wake.notify_one();
                tracing::debug!(reports = reports.len(), epoch, "migration reports settled");
                for ((_, tx), applied) in group.into_iter().zip(applied) {
                    let _ = tx.send((applied, epoch));
                }
            }
        }
        // Sent by us or by an earlier holder of the turn, which finished before releasing it.
        rx.await.unwrap_or((false, 0))
    }
}

/// A report waiting for its group, and where its outcome (applied, epoch after) goes.
type PendingReport = (Report, oneshot::Sender<(bool, u64)>);

/// Migration reports waiting for their group commit.
#[derive(Default)]
struct Reports {
    pending: std::sync::Mutex<Vec<PendingReport>>,
    turn: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn status(e: StateError) -> Status {
    match e {
        StateError::UnknownNode(_) => Status::not_found(e.to_string()),
        StateError::Invalid(_) | StateError::AmbiguousNode(_) => {
            Status::invalid_argument(e.to_string())
        }
        _ => Status::failed_precondition(e.to_string()),
    }
}

fn ranges(rs: &[pb::SlotRange]) -> Result<Vec<RangeInclusive<u16>>, Status> {
    if rs.is_empty() {
        return Err(Status::invalid_argument("no slots given"));
    }
    rs.iter()
        .map(|r| checked_range(r.start, r.end).map_err(|e| Status::invalid_argument(e.to_string())))
        .collect()
}

fn admin_reply(epoch: u64, p: Planned, message: String) -> Response<pb::AdminReply> {
    Response::new(pb::AdminReply {
        epoch,
        slots_assigned: p.assigned as u32,
        slots_queued: p.queued as u32,
        message,
    })
}

/// Status of every node and move, for `autocachectl status` and the operator.
fn status_reply(st: &ClusterState, now: Instant) -> pb::StatusReply {
    let map = &st.map;
    let proto = map.to_proto();
    let nodes = map
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let seen = st.seen(&n.id);
            pb::NodeStatus {
                node: proto.nodes.get(i).cloned(),
                last_heartbeat_ms_ago: seen.map_or(0, |s| {
                    now.saturating_duration_since(s.at).as_millis() as u64
                }),
                slot_count: map.slot_count(i as u16) as u32,
                node_epoch: seen.map_or(0, |s| s.epoch),
            }
        })
        .collect();
    let id = |i: u16| map.nodes[i as usize].id.clone();
    let active = map.migrations().iter().map(|m| pb::MoveStatus {
        slot: m.slot.into(),
        source: id(m.source),
        target: id(m.target),
        state: pb::MoveState::Active as i32,
        keys_sent: st.progress(m.slot),
        epoch: m.epoch,
    });
    let queued = st.queue.iter().map(|m| pb::MoveStatus {
        slot: m.slot.into(),
        source: m.source.clone(),
        target: m.target.clone(),
        state: pb::MoveState::Queued as i32,
        keys_sent: 0,
        epoch: 0,
    });
    pb::StatusReply {
        map: Some(proto),
        nodes,
        moves: active.chain(queued).collect(),
    }
}

#[tonic::async_trait]
impl Control for ControlService {
    async fn register(
        &self,
        req: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterReply>, Status> {
        let r = req.into_inner();
        let map = self.shared.mutate(|s| {
            s.register(&r.node_id, &r.resp_addr, &r.grpc_addr, Instant::now())
                .map(|()| s.map.to_proto())
        });
        let map = map.map_err(status)?;
        // Migrations it sends are re-sent (see State::register).
        self.shared.migrate_wake.notify_one();
        tracing::info!(node = %r.node_id, resp = %r.resp_addr, grpc = %r.grpc_addr, "node registered");
        Ok(Response::new(pb::RegisterReply { map: Some(map) }))
    }

    async fn heartbeat(
        &self,
        req: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatReply>, Status> {
        let r = req.into_inner();
        let progress: Vec<(u16, u64)> = r
            .migrations
            .iter()
            .filter(|m| m.slot < autocache_proto::slot::SLOT_COUNT as u32)
            .map(|m| (m.slot as u16, m.keys_sent))
            .collect();
        let epoch = self
            .shared
            .mutate(|s| s.heartbeat(&r.node_id, r.epoch, &progress, Instant::now()))
            .map_err(status)?;
        Ok(Response::new(pb::HeartbeatReply { epoch }))
    }

    type WatchSlotMapStream = ReceiverStream<Result<pb::SlotMap, Status>>;

    async fn watch_slot_map(
        &self,
        _req: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchSlotMapStream>, Status> {
        let mut maps = self.shared.subscribe();
        let mut stop = self.stop.clone();
        if *stop.borrow() {
            return Err(Status::unavailable("control is shutting down"));
        }
        let (tx, rx) = mpsc::channel(4);
        // The stream ends on shutdown so that the server's graceful stop is not held up.
        tokio::spawn(async move {
            loop {
                let map = (**maps.borrow_and_update()).clone();
                tokio::select! {
                    sent = tx.send(Ok(map)) => if sent.is_err() { return },
                    _ = stop.changed() => return,
                }
                tokio::select! {
                    changed = maps.changed() => if changed.is_err() { return },
                    _ = stop.changed() => return,
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn status(
        &self,
        _req: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusReply>, Status> {
        Ok(Response::new(
            self.shared.read(|s| status_reply(s, Instant::now())),
        ))
    }

    async fn assign_slots(
        &self,
        req: Request<pb::AssignSlotsRequest>,
    ) -> Result<Response<pb::AdminReply>, Status> {
        let r = req.into_inner();
        let rs = ranges(&r.ranges)?;
        let (n, epoch) = self
            .shared
            .mutate(|s| s.assign(&rs, &r.node).map(|n| (n, s.map.epoch)))
            .map_err(status)?;
        let planned = Planned {
            assigned: n,
            queued: 0,
        };
        Ok(admin_reply(epoch, planned, format!("{n} slots assigned")))
    }

    async fn migrate_slots(
        &self,
        req: Request<pb::MigrateSlotsRequest>,
    ) -> Result<Response<pb::AdminReply>, Status> {
        let r = req.into_inner();
        let rs = ranges(&r.ranges)?;
        let (n, epoch) = self
            .shared
            .mutate(|s| {
                s.migrate(&rs, &r.source, &r.target)
                    .map(|n| (n, s.map.epoch))
            })
            .map_err(status)?;
        let planned = Planned {
            assigned: 0,
            queued: n,
        };
        Ok(admin_reply(
            epoch,
            planned,
            format!("{n} slots queued for migration"),
        ))
    }

    async fn rebalance(
        &self,
        _req: Request<pb::RebalanceRequest>,
    ) -> Result<Response<pb::AdminReply>, Status> {
        let (p, epoch) = self
            .shared
            .mutate(|s| s.rebalance().map(|p| (p, s.map.epoch)))
            .map_err(status)?;
        let msg = format!(
            "{} slots assigned, {} slots queued for migration",
            p.assigned, p.queued
        );
        Ok(admin_reply(epoch, p, msg))
    }

    async fn drain(
        &self,
        req: Request<pb::DrainRequest>,
    ) -> Result<Response<pb::AdminReply>, Status> {
        let r = req.into_inner();
        let (p, epoch) = self
            .shared
            .mutate(|s| s.drain(&r.node).map(|p| (p, s.map.epoch)))
            .map_err(status)?;
        let msg = format!(
            "{} slots reassigned, {} slots queued for migration",
            p.assigned, p.queued
        );
        Ok(admin_reply(epoch, p, msg))
    }

    async fn forget(
        &self,
        req: Request<pb::ForgetRequest>,
    ) -> Result<Response<pb::AdminReply>, Status> {
        let r = req.into_inner();
        let epoch = self
            .shared
            .mutate(|s| s.forget(&r.node).map(|()| s.map.epoch))
            .map_err(status)?;
        Ok(admin_reply(
            epoch,
            Planned::default(),
            format!("node {} forgotten", r.node),
        ))
    }

    async fn migration_done(
        &self,
        req: Request<pb::MigrationReport>,
    ) -> Result<Response<pb::MigrationReportReply>, Status> {
        let r = req.into_inner();
        let slot =
            checked_range(r.slot, r.slot).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let report = Report::done(&r.node_id, *slot.start(), r.epoch);
        let (applied, epoch) = self.settle(report).await;
        tracing::debug!(slot = r.slot, node = %r.node_id, keys = r.keys_sent, applied, "migration done");
        Ok(Response::new(pb::MigrationReportReply { epoch, applied }))
    }

    async fn migration_failed(
        &self,
        req: Request<pb::MigrationReport>,
    ) -> Result<Response<pb::MigrationReportReply>, Status> {
        let r = req.into_inner();
        let slot =
            checked_range(r.slot, r.slot).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let report = Report::failed(&r.node_id, *slot.start(), r.epoch);
        let (applied, epoch) = self.settle(report).await;
        tracing::warn!(slot = r.slot, node = %r.node_id, error = %r.error, applied, "migration failed");
        Ok(Response::new(pb::MigrationReportReply { epoch, applied }))
    }
}
