//! Allowed interactive shells: a pty shell upstream, relayed and recorded (asciicast v2,
//! [`super::recording`]), with every line the user submits audited as an interactive
//! command. Session start/end and the recording's path and SHA-256 go into the audit
//! chain.
//!
//! Line auditing is best effort and not enforced: a shell is not a boundary a gateway
//! can fully see into (history, completion, editors, scripts). Whether a shell is
//! allowed at all is the policy's decision (`ssh: { interactive: true }`).
//! Must never relay a shell that cannot be recorded (the recording is created first).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use russh::server::Msg;
use russh::Channel;
use warden_audit::{Durability, EventKind, Outcome};
use warden_inspect::shell::inspect_interactive_line;
use warden_inspect::{Action, Actor, Facts, Protocol};

use super::exec::{finish, refuse, UPSTREAM_FAILED_STATUS};
use super::recording::{LineBuffer, Recorder};
use super::{relay, upstream};
use warden_gate::frontend::FrontendContext;
use warden_gate::{action_event, verdict_summary, Ticket};

/// The client's pty request, replayed upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtySpec {
    pub term: String,
    pub cols: u32,
    pub rows: u32,
    pub modes: Vec<(russh::Pty, u32)>,
}

impl Default for PtySpec {
    fn default() -> Self {
        PtySpec {
            term: "xterm".into(),
            cols: 80,
            rows: 24,
            modes: Vec::new(),
        }
    }
}

/// Who and where, for the records of one shell.
pub struct ShellContext<'a> {
    pub ctx: &'a FrontendContext,
    pub actor: &'a Actor,
    pub session: &'a str,
    /// The connection's window throttle (the relay registers the channel with it).
    pub windows: &'a relay::WindowThrottle,
}

async fn audit_line(sc: &ShellContext<'_>, line: &str) {
    let action = Action {
        protocol: Protocol::Ssh,
        user: sc.actor.clone(),
        target: sc.ctx.target.target_ref(),
        session: Some(sc.session.to_owned()),
        raw: line.to_owned(),
        facts: Facts::Ssh(inspect_interactive_line(line)),
    };
    let verdict = sc.ctx.gate.policies().current().evaluate(&action);
    let mut ev = action_event(EventKind::ActionDecided, &action);
    ev.verdict = Some(verdict_summary(&verdict));
    ev.action = Some(action);
    ev.detail = Some("interactive line: recorded, not enforced".into());
    sc.ctx.record(ev, Durability::Queued).await;
}

/// Run an allowed shell for `client` until either side ends it.
pub async fn run(client: Channel<Msg>, pty: PtySpec, ticket: Ticket, sc: ShellContext<'_>) {
    let ctx = sc.ctx;
    let name = format!(
        "{}-{}-{}",
        ctx.target.name,
        sc.session,
        u32::from(client.id())
    );
    let dir = ctx.data_dir.join("recordings");
    let rec = match Recorder::create(&dir, &name, pty.cols, pty.rows, &pty.term) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot create a session recording; refusing the shell");
            refuse(&client, "the session cannot be recorded, so it is refused").await;
            fail(ticket, format!("recording: {e}")).await;
            return;
        }
    };
    let detail = format!("recording={}", rec.path().display());
    let started = ctx.session_event(
        EventKind::SessionStarted,
        sc.session,
        Some(sc.actor.clone()),
        Some(detail),
    );
    if !ctx.record(started, Durability::Durable).await {
        refuse(&client, "Warden cannot write its audit log; refused").await;
        fail(ticket, "audit unavailable".into()).await;
        return;
    }
    let handle = match upstream::connect(&ctx.target).await {
        Ok(h) => h,
        Err(e) => {
            let text = format!("warden: cannot reach the upstream host: {e}\r\n");
            let _ = client.extended_data(1, text.as_bytes()).await;
            finish(&client, UPSTREAM_FAILED_STATUS).await;
            end_session(rec, ticket, &sc, None, 0, Some(e.to_string())).await;
            return;
        }
    };
    let opened = async {
        let up = handle.channel_open_session().await?;
        up.request_pty(true, &pty.term, pty.cols, pty.rows, 0, 0, &pty.modes)
            .await?;
        up.request_shell(true).await?;
        Ok::<_, russh::Error>(up)
    };
    let up = match opened.await {
        Ok(up) => up,
        Err(e) => {
            finish(&client, UPSTREAM_FAILED_STATUS).await;
            end_session(rec, ticket, &sc, None, 0, Some(e.to_string())).await;
            return;
        }
    };
    // Relayed like an exec (bounded queues, both directions at once), with every chunk
    // recorded and every submitted line audited on its way.
    let tap = ShellTap {
        rec: Mutex::new(rec),
        lines: Mutex::new(LineBuffer::default()),
        failed: AtomicBool::new(false),
        sc: &sc,
    };
    let (client_r, client_w) = client.split();
    let (up_r, up_w) = up.split();
    let counters = relay::Counters::default();
    let ends = relay::Ends {
        client: (client_r, &client_w),
        upstream: (up_r, &up_w),
        windows: sc.windows,
    };
    let end = relay::run_tapped(ends, &counters, &tap, &ctx.shutdown).await;
    let _ = up_w.close().await;
    if tap.failed.load(Ordering::SeqCst) {
        let _ = client_w
            .extended_data(
                1,
                &b"\r\nwarden: the session recording failed; closing\r\n"[..],
            )
            .await;
    }
    let _ = client_w
        .exit_status(end.status.unwrap_or(UPSTREAM_FAILED_STATUS))
        .await;
    let _ = client_w.eof().await;
    let _ = client_w.close().await;
    let _ = handle
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    let rec = match tap.rec.into_inner() {
        Ok(rec) => rec,
        Err(poisoned) => poisoned.into_inner(),
    };
    end_session(rec, ticket, &sc, end.status, end.bytes_out, end.error).await;
}

