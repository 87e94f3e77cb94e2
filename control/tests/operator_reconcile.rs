//! Operator reconcile scenarios against a mocked Kubernetes API server (kube-rs's
//! `tower_test` pattern) and a recording fake control: every request's method, path and body,
//! and the order of API writes and control calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use autocache_control::operator::control_api::{
    ControlApi, ControlError, ControlView, MoveView, NodeView,
};
use autocache_control::operator::crd::AutoCacheCluster;
use autocache_control::operator::reconcile::{error_policy, reconcile, Context};
use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use kube::runtime::controller::Action;
use kube::Client;
use serde_json::{json, Value};

const NS: &str = "default";
const UID: &str = "5a1e0c7e-0000-4000-8000-000000000001";

/// One line of the shared log: an API request or a control call, in the order they happened.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    Api {
        method: Method,
        path: String,
        query: String,
        body: Value,
    },
    Control(String),
}

type Log = Arc<Mutex<Vec<Event>>>;

/// A control service whose view the scenario sets, recording every call.
#[derive(Clone)]
struct FakeControl {
    log: Log,
    view: Arc<Mutex<Option<ControlView>>>,
}

impl FakeControl {
    fn set_view(&self, view: Option<ControlView>) {
        *self.view.lock().unwrap() = view;
    }

    fn record(&self, call: String) {
        self.log.lock().unwrap().push(Event::Control(call));
    }
}

fn unreachable(endpoint: &str) -> ControlError {
    ControlError {
        endpoint: endpoint.into(),
        message: "connection refused".into(),
    }
}

impl ControlApi for FakeControl {
    async fn status(&self, endpoint: &str) -> Result<ControlView, ControlError> {
        self.record(format!("status {endpoint}"));
        self.view
            .lock()
            .unwrap()
            .clone()
            .ok_or_else(|| unreachable(endpoint))
    }

    async fn rebalance(&self, _endpoint: &str) -> Result<(), ControlError> {
        self.record("rebalance".into());
        Ok(())
    }

    async fn drain(&self, _endpoint: &str, node: &str) -> Result<(), ControlError> {
        self.record(format!("drain {node}"));
        Ok(())
    }

    async fn forget(&self, _endpoint: &str, node: &str) -> Result<(), ControlError> {
        self.record(format!("forget {node}"));
        Ok(())
    }
}

/// What the mocked API server answers, set per scenario.
#[derive(Default)]
struct World {
    /// The node StatefulSet as stored (GET answers 404 when none).
    node_sts: Option<Value>,
    /// `status` merged into the echo of an apply, by path (ready replicas).
    statuses: HashMap<String, Value>,
    /// Answer every request with this HTTP status instead.
    fail_with: Option<u16>,
}

struct Scenario {
    cluster: AutoCacheCluster,
    log: Log,
    world: Arc<Mutex<World>>,
    control: FakeControl,
    ctx: Arc<Context<FakeControl>>,
}

fn cluster(nodes: i32, proxies: i32) -> AutoCacheCluster {
    serde_json::from_value(json!({
        "apiVersion": "autocache.io/v1alpha1",
        "kind": "AutoCacheCluster",
        "metadata": {"name": "c", "namespace": NS, "uid": UID},
        "spec": {
            "image": "autocache:test",
            "nodes": {
                "replicas": nodes,
                "maxmemory": "256mb",
                "storage": {"size": "1Gi", "storageClassName": "fast"},
                "s3": {"bucket": "cold", "region": "eu-west-1", "secretName": "s3-creds"},
            },
            "proxies": {"replicas": proxies},
        },
    }))
    .unwrap()
}

fn not_found() -> Response<Body> {
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "not found", "reason": "NotFound", "code": 404,
    });
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .body(Body::from(serde_json::to_vec(&status).unwrap()))
        .unwrap()
}

fn failure(code: u16) -> Response<Body> {
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "boom", "reason": "InternalError", "code": code,
    });
    Response::builder()
        .status(code)
        .body(Body::from(serde_json::to_vec(&status).unwrap()))
        .unwrap()
}

fn ok(v: &Value) -> Response<Body> {
    Response::builder()
        .body(Body::from(serde_json::to_vec(v).unwrap()))
        .unwrap()
}

