//! SSH front-end (owned by the ssh work).

use serde::Deserialize;

/// SSH-specific target options (`targets[].ssh` in warden.yaml).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshOptions {}
