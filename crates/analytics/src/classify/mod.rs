//! Reading meaning out of an action's text and facts: the normalised fingerprint of an
//! action, whether it changes privileges, and what a reload changed.
//!
//! Pure functions over text; bounded work per call (long inputs are cut), no state.

pub mod fingerprint;
pub mod privilege;
pub mod reload;

/// The family of a target's protocol, as the classifiers need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Sql,
    Http,
    Kubernetes,
    Ssh,
    Unknown,
}

impl Family {
    pub fn from_protocol(p: &str) -> Family {
        match p {
            "postgres" | "mysql" => Family::Sql,
            "http" => Family::Http,
            "kubernetes" => Family::Kubernetes,
            "ssh" => Family::Ssh,
            _ => Family::Unknown,
        }
    }

    /// HTTP statuses apply (so 4xx/5xx mean failure).
    pub fn http_like(self) -> bool {
        matches!(self, Family::Http | Family::Kubernetes)
    }
}
