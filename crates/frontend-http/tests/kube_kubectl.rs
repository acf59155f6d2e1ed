//! Real kubectl through Warden against a small fake Kubernetes API server: `get pods`
//! allowed, `delete pod x -n prod` held then approved (or denied), `delete ns prod`
//! denied with kubectl printing the rule's message; Kubernetes RBAC impersonation. Under
//! the shipped kubernetes pack, requests with the effect of a delete or of exec through
//! another path (eviction, pod/service/node proxy, `kubectl debug`) are held like those.

mod http_support;

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use warden_inspect::Protocol;

use http_support::*;

const POLICY: &str = r#"
version: 1
rules:
  - name: no-namespace-delete
    when: { protocol: kubernetes, kubernetes: { verbs: [delete, deletecollection], resources: [namespaces] } }
    action: deny
    message: Namespaces are never deleted through Warden; open a change request.
  - name: delete-in-prod-namespace
    when: { protocol: kubernetes, kubernetes: { verbs: [delete, deletecollection], namespaces: [prod] } }
    action: hold
    approval: { approvers: { roles: [sre] }, required: 1, timeout: 1m }
  - name: the-rest
    when: { protocol: kubernetes }
    action: allow
"#;

#[derive(Default)]
struct Cluster {
    deleted: BTreeSet<String>,
    /// (method, path, impersonated user) of every request.
    seen: Vec<(String, String, Option<String>)>,
}

fn pod(name: &str) -> Value {
    json!({
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": name, "namespace": "prod", "uid": format!("uid-{name}"),
                     "creationTimestamp": "2026-01-01T00:00:00Z", "resourceVersion": "1"},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
        "status": {"phase": "Running"}
    })
}

fn reply(status: StatusCode, v: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn not_found(name: &str) -> Response<Full<Bytes>> {
    reply(
        StatusCode::NOT_FOUND,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": format!("pods \"{name}\" not found"), "reason": "NotFound",
               "details": {"name": name, "kind": "pods"}, "code": 404}),
    )
}

async fn api(cluster: Arc<Mutex<Cluster>>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let imp = req
        .headers()
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut c = cluster.lock().unwrap_or_else(|p| p.into_inner());
    c.seen.push((method.clone(), path.clone(), imp));
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["version"]) => reply(
            StatusCode::OK,
            json!({"major": "1", "minor": "32", "gitVersion": "v1.32.0", "platform": "linux/amd64"}),
        ),
        ("GET", ["api"]) => reply(
            StatusCode::OK,
            json!({"kind": "APIVersions", "versions": ["v1"],
                   "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}),
        ),
        ("GET", ["apis"]) => reply(
            StatusCode::OK,
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []}),
        ),
        ("GET", ["api", "v1"]) => reply(
            StatusCode::OK,
            json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod",
                 "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                 "shortNames": ["po"]},
                {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace",
                 "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                 "shortNames": ["ns"]}
            ]}),
        ),
        ("GET", ["api", "v1", "namespaces", "prod", "pods"]) => {
            let items: Vec<Value> = ["x", "y"]
                .iter()
                .filter(|n| !c.deleted.contains(**n))
                .map(|n| pod(n))
                .collect();
            reply(
                StatusCode::OK,
                json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}),
            )
        }
        ("GET", ["api", "v1", "namespaces", "prod", "pods", name]) => {
            if c.deleted.contains(*name) || !["x", "y"].contains(name) {
                not_found(name)
            } else {
                reply(StatusCode::OK, pod(name))
            }
        }
        ("DELETE", ["api", "v1", "namespaces", "prod", "pods", name]) => {
            let name = name.to_string();
            if c.deleted.insert(name.clone()) {
                reply(StatusCode::OK, pod(&name))
            } else {
                not_found(&name)
            }
        }
        ("POST", ["api", "v1", "namespaces", _, "pods", name, "eviction"]) => {
            c.deleted.insert(name.to_string());
            reply(
                StatusCode::CREATED,
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
            )
        }
        ("PATCH", ["api", "v1", "namespaces", "prod", "pods", name, "ephemeralcontainers"]) => {
            reply(StatusCode::OK, pod(name))
        }
        (_, [.., "proxy", _] | [.., "proxy", _, _] | [.., "proxy"]) => {
            reply(StatusCode::OK, json!({"proxied": path}))
        }
        ("GET", ["api", "v1", "namespaces", "prod"])
        | ("DELETE", ["api", "v1", "namespaces", "prod"]) => reply(
            StatusCode::OK,
            json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "prod", "uid": "ns-prod"},
                   "status": {"phase": if method == "DELETE" { "Terminating" } else { "Active" }}}),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "the server could not find the requested resource", "reason": "NotFound", "code": 404}),
        ),
    }
}

