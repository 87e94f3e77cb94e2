//! One reconcile of an `AutoCacheCluster` (kube-rs controller-rs style: a method on the
//! resource): apply every desired object with server-side apply, drive control through
//! scale-out (rebalance) and scale-in (drain, then forget, then shrink), and report progress
//! in the status. Deletion needs nothing: owner references let the garbage collector go.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use super::control_api::{ControlApi, ControlError, ControlView};
use super::crd::{AutoCacheCluster, AutoCacheClusterStatus, Condition};
use super::objects;
use super::scale::{self, NodePlan};

/// The field manager of every apply the operator makes.
pub const MANAGER: &str = "autocache-operator";

/// Requeue periods: quick while something is in progress, slow when settled (watches on the
/// owned objects wake the controller on any change anyway).
pub const BUSY_REQUEUE: Duration = Duration::from_secs(5);
pub const IDLE_REQUEUE: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error("AutoCacheCluster has no namespace")]
    NoNamespace,
}

/// What every reconcile shares: the API client, the control client and the retry counts that
/// make `error_policy` back off.
pub struct Context<C> {
    pub client: Client,
    pub control: C,
    failures: Mutex<HashMap<String, u32>>,
}

impl<C: ControlApi> Context<C> {
    pub fn new(client: Client, control: C) -> Self {
        Context {
            client,
            control,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn key(cluster: &AutoCacheCluster) -> String {
    format!(
        "{}/{}",
        cluster.namespace().unwrap_or_default(),
        cluster.name_any()
    )
}

/// Exponential backoff after consecutive failures: 5s, 10s, 20s … capped at 5 minutes.
pub fn backoff(failures: u32) -> Duration {
    let secs = 5u64.saturating_mul(1 << failures.saturating_sub(1).min(6));
    Duration::from_secs(secs.min(300))
}

/// The controller's entry point.
pub async fn reconcile<C: ControlApi>(
    cluster: Arc<AutoCacheCluster>,
    ctx: Arc<Context<C>>,
) -> Result<Action, Error> {
    let action = cluster.reconcile(&ctx).await?;
    ctx.failures().remove(&key(&cluster));
    Ok(action)
}

/// Requeues with a backoff that grows with each consecutive failure of the same cluster.
pub fn error_policy<C: ControlApi>(
    cluster: Arc<AutoCacheCluster>,
    error: &Error,
    ctx: Arc<Context<C>>,
) -> Action {
    let mut failures = ctx.failures();
    let n = failures.entry(key(&cluster)).or_insert(0);
    *n += 1;
    let wait = backoff(*n);
    tracing::warn!(cluster = %key(&cluster), %error, ?wait, "reconcile failed");
    Action::requeue(wait)
}

async fn apply<K>(client: &Client, ns: &str, obj: &K) -> Result<K, kube::Error>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let params = PatchParams::apply(MANAGER).force();
    api.patch(&obj.name_any(), &params, &Patch::Apply(obj))
        .await
}

impl AutoCacheCluster {
    /// Brings the cluster's objects and control's slot map towards the spec.
    pub async fn reconcile<C: ControlApi>(&self, ctx: &Context<C>) -> Result<Action, Error> {
        if self.meta().deletion_timestamp.is_some() {
            // Owned objects go with the garbage collector; nothing to undo in control.
            return Ok(Action::await_change());
        }
        let ns = self.namespace().ok_or(Error::NoNamespace)?;
        let client = &ctx.client;
        apply(client, &ns, &objects::config_map(self)).await?;
        apply(client, &ns, &objects::control_service(self)).await?;
        apply(client, &ns, &objects::control_statefulset(self)).await?;
        apply(client, &ns, &objects::node_service(self)).await?;

        let nodes: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
        let current = nodes
            .get_opt(&objects::node_name(&self.name_any()))
            .await?
            .and_then(|s| s.spec.and_then(|s| s.replicas))
            .unwrap_or(0);
        let endpoint = objects::control_endpoint(self);
        // An unreachable control (e.g. its pod still starting) is reported, not fatal: the
        // objects still converge, and nothing that needs control (drain, shrink) happens.
        let view = ctx.control.status(&endpoint).await;
        let ordinal = |addr: &str| objects::node_ordinal(self, addr);
        let plan = scale::plan(
            current,
            self.spec.nodes.replicas,
            view.as_ref().ok(),
            ordinal,
        );
        self.tell_control(ctx, &endpoint, &plan).await?;
        let leftovers = match &view {
            Ok(v) => {
                self.forget_removed(ctx, &endpoint, v, plan.replicas())
                    .await?
            }
            Err(_) => 0,
        };
        let node_sts = apply(
            client,
            &ns,
            &objects::node_statefulset(self, plan.replicas()),
        )
        .await?;
        apply(client, &ns, &objects::proxy_service(self)).await?;
        let proxies = apply(client, &ns, &objects::proxy_deployment(self)).await?;

        let status = self.observe(&plan, leftovers, &view, &node_sts, &proxies);
        let settled = status.phase == "Running";
        self.patch_status(client, &ns, status).await?;
        Ok(Action::requeue(if settled {
            IDLE_REQUEUE
        } else {
            BUSY_REQUEUE
        }))
    }

    /// The control calls the plan needs, before the StatefulSet changes: a drain before the
    /// pods go, a rebalance once new nodes registered.
    async fn tell_control<C: ControlApi>(
        &self,
        ctx: &Context<C>,
        endpoint: &str,
        plan: &NodePlan,
    ) -> Result<(), ControlError> {
        match plan {
            NodePlan::Grow {
                rebalance: true, ..
            } => {
                tracing::info!(cluster = %key(self), "asking control to rebalance");
                ctx.control.rebalance(endpoint).await
            }
            NodePlan::Drain { id, .. } => {
                tracing::info!(cluster = %key(self), node = %id, "asking control to drain");
                ctx.control.drain(endpoint, id).await
            }
            _ => Ok(()),
        }
    }

    /// Forgets removed nodes control has seen die; returns how many removed nodes it still
    /// lists after that.
    async fn forget_removed<C: ControlApi>(
        &self,
        ctx: &Context<C>,
        endpoint: &str,
        view: &ControlView,
        replicas: i32,
    ) -> Result<usize, ControlError> {
        let ordinal = |addr: &str| objects::node_ordinal(self, addr);
        let forget = scale::forgettable(view, replicas, ordinal);
        for id in &forget {
            tracing::info!(cluster = %key(self), node = %id, "asking control to forget");
            ctx.control.forget(endpoint, id).await?;
        }
        Ok(scale::leftovers(view, replicas, ordinal).len() - forget.len())
    }

    /// The status to report; `leftovers` counts removed nodes control still lists.
    fn observe(
        &self,
        plan: &NodePlan,
        leftovers: usize,
        view: &Result<ControlView, ControlError>,
        nodes: &StatefulSet,
        proxies: &Deployment,
    ) -> AutoCacheClusterStatus {
        let ready_nodes = nodes
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0);
        let ready_proxies = proxies
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0);
        let mut status = AutoCacheClusterStatus {
            ready_nodes,
            ready_proxies,
            ..Default::default()
        };
        let reachable = match view {
            Ok(v) => {
                status.slots_assigned = v.slots_assigned();
                status.migrations = v.moves.len() as u32;
                status.epoch = v.epoch;
                condition("ControlReachable", true, "StatusAnswered", String::new())
            }
            Err(e) => condition("ControlReachable", false, "Unreachable", e.to_string()),
        };
        let spec = &self.spec;
        status.phase = match plan {
            _ if view.is_err() => "Pending",
            NodePlan::Drain { .. } | NodePlan::Wait { .. } | NodePlan::Shrink { .. } => "Draining",
            _ if leftovers > 0 => "Draining",
            NodePlan::Grow {
                rebalance: true, ..
            } => "Rebalancing",
            _ if status.migrations > 0 => "Rebalancing",
            _ if ready_nodes < spec.nodes.replicas
                || ready_proxies < spec.proxies.replicas
                || status.slots_assigned < crate::SLOT_COUNT as u32 =>
            {
                "Creating"
            }
            _ => "Running",
        }
        .to_string();
        let ready = status.phase == "Running";
        status.conditions = vec![
            condition("Ready", ready, &status.phase, String::new()),
            reachable,
        ];
        status
    }

    async fn patch_status(
        &self,
        client: &Client,
        ns: &str,
        status: AutoCacheClusterStatus,
    ) -> Result<(), kube::Error> {
        let api: Api<AutoCacheCluster> = Api::namespaced(client.clone(), ns);
        let body = json!({
            "apiVersion": AutoCacheCluster::api_version(&()),
            "kind": AutoCacheCluster::kind(&()),
            "status": status,
        });
        let params = PatchParams::apply(MANAGER).force();
        api.patch_status(&self.name_any(), &params, &Patch::Apply(body))
            .await?;
        Ok(())
    }
}

fn condition(type_: &str, ok: bool, reason: &str, message: String) -> Condition {
    Condition {
        type_: type_.into(),
        status: if ok { "True" } else { "False" }.into(),
        reason: reason.into(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let secs: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
    }
}
