//! Kubernetes API request facts: verb, group, version, resource, subresource, namespace,
//! name — read from the normalised path, method and query, as the API server does.
//!
//! Never guesses: a path that is not a known API shape is `unparsed`.

use serde::{Deserialize, Serialize};

/// What policy sees of a Kubernetes API request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeFacts {
    /// get, list, watch, create, update, patch, delete, deletecollection; for
    /// `pods/exec|attach|portforward` the subresource name is the verb as well.
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
