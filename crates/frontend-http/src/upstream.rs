//! The upstream side: one pooled hyper client per target, speaking HTTP/1.1 (plain or
//! rustls with CA verification and an optional client certificate), and the credentials
//! Warden injects.
//!
//! Must never: send the user's own credentials upstream, or connect anywhere but the
//! configured upstream authority.

use std::io;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::uri::{Authority, Scheme};
use http::{HeaderMap, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::body::ProxyBody;

/// How long an unused upstream keep-alive connection stays in the pool.
pub const UPSTREAM_IDLE: Duration = Duration::from_secs(30);
use super::tls;
use warden_config::TargetConfig;

/// Where and how to reach one target's upstream.
#[derive(Clone)]
pub struct Upstream {
    client: Client<HttpsConnector<HttpConnector>, ProxyBody>,
    scheme: Scheme,
    authority: Authority,
    /// `Authorization` value injected on every request (bearer token or Basic).
    credential: Option<HeaderValue>,
    /// The `Host` header the upstream expects (built once, not per request).
    host: Option<HeaderValue>,
}

impl Upstream {
    /// Builds the client from the target's `upstream`, `upstream_tls` and secrets.
    pub fn from_target(t: &TargetConfig) -> io::Result<Upstream> {
        let (scheme, authority) = parse_upstream(&t.upstream, t.upstream_tls.is_some())?;
        let utls = t.upstream_tls.clone().unwrap_or_default();
        let client_cert = utls.client.as_ref();
        let cfg = tls::client_config(
            utls.ca.as_deref(),
            client_cert.map(|c| c.cert.as_path()),
            client_cert.map(|c| c.key.as_path()),
        )?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(cfg)
            .https_or_http();
        let builder = match &utls.server_name {
            Some(name) => {
                let name = rustls::pki_types::ServerName::try_from(name.clone()).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("upstream_tls.server_name {name:?} is not a valid name"),
                    )
                })?;
                builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
            }
            None => builder,
        };
        let connector = builder.enable_http1().wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(UPSTREAM_IDLE)
            // Without a timer hyper-util never runs its idle sweep: idle upstream
            // connections stayed open until the upstream closed them.
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .build(connector);
        let credential = credential_header(t)?;
        let host = HeaderValue::from_str(authority.as_str()).ok();
        Ok(Upstream {
            client,
            scheme,
            authority,
            credential,
            host,
        })
    }

    /// The absolute URI for a normalised request-target.
    pub fn uri(&self, path_and_query: &str) -> Result<Uri, http::Error> {
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
    }

    /// The `Host` header the upstream expects.
    pub fn host(&self) -> Option<HeaderValue> {
        self.host.clone()
    }

    /// Puts the target's own credential on an outgoing request.
    pub fn inject_credential(&self, headers: &mut HeaderMap) {
        if let Some(v) = &self.credential {
            headers.insert(header::AUTHORIZATION, v.clone());
        }
    }

    pub fn client(&self) -> &Client<HttpsConnector<HttpConnector>, ProxyBody> {
        &self.client
    }
}

/// `host:port`, `http://host:port` or `https://host:port`; TLS by default when
/// `upstream_tls` is configured.
fn parse_upstream(s: &str, tls_configured: bool) -> io::Result<(Scheme, Authority)> {
    let bad = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("upstream {s:?}: {why}"),
        )
    };
    let (scheme, rest) = match s.split_once("://") {
        Some(("http", rest)) => (Scheme::HTTP, rest),
        Some(("https", rest)) => (Scheme::HTTPS, rest),
        Some(_) => return Err(bad("scheme must be http or https")),
        None if tls_configured => (Scheme::HTTPS, s),
        None => (Scheme::HTTP, s),
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains('/') {
        return Err(bad("must not contain a path"));
    }
    let authority: Authority = rest.parse().map_err(|_| bad("not a host:port"))?;
    Ok((scheme, authority))
}

/// `upstream_password` alone → `Bearer <password>`; with `upstream_user` → Basic.
fn credential_header(t: &TargetConfig) -> io::Result<Option<HeaderValue>> {
    use base64::Engine;
    let Some(secret) = &t.upstream_password else {
        return Ok(None);
    };
    let text = match &t.upstream_user {
        Some(user) => format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", secret.expose()))
        ),
        None => format!("Bearer {}", secret.expose()),
    };
    let mut v = HeaderValue::from_str(&text).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "target {}: upstream credential is not a valid header value",
                t.name
            ),
        )
    })?;
    v.set_sensitive(true);
    Ok(Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_forms() {
        let (s, a) = parse_upstream("127.0.0.1:8080", false).expect("plain");
        assert_eq!((s, a.as_str()), (Scheme::HTTP, "127.0.0.1:8080"));
        let (s, _) = parse_upstream("127.0.0.1:6443", true).expect("tls");
        assert_eq!(s, Scheme::HTTPS);
        let (s, a) = parse_upstream("https://kube.local:6443/", false).expect("url");
        assert_eq!((s, a.as_str()), (Scheme::HTTPS, "kube.local:6443"));
        assert!(parse_upstream("ftp://x:1", false).is_err());
        assert!(parse_upstream("http://x:1/api", false).is_err());
    }
}
