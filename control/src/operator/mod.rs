//! The Kubernetes operator (`autocache-operator`): watches `AutoCacheCluster` objects and the
//! StatefulSets, Deployments and Services they own, and reconciles each cluster (see
//! `reconcile.rs`). Talks to each cluster's control over gRPC through `ControlApi`.

pub mod control_api;
pub mod crd;
pub mod objects;
pub mod reconcile;
pub mod scale;

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Service;
use kube::runtime::{watcher, Controller};
use kube::{Api, Client};

pub use control_api::{ControlApi, GrpcControl};
pub use crd::AutoCacheCluster;
pub use reconcile::{error_policy, reconcile, Context};

/// Runs the controller over every namespace (or one) until `shutdown` resolves.
pub async fn run<C: ControlApi>(
    client: Client,
    namespace: Option<&str>,
    control: C,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let api = |c: &Client| -> Api<AutoCacheCluster> {
        match namespace {
            Some(ns) => Api::namespaced(c.clone(), ns),
            None => Api::all(c.clone()),
        }
    };
    macro_rules! owned {
        ($t:ty) => {
            match namespace {
                Some(ns) => Api::<$t>::namespaced(client.clone(), ns),
                None => Api::<$t>::all(client.clone()),
            }
        };
    }
    let ctx = Arc::new(Context::new(client.clone(), control));
    let config = watcher::Config::default();
    Controller::new(api(&client), config.clone())
        .owns(owned!(StatefulSet), config.clone())
        .owns(owned!(Deployment), config.clone())
        .owns(owned!(Service), config)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            match res {
                Ok((obj, _)) => tracing::debug!(cluster = %obj.name, "reconciled"),
                Err(e) => tracing::warn!(error = %e, "reconcile error"),
            }
        })
        .await;
}
