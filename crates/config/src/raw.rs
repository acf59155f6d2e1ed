//! The warden.yaml file as written: serde structs with `deny_unknown_fields`, every
//! value still a string. [`super::build`] turns them into the typed [`super::Config`].
//! Each struct lists its keys in a `KEYS` constant, used to report *every* unknown key
//! (with a suggestion) before serde would stop at the first.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::options::{HttpOptions, MysqlOptions, PostgresOptions, SshOptions};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub web: Option<RawWeb>,
    #[serde(default)]
    pub audit: Option<RawAudit>,
    #[serde(default)]
    pub policies: Vec<String>,
    #[serde(default)]
    pub users: Vec<RawUser>,
    #[serde(default)]
    pub targets: Vec<RawTarget>,
    #[serde(default)]
    pub notifications: Vec<RawNotification>,
    #[serde(default)]
    pub data_dir: Option<String>,
    #[serde(default)]
    pub shutdown_grace: Option<String>,
    #[serde(default)]
    pub analytics: Option<warden_analytics::Settings>,
    #[serde(default)]
    pub policy_changes: Option<String>,
    #[serde(default)]
    pub policy_review: Option<crate::drift::PolicyReview>,
    #[serde(default)]
    pub fleet: Option<crate::fleet::RawFleet>,
    #[serde(default)]
    pub oidc: Option<crate::oidc::RawOidc>,
    #[serde(default)]
    pub gateway_tokens: Option<crate::gateway_tokens::RawGatewayTokens>,
}

impl RawConfig {
    pub const KEYS: &'static [&'static str] = &[
        "web",
        "audit",
        "policies",
        "users",
        "targets",
        "notifications",
        "data_dir",
        "shutdown_grace",
        "analytics",
        "policy_changes",
        "policy_review",
        "fleet",
        "oidc",
        "gateway_tokens",
    ];
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeb {
    #[serde(default)]
    pub listen: Option<String>,
    #[serde(default)]
    pub public_url: Option<String>,
    #[serde(default)]
    pub tls: Option<RawTls>,
}

impl RawWeb {
    pub const KEYS: &'static [&'static str] = &["listen", "public_url", "tls"];
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert: String,
    pub key: String,
}

impl RawTls {
    pub const KEYS: &'static [&'static str] = &["cert", "key"];
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstreamTls {
    #[serde(default)]
    pub ca: Option<String>,
    #[serde(default)]
    pub cert: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub server_name: Option<String>,
}

impl RawUpstreamTls {
    pub const KEYS: &'static [&'static str] = &["ca", "cert", "key", "server_name"];
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub signing_key: Option<String>,
    #[serde(default)]
    pub checkpoint_file: Option<String>,
    #[serde(default)]
    pub cache_mb: Option<u64>,
}

impl RawAudit {
    pub const KEYS: &'static [&'static str] =
        &["path", "signing_key", "checkpoint_file", "cache_mb"];
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    pub name: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub password_hash: Option<String>,
    #[serde(default)]
    pub scram_sha256: Option<String>,
    #[serde(default)]
    pub mysql_native_password: Option<String>,
    #[serde(default)]
    pub ssh_authorized_keys: Vec<String>,
    #[serde(default)]
    pub tokens: Vec<String>,
    #[serde(default)]
    pub service: bool,
}

impl RawUser {
    pub const KEYS: &'static [&'static str] = &[
        "name",
        "roles",
        "password_hash",
        "scram_sha256",
        "mysql_native_password",
        "ssh_authorized_keys",
        "tokens",
        "service",
    ];
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub name: String,
    pub protocol: String,
    pub listen: String,
    pub upstream: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub upstream_user: Option<String>,
    #[serde(default)]
    pub upstream_password_env: Option<String>,
    #[serde(default)]
    pub upstream_password_file: Option<String>,
    #[serde(default)]
    pub tls: Option<RawTls>,
    #[serde(default)]
    pub upstream_tls: Option<RawUpstreamTls>,
    #[serde(default)]
    pub max_connections: Option<usize>,
    #[serde(default)]
    pub postgres: Option<PostgresOptions>,
    #[serde(default)]
    pub mysql: Option<MysqlOptions>,
    #[serde(default)]
    pub http: Option<HttpOptions>,
    #[serde(default)]
    pub ssh: Option<SshOptions>,
}

impl RawTarget {
    pub const KEYS: &'static [&'static str] = &[
        "name",
        "protocol",
        "listen",
        "upstream",
        "labels",
        "upstream_user",
        "upstream_password_env",
        "upstream_password_file",
        "tls",
        "upstream_tls",
        "max_connections",
        "postgres",
        "mysql",
        "http",
        "ssh",
    ];
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotification {
    pub webhook: String,
    #[serde(default)]
    pub on: Vec<String>,
}

impl RawNotification {
    pub const KEYS: &'static [&'static str] = &["webhook", "on"];
}
