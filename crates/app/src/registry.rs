//! The registry `Protocol → Frontend`: the only place that names every front-end crate.
//!
//! Must agree with `warden_config::protocol_supported` (a test checks it), so that
//! `warden check` refuses exactly the protocols `warden serve` could not start.

use std::sync::Arc;

use warden_gate::Frontend;
use warden_inspect::Protocol;

/// Every front-end this build ships.
pub fn frontends() -> Vec<Arc<dyn Frontend>> {
    vec![
        Arc::new(warden_frontend_postgres::PostgresFrontend),
        Arc::new(warden_frontend_mysql::MysqlFrontend),
        Arc::new(warden_frontend_http::HttpFrontend),
        Arc::new(warden_frontend_ssh::SshFrontend),
    ]
}

/// The front-end serving `protocol`, if this build has one.
pub fn frontend_for(protocol: Protocol) -> Option<Arc<dyn Frontend>> {
    frontends()
        .into_iter()
        .find(|f| f.protocols().contains(&protocol))
}

/// Serve `ctx.target` on `listener` with its registered front-end until shutdown.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: warden_gate::FrontendContext,
) -> std::io::Result<()> {
    let protocol = ctx.target.protocol;
    match frontend_for(protocol) {
        Some(frontend) => frontend.serve(listener, ctx).await,
        None => Err(std::io::Error::other(format!(
            "no front-end for protocol {protocol}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_agrees_with_what_config_accepts() {
        for protocol in Protocol::ALL {
            assert_eq!(
                frontend_for(protocol).is_some(),
                warden_config::protocol_supported(protocol),
                "{protocol}"
            );
        }
    }

    #[test]
    fn no_protocol_has_two_frontends() {
        for protocol in Protocol::ALL {
            let n = frontends()
                .iter()
                .filter(|f| f.protocols().contains(&protocol))
                .count();
            assert!(n <= 1, "{protocol} served by {n} front-ends");
        }
    }
}
