//! One channel request (exec command or subsystem) from decision to exit status.
//!
//! The request is inspected and decided by the Gate first. Deny: the rule's message on
//! stderr, exit status 126, nothing sent upstream. Hold: a stderr line naming the
//! approval and its console URL, then wait (stdin the client sends meanwhile is kept, up
//! to a limit); approval runs exactly the held request once, anything else exits 126.
//! Allow: Warden logs in upstream, starts the same request and relays stdin, stdout,
//! stderr and the exit status both ways.
//!
//! Must never start anything upstream without a ticket, and never forward a command
//! other than the one that was decided.

use std::sync::Arc;

use russh::server::Msg;
use russh::{Channel, ChannelMsg};
use warden_audit::Outcome;
use warden_inspect::shell::{self, SshFacts};
use warden_inspect::{Action, Actor, Facts, Protocol};

use super::relay::{self, WindowThrottle};
use super::shell::{PtySpec, ShellContext};
use super::upstream;
use warden_gate::frontend::FrontendContext;
use warden_gate::{Admission, HoldOutcome, Ticket};

/// Exit status for anything Warden refuses (as a shell does for "cannot execute").
pub const REFUSED_STATUS: u32 = 126;
/// Exit status when the upstream could not be reached or ended without a status.
pub const UPSTREAM_FAILED_STATUS: u32 = 255;
/// Stdin kept while a request waits for approval; more closes the channel.
const MAX_HELD_STDIN: usize = 4 * 1024 * 1024;

/// What the client asked the channel to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Exec(String),
    Subsystem(String),
    /// An interactive shell (with the client's pty request, if any), recorded.
    Shell(PtySpec),
}

impl Request {
    fn action(&self, actor: &Actor, ctx: &FrontendContext, session: &str) -> Action {
        let (raw, facts) = match self {
            Request::Exec(cmd) => (cmd.clone(), shell::inspect_exec(cmd)),
            Request::Subsystem(name) => (format!("subsystem {name}"), SshFacts::subsystem(name)),
            Request::Shell(_) => ("shell".to_owned(), SshFacts::shell()),
        };
        Action {
            protocol: Protocol::Ssh,
            user: actor.clone(),
            target: ctx.target.target_ref(),
            session: Some(session.to_owned()),
            raw,
            facts: Facts::Ssh(facts),
        }
    }
}

/// Client input received before the request could run.
#[derive(Default)]
struct Pending {
    stdin: Vec<u8>,
    eof: bool,
}

/// Decide `req` and run it if allowed; always ends the channel. `pty`: the client's
/// pty request for an exec (`ssh -t host cmd`), requested upstream the same way.
pub async fn run(
    client: Channel<Msg>,
    req: Request,
    pty: Option<PtySpec>,
    ctx: FrontendContext,
    actor: Actor,
    session: String,
    windows: Arc<WindowThrottle>,
) {
    let mut client = client;
    let action = req.action(&actor, &ctx, &session);
    let mut pending = Pending::default();
    let ticket = match ctx.gate.decide(action).await {
        Admission::Allow(t) => t,
        Admission::Deny(r) => {
            refuse(&client, &r.message).await;
            return;
        }
        Admission::Hold(held) => {
            let notice = format!(
                "warden: approval {} required ({}); waiting for a decision...\n",
                held.id, held.url
            );
            let _ = client.extended_data(1, notice.as_bytes()).await;
            let wait = held.wait();
            tokio::pin!(wait);
            let outcome = loop {
                tokio::select! {
                    o = &mut wait => break Some(o),
                    m = client.wait(), if !pending.eof => match m {
                        Some(ChannelMsg::Data { data }) => {
                            pending.stdin.extend_from_slice(&data);
                            if pending.stdin.len() > MAX_HELD_STDIN {
                                break None;
                            }
                        }
                        Some(ChannelMsg::Eof) => pending.eof = true,
                        Some(ChannelMsg::Close) | None => break None,
                        Some(_) => {}
                    },
                    _ = ctx.shutdown.cancelled() => break None,
                }
            };
            match outcome {
                Some(HoldOutcome::Approved(t)) => t,
                Some(HoldOutcome::Refused(r)) => {
                    refuse(&client, &r.message).await;
                    return;
                }
                // Client gone (or too much input): dropping the wait withdraws the request.
                None => {
                    let _ = client.close().await;
                    return;
                }
            }
        }
    };
    if let Request::Shell(pty) = req {
        let sc = ShellContext {
            ctx: &ctx,
            actor: &actor,
            session: &session,
            windows: &windows,
        };
        super::shell::run(client, pty, ticket, sc).await;
        return;
    }
    forward(client, ticket, &req, pty, pending, &ctx, &windows).await;
}