/// Records the session and audits submitted lines as the relay forwards them.
struct ShellTap<'a> {
    rec: Mutex<Recorder>,
    lines: Mutex<LineBuffer>,
    /// Writing the recording failed (the relay ends; the client is told).
    failed: AtomicBool,
    sc: &'a ShellContext<'a>,
}

impl ShellTap<'_> {
    fn write(&self, f: impl FnOnce(&mut Recorder) -> std::io::Result<()>) -> Result<(), String> {
        let written = match self.rec.lock() {
            Ok(mut rec) => f(&mut rec).map_err(|e| format!("recording: {e}")),
            Err(_) => Err("recording: writer poisoned".to_owned()),
        };
        if written.is_err() {
            self.failed.store(true, Ordering::SeqCst);
        }
        written
    }
}

impl relay::Tap for ShellTap<'_> {
    async fn input(&self, data: &[u8]) -> Result<(), String> {
        self.write(|rec| rec.input(data))?;
        let submitted = match self.lines.lock() {
            Ok(mut lines) => lines.feed(data),
            Err(_) => Vec::new(),
        };
        for line in submitted {
            audit_line(self.sc, &line).await;
        }
        Ok(())
    }

    fn output(&self, data: &[u8]) -> Result<(), String> {
        self.write(|rec| rec.output(data))
    }
}

async fn fail(ticket: Ticket, error: String) {
    ticket
        .completed(Outcome {
            error: Some(error),
            ..Outcome::default()
        })
        .await;
}

/// Close the recording, put its hash in the chain, end the session and the ticket.
async fn end_session(
    rec: Recorder,
    ticket: Ticket,
    sc: &ShellContext<'_>,
    status: Option<u32>,
    bytes: u64,
    error: Option<String>,
) {
    let actor = Some(sc.actor.clone());
    let detail = match rec.finish() {
        Ok((path, sha)) => format!("path={} sha256={sha}", path.display()),
        Err(e) => format!("recording incomplete: {e}"),
    };
    let ev = sc.ctx.session_event(
        EventKind::SessionRecording,
        sc.session,
        actor.clone(),
        Some(detail),
    );
    sc.ctx.record(ev, Durability::Durable).await;
    let ended = sc.ctx.session_event(
        EventKind::SessionEnded,
        sc.session,
        actor,
        status.map(|s| format!("exit={s}")),
    );
    sc.ctx.record(ended, Durability::Queued).await;
    ticket
        .completed(Outcome {
            status: status.map(|s| s.to_string()),
            bytes: Some(bytes),
            error,
            ..Outcome::default()
        })
        .await;
}
