//! What the operator asks of a cluster's control service, behind a trait (like tikv's
//! `pd_client`) so reconcile tests can substitute a recording fake for the gRPC client.

use std::future::Future;

use autocache_proto::pb::control as pb;
use autocache_proto::pb::control::control_client::ControlClient;

/// A control call that failed: unreachable, or refused (the text is control's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("control at {endpoint}: {message}")]
pub struct ControlError {
    pub endpoint: String,
    pub message: String,
}

/// The part of control's `Status` the operator decides with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControlView {
    pub epoch: u64,
    pub nodes: Vec<NodeView>,
    pub moves: Vec<MoveView>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    /// The id the node chose (kept in its data dir).
    pub id: String,
    /// The RESP address it announces: in Kubernetes its pod's stable DNS name.
    pub resp_addr: String,
    pub healthy: bool,
    pub slots: u32,
}

/// A slot migration active or queued; nodes by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveView {
    pub source: String,
    pub target: String,
}

impl ControlView {
    /// The node announcing `resp_addr`.
    pub fn node_at(&self, resp_addr: &str) -> Option<&NodeView> {
        self.nodes.iter().find(|n| n.resp_addr == resp_addr)
    }

    pub fn slots_assigned(&self) -> u32 {
        self.nodes.iter().map(|n| n.slots).sum()
    }

    /// Whether `id` sends or receives a migration.
    pub fn moving(&self, id: &str) -> bool {
        self.moves.iter().any(|m| m.source == id || m.target == id)
    }
}

impl From<pb::StatusReply> for ControlView {
    fn from(r: pb::StatusReply) -> Self {
        let nodes = r
            .nodes
            .into_iter()
            .filter_map(|s| {
                let n = s.node?;
                Some(NodeView {
                    healthy: n.health == pb::NodeHealth::Healthy as i32,
                    id: n.id,
                    resp_addr: n.resp_addr,
                    slots: s.slot_count,
                })
            })
            .collect();
        let moves = r
            .moves
            .into_iter()
            .map(|m| MoveView {
                source: m.source,
                target: m.target,
            })
            .collect();
        ControlView {
            epoch: r.map.map_or(0, |m| m.epoch),
            nodes,
            moves,
        }
    }
}

/// The admin calls the operator makes; `endpoint` is the cluster's control address
/// (`host:port`), since one operator serves many clusters.
pub trait ControlApi: Send + Sync + 'static {
    fn status(
        &self,
        endpoint: &str,
    ) -> impl Future<Output = Result<ControlView, ControlError>> + Send;
    fn rebalance(&self, endpoint: &str) -> impl Future<Output = Result<(), ControlError>> + Send;
    fn drain(
        &self,
        endpoint: &str,
        node: &str,
    ) -> impl Future<Output = Result<(), ControlError>> + Send;
    fn forget(
        &self,
        endpoint: &str,
        node: &str,
    ) -> impl Future<Output = Result<(), ControlError>> + Send;
}

/// The real client: a fresh gRPC connection per call (reconciles are rare and a control pod
/// may have moved since the last one).
#[derive(Debug, Clone, Default)]
pub struct GrpcControl;

impl GrpcControl {
    async fn client(
        endpoint: &str,
    ) -> Result<ControlClient<tonic::transport::Channel>, ControlError> {
        let url = if endpoint.contains("://") {
            endpoint.to_string()
        } else {
            format!("http://{endpoint}")
        };
        ControlClient::connect(url)
            .await
            .map_err(|e| failed(endpoint, e.to_string()))
    }
}

fn failed(endpoint: &str, message: String) -> ControlError {
    ControlError {
        endpoint: endpoint.to_string(),
        message,
    }
}

fn refused(endpoint: &str, s: tonic::Status) -> ControlError {
    failed(endpoint, s.message().to_string())
}

impl ControlApi for GrpcControl {
    async fn status(&self, endpoint: &str) -> Result<ControlView, ControlError> {
        let mut c = Self::client(endpoint).await?;
        let reply = c
            .status(pb::StatusRequest {})
            .await
            .map_err(|s| refused(endpoint, s))?;
        Ok(reply.into_inner().into())
    }

    async fn rebalance(&self, endpoint: &str) -> Result<(), ControlError> {
        let mut c = Self::client(endpoint).await?;
        c.rebalance(pb::RebalanceRequest {})
            .await
            .map_err(|s| refused(endpoint, s))?;
        Ok(())
    }

    async fn drain(&self, endpoint: &str, node: &str) -> Result<(), ControlError> {
        let mut c = Self::client(endpoint).await?;
        c.drain(pb::DrainRequest { node: node.into() })
            .await
            .map_err(|s| refused(endpoint, s))?;
        Ok(())
    }

    async fn forget(&self, endpoint: &str, node: &str) -> Result<(), ControlError> {
        let mut c = Self::client(endpoint).await?;
        c.forget(pb::ForgetRequest { node: node.into() })
            .await
            .map_err(|s| refused(endpoint, s))?;
        Ok(())
    }
}