pub(super) async fn refuse(client: &Channel<Msg>, message: &str) {
    let text = format!("warden: {message}\n");
    let _ = client.extended_data(1, text.as_bytes()).await;
    finish(client, REFUSED_STATUS).await;
}

pub(super) async fn finish(client: &Channel<Msg>, status: u32) {
    let _ = client.exit_status(status).await;
    let _ = client.eof().await;
    let _ = client.close().await;
}

async fn forward(
    client: Channel<Msg>,
    ticket: Ticket,
    req: &Request,
    pty: Option<PtySpec>,
    pending: Pending,
    ctx: &FrontendContext,
    windows: &WindowThrottle,
) {
    let fail = |msg: String| Outcome {
        status: Some(UPSTREAM_FAILED_STATUS.to_string()),
        error: Some(msg),
        ..Outcome::default()
    };
    let handle = match upstream::connect(&ctx.target).await {
        Ok(h) => h,
        Err(e) => {
            let text = format!("warden: cannot reach the upstream host: {e}\n");
            let _ = client.extended_data(1, text.as_bytes()).await;
            finish(&client, UPSTREAM_FAILED_STATUS).await;
            ticket.completed(fail(e.to_string())).await;
            return;
        }
    };
    let started = async {
        let up = handle.channel_open_session().await?;
        match req {
            Request::Exec(cmd) => {
                if let Some(p) = &pty {
                    up.request_pty(true, &p.term, p.cols, p.rows, 0, 0, &p.modes)
                        .await?;
                }
                up.exec(true, cmd.as_bytes()).await?
            }
            Request::Subsystem(name) => up.request_subsystem(true, name).await?,
            Request::Shell(_) => return Err(russh::Error::Inconsistent),
        }
        if !pending.stdin.is_empty() {
            up.data(&pending.stdin[..]).await?;
        }
        if pending.eof {
            up.eof().await?;
        }
        Ok::<_, russh::Error>(up)
    };
    let up = match started.await {
        Ok(up) => up,
        Err(e) => {
            let _ = client
                .extended_data(1, &b"warden: the upstream refused the request\n"[..])
                .await;
            finish(&client, UPSTREAM_FAILED_STATUS).await;
            ticket.completed(fail(e.to_string())).await;
            return;
        }
    };
    // Both directions at once, with bounded queues that keep both russh sessions
    // reading (see `relay` for the flow-control cycle this avoids).
    let (client_r, client_w) = client.split();
    let (up_r, up_w) = up.split();
    let counters = relay::Counters::default();
    let ends = relay::Ends {
        client: (client_r, &client_w),
        upstream: (up_r, &up_w),
        windows,
    };
    let end = relay::run(ends, &counters, &ctx.shutdown).await;
    let _ = up_w.close().await;
    let code = end.status.unwrap_or(UPSTREAM_FAILED_STATUS);
    let _ = client_w.exit_status(code).await;
    let _ = client_w.eof().await;
    let _ = client_w.close().await;
    let _ = handle
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    let error = end.error.or_else(|| {
        end.status
            .is_none()
            .then(|| "no exit status from upstream".to_owned())
    });
    ticket
        .completed(Outcome {
            status: Some(code.to_string()),
            bytes: Some(end.bytes_out),
            error,
            ..Outcome::default()
        })
        .await;
}
