//! HTTP and Kubernetes front-end (owned by the http work).

use serde::Deserialize;

/// HTTP/Kubernetes-specific target options (`targets[].http` in warden.yaml).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpOptions {}
