//! Kubernetes API request facts: verb, group, version, resource, subresource, namespace,
//! name — read from the normalised path, method and query, as the API server's
//! RequestInfo resolver does.
//!
//! Never guesses: a path that is not a known API shape is `unparsed`. Pure: no I/O.
//!
//! Differences from the API server, on purpose, so that the verb says what the request
//! *does* (a rule on deletes or on exec must not be stepped around by another path to
//! the same effect):
//! * `pods/{name}/exec|attach|portforward` get the subresource as verb (the server says
//!   `create`/`get`);
//! * the proxy subresource of pods, services and nodes (`…/{name}/proxy[/path]`,
//!   direct access to the workload's or the kubelet's own endpoints) has verb `proxy`
//!   and subresource `proxy` whatever the method, like the legacy `/proxy/` prefix;
//! * an eviction (`pods/{name}/eviction`, what `kubectl drain` sends) deletes the pod:
//!   verb `delete`;
//! * adding an ephemeral container (`pods/{name}/ephemeralcontainers` update or patch,
//!   what `kubectl debug` sends) runs a command of the caller's choosing in the pod:
//!   verb `exec`;
//! * an HTTP method the server has no verb for makes the request `unparsed`.

use serde::{Deserialize, Serialize};

use crate::http::query_pairs;

/// What policy sees of a Kubernetes API request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeFacts {
    /// get, list, watch, create, update, patch, delete, deletecollection, or the effect
    /// of a subresource (see the module doc): exec, attach, portforward, proxy.
    pub verb: String,
    /// API group ("" for the core group).
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subresource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Not a resource request (discovery, /version, /healthz, /openapi ...).
    #[serde(default)]
    pub non_resource: bool,
    #[serde(default)]
    pub unparsed: bool,
}

/// First path segments of the API server's non-resource endpoints.
const NON_RESOURCE_ROOTS: [&str; 10] = [
    "version",
    "healthz",
    "livez",
    "readyz",
    "metrics",
    "openapi",
    ".well-known",
    "openid",
    "logs",
    "debug",
];

/// Read a Kubernetes API request. `method` is the effective HTTP method (see
/// [`crate::http::HttpFacts::method`]), `path` the normalised path, `query` the raw
/// query without `?`.
pub fn inspect(method: &str, path: &str, query: Option<&str>) -> KubeFacts {
    let method = method.to_ascii_uppercase();
    let parts: Vec<&str> = {
        let trimmed = path.trim_matches('/');
        if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        }
    };
    let mut facts = KubeFacts {
        verb: method.to_ascii_lowercase(),
        ..KubeFacts::default()
    };
    if !path.starts_with('/') || parts.iter().any(|p| matches!(*p, "" | "." | "..")) {
        facts.unparsed = true;
        return facts;
    }
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] if !rest.is_empty() => ("", *version, rest),
        ["apis", group, version, rest @ ..] if !rest.is_empty() => (*group, *version, rest),
        ["apis", group, version] => {
            facts.group = (*group).to_string();
            facts.version = (*version).to_string();
            facts.non_resource = true;
            return facts;
        }
        ["apis", group] => {
            facts.group = (*group).to_string();
            facts.non_resource = true;
            return facts;
        }
        ["api", version] => {
            facts.version = (*version).to_string();
            facts.non_resource = true;
            return facts;
        }
        [] | ["api"] | ["apis"] => {
            facts.non_resource = true;
            return facts;
        }
        [first, ..] if NON_RESOURCE_ROOTS.contains(first) => {
            facts.non_resource = true;
            return facts;
        }
        _ => {
            facts.unparsed = true;
            return facts;
        }
    };
    facts.group = group.to_string();
    facts.version = version.to_string();
    resolve_resource(&mut facts, &method, rest, query);
    facts
}

