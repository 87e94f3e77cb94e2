//! The node's side of control: register (and again whenever control forgets us), heartbeat
//! with migration progress, and watch the slot map, reconnecting with backoff. While control
//! is away the node keeps serving with the last map it has.

use super::{map, migrate, Cluster};
use crate::server::Server;
use autocache_proto::pb::control::{
    control_client::ControlClient, HeartbeatRequest, MigrationProgress, RegisterRequest,
    WatchRequest,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tonic::transport::{Channel, Endpoint};

pub type Client = ControlClient<Channel>;

const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A client on the node's shared (lazily connected) channel to control.
pub fn client(cluster: &Cluster) -> Client {
    cluster
        .control
        .get_or_init(|| {
            let addr = &cluster.control_addr;
            let url = if addr.contains("://") {
                addr.clone()
            } else {
                format!("http://{addr}")
            };
            let channel = Endpoint::from_shared(url)
                .expect("a valid control address")
                .connect_timeout(Duration::from_secs(2))
                .connect_lazy();
            ControlClient::new(channel).max_decoding_message_size(usize::MAX)
        })
        .clone()
}

/// Checks `--control` early, so a typo fails at start-up rather than in a background task.
pub fn valid_addr(addr: &str) -> bool {
    let url = if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    };
    Endpoint::from_shared(url).is_ok()
}

/// Runs until `stop` flips.
pub async fn run(server: Arc<Server>, mut stop: watch::Receiver<bool>) {
    let cluster = server.cluster.clone().expect("cluster mode");
    let work = async {
        register(&server, &cluster).await;
        tokio::join!(heartbeat(&server, &cluster), watch_map(&server, &cluster));
    };
    tokio::select! {
        _ = work => {}
        _ = stop.changed() => {}
    }
}

/// Registers, retrying with backoff until control answers.
async fn register(server: &Server, cluster: &Cluster) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let req = RegisterRequest {
            node_id: cluster.id.clone(),
            resp_addr: cluster.announce.clone(),
            grpc_addr: cluster.grpc_addr.clone(),
        };
        match client(cluster).register(req).await {
            Ok(reply) => {
                if let Some(m) = reply.into_inner().map {
                    map::apply(server, cluster, &m);
                }
                tracing::info!(epoch = cluster.epoch(), "registered with control");
                return;
            }
            Err(e) => tracing::debug!("register with control failed: {e}"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn heartbeat(server: &Server, cluster: &Cluster) {
    loop {
        tokio::time::sleep(cluster.heartbeat).await;
        let req = HeartbeatRequest {
            node_id: cluster.id.clone(),
            epoch: cluster.epoch(),
            migrations: migrate::progress(cluster)
                .into_iter()
                .map(|(slot, keys_sent)| MigrationProgress {
                    slot: slot.into(),
                    keys_sent,
                })
                .collect(),
        };
        match client(cluster).heartbeat(req).await {
            Ok(_) => {}
            // Control lost us (forgotten, or restarted without state): announce again.
            Err(s) if s.code() == tonic::Code::NotFound => register(server, cluster).await,
            Err(e) => tracing::debug!("heartbeat failed: {e}"),
        }
    }
}

/// Follows WatchSlotMap; on any break, reconnects with backoff.
async fn watch_map(server: &Server, cluster: &Cluster) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let req = WatchRequest {
            watcher: cluster.id.clone(),
        };
        match client(cluster).watch_slot_map(req).await {
            Ok(resp) => {
                let mut stream = resp.into_inner();
                while let Ok(Some(m)) = stream.message().await {
                    backoff = Duration::from_millis(50);
                    map::apply(server, cluster, &m);
                }
                tracing::debug!("slot map watch ended; reconnecting");
            }
            Err(e) => tracing::debug!("slot map watch failed: {e}"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
