//! Upgrade pass-through (WebSocket, SPDY: kubectl exec/attach/port-forward): once the
//! Gate allowed the upgrade request and the upstream answered 101, both upgraded
//! connections are spliced byte for byte until either side closes; the byte counts go
//! into the audit outcome.
//!
//! Must never: upgrade the client's connection unless the upstream switched protocols
//! first, or splice anything the Gate did not allow.

use std::time::Instant;

use http::Response;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use warden_audit::Outcome;

use super::body::{empty, ProxyBody};
use super::forward::elapsed_ms;
use warden_gate::Ticket;

/// Answers the client's upgrade with the upstream's 101 and splices the two streams in
/// the background.
pub fn splice(
    mut upstream: Response<Incoming>,
    client: OnUpgrade,
    ticket: Ticket,
    started: Instant,
) -> Response<ProxyBody> {
    let upstream_upgrade = hyper::upgrade::on(&mut upstream);
    let (parts, _) = upstream.into_parts();
    tokio::spawn(async move {
        let result = async {
            let (c, u) = tokio::try_join!(client, upstream_upgrade)?;
            let mut c = TokioIo::new(c);
            let mut u = TokioIo::new(u);
            let counts = tokio::io::copy_bidirectional(&mut c, &mut u).await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(counts)
        }
        .await;
        let outcome = match result {
            Ok((to_upstream, to_client)) => Outcome {
                status: Some("101".into()),
                bytes: Some(to_upstream + to_client),
                duration_ms: Some(elapsed_ms(started)),
                ..Default::default()
            },
            Err(e) => Outcome {
                status: Some("101".into()),
                error: Some(format!("upgraded stream ended with an error: {e}")),
                duration_ms: Some(elapsed_ms(started)),
                ..Default::default()
            },
        };
        ticket.completed(outcome).await;
    });
    Response::from_parts(parts, empty())
}
