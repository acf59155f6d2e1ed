//! Port forwarding a policy explicitly allows, relayed through the upstream host:
//! `direct-tcpip` channels (`ssh -L`, `ssh -W`) are opened the same way upstream and
//! relayed both ways ([`super::relay`]); the relayed bytes go into the request's
//! outcome record.
//!
//! Forwarding is denied by default: the Gate decides every request, and Warden relays
//! it only when an enforced rule with `action: allow` matched (a request no rule
//! mentions is allowed by the policy's default but still refused here). `ssh -R` is
//! [`super::remote`]; agent, X11 and streamlocal forwarding are never relayed.
//! Must never open anything upstream without a ticket, and never relay to a host:port
//! other than the one that was decided.

use std::sync::Arc;

use russh::server::Msg;
use russh::Channel;
use warden_audit::Outcome;
use warden_policy::Decision;

use super::relay::{self, RelayEnd, WindowThrottle};
use super::upstream;
use warden_gate::frontend::FrontendContext;
use warden_gate::Ticket;

/// Why an allowed-by-default forwarding request is refused anyway.
pub const NEEDS_EXPLICIT_RULE: &str =
    "forwarding is refused unless a policy rule allows it explicitly (ssh: { forwarding: true }, action: allow)";

/// Whether the ticket came from an enforced rule that allows the request (not from the
/// policy's default for requests no rule mentions).
pub fn explicitly_allowed(ticket: &Ticket) -> bool {
    let v = ticket.verdict();
    v.decision == Decision::Allow && v.matched.iter().any(|hit| hit.decision == Decision::Allow)
}

/// Where a forwarded connection goes and where it came from (as the client said).
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub host: String,
    pub port: u32,
    pub originator: String,
    pub originator_port: u32,
}

/// The outcome of one relayed forwarded connection (or of a refused one).
pub fn outcome(end: &RelayEnd) -> Outcome {
    Outcome {
        status: Some(format!("in={} out={}", end.bytes_in, end.bytes_out)),
        bytes: Some(end.bytes_in + end.bytes_out),
        error: end.error.clone(),
        ..Outcome::default()
    }
}

fn failed(error: String) -> Outcome {
    Outcome {
        error: Some(error),
        ..Outcome::default()
    }
}

/// Relay an allowed `direct-tcpip` channel: open the same one upstream, relay both ways,
/// then close both and report the bytes.
pub async fn direct(
    client: Channel<Msg>,
    ticket: Ticket,
    to: Endpoints,
    ctx: FrontendContext,
    windows: Arc<WindowThrottle>,
) {
    let handle = match upstream::connect(&ctx.target).await {
        Ok(h) => h,
        Err(e) => {
            let _ = client.close().await;
            ticket.completed(failed(e.to_string())).await;
            return;
        }
    };
    let up = match handle
        .channel_open_direct_tcpip(
            to.host.clone(),
            to.port,
            to.originator.clone(),
            to.originator_port,
        )
        .await
    {
        Ok(up) => up,
        Err(e) => {
            let _ = client.close().await;
            ticket
                .completed(failed(format!(
                    "the upstream could not open {}:{}: {e}",
                    to.host, to.port
                )))
                .await;
            return;
        }
    };
    let (client_r, client_w) = client.split();
    let (up_r, up_w) = up.split();
    let counters = relay::Counters::default();
    let ends = relay::Ends {
        client: (client_r, &client_w),
        upstream: (up_r, &up_w),
        windows: &windows,
    };
    let end = relay::run(ends, &counters, &ctx.shutdown).await;
    let _ = up_w.close().await;
    let _ = client_w.eof().await;
    let _ = client_w.close().await;
    let _ = handle
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    ticket.completed(outcome(&end)).await;
}
