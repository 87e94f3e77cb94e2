//! The migration driver: starts queued moves (bounded parallelism) and asks each source node,
//! over its gRPC `StartMigration`, to stream the slot to the target. Moves also start when
//! reports settle (service.rs); the driver sends those too. The outcome comes back
//! as a `MigrationDone`/`MigrationFailed` report (service.rs); an unreachable source is a
//! failure right away. After a restart, active migrations are re-sent (the node treats a
//! repeat as a no-op).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use autocache_proto::pb::node::{node_client::NodeClient, StartMigrationRequest};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::transport::{Channel, Endpoint};

use crate::shared::Shared;
use crate::state::StartOrder;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RPC_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn driver(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    // Dropping the set on return aborts calls still in flight: a stopped control must not
    // touch the state any more.
    let mut calls = JoinSet::new();
    let mut clients = Clients::default();
    for order in shared.read(|s| s.active_orders()) {
        let client = clients.get(&order.source_grpc);
        calls.spawn(start(shared.clone(), order, client));
    }
    loop {
        let max = shared.max_migrations;
        let orders = shared.mutate(|s| {
            let mut orders = s.take_unsent();
            orders.extend(s.start_queued(max));
            orders
        });
        if let Some(first) = orders.first() {
            tracing::info!(
                slots = orders.len(),
                first = first.slot,
                epoch = first.epoch,
                "starting migrations"
            );
        }
        for order in orders {
            tracing::debug!(slot = order.slot, source = %order.source_id, target = %order.target_id, epoch = order.epoch, "starting migration");
            let client = clients.get(&order.source_grpc);
            calls.spawn(start(shared.clone(), order, client));
        }
        tokio::select! {
            _ = shared.migrate_wake.notified() => {}
            Some(_) = calls.join_next() => {}
            _ = stop.changed() => return,
        }
    }
}

/// One lazily connected channel per node gRPC address, shared by all its migrations.
#[derive(Default)]
struct Clients(HashMap<String, Result<NodeClient<Channel>, String>>);

impl Clients {
    fn get(&mut self, addr: &str) -> Result<NodeClient<Channel>, String> {
        self.0
            .entry(addr.to_string())
            .or_insert_with(|| {
                let endpoint =
                    Endpoint::from_shared(format!("http://{addr}")).map_err(|e| e.to_string())?;
                let channel = endpoint
                    .connect_timeout(CONNECT_TIMEOUT)
                    .timeout(RPC_TIMEOUT)
                    .connect_lazy();
                Ok(NodeClient::new(channel))
            })
            .clone()
    }
}

async fn start(
    shared: Arc<Shared>,
    order: StartOrder,
    client: Result<NodeClient<Channel>, String>,
) {
    let sent = match client {
        Ok(client) => send(client, &order).await,
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        tracing::warn!(slot = order.slot, source = %order.source_id, error = %e, "cannot start migration; rolling back");
        shared.mutate(|s| s.migration_failed(&order.source_id, order.slot, order.epoch));
    }
}

async fn send(mut client: NodeClient<Channel>, order: &StartOrder) -> Result<(), String> {
    client
        .start_migration(StartMigrationRequest {
            slot: order.slot.into(),
            target_id: order.target_id.clone(),
            target_grpc_addr: order.target_grpc.clone(),
            epoch: order.epoch,
        })
        .await
        .map_err(|s| s.message().to_string())?;
    Ok(())
}
