//! The Kubernetes objects one `AutoCacheCluster` wants: a ConfigMap shared by the tiers,
//! control (a StatefulSet of one for its data dir, and a Service), the nodes (a StatefulSet
//! whose pod names are the node ids, and a headless Service) and the proxies (a Deployment
//! and a Service). All carry an owner reference to the cluster, so deleting it deletes them.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::{Resource, ResourceExt};
use serde_json::{json, Value};

use super::crd::{AutoCacheCluster, Resources, StorageSpec};

pub const CONTROL_PORT: u16 = 7000;
pub const RESP_PORT: u16 = 6379;
pub const NODE_GRPC_PORT: u16 = 16379;
pub const METRICS_PORT: u16 = 9100;

/// Names of a cluster's objects, all derived from the cluster's name.
pub fn config_name(c: &str) -> String {
    format!("{c}-config")
}
pub fn control_name(c: &str) -> String {
    format!("{c}-control")
}
pub fn node_name(c: &str) -> String {
    format!("{c}-node")
}
pub fn proxy_name(c: &str) -> String {
    format!("{c}-proxy")
}

/// Where the cluster's control answers gRPC (the operator and every node/proxy use it).
pub fn control_endpoint(cluster: &AutoCacheCluster) -> String {
    format!(
        "{}.{}.svc:{CONTROL_PORT}",
        control_name(&cluster.name_any()),
        cluster.namespace().unwrap_or_else(|| "default".into())
    )
}

/// The RESP address node pod `ordinal` announces: its stable DNS name in the headless Service.
pub fn node_address(cluster: &AutoCacheCluster, ordinal: i32) -> String {
    let name = node_name(&cluster.name_any());
    let ns = cluster.namespace().unwrap_or_else(|| "default".into());
    format!("{name}-{ordinal}.{name}.{ns}.svc:{RESP_PORT}")
}

/// The StatefulSet ordinal of a node announcing `addr`, if it is one of this cluster's pods.
pub fn node_ordinal(cluster: &AutoCacheCluster, addr: &str) -> Option<i32> {
    let name = node_name(&cluster.name_any());
    let ns = cluster.namespace().unwrap_or_else(|| "default".into());
    let rest = addr.strip_prefix(&format!("{name}-"))?;
    let (ordinal, host) = rest.split_once('.')?;
    if host != format!("{name}.{ns}.svc:{RESP_PORT}") || ordinal.starts_with('+') {
        return None;
    }
    ordinal.parse().ok().filter(|i: &i32| *i >= 0)
}

fn labels(cluster: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), "autocache".into()),
        ("app.kubernetes.io/instance".into(), cluster.into()),
        ("app.kubernetes.io/component".into(), component.into()),
        (
            "app.kubernetes.io/managed-by".into(),
            "autocache-operator".into(),
        ),
    ])
}

fn selector(cluster: &str, component: &str) -> Value {
    json!({
        "app.kubernetes.io/instance": cluster,
        "app.kubernetes.io/component": component,
    })
}

/// metadata with labels and the controller owner reference.
fn meta(cluster: &AutoCacheCluster, name: String, component: &str) -> Value {
    let mut owner = cluster
        .controller_owner_ref(&())
        .expect("a stored cluster has a name and uid");
    // Foreground deletion of the cluster waits for its objects.
    owner.block_owner_deletion = Some(true);
    json!({
        "name": name,
        "namespace": cluster.namespace(),
        "labels": labels(&cluster.name_any(), component),
        "ownerReferences": [owner],
    })
}

fn typed<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("operator objects match the k8s-openapi types")
}

fn resources(r: &Option<Resources>) -> Value {
    match r {
        Some(r) => json!({"requests": r.requests, "limits": r.limits}),
        None => json!({}),
    }
}

/// A volume claim template for `storage`, or none (the pod then gets an emptyDir).
fn claim(storage: &Option<StorageSpec>) -> Option<Value> {
    storage.as_ref().map(|s| {
        let mut spec = json!({
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": s.size}},
        });
        if let Some(class) = &s.storage_class_name {
            spec["storageClassName"] = json!(class);
        }
        json!({"metadata": {"name": "data"}, "spec": spec})
    })
}

fn data_volumes(storage: &Option<StorageSpec>) -> Value {
    if storage.is_some() {
        json!([])
    } else {
        json!([{"name": "data", "emptyDir": {}}])
    }
}

/// Probes answered on every tier's metrics port (`AUTOCACHE_*METRICS_ADDR`, bound on
/// 0.0.0.0): `/healthz` while the process serves at all, `/readyz` once it can serve
/// (control: state loaded; node: storage open and listed in the slot map; proxy: a slot map
/// and a stream to one of its nodes).
fn http_probe(path: &str) -> Value {
    json!({"httpGet": {"path": path, "port": "metrics"}, "periodSeconds": 5})
}

/// Holds the liveness probe off while a node opens its storage (the endpoint answers only
/// once the warm tier is open, which can take minutes after an unclean stop): up to 10 min.
fn node_startup_probe() -> Value {
    json!({
        "httpGet": {"path": "/healthz", "port": "metrics"},
        "periodSeconds": 5,
        "failureThreshold": 120,
    })
}

