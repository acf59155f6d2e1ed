//! What every front-end writes in the `detail` of its `authenticated` and `auth_failed`
//! records, so the insights count logins by method and front-end the same way
//! everywhere (docs/audit-format.md, "Login records"):
//!
//! * `authenticated`: `method=<method>`
//! * `auth_failed`: `method=<method>; <reason>` (the reason never holds a secret)
//!
//! and who the attempt was as: the user's roles when the name is a known user.

use warden_inspect::Actor;

use super::UserDirectory;

/// How a client tried to prove who it is. The names are the ones written after
/// `method=`; they do not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginMethod {
    /// PostgreSQL SASL SCRAM-SHA-256.
    Scram,
    /// A cleartext password checked against the argon2id hash (PostgreSQL over TLS,
    /// SSH `password`).
    Password,
    /// MySQL `mysql_native_password` challenge-response.
    MysqlNative,
    /// MySQL `caching_sha2_password` (fast path, or full authentication over TLS).
    MysqlCachingSha2,
    /// HTTP `Authorization: Bearer` with a Warden token (`users:` tokens), and a gateway
    /// token minted in the console on any front-end.
    Token,
    /// HTTP `Authorization: Basic` (checked against the argon2id hash).
    Basic,
    /// SSH public key.
    PublicKey,
    /// The console's single sign-on through an OpenID Connect provider.
    Oidc,
    /// No credential, or one in a form Warden does not take (HTTP without a usable
    /// `Authorization`, an SSH method Warden refuses).
    None,
}

impl LoginMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::Scram => "scram-sha-256",
            LoginMethod::Password => "password",
            LoginMethod::MysqlNative => "mysql_native_password",
            LoginMethod::MysqlCachingSha2 => "caching_sha2_password",
            LoginMethod::Token => "token",
            LoginMethod::Basic => "basic",
            LoginMethod::PublicKey => "publickey",
            LoginMethod::Oidc => "oidc",
            LoginMethod::None => "none",
        }
    }
}

/// The `detail` of an `authenticated` record.
pub fn success_detail(method: LoginMethod) -> String {
    format!("method={}", method.as_str())
}

/// The `detail` of an `authenticated` record of a login with a gateway token (any
/// front-end): `method=token; token=<id>` (the id, never the secret).
pub fn token_detail(id: &str) -> String {
    format!("method={}; token={id}", LoginMethod::Token.as_str())
}

/// The `detail` of an `auth_failed` record of a refused gateway token.
pub fn token_failure_detail(refusal: &crate::auth::TokenRefusal) -> String {
    failure_detail(LoginMethod::Token, &refusal.to_string())
}

/// The `detail` of an `auth_failed` record.
pub fn failure_detail(method: LoginMethod, reason: &str) -> String {
    format!("method={}; {reason}", method.as_str())
}

/// The actor of a login attempt as `name`: the user's roles when the name is a known
/// user (the attempt does not prove it is them; the roles say whose account was tried),
/// none otherwise.
pub fn attempt_actor(users: &UserDirectory, name: &str, client_addr: Option<String>) -> Actor {
    match users.user(name) {
        Some(u) => {
            let mut a = u.actor();
            a.client_addr = client_addr;
            a
        }
        None => Actor {
            name: name.to_owned(),
            roles: Vec::new(),
            client_addr,
            alerts: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_have_one_shape() {
        assert_eq!(success_detail(LoginMethod::Scram), "method=scram-sha-256");
        assert_eq!(success_detail(LoginMethod::Oidc), "method=oidc");
        assert_eq!(
            failure_detail(LoginMethod::Token, "unknown bearer token"),
            "method=token; unknown bearer token"
        );
        assert_eq!(token_detail("0a1b2c3d"), "method=token; token=0a1b2c3d");
    }
}