async fn fake_api_server() -> (SocketAddr, Arc<Mutex<Cluster>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let cluster = Arc::new(Mutex::new(Cluster::default()));
    let c = cluster.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let c = c.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let c = c.clone();
                    async move { Ok::<_, Infallible>(api(c, req).await) }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    (addr, cluster)
}

fn write_kubeconfig(dir: &Path, warden: SocketAddr, token: &str) -> std::path::PathBuf {
    let path = dir.join(format!("kubeconfig-{token}"));
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: warden\n  cluster:\n    server: https://127.0.0.1:{}\n    insecure-skip-tls-verify: true\nusers:\n- name: me\n  user:\n    token: {token}\ncontexts:\n- name: warden\n  context: {{cluster: warden, user: me}}\ncurrent-context: warden\n",
        warden.port()
    );
    std::fs::write(&path, text).expect("kubeconfig");
    path
}

struct Kubectl {
    status: i32,
    stdout: String,
    stderr: String,
}

async fn kubectl(kubeconfig: &Path, cache: &Path, args: &[&str]) -> Kubectl {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--cache-dir")
            .arg(cache)
            .arg("--request-timeout=0")
            .args(args)
            .env("HOME", cache)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("kubectl timed out")
    .expect("kubectl runs");
    Kubectl {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

async fn setup() -> (
    Warden,
    Arc<Mutex<Cluster>>,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    setup_with(POLICY).await
}

async fn setup_with(
    policy: &str,
) -> (
    Warden,
    Arc<Mutex<Cluster>>,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let (api_addr, cluster) = fake_api_server().await;
    let mut s = Setup::http(api_addr, policy);
    s.protocol = Protocol::Kubernetes;
    s.tls = true;
    s.http.impersonate = true;
    let w = Warden::start(s).await;
    let kubeconfig = write_kubeconfig(w.dir.path(), w.addr, ALICE_TOKEN);
    let cache = w.dir.path().join("kube-cache");
    (w, cluster, kubeconfig, cache)
}

#[tokio::test]
async fn kubectl_get_pods_is_allowed_and_impersonates_the_warden_user() {
    let (_w, cluster, kc, cache) = setup().await;
    let out = kubectl(&kc, &cache, &["get", "pods", "-n", "prod", "-o", "name"]).await;
    assert_eq!(out.status, 0, "stdout={} stderr={}", out.stdout, out.stderr);
    assert_eq!(out.stdout.trim(), "pod/x\npod/y");
    let c = cluster.lock().unwrap_or_else(|p| p.into_inner());
    let list = c
        .seen
        .iter()
        .find(|(m, p, _)| m == "GET" && p == "/api/v1/namespaces/prod/pods")
        .expect("list reached the API server");
    assert_eq!(list.2.as_deref(), Some("alice"));
}

#[tokio::test]
async fn kubectl_delete_pod_in_prod_is_held_then_approved() {
    let (w, cluster, kc, cache) = setup().await;
    let del = {
        let (kc, cache) = (kc.clone(), cache.clone());
        tokio::spawn(async move {
            kubectl(
                &kc,
                &cache,
                &["delete", "pod", "x", "-n", "prod", "--wait=false"],
            )
            .await
        })
    };
    let pending = w.pending().await;
    assert!(
        pending
            .action
            .raw
            .starts_with("DELETE /api/v1/namespaces/prod/pods/x"),
        "{}",
        pending.action.raw
    );
    assert!(
        !cluster
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .deleted
            .contains("x"),
        "deleted before approval"
    );
    w.approve(&pending.id).await;
    let out = within(60, del).await.expect("join");
    assert_eq!(out.status, 0, "stdout={} stderr={}", out.stdout, out.stderr);
    assert!(out.stdout.contains("pod \"x\" deleted"), "{}", out.stdout);
    assert!(cluster
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .deleted
        .contains("x"));
}

#[tokio::test]
async fn kubectl_delete_pod_denied_by_an_approver_fails_with_forbidden() {
    let (w, cluster, kc, cache) = setup().await;
    let del = {
        let (kc, cache) = (kc.clone(), cache.clone());
        tokio::spawn(async move {
            kubectl(
                &kc,
                &cache,
                &["delete", "pod", "y", "-n", "prod", "--wait=false"],
            )
            .await
        })
    };
    let pending = w.pending().await;
    w.deny(&pending.id).await;
    let out = within(60, del).await.expect("join");
    assert_ne!(out.status, 0);
    assert!(out.stderr.contains("Forbidden"), "{}", out.stderr);
    assert!(!cluster
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .deleted
        .contains("y"));
}

#[tokio::test]
async fn kubectl_delete_namespace_prod_is_denied_with_the_rules_message() {
    let (_w, cluster, kc, cache) = setup().await;
    let out = kubectl(&kc, &cache, &["delete", "ns", "prod", "--wait=false"]).await;
    assert_ne!(out.status, 0, "{}", out.stdout);
    assert!(
        out.stderr.contains("Error from server (Forbidden)")
            && out
                .stderr
                .contains("Namespaces are never deleted through Warden; open a change request.")
            && out.stderr.contains("no-namespace-delete"),
        "{}",
        out.stderr
    );
    let c = cluster.lock().unwrap_or_else(|p| p.into_inner());
    assert!(
        !c.seen.iter().any(|(m, _, _)| m == "DELETE"),
        "{:?}",
        c.seen
    );
}

/// The shipped kubernetes pack, as a user would deploy it.
fn shipped_pack() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/kubernetes.yaml");
    std::fs::read_to_string(path).expect("policies/kubernetes.yaml")
}

/// Starts `args` (kubectl) in the background, expects it held with a request line
/// starting `raw`, never seen by the API server before the decision; denies it and
/// expects kubectl to fail with Forbidden.
async fn held_then_denied(
    w: &Warden,
    cluster: &Arc<Mutex<Cluster>>,
    kc: &Path,
    cache: &Path,
    args: &[&str],
    raw: &str,
) {
    let before = cluster.lock().unwrap_or_else(|p| p.into_inner()).seen.len();
    let run = {
        let (kc, cache) = (kc.to_path_buf(), cache.to_path_buf());
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::spawn(async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            kubectl(&kc, &cache, &args).await
        })
    };
    let pending = w.pending().await;
    assert!(
        pending.action.raw.starts_with(raw),
        "{args:?} held as {}",
        pending.action.raw
    );
    let held = |c: &Cluster| {
        c.seen[before..]
            .iter()
            .any(|(m, p, _)| raw == format!("{m} {p}"))
    };
    assert!(
        !held(&cluster.lock().unwrap_or_else(|p| p.into_inner())),
        "{raw} reached the API server before a decision"
    );
    w.deny(&pending.id).await;
    let out = within(60, run).await.expect("join");
    assert_ne!(out.status, 0, "{args:?}: {}", out.stdout);
    assert!(out.stderr.contains("Forbidden"), "{args:?}: {}", out.stderr);
    assert!(
        !held(&cluster.lock().unwrap_or_else(|p| p.into_inner())),
        "{raw} reached the API server after a denial"
    );
}