/// Settings every node and proxy reads from its environment (`AUTOCACHE_*`, as their clap
/// flags do).
pub fn config_map(cluster: &AutoCacheCluster) -> ConfigMap {
    let name = cluster.name_any();
    let nodes = &cluster.spec.nodes;
    let mut data = BTreeMap::from([
        ("AUTOCACHE_BIND".to_string(), "0.0.0.0".to_string()),
        ("AUTOCACHE_PORT".into(), RESP_PORT.to_string()),
        ("AUTOCACHE_DATA_DIR".into(), "/data".into()),
        ("AUTOCACHE_CONTROL".into(), control_endpoint(cluster)),
        // A volume for the warm tier makes the node a store of record; else a pure cache.
        (
            "AUTOCACHE_STORAGE".into(),
            if nodes.storage.is_some() {
                "tiered"
            } else {
                "memory"
            }
            .into(),
        ),
        (
            "AUTOCACHE_METRICS_ADDR".into(),
            format!("0.0.0.0:{METRICS_PORT}"),
        ),
        // The proxies read the same ConfigMap under their own names.
        (
            "AUTOCACHE_PROXY_ADDR".into(),
            format!("0.0.0.0:{RESP_PORT}"),
        ),
        ("AUTOCACHE_PROXY_CONTROL".into(), control_endpoint(cluster)),
        (
            "AUTOCACHE_PROXY_METRICS_ADDR".into(),
            format!("0.0.0.0:{METRICS_PORT}"),
        ),
    ]);
    let optional = [
        ("AUTOCACHE_MAXMEMORY", nodes.maxmemory.as_ref()),
        ("AUTOCACHE_WARM_MAX_BYTES", nodes.warm_max_bytes.as_ref()),
        ("AUTOCACHE_S3_BUCKET", nodes.s3.as_ref().map(|s| &s.bucket)),
        (
            "AUTOCACHE_S3_ENDPOINT",
            nodes.s3.as_ref().and_then(|s| s.endpoint.as_ref()),
        ),
        (
            "AUTOCACHE_S3_REGION",
            nodes.s3.as_ref().and_then(|s| s.region.as_ref()),
        ),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            data.insert(k.into(), v.clone());
        }
    }
    typed(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(cluster, config_name(&name), "config"),
        "data": data,
    }))
}

pub fn control_service(cluster: &AutoCacheCluster) -> Service {
    let name = cluster.name_any();
    typed(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(cluster, control_name(&name), "control"),
        "spec": {
            "selector": selector(&name, "control"),
            "ports": [
                {"name": "grpc", "port": CONTROL_PORT, "targetPort": "grpc"},
                {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"},
            ],
        },
    }))
}

/// Control as a StatefulSet of one: a stable volume for its persisted state and never two
/// authorities at once (a Deployment's rolling update could run two).
pub fn control_statefulset(cluster: &AutoCacheCluster) -> StatefulSet {
    let name = cluster.name_any();
    let spec = &cluster.spec.control;
    let mut sts = json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta(cluster, control_name(&name), "control"),
        "spec": {
            "replicas": 1,
            "serviceName": control_name(&name),
            "selector": {"matchLabels": selector(&name, "control")},
            "template": {
                "metadata": {"labels": labels(&name, "control")},
                "spec": {
                    "securityContext": {"runAsNonRoot": true, "fsGroup": 10001},
                    "containers": [{
                        "name": "control",
                        "image": cluster.spec.image,
                        "command": ["autocache-control"],
                        "env": [
                            {"name": "AUTOCACHE_CONTROL_ADDR", "value": format!("0.0.0.0:{CONTROL_PORT}")},
                            {"name": "AUTOCACHE_CONTROL_DATA_DIR", "value": "/data"},
                            {"name": "AUTOCACHE_CONTROL_METRICS_ADDR", "value": format!("0.0.0.0:{METRICS_PORT}")},
                        ],
                        "ports": [
                            {"name": "grpc", "containerPort": CONTROL_PORT},
                            {"name": "metrics", "containerPort": METRICS_PORT},
                        ],
                        "readinessProbe": http_probe("/readyz"),
                        "livenessProbe": http_probe("/healthz"),
                        "resources": resources(&spec.resources),
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    }],
                    "volumes": data_volumes(&spec.storage),
                },
            },
        },
    });
    if let Some(c) = claim(&spec.storage) {
        sts["spec"]["volumeClaimTemplates"] = json!([c]);
    }
    typed(sts)
}

/// Headless: gives each node pod a stable DNS name; not-ready pods are published because a
/// node must reach control (and peers reach it) before it owns slots.
pub fn node_service(cluster: &AutoCacheCluster) -> Service {
    let name = cluster.name_any();
    typed(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(cluster, node_name(&name), "node"),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": true,
            "selector": selector(&name, "node"),
            "ports": [
                {"name": "resp", "port": RESP_PORT, "targetPort": "resp"},
                {"name": "grpc", "port": NODE_GRPC_PORT, "targetPort": "grpc"},
                {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"},
            ],
        },
    }))
}