/// The resource part: `[watch|proxy/][namespaces/{ns}/]{resource}[/{name}[/{sub}]]`.
fn resolve_resource(facts: &mut KubeFacts, method: &str, mut rest: &[&str], query: Option<&str>) {
    if let [special @ ("watch" | "proxy"), tail @ ..] = rest {
        if tail.is_empty() {
            facts.unparsed = true;
            return;
        }
        facts.verb = (*special).to_string();
        rest = tail;
    } else {
        facts.verb = match method {
            "POST" => "create",
            "GET" | "HEAD" => "get",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => {
                facts.unparsed = true;
                ""
            }
        }
        .to_string();
        if facts.unparsed {
            facts.verb = method.to_ascii_lowercase();
        }
    }
    if let ["namespaces", ns, tail @ ..] = rest {
        facts.namespace = Some((*ns).to_string());
        // `namespaces/{ns}/status|finalize` are subresources of the namespace itself.
        if let [next, ..] = tail {
            if !matches!(*next, "status" | "finalize") {
                rest = tail;
            }
        }
    }
    match rest {
        [resource] => facts.resource = (*resource).to_string(),
        [resource, name] => {
            facts.resource = (*resource).to_string();
            facts.name = Some((*name).to_string());
        }
        [resource, name, sub, more @ ..] => {
            facts.resource = (*resource).to_string();
            facts.name = Some((*name).to_string());
            if facts.verb != "proxy" {
                facts.subresource = Some((*sub).to_string());
                // Only the proxy subresource takes a path of its own.
                if !more.is_empty() && *sub != "proxy" {
                    facts.unparsed = true;
                }
            }
        }
        [] => facts.unparsed = true,
    }
    if facts.name.is_none() && facts.verb == "get" {
        facts.verb = if watch_requested(query) {
            "watch"
        } else {
            "list"
        }
        .to_string();
        facts.name = field_selector_name(query);
    }
    if facts.name.is_none() && facts.verb == "delete" {
        facts.verb = "deletecollection".to_string();
    }
    if facts.verb == "proxy" && facts.name.is_some() {
        // The legacy `/proxy/` prefix reads as the proxy subresource it stands for.
        facts.subresource = Some("proxy".to_string());
    }
    if let Some(effect) = facts
        .subresource
        .as_deref()
        .and_then(|s| effect(s, &facts.verb))
    {
        facts.verb = effect.to_string();
    }
}

/// The verb that names what a request on subresource `sub` does, when that is not what
/// the API server's verb says.
fn effect(sub: &str, verb: &str) -> Option<&'static str> {
    let writes = matches!(verb, "create" | "update" | "patch");
    match sub {
        "exec" => Some("exec"),
        "attach" => Some("attach"),
        "portforward" => Some("portforward"),
        "proxy" => Some("proxy"),
        "eviction" if writes => Some("delete"),
        "ephemeralcontainers" if writes => Some("exec"),
        _ => None,
    }
}

/// `watch` as the API server reads it: the first value; anything but `0`/`false` is true.
fn watch_requested(query: Option<&str>) -> bool {
    query
        .map(query_pairs)
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "watch"))
        .is_some_and(|(_, v)| !matches!(v.to_ascii_lowercase().as_str(), "0" | "false"))
}

/// A list narrowed to one object by `fieldSelector=metadata.name=X` names that object.
fn field_selector_name(query: Option<&str>) -> Option<String> {
    let pairs = query.map(query_pairs)?;
    let (_, selector) = pairs.into_iter().find(|(k, _)| k == "fieldSelector")?;
    selector.split(',').find_map(|term| {
        let (field, value) = term
            .split_once("==")
            .or_else(|| term.split_once('='))
            .filter(|(f, _)| !f.ends_with('!'))?;
        let value = value.trim();
        let valid = !value.is_empty()
            && !matches!(value, "." | "..")
            && !value.contains(['/', '%', '\\', ','])
            && !value.starts_with('=');
        (field.trim() == "metadata.name" && valid).then(|| value.to_string())
    })
}