#[tokio::test]
async fn an_eviction_in_prod_is_held_like_a_delete_and_passes_in_dev() {
    let (w, cluster, kc, cache) = setup_with(&shipped_pack()).await;
    let eviction = w.dir.path().join("eviction.json");
    std::fs::write(
        &eviction,
        r#"{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"x","namespace":"prod"}}"#,
    )
    .expect("eviction body");
    let file = eviction.to_str().expect("utf-8 path");
    held_then_denied(
        &w,
        &cluster,
        &kc,
        &cache,
        &[
            "create",
            "--raw",
            "/api/v1/namespaces/prod/pods/x/eviction",
            "-f",
            file,
        ],
        "POST /api/v1/namespaces/prod/pods/x/eviction",
    )
    .await;
    assert!(!cluster
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .deleted
        .contains("x"));
    let out = kubectl(
        &kc,
        &cache,
        &[
            "create",
            "--raw",
            "/api/v1/namespaces/dev/pods/y/eviction",
            "-f",
            file,
        ],
    )
    .await;
    assert_eq!(out.status, 0, "stdout={} stderr={}", out.stdout, out.stderr);
    assert!(cluster
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .deleted
        .contains("y"));
}

#[tokio::test]
async fn pod_service_and_node_proxies_are_held_like_exec() {
    let (w, cluster, kc, cache) = setup_with(&shipped_pack()).await;
    held_then_denied(
        &w,
        &cluster,
        &kc,
        &cache,
        &[
            "get",
            "--raw",
            "/api/v1/namespaces/prod/pods/x/proxy/metrics",
        ],
        "GET /api/v1/namespaces/prod/pods/x/proxy/metrics",
    )
    .await;
    held_then_denied(
        &w,
        &cluster,
        &kc,
        &cache,
        &["get", "--raw", "/api/v1/nodes/n1/proxy/configz"],
        "GET /api/v1/nodes/n1/proxy/configz",
    )
    .await;
    // curl, as a script would: a write through the service proxy, approved this time.
    let url = format!(
        "https://{}/api/v1/namespaces/prod/services/web:80/proxy/admin/reset",
        w.addr
    );
    let curl = tokio::process::Command::new("curl")
        .args([
            "-sk",
            "-X",
            "POST",
            "-H",
            &format!("Authorization: Bearer {ALICE_TOKEN}"),
            &url,
        ])
        .kill_on_drop(true)
        .output();
    let curl = tokio::spawn(curl);
    let pending = w.pending().await;
    assert!(
        pending
            .action
            .raw
            .starts_with("POST /api/v1/namespaces/prod/services/web:80/proxy/admin/reset"),
        "{}",
        pending.action.raw
    );
    w.approve(&pending.id).await;
    let out = within(60, curl).await.expect("join").expect("curl runs");
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.contains("proxied"), "{body}");
    // The proxy into a namespace that is not protected passes.
    let out = kubectl(
        &kc,
        &cache,
        &[
            "get",
            "--raw",
            "/api/v1/namespaces/dev/pods/x/proxy/healthz",
        ],
    )
    .await;
    assert_eq!(out.status, 0, "stdout={} stderr={}", out.stdout, out.stderr);
    assert!(out.stdout.contains("proxied"), "{}", out.stdout);
}

#[tokio::test]
async fn kubectl_debug_in_prod_is_held_like_exec() {
    let (w, cluster, kc, cache) = setup_with(&shipped_pack()).await;
    held_then_denied(
        &w,
        &cluster,
        &kc,
        &cache,
        &["debug", "x", "-n", "prod", "--image=busybox", "--", "true"],
        "PATCH /api/v1/namespaces/prod/pods/x/ephemeralcontainers",
    )
    .await;
}
