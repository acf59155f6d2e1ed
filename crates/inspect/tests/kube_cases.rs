//! Table-driven tests of the Kubernetes request resolver, with the paths and methods
//! kubectl sends for each verb.

use warden_inspect::http;
use warden_inspect::kube::{inspect, KubeFacts};

/// (method, target) → expected facts, written compactly:
/// verb, group, version, resource, subresource, namespace, name.
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

fn facts(method: &str, target: &str) -> KubeFacts {
    let h = http::inspect(method, target, [])
        .unwrap_or_else(|e| panic!("{method} {target} rejected by http: {e}"));
    inspect(&h.method, &h.path, h.query.as_deref())
}

#[test]
fn resource_requests_resolve_like_the_api_server() {
    #[rustfmt::skip]
    let rows: &[Row] = &[
        // kubectl get pods -n prod
        ("GET", "/api/v1/namespaces/prod/pods?limit=500", "list", "", "v1", "pods", None, Some("prod"), None),
        // kubectl get pod x -n prod
        ("GET", "/api/v1/namespaces/prod/pods/x", "get", "", "v1", "pods", None, Some("prod"), Some("x")),
        // kubectl get pods -A
        ("GET", "/api/v1/pods", "list", "", "v1", "pods", None, None, None),
        // kubectl get pods -w
        ("GET", "/api/v1/namespaces/prod/pods?watch=true", "watch", "", "v1", "pods", None, Some("prod"), None),
        ("GET", "/api/v1/namespaces/prod/pods?watch=1&resourceVersion=5", "watch", "", "v1", "pods", None, Some("prod"), None),
        ("GET", "/api/v1/namespaces/prod/pods?watch=false", "list", "", "v1", "pods", None, Some("prod"), None),
        ("GET", "/api/v1/namespaces/prod/pods?watch=0", "list", "", "v1", "pods", None, Some("prod"), None),
        // kubectl get pod x -w: a watch narrowed to one name
        ("GET", "/api/v1/namespaces/prod/pods?fieldSelector=metadata.name%3Dx&watch=true", "watch", "", "v1", "pods", None, Some("prod"), Some("x")),
        // legacy watch prefix
        ("GET", "/api/v1/watch/namespaces/prod/pods", "watch", "", "v1", "pods", None, Some("prod"), None),
        ("GET", "/api/v1/watch/namespaces/prod/pods/x", "watch", "", "v1", "pods", None, Some("prod"), Some("x")),
        // kubectl create / apply (create)
        ("POST", "/api/v1/namespaces/prod/configmaps?fieldManager=kubectl-create", "create", "", "v1", "configmaps", None, Some("prod"), None),
        ("POST", "/apis/apps/v1/namespaces/prod/deployments", "create", "apps", "v1", "deployments", None, Some("prod"), None),
        // kubectl replace
        ("PUT", "/apis/apps/v1/namespaces/prod/deployments/web", "update", "apps", "v1", "deployments", None, Some("prod"), Some("web")),
        // kubectl apply / patch / scale
        ("PATCH", "/apis/apps/v1/namespaces/prod/deployments/web", "patch", "apps", "v1", "deployments", None, Some("prod"), Some("web")),
        ("PATCH", "/apis/apps/v1/namespaces/prod/deployments/web/scale", "patch", "apps", "v1", "deployments", Some("scale"), Some("prod"), Some("web")),
        ("PUT", "/api/v1/namespaces/prod/pods/x/status", "update", "", "v1", "pods", Some("status"), Some("prod"), Some("x")),
        // kubectl delete pod x
        ("DELETE", "/api/v1/namespaces/prod/pods/x", "delete", "", "v1", "pods", None, Some("prod"), Some("x")),
        // kubectl delete pods --all
        ("DELETE", "/api/v1/namespaces/prod/pods", "deletecollection", "", "v1", "pods", None, Some("prod"), None),
        // kubectl delete ns prod
        ("DELETE", "/api/v1/namespaces/prod", "delete", "", "v1", "namespaces", None, Some("prod"), Some("prod")),
        ("GET", "/api/v1/namespaces/prod", "get", "", "v1", "namespaces", None, Some("prod"), Some("prod")),
        ("GET", "/api/v1/namespaces", "list", "", "v1", "namespaces", None, None, None),
        ("PUT", "/api/v1/namespaces/prod/finalize", "update", "", "v1", "namespaces", Some("finalize"), Some("prod"), Some("prod")),
        ("GET", "/api/v1/namespaces/prod/status", "get", "", "v1", "namespaces", Some("status"), Some("prod"), Some("prod")),
        // kubectl exec / attach / port-forward / logs
        ("POST", "/api/v1/namespaces/prod/pods/x/exec?command=sh&stdin=true&tty=true", "exec", "", "v1", "pods", Some("exec"), Some("prod"), Some("x")),
        ("GET", "/api/v1/namespaces/prod/pods/x/exec?command=sh", "exec", "", "v1", "pods", Some("exec"), Some("prod"), Some("x")),
        ("POST", "/api/v1/namespaces/prod/pods/x/attach?stdin=true", "attach", "", "v1", "pods", Some("attach"), Some("prod"), Some("x")),
        ("POST", "/api/v1/namespaces/prod/pods/x/portforward", "portforward", "", "v1", "pods", Some("portforward"), Some("prod"), Some("x")),
        ("GET", "/api/v1/namespaces/prod/pods/x/log?container=app", "get", "", "v1", "pods", Some("log"), Some("prod"), Some("x")),
        // cluster-scoped resources
        ("GET", "/api/v1/nodes", "list", "", "v1", "nodes", None, None, None),
        ("DELETE", "/api/v1/nodes/n1", "delete", "", "v1", "nodes", None, None, Some("n1")),
        ("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:admin", "delete", "rbac.authorization.k8s.io", "v1", "clusterrolebindings", None, None, Some("system:admin")),
        ("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "list", "apiextensions.k8s.io", "v1", "customresourcedefinitions", None, None, None),
        // proxy subresource and the legacy proxy verb
        // (its verb is `proxy` whatever the method: direct access to the workload)
        ("GET", "/api/v1/namespaces/prod/services/web:80/proxy/admin/x", "proxy", "", "v1", "services", Some("proxy"), Some("prod"), Some("web:80")),
        ("GET", "/api/v1/namespaces/prod/services/https:web:443/proxy", "proxy", "", "v1", "services", Some("proxy"), Some("prod"), Some("https:web:443")),
        ("POST", "/api/v1/namespaces/prod/pods/x/proxy/admin/reset", "proxy", "", "v1", "pods", Some("proxy"), Some("prod"), Some("x")),
        ("DELETE", "/api/v1/namespaces/prod/pods/x:8080/proxy/cache", "proxy", "", "v1", "pods", Some("proxy"), Some("prod"), Some("x:8080")),
        ("GET", "/api/v1/nodes/n1/proxy/configz", "proxy", "", "v1", "nodes", Some("proxy"), None, Some("n1")),
        ("GET", "/api/v1/nodes/n1:10250/proxy/", "proxy", "", "v1", "nodes", Some("proxy"), None, Some("n1:10250")),
        ("GET", "/api/v1/proxy/namespaces/prod/pods/x", "proxy", "", "v1", "pods", Some("proxy"), Some("prod"), Some("x")),
        ("GET", "/api/v1/proxy/nodes/n1/metrics", "proxy", "", "v1", "nodes", Some("proxy"), None, Some("n1")),
        // an eviction (kubectl drain) deletes the pod
        ("POST", "/api/v1/namespaces/prod/pods/x/eviction", "delete", "", "v1", "pods", Some("eviction"), Some("prod"), Some("x")),
        ("POST", "/api/v1/namespaces/prod/pods/x/eviction?dryRun=All", "delete", "", "v1", "pods", Some("eviction"), Some("prod"), Some("x")),
        // an ephemeral container (kubectl debug) runs a command in the pod
        ("PATCH", "/api/v1/namespaces/prod/pods/x/ephemeralcontainers", "exec", "", "v1", "pods", Some("ephemeralcontainers"), Some("prod"), Some("x")),
        ("PUT", "/api/v1/namespaces/prod/pods/x/ephemeralcontainers", "exec", "", "v1", "pods", Some("ephemeralcontainers"), Some("prod"), Some("x")),
        ("GET", "/api/v1/namespaces/prod/pods/x/ephemeralcontainers", "get", "", "v1", "pods", Some("ephemeralcontainers"), Some("prod"), Some("x")),
        // HEAD is a read
        ("HEAD", "/api/v1/namespaces/prod/secrets/s", "get", "", "v1", "secrets", None, Some("prod"), Some("s")),
        // a path that needed normalising first
        ("DELETE", "/api/v1/namespaces/dev/../prod//pods/x", "delete", "", "v1", "pods", None, Some("prod"), Some("x")),
        // override header: the more dangerous method is what the resolver sees
        ("POST", "/api/v1/namespaces/prod/pods/x?_method=DELETE", "delete", "", "v1", "pods", None, Some("prod"), Some("x")),
    ];
    for (method, target, verb, group, version, resource, sub, ns, name) in rows {
        let f = facts(method, target);
        let ctx = format!("{method} {target} → {f:?}");
        assert_eq!(f.verb, *verb, "verb: {ctx}");
        assert_eq!(f.group, *group, "group: {ctx}");
        assert_eq!(f.version, *version, "version: {ctx}");
        assert_eq!(f.resource, *resource, "resource: {ctx}");
        assert_eq!(f.subresource.as_deref(), *sub, "subresource: {ctx}");
        assert_eq!(f.namespace.as_deref(), *ns, "namespace: {ctx}");
        assert_eq!(f.name.as_deref(), *name, "name: {ctx}");
        assert!(!f.non_resource && !f.unparsed, "flags: {ctx}");
    }
}

#[test]
fn non_resource_requests() {
    let rows = [
        ("GET", "/", "get"),
        ("GET", "/api", "get"),
        ("GET", "/api/v1", "get"),
        ("GET", "/apis", "get"),
        ("GET", "/apis/apps", "get"),
        ("GET", "/apis/apps/v1", "get"),
        ("GET", "/version", "get"),
        ("GET", "/healthz", "get"),
        ("GET", "/readyz/etcd", "get"),
        ("GET", "/livez", "get"),
        ("GET", "/openapi/v2", "get"),
        ("GET", "/openapi/v3/apis/apps/v1", "get"),
        ("GET", "/.well-known/openid-configuration", "get"),
        ("POST", "/healthz", "post"),
    ];
    for (method, path, verb) in rows {
        let f = inspect(method, path, None);
        assert!(f.non_resource && !f.unparsed, "{path}: {f:?}");
        assert_eq!(f.verb, verb, "{path}");
    }
    let f = inspect("GET", "/apis/apps/v1", None);
    assert_eq!((f.group.as_str(), f.version.as_str()), ("apps", "v1"));
}

#[test]
fn unknown_shapes_are_unparsed() {
    let rows = [
        ("GET", "/foo"),
        ("GET", "/ui/index.html"),
        ("GET", "/api/v1/watch"),
        ("GET", "/api/v1/proxy"),
        ("OPTIONS", "/api/v1/pods"),
        ("CONNECT", "/api/v1/namespaces/prod/pods/x/exec"),
        ("GET", "/api/v1/namespaces/prod/pods/x/exec/extra"),
        ("GET", "/api//v1/pods"),
        ("GET", "/api/v1/../v1/pods"),
        ("GET", "api/v1/pods"),
    ];
    for (method, path) in rows {
        let f = inspect(method, path, None);
        assert!(f.unparsed, "{method} {path}: {f:?}");
    }
}

#[test]
fn field_selector_names_only_exact_matches() {
    let q = |s: &str| inspect("GET", "/api/v1/namespaces/prod/pods", Some(s)).name;
    assert_eq!(q("fieldSelector=metadata.name%3D%3Dx"), Some("x".into()));
    assert_eq!(q("fieldSelector=metadata.name!%3Dx"), None);
    assert_eq!(q("fieldSelector=status.phase%3DRunning"), None);
    assert_eq!(
        q("fieldSelector=status.phase%3DRunning,metadata.name%3Dy"),
        Some("y".into())
    );
}

#[test]
fn ambiguous_kubernetes_paths_never_reach_the_resolver() {
    for target in [
        "/api/v1/namespaces/prod%2Fpods",
        "/api/v1/namespaces/prod/pods/%2e%2e/secrets",
        "/api/v1/../../../api/v1/secrets",
        "/api/v1/namespaces/prod/pods/x%00",
        "/api/v1/namespaces/prod/pods/x;exec",
    ] {
        assert!(http::inspect("DELETE", target, []).is_err(), "{target}");
    }
}