/// The node StatefulSet at `replicas` (the scaling decision is the reconciler's). Pods start
/// in parallel; the node id is the pod name.
pub fn node_statefulset(cluster: &AutoCacheCluster, replicas: i32) -> StatefulSet {
    let name = cluster.name_any();
    let ns = cluster.namespace().unwrap_or_else(|| "default".into());
    let nodes = &cluster.spec.nodes;
    let mut env_from = vec![json!({"configMapRef": {"name": config_name(&name)}})];
    if let Some(secret) = nodes.s3.as_ref().and_then(|s| s.secret_name.as_ref()) {
        env_from.push(json!({"secretRef": {"name": secret}}));
    }
    let mut sts = json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta(cluster, node_name(&name), "node"),
        "spec": {
            "replicas": replicas,
            "serviceName": node_name(&name),
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": selector(&name, "node")},
            "template": {
                "metadata": {"labels": labels(&name, "node")},
                "spec": {
                    "securityContext": {"runAsNonRoot": true, "fsGroup": 10001},
                    // Long enough to flush the write-behind queue on SIGTERM.
                    "terminationGracePeriodSeconds": 60,
                    "containers": [{
                        "name": "node",
                        "image": cluster.spec.image,
                        "command": ["autocache-node"],
                        "envFrom": env_from,
                        // The gRPC address is bound and announced as is, so it is the pod IP;
                        // the RESP address announced is the stable name the operator maps
                        // ordinals by (`node_address`).
                        "env": [
                            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                            {"name": "AUTOCACHE_GRPC_ADDR", "value": format!("$(POD_IP):{NODE_GRPC_PORT}")},
                            {"name": "AUTOCACHE_ANNOUNCE_ADDR", "value": format!("$(POD_NAME).{}.{ns}.svc:{RESP_PORT}", node_name(&name))},
                        ],
                        "ports": [
                            {"name": "resp", "containerPort": RESP_PORT},
                            {"name": "grpc", "containerPort": NODE_GRPC_PORT},
                            {"name": "metrics", "containerPort": METRICS_PORT},
                        ],
                        "startupProbe": node_startup_probe(),
                        "readinessProbe": http_probe("/readyz"),
                        "livenessProbe": http_probe("/healthz"),
                        "resources": resources(&nodes.resources),
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    }],
                    "volumes": data_volumes(&nodes.storage),
                },
            },
        },
    });
    if let Some(c) = claim(&nodes.storage) {
        sts["spec"]["volumeClaimTemplates"] = json!([c]);
    }
    typed(sts)
}

pub fn proxy_service(cluster: &AutoCacheCluster) -> Service {
    let name = cluster.name_any();
    typed(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(cluster, proxy_name(&name), "proxy"),
        "spec": {
            "selector": selector(&name, "proxy"),
            "ports": [
                {"name": "resp", "port": RESP_PORT, "targetPort": "resp"},
                {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"},
            ],
        },
    }))
}

pub fn proxy_deployment(cluster: &AutoCacheCluster) -> Deployment {
    let name = cluster.name_any();
    let proxies = &cluster.spec.proxies;
    typed(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(cluster, proxy_name(&name), "proxy"),
        "spec": {
            "replicas": proxies.replicas,
            "selector": {"matchLabels": selector(&name, "proxy")},
            "template": {
                "metadata": {"labels": labels(&name, "proxy")},
                "spec": {
                    "securityContext": {"runAsNonRoot": true},
                    "containers": [{
                        "name": "proxy",
                        "image": cluster.spec.image,
                        "command": ["autocache-proxy"],
                        "envFrom": [{"configMapRef": {"name": config_name(&name)}}],
                        "ports": [
                            {"name": "resp", "containerPort": RESP_PORT},
                            {"name": "metrics", "containerPort": METRICS_PORT},
                        ],
                        "readinessProbe": http_probe("/readyz"),
                        "livenessProbe": http_probe("/healthz"),
                        "resources": resources(&proxies.resources),
                    }],
                },
            },
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_addresses_map_back_to_ordinals() {
        let c: AutoCacheCluster = serde_json::from_value(json!({
            "apiVersion": "autocache.io/v1alpha1", "kind": "AutoCacheCluster",
            "metadata": {"name": "c", "namespace": "ns"},
            "spec": {"image": "i"},
        }))
        .unwrap();
        assert_eq!(node_address(&c, 12), "c-node-12.c-node.ns.svc:6379");
        for i in [0, 3, 12] {
            assert_eq!(node_ordinal(&c, &node_address(&c, i)), Some(i));
        }
        for other in [
            "c-node-1.c-node.other.svc:6379",
            "d-node-1.d-node.ns.svc:6379",
            "c-node-x.c-node.ns.svc:6379",
            "c-node--1.c-node.ns.svc:6379",
            "c-node-+1.c-node.ns.svc:6379",
            "10.0.0.1:6379",
        ] {
            assert_eq!(node_ordinal(&c, other), None, "{other}");
        }
    }
}
