//! The checked-in deployment files stay true: the CRD copies equal what `crdgen` prints,
//! every plain manifest (and every object the operator generates) validates offline against
//! the Kubernetes 1.33 schemas with `kubernetes-validate --strict`, the Helm chart renders to
//! the same objects as deploy/k8s/operator.yaml, and the dashboard and scrape configs name the
//! series the tiers export.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use autocache_control::operator::crd::AutoCacheCluster;
use autocache_control::operator::objects;
use serde::{Deserialize, Serialize};
use serde_json::Value;

const K8S_VERSION: &str = "1.33.0";

/// `deploy/` of the checkout under test. The runner's CARGO_MANIFEST_DIR first: a test
/// binary built for another checkout sharing the target dir (same sources, so cargo reuses
/// it) has that checkout's path compiled in.
fn deploy(path: &str) -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf())
        .join("../deploy")
        .join(path)
}

fn read(path: &str) -> String {
    let p = deploy(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every document of a multi-document YAML text, as JSON values.
fn docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn yaml_docs<T: Serialize>(objs: &[T]) -> String {
    objs.iter()
        .map(|o| serde_yaml::to_string(o).unwrap())
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Runs `kubernetes-validate --strict` on `files`; fails on any error or warning (a warning
/// is how it reports a kind it has no schema for).
fn kubernetes_validate(files: &[PathBuf]) {
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "--quiet", "-k", K8S_VERSION])
        .args(files)
        .output()
        .unwrap_or_else(|e| {
            panic!("kubernetes-validate not runnable ({e}): `make test-deps` installs it")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kubernetes-validate failed:\n{text}");
    assert!(
        !text.contains("WARN") && !text.contains("ERROR"),
        "kubernetes-validate:\n{text}"
    );
}

#[test]
fn crd_copies_equal_crdgen_output() {
    let out = Command::new(env!("CARGO_BIN_EXE_crdgen")).output().unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.contains("name: autocacheclusters.autocache.io\n"));
    // Regenerate with: crdgen > deploy/k8s/crd.yaml && cp deploy/k8s/crd.yaml deploy/helm/autocache/crds/
    assert_eq!(
        printed,
        read("k8s/crd.yaml"),
        "deploy/k8s/crd.yaml is stale"
    );
    assert_eq!(
        printed,
        read("helm/autocache/crds/crd.yaml"),
        "deploy/helm/autocache/crds/crd.yaml is stale"
    );
}

/// cluster.yaml is an AutoCacheCluster, which kubernetes-validate has no schema for: it is
/// checked by decoding it into the typed resource, whose spec rejects unknown fields.
fn sample_cluster() -> AutoCacheCluster {
    let mut c: AutoCacheCluster = serde_yaml::from_str(&read("k8s/cluster.yaml")).unwrap();
    c.metadata.uid = Some("00000000-0000-4000-8000-000000000000".into());
    c
}

#[test]
fn sample_cluster_decodes_and_typos_are_rejected() {
    let c = sample_cluster();
    assert_eq!(c.spec.nodes.replicas, 3);
    assert_eq!(c.spec.proxies.replicas, 2);
    assert_eq!(c.spec.nodes.warm_max_bytes.as_deref(), Some("8gb"));
    assert_eq!(
        c.spec.nodes.s3.as_ref().map(|s| s.bucket.as_str()),
        Some("autocache-cold")
    );
    let typo = read("k8s/cluster.yaml").replace("warmMaxBytes", "warmMaxByte");
    let err = serde_yaml::from_str::<AutoCacheCluster>(&typo).unwrap_err();
    assert!(
        err.to_string().contains("unknown field `warmMaxByte`"),
        "{err}"
    );
}

/// Renders the thin chart the way Helm would for these values: only `.Values.*` and
/// `.Release.Namespace` references are allowed, anything else fails the test.
fn render_chart(namespace: &str) -> String {
    let values: Value = serde_yaml::from_str(&read("helm/autocache/values.yaml")).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(deploy("helm/autocache/templates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut out = String::new();
    for f in files {
        let mut text = std::fs::read_to_string(&f).unwrap();
        while let Some(start) = text.find("{{") {
            let end = start + text[start..].find("}}").expect("closed action");
            let action = text[start + 2..end].trim();
            let value = if action == ".Release.Namespace" {
                namespace.to_string()
            } else {
                let path = action
                    .strip_prefix(".Values.")
                    .unwrap_or_else(|| panic!("{}: `{action}` is not thin", f.display()));
                let v = path.split('.').fold(&values, |v, k| &v[k]).clone();
                match v {
                    Value::String(s) => s,
                    Value::Null => panic!("{}: no value {path}", f.display()),
                    other => other.to_string(),
                }
            };
            text.replace_range(start..end + 2, &value);
        }
        out.push_str("---\n");
        out.push_str(&text);
    }
    out
}

fn by_kind_and_name(docs: Vec<Value>) -> BTreeMap<(String, String), Value> {
    docs.into_iter()
        .map(|d| {
            let key = (
                d["kind"].as_str().unwrap().to_string(),
                d["metadata"]["name"].as_str().unwrap().to_string(),
            );
            (key, d)
        })
        .collect()
}

#[test]
fn chart_renders_the_operator_manifest() {
    let plain = by_kind_and_name(
        docs(&read("k8s/operator.yaml"))
            .into_iter()
            .filter(|d| d["kind"] != "Namespace")
            .collect(),
    );
    let chart = by_kind_and_name(docs(&render_chart("autocache-system")));
    assert_eq!(
        chart.keys().collect::<Vec<_>>(),
        plain.keys().collect::<Vec<_>>()
    );
    for (key, doc) in &plain {
        assert_eq!(
            &chart[key], doc,
            "{key:?} differs between chart and operator.yaml"
        );
    }
    let chart_meta: Value = serde_yaml::from_str(&read("helm/autocache/Chart.yaml")).unwrap();
    assert_eq!(chart_meta["apiVersion"], "v2");
    assert_eq!(chart_meta["name"], "autocache");
}

#[test]
fn manifests_and_generated_objects_validate_against_kubernetes_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    // What the operator applies, for the sample (volumes, S3) and a minimal cluster
    // (emptyDirs, defaults).
    let mut generated = Vec::new();
    let minimal: AutoCacheCluster = serde_yaml::from_str(
        "apiVersion: autocache.io/v1alpha1\nkind: AutoCacheCluster\n\
         metadata: {name: mini, namespace: cache, uid: 00000000-0000-4000-8000-000000000001}\n\
         spec: {image: autocache:0.1.0}\n",
    )
    .unwrap();
    for (i, c) in [sample_cluster(), minimal].iter().enumerate() {
        let text = [
            yaml_docs(&[objects::config_map(c)]),
            yaml_docs(&[objects::control_service(c), objects::node_service(c)]),
            yaml_docs(&[objects::proxy_service(c)]),
            yaml_docs(&[
                objects::control_statefulset(c),
                objects::node_statefulset(c, c.spec.nodes.replicas),
            ]),
            yaml_docs(&[objects::proxy_deployment(c)]),
        ]
        .join("---\n");
        generated.push(write(&format!("generated-{i}.yaml"), text));
    }
    let chart = write("chart.yaml", render_chart("autocache"));
    let mut files = plain_manifests();
    assert!(files.contains(&deploy("k8s/operator.yaml")));
    assert!(files.contains(&deploy("k8s/crd.yaml")));
    files.push(chart);
    files.extend(generated);
    kubernetes_validate(&files);
}

/// Every file under deploy/k8s except AutoCacheCluster instances (checked by decoding, see
/// `sample_cluster`), which must decode.
fn plain_manifests() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(deploy("k8s")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let kinds: Vec<Value> = docs(&text).iter().map(|d| d["kind"].clone()).collect();
        if kinds.iter().all(|k| k == "AutoCacheCluster") {
            serde_yaml::from_str::<AutoCacheCluster>(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

#[test]
fn validation_catches_a_bad_manifest() {
    // Guards the guard: a misspelt field must fail, so a passing run means something.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    let text = read("k8s/operator.yaml").replace("  replicas: 1", "  replicaz: 1");
    std::fs::write(&bad, text).unwrap();
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "--quiet", "-k", K8S_VERSION])
        .arg(&bad)
        .output()
        .expect("kubernetes-validate installed (`make test-deps`)");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("'replicaz' was unexpected"));
}

#[test]
fn dashboard_charts_every_tier() {
    let dash: Value = serde_json::from_str(&read("grafana/autocache.json")).unwrap();
    assert_eq!(dash["uid"], "autocache");
    let panels = dash["panels"].as_array().unwrap();
    let mut ids: Vec<i64> = panels.iter().map(|p| p["id"].as_i64().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    let exprs: Vec<&str> = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .map(|t| t["expr"].as_str().unwrap())
        .collect();
    for metric in [
        "autocache_node_commands_total",
        "autocache_node_command_duration_seconds_bucket",
        "autocache_node_keyspace_hits_total",
        "autocache_node_keyspace_misses_total",
        "autocache_node_memory_bytes",
        "autocache_node_connected_clients",
        "autocache_proxy_commands_total",
        "autocache_proxy_upstream_latency_seconds_bucket",
        "autocache_control_migrations",
        "autocache_control_epoch",
        "autocache_control_nodes",
    ] {
        assert!(
            exprs.iter().any(|e| e.contains(&format!("{metric}{{"))),
            "no panel queries {metric}"
        );
    }
    for quantile in ["histogram_quantile(0.5,", "histogram_quantile(0.99,"] {
        assert!(exprs.iter().any(|e| e.contains(quantile)), "{quantile}");
    }
}

#[test]
fn scrape_configs_select_autocache_metrics_ports() {
    let prom: Value = serde_yaml::from_str(&read("prometheus/prometheus.yml")).unwrap();
    let job = &prom["scrape_configs"][0];
    assert_eq!(job["job_name"], "autocache");
    let relabel = job["relabel_configs"].as_array().unwrap();
    assert!(relabel
        .iter()
        .any(|r| r["regex"] == "autocache" && r["action"] == "keep"));
    assert!(relabel
        .iter()
        .any(|r| r["regex"] == "metrics" && r["action"] == "keep"));
    assert!(relabel.iter().any(|r| r["target_label"] == "tier"));

    let sm: Value = serde_yaml::from_str(&read("prometheus/servicemonitor.yaml")).unwrap();
    assert_eq!(sm["kind"], "ServiceMonitor");
    assert_eq!(
        sm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        "autocache"
    );
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "metrics");
    // The port name the ServiceMonitor scrapes is the one the operator's Services expose.
    let c = sample_cluster();
    for svc in [
        objects::control_service(&c),
        objects::node_service(&c),
        objects::proxy_service(&c),
    ] {
        let ports = svc.spec.unwrap().ports.unwrap();
        assert!(ports.iter().any(|p| p.name.as_deref() == Some("metrics")));
        assert_eq!(
            svc.metadata.labels.unwrap()["app.kubernetes.io/name"],
            "autocache"
        );
    }
}