impl Scenario {
    fn new(cluster: AutoCacheCluster) -> Scenario {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let log: Log = Arc::default();
        let world: Arc<Mutex<World>> = Arc::default();
        let control = FakeControl {
            log: log.clone(),
            view: Arc::default(),
        };
        let (server_log, server_world) = (log.clone(), world.clone());
        let stored = serde_json::to_value(&cluster).unwrap();
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let method = request.method().clone();
                let path = request.uri().path().to_string();
                let query = request.uri().query().unwrap_or("").to_string();
                let bytes = request.into_body().collect_bytes().await.unwrap();
                let body: Value = if bytes.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&bytes).unwrap()
                };
                server_log.lock().unwrap().push(Event::Api {
                    method: method.clone(),
                    path: path.clone(),
                    query,
                    body: body.clone(),
                });
                let world = server_world.lock().unwrap();
                let reply = if let Some(code) = world.fail_with {
                    failure(code)
                } else if method == Method::GET {
                    world.node_sts.as_ref().map_or_else(not_found, ok)
                } else if path.ends_with("/status") {
                    let mut echo = stored.clone();
                    echo["status"] = body["status"].clone();
                    ok(&echo)
                } else {
                    let mut echo = body.clone();
                    if let Some(status) = world.statuses.get(&path) {
                        echo["status"] = status.clone();
                    }
                    ok(&echo)
                };
                send.send_response(reply);
            }
        });
        let client = Client::new(service, NS);
        let ctx = Arc::new(Context::new(client, control.clone()));
        Scenario {
            cluster,
            log,
            world,
            control,
            ctx,
        }
    }

    async fn reconcile(&self) -> Action {
        reconcile(Arc::new(self.cluster.clone()), self.ctx.clone())
            .await
            .expect("reconcile succeeds")
    }

    /// The log so far, emptied.
    fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }

    fn stored_nodes(&self, replicas: i32) {
        self.world.lock().unwrap().node_sts = Some(json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "c-node", "namespace": NS},
            "spec": {"replicas": replicas, "serviceName": "c-node",
                     "selector": {"matchLabels": {}}, "template": {}},
        }));
    }
}

fn view(slots: &[u32], epoch: u64) -> ControlView {
    ControlView {
        epoch,
        nodes: slots
            .iter()
            .enumerate()
            .map(|(i, &s)| NodeView {
                // Nodes choose their ids; pods are matched by the address they announce.
                id: format!("id{i}"),
                resp_addr: format!("c-node-{i}.c-node.default.svc:6379"),
                healthy: true,
                slots: s,
            })
            .collect(),
        moves: vec![],
    }
}

const ENDPOINT: &str = "c-control.default.svc:7000";

fn core(kind: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{NS}/{kind}/{name}")
}
fn apps(kind: &str, name: &str) -> String {
    format!("/apis/apps/v1/namespaces/{NS}/{kind}/{name}")
}
fn status_path() -> String {
    format!("/apis/autocache.io/v1alpha1/namespaces/{NS}/autocacheclusters/c/status")
}

/// A compact line per event: `PATCH <path>`, `GET <path>`, or the control call.
fn lines(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            Event::Api { method, path, .. } => format!("{method} {path}"),
            Event::Control(c) => c.clone(),
        })
        .collect()
}

