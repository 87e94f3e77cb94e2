//! The `AutoCacheCluster` custom resource (`autocache.io/v1alpha1`): what a user asks for
//! (spec) and what the operator reports back (status). `crdgen` prints its CRD.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One AutoCache deployment: a control service, a StatefulSet of nodes and a Deployment of
/// proxies, all owned by this object.
// Clippy reads the repeated `printcolumn(type_ = ...)` arguments as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "autocache.io",
    version = "v1alpha1",
    kind = "AutoCacheCluster",
    namespaced,
    status = "AutoCacheClusterStatus",
    shortname = "acc",
    doc = "An AutoCache cluster: control, storage nodes and proxies",
    printcolumn(name = "Nodes", type_ = "integer", json_path = ".spec.nodes.replicas"),
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.readyNodes"),
    printcolumn(
        name = "Proxies",
        type_ = "integer",
        json_path = ".status.readyProxies"
    ),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Epoch", type_ = "integer", json_path = ".status.epoch")
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutoCacheClusterSpec {
    /// Container image holding every AutoCache binary (`deploy/docker/Dockerfile`).
    pub image: String,
    #[serde(default)]
    pub nodes: NodesSpec,
    #[serde(default)]
    pub proxies: ProxiesSpec,
    #[serde(default)]
    pub control: ControlSpec,
}

/// The storage nodes (a StatefulSet: stable names become node ids).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodesSpec {
    #[serde(default = "default_nodes")]
    #[schemars(range(min = 1))]
    pub replicas: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Local volume of the warm tier (RocksDB); an emptyDir when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageSpec>,
    /// Memory tier bound, Redis syntax (`512mb`); unbounded when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxmemory: Option<String>,
    /// Warm tier bound, same syntax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_max_bytes: Option<String>,
    /// Cold tier; off when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Spec>,
}

impl Default for NodesSpec {
    fn default() -> Self {
        NodesSpec {
            replicas: default_nodes(),
            resources: None,
            storage: None,
            maxmemory: None,
            warm_max_bytes: None,
            s3: None,
        }
    }
}

fn default_nodes() -> i32 {
    3
}

/// The stateless proxies (a Deployment).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxiesSpec {
    #[serde(default = "default_proxies")]
    #[schemars(range(min = 0))]
    pub replicas: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}

impl Default for ProxiesSpec {
    fn default() -> Self {
        ProxiesSpec {
            replicas: default_proxies(),
            resources: None,
        }
    }
}

fn default_proxies() -> i32 {
    2
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControlSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Volume of the control's persisted state; an emptyDir when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageSpec>,
}

/// Container resources as quantities (`cpu: 500m`, `memory: 1Gi`).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageSpec {
    /// PVC size (`10Gi`).
    pub size: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct S3Spec {
    pub bucket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Secret with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, passed as env.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
}

/// What the operator last saw; written with a server-side-apply status patch.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoCacheClusterStatus {
    /// `Creating`, `Rebalancing`, `Draining`, `Running` or `Degraded`.
    pub phase: String,
    pub ready_nodes: i32,
    pub ready_proxies: i32,
    /// Slots owned by some node (16384 when fully assigned).
    pub slots_assigned: u32,
    /// Slot migrations active or queued in control.
    pub migrations: u32,
    /// Control's slot map epoch.
    pub epoch: u64,
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

/// A Kubernetes-style condition (`Ready`, `ControlReachable`).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    pub reason: String,
    #[serde(default)]
    pub message: String,
}

/// The CRD as YAML, exactly what `crdgen` prints and `deploy/k8s/crd.yaml` holds.
pub fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    serde_yaml::to_string(&AutoCacheCluster::crd()).expect("a CRD serializes")
}