fn body_of<'a>(events: &'a [Event], method: &Method, want: &str) -> &'a Value {
    events
        .iter()
        .find_map(|e| match e {
            Event::Api {
                method: m,
                path,
                body,
                ..
            } if m == method && path == want => Some(body),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {method} {want} in {:?}", lines(events)))
}

/// Every write of one reconcile, in order, around the control calls in the middle.
fn full_pass(control_calls: &[&str]) -> Vec<String> {
    let mut out = vec![
        format!("PATCH {}", core("configmaps", "c-config")),
        format!("PATCH {}", core("services", "c-control")),
        format!("PATCH {}", apps("statefulsets", "c-control")),
        format!("PATCH {}", core("services", "c-node")),
        format!("GET {}", apps("statefulsets", "c-node")),
        format!("status {ENDPOINT}"),
    ];
    out.extend(control_calls.iter().map(|c| c.to_string()));
    out.extend([
        format!("PATCH {}", apps("statefulsets", "c-node")),
        format!("PATCH {}", core("services", "c-proxy")),
        format!("PATCH {}", apps("deployments", "c-proxy")),
        format!("PATCH {}", status_path()),
    ]);
    out
}

fn replicas_patched(events: &[Event]) -> i64 {
    body_of(events, &Method::PATCH, &apps("statefulsets", "c-node"))["spec"]["replicas"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_applies_every_object_with_owner_refs_then_assigns_slots() {
    let s = Scenario::new(cluster(3, 2));
    s.control.set_view(Some(view(&[], 0)));
    s.reconcile().await;
    let events = s.take();
    assert_eq!(lines(&events), full_pass(&[]));

    let owner = json!([{
        "apiVersion": "autocache.io/v1alpha1", "kind": "AutoCacheCluster", "name": "c",
        "uid": UID, "controller": true, "blockOwnerDeletion": true,
    }]);
    for e in &events {
        let Event::Api {
            method: Method::PATCH,
            path,
            query,
            body,
        } = e
        else {
            continue;
        };
        // Server-side apply, forced, under the operator's field manager.
        assert!(query.contains("fieldManager=autocache-operator"), "{query}");
        assert!(query.contains("force=true"), "{query}");
        if !path.ends_with("/status") {
            assert_eq!(body["metadata"]["ownerReferences"], owner, "{path}");
            assert_eq!(body["metadata"]["namespace"], NS, "{path}");
        }
    }

    let config = body_of(&events, &Method::PATCH, &core("configmaps", "c-config"));
    assert_eq!(config["data"]["AUTOCACHE_CONTROL"], ENDPOINT);
    assert_eq!(config["data"]["AUTOCACHE_MAXMEMORY"], "256mb");
    assert_eq!(config["data"]["AUTOCACHE_S3_BUCKET"], "cold");
    assert_eq!(config["data"]["AUTOCACHE_S3_REGION"], "eu-west-1");
    // Proxies read the same ConfigMap under their own names: reachable, and given control.
    assert_eq!(config["data"]["AUTOCACHE_PROXY_ADDR"], "0.0.0.0:6379");
    assert_eq!(config["data"]["AUTOCACHE_PROXY_CONTROL"], ENDPOINT);
    assert_eq!(
        config["data"]["AUTOCACHE_PROXY_METRICS_ADDR"],
        "0.0.0.0:9100"
    );

    let nodes = body_of(&events, &Method::PATCH, &apps("statefulsets", "c-node"));
    assert_eq!(nodes["spec"]["replicas"], 3);
    assert_eq!(nodes["spec"]["serviceName"], "c-node");
    let pod = &nodes["spec"]["template"]["spec"];
    let env = &pod["containers"][0]["env"];
    assert_eq!(env[3]["name"], "AUTOCACHE_ANNOUNCE_ADDR");
    assert_eq!(env[3]["value"], "$(POD_NAME).c-node.default.svc:6379");
    assert_eq!(config["data"]["AUTOCACHE_STORAGE"], "tiered");
    assert_eq!(pod["containers"][0]["image"], "autocache:test");
    assert_eq!(pod["containers"][0]["command"], json!(["autocache-node"]));
    assert_eq!(
        pod["containers"][0]["envFrom"],
        json!([{"configMapRef": {"name": "c-config"}}, {"secretRef": {"name": "s3-creds"}}])
    );
    // Probes over HTTP on the metrics port, which the ConfigMap binds on every interface.
    assert_eq!(config["data"]["AUTOCACHE_METRICS_ADDR"], "0.0.0.0:9100");
    let node = &pod["containers"][0];
    assert_eq!(
        node["ports"][2],
        json!({"name": "metrics", "containerPort": 9100})
    );
    let probe =
        |path: &str| json!({"httpGet": {"path": path, "port": "metrics"}, "periodSeconds": 5});
    assert_eq!(node["readinessProbe"], probe("/readyz"));
    assert_eq!(node["livenessProbe"], probe("/healthz"));
    assert_eq!(
        node["startupProbe"],
        json!({"httpGet": {"path": "/healthz", "port": "metrics"}, "periodSeconds": 5, "failureThreshold": 120})
    );
    let claim = &nodes["spec"]["volumeClaimTemplates"][0]["spec"];
    assert_eq!(claim["storageClassName"], "fast");
    assert_eq!(claim["resources"]["requests"]["storage"], "1Gi");

    let headless = body_of(&events, &Method::PATCH, &core("services", "c-node"));
    assert_eq!(headless["spec"]["clusterIP"], "None");
    let control = body_of(&events, &Method::PATCH, &apps("statefulsets", "c-control"));
    assert_eq!(control["spec"]["replicas"], 1);
    let proxies = body_of(&events, &Method::PATCH, &apps("deployments", "c-proxy"));
    assert_eq!(proxies["spec"]["replicas"], 2);
    assert_eq!(
        proxies["spec"]["template"]["spec"]["containers"][0]["command"],
        json!(["autocache-proxy"])
    );
    let proxy = &proxies["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        proxy["ports"][1],
        json!({"name": "metrics", "containerPort": 9100})
    );
    assert_eq!(proxy["readinessProbe"], probe("/readyz"));
    assert_eq!(proxy["livenessProbe"], probe("/healthz"));
    assert!(proxy.get("startupProbe").is_none());
    let status = body_of(&events, &Method::PATCH, &status_path());
    assert_eq!(status["status"]["phase"], "Creating");

    // The three nodes registered: control assigns every slot with one rebalance.
    s.stored_nodes(3);
    s.control.set_view(Some(view(&[0, 0, 0], 3)));
    assert_eq!(s.reconcile().await, Action::requeue(Duration::from_secs(5)));
    let events = s.take();
    assert_eq!(lines(&events), full_pass(&["rebalance"]));
    let status = body_of(&events, &Method::PATCH, &status_path());
    assert_eq!(status["status"]["phase"], "Rebalancing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_out_raises_replicas_then_rebalances_onto_new_nodes() {
    let s = Scenario::new(cluster(5, 2));
    s.stored_nodes(3);
    s.control.set_view(Some(view(&[5462, 5461, 5461], 9)));
    s.reconcile().await;
    let events = s.take();
    // New pods are not registered yet: grow only.
    assert_eq!(lines(&events), full_pass(&[]));
    assert_eq!(replicas_patched(&events), 5);

    s.stored_nodes(5);
    s.control
        .set_view(Some(view(&[5462, 5461, 5461, 0, 0], 11)));
    s.reconcile().await;
    let events = s.take();
    assert_eq!(lines(&events), full_pass(&["rebalance"]));
    assert_eq!(replicas_patched(&events), 5);

    // While the migrations run, no second rebalance.
    let mut moving = view(&[5462, 5461, 5461, 0, 0], 12);
    moving.moves.push(MoveView {
        source: "id0".into(),
        target: "id3".into(),
    });
    s.control.set_view(Some(moving));
    s.reconcile().await;
    let events = s.take();
    assert_eq!(lines(&events), full_pass(&[]));
    let status = body_of(&events, &Method::PATCH, &status_path());
    assert_eq!(status["status"]["phase"], "Rebalancing");
    assert_eq!(status["status"]["migrations"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_in_drains_highest_ordinal_first_and_shrinks_only_after() {
    let s = Scenario::new(cluster(2, 2));
    s.stored_nodes(4);
    s.control
        .set_view(Some(view(&[4096, 4096, 4096, 4096], 20)));
    s.reconcile().await;
    let events = s.take();
    assert_eq!(lines(&events), full_pass(&["drain id3"]));
    assert_eq!(replicas_patched(&events), 4, "kept until drained");
    let status = body_of(&events, &Method::PATCH, &status_path());
    assert_eq!(status["status"]["phase"], "Draining");

    // node-3's slots are moving: wait, neither drain again nor shrink.
    let mut moving = view(&[4096, 4096, 4096, 4096], 21);
    moving.moves.push(MoveView {
        source: "id3".into(),
        target: "id0".into(),
    });
    s.control.set_view(Some(moving));
    s.reconcile().await;
    let events = s.take();
    assert_eq!(lines(&events), full_pass(&[]));
    assert_eq!(replicas_patched(&events), 4);

    // node-3 is empty: next is node-2.
    s.control.set_view(Some(view(&[5462, 5461, 5461, 0], 25)));
    s.reconcile().await;
    let events = s.take();
    assert_eq!(lines(&events), full_pass(&["drain id2"]));
    assert_eq!(replicas_patched(&events), 4);

    // Both empty: shrink the StatefulSet. Their pods still run, so control keeps them (a
    // forgotten live node registers again).
    s.control.set_view(Some(view(&[8192, 8192, 0, 0], 30)));
    s.reconcile().await;
    let events = s.take();
    assert_eq!(lines(&events), full_pass(&[]));
    assert_eq!(replicas_patched(&events), 2);

    // Pods gone, but control has not noticed yet: still draining, nothing forgotten.
    s.stored_nodes(2);
    s.reconcile().await;
    let events = s.take();
    assert_eq!(lines(&events), full_pass(&[]));
    let status = body_of(&events, &Method::PATCH, &status_path());
    assert_eq!(status["status"]["phase"], "Draining");

    // Control saw them die: forget them, highest ordinal first.
    let mut dead = view(&[8192, 8192, 0, 0], 32);
    dead.nodes[2].healthy = false;
    dead.nodes[3].healthy = false;
    s.control.set_view(Some(dead));
    s.reconcile().await;
    let events = s.take();
    assert_eq!(lines(&events), full_pass(&["forget id3", "forget id2"]));
    assert_eq!(replicas_patched(&events), 2);
    let status = body_of(&events, &Method::PATCH, &status_path());
    assert_eq!(
        status["status"]["phase"], "Creating",
        "no leftovers; pods not ready"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_in_never_shrinks_while_control_is_unreachable() {
    let s = Scenario::new(cluster(1, 2));
    s.stored_nodes(3);
    s.control.set_view(None);
    s.reconcile().await;
    let events = s.take();
    assert_eq!(lines(&events), full_pass(&[]));
    assert_eq!(replicas_patched(&events), 3);
    let status = &body_of(&events, &Method::PATCH, &status_path())["status"];
    assert_eq!(status["phase"], "Pending");
    assert_eq!(status["conditions"][1]["type"], "ControlReachable");
    assert_eq!(status["conditions"][1]["status"], "False");
    assert_eq!(
        status["conditions"][1]["message"],
        "control at c-control.default.svc:7000: connection refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_ready_replicas_slots_and_epoch() {
    let s = Scenario::new(cluster(3, 2));
    s.stored_nodes(3);
    {
        let mut w = s.world.lock().unwrap();
        w.statuses.insert(
            apps("statefulsets", "c-node"),
            json!({"replicas": 3, "readyReplicas": 3}),
        );
        w.statuses.insert(
            apps("deployments", "c-proxy"),
            json!({"replicas": 2, "readyReplicas": 2}),
        );
    }
    s.control.set_view(Some(view(&[5462, 5461, 5461], 42)));
    // Settled: the next look is the slow periodic one.
    assert_eq!(
        s.reconcile().await,
        Action::requeue(Duration::from_secs(300))
    );
    let events = s.take();
    assert_eq!(lines(&events), full_pass(&[]));
    let body = body_of(&events, &Method::PATCH, &status_path());
    assert_eq!(
        *body,
        json!({
            "apiVersion": "autocache.io/v1alpha1",
            "kind": "AutoCacheCluster",
            "status": {
                "phase": "Running",
                "readyNodes": 3,
                "readyProxies": 2,
                "slotsAssigned": 16384,
                "migrations": 0,
                "epoch": 42,
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "Running", "message": ""},
                    {"type": "ControlReachable", "status": "True", "reason": "StatusAnswered", "message": ""},
                ],
            },
        })
    );

    // One proxy down: not Running any more.
    s.world.lock().unwrap().statuses.insert(
        apps("deployments", "c-proxy"),
        json!({"replicas": 2, "readyReplicas": 1}),
    );
    assert_eq!(s.reconcile().await, Action::requeue(Duration::from_secs(5)));
    let events = s.take();
    let status = &body_of(&events, &Method::PATCH, &status_path())["status"];
    assert_eq!(status["readyProxies"], 1);
    assert_eq!(status["phase"], "Creating");
    assert_eq!(status["conditions"][0]["status"], "False");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_leaves_cleanup_to_owner_references() {
    let mut deleted = cluster(3, 2);
    deleted.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-01-01T00:00:00Z".parse().unwrap(),
        ));
    let s = Scenario::new(deleted);
    s.control.set_view(Some(view(&[5462, 5461, 5461], 1)));
    assert_eq!(s.reconcile().await, Action::await_change());
    // No API write, no control call: the garbage collector removes what the cluster owns.
    assert_eq!(lines(&s.take()), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_requeue_with_growing_backoff_reset_by_success() {
    let s = Scenario::new(cluster(3, 2));
    s.stored_nodes(3);
    s.control.set_view(Some(view(&[5462, 5461, 5461], 1)));
    s.world.lock().unwrap().fail_with = Some(500);
    let obj = Arc::new(s.cluster.clone());
    let mut waits = Vec::new();
    for _ in 0..3 {
        let err = reconcile(obj.clone(), s.ctx.clone())
            .await
            .expect_err("API answers 500");
        waits.push(error_policy(obj.clone(), &err, s.ctx.clone()));
    }
    assert_eq!(
        waits,
        [5, 10, 20].map(|s| Action::requeue(Duration::from_secs(s)))
    );
    // The first write failed: nothing after it was tried.
    assert_eq!(
        lines(&s.take()),
        vec![format!("PATCH {}", core("configmaps", "c-config")); 3]
    );

    s.world.lock().unwrap().fail_with = None;
    reconcile(obj.clone(), s.ctx.clone()).await.unwrap();
    s.world.lock().unwrap().fail_with = Some(500);
    let err = reconcile(obj.clone(), s.ctx.clone()).await.unwrap_err();
    assert_eq!(
        error_policy(obj, &err, s.ctx.clone()),
        Action::requeue(Duration::from_secs(5))
    );
}
