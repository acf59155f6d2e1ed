//! Relays one channel pair both ways: the client's channel on Warden's russh server and
//! the upstream channel on Warden's russh client (exec, subsystem and forwarded TCP).
//!
//! Why this is more than two copy loops: russh re-opens a peer's SSH window as soon as
//! a packet arrives, and applies backpressure only by blocking its whole session loop
//! until the channel's message queue has room. A relay that stops reading one
//! direction (because its sink is busy) therefore also stops that session from reading
//! the WINDOW_ADJUST, and from taking the outgoing messages, that the *other* direction
//! needs: with stdin and stdout both busy (`ssh host cat < big-file`) the client and
//! upstream sessions end up waiting on each other for ever.
//!
//! Here every direction is a queue: a reader drains the source channel into it and a
//! writer empties it into the sink channel, and the two sessions are slowed down in
//! ways that never make them wait on each other:
//!
//! * the **client's input** is held back by its SSH window: russh asks the server
//!   handler for the target of each grant, and [`WindowThrottle`] answers with the
//!   room left in the channel's [`INPUT_BUDGET`] (two bytes once it is used up), so the
//!   client runs out of window instead of filling the queue. The client-side reader
//!   pauses (stopping the client's session) at [`SOFT_LIMIT`] only while no output for
//!   that client is pending, so the session that output needs is never the one stopped;
//! * the **upstream's output** is held back by pausing the upstream-side reader at
//!   [`SOFT_LIMIT`] (stopping the upstream session, which only the client-to-upstream
//!   writer depends on, and that writer waits for nothing on the client side).
//!
//! [`HARD_LIMIT`] bounds the client-side queue regardless (a client that ignores its
//! window, or a burst granted just before the queue filled): past it the relay ends
//! with an error instead of buffering more.
//!
//! Must never buffer more than [`HARD_LIMIT`] bytes per direction (on top of russh's
//! own per-channel queue), never spin while waiting, and never reorder a channel's
//! messages (exit status and EOF follow the data they come after).

mod pipe;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use russh::{ChannelId, ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use tokio_util::sync::CancellationToken;

use self::pipe::Pair;
use super::exec::UPSTREAM_FAILED_STATUS;

/// Queued bytes per direction above which the sender is held back (backpressure).
pub const SOFT_LIMIT: usize = 512 * 1024;
/// Queued bytes the client-side queue never exceeds: several times what a client can
/// have in flight when its window stops growing (a 2 MiB window and russh's
/// per-channel queue, on top of the soft limit).
pub const HARD_LIMIT: usize = 8 * 1024 * 1024;
/// Messages russh queues per channel before blocking its session loop (set in both the
/// server and the upstream client configuration; bounds what sits before a reader).
pub const CHANNEL_QUEUE: usize = 32;

/// How the relay ended.
#[derive(Debug, Default)]
pub struct RelayEnd {
    /// The upstream's exit status (`exit-signal` counts as [`UPSTREAM_FAILED_STATUS`]).
    pub status: Option<u32>,
    /// Bytes relayed from the client to the upstream.
    pub bytes_in: u64,
    /// Bytes relayed from the upstream to the client (stdout + stderr).
    pub bytes_out: u64,
    /// Why the relay stopped early, if it did.
    pub error: Option<String>,
}

/// The window Warden grants a client per channel while its relay queue has room
/// (russh's default; set in the server configuration).
pub const CLIENT_WINDOW: u32 = 2 * 1024 * 1024;
/// Client input a channel may have queued or in flight: the window granted shrinks as
/// the queue fills, so the client streams at the pace the upstream takes its input.
pub const INPUT_BUDGET: usize = 4 * 1024 * 1024;
/// The window target once the budget is used up: russh then grants only when the
/// client's window ran out, two bytes at a time (the smallest target that still grants
/// at all), so the client waits for the queue to drain instead of filling it.
const TRICKLE_WINDOW: u32 = 2;

/// Per client connection: how full each relayed channel's client-side queue is, so
/// that the window Warden grants the client follows what the relay could forward.
/// russh grants a window as soon as data arrives and asks the server handler for the
/// target of the next grant ([`WindowThrottle::next_window`]); without this the only way
/// to slow a client down is to stop its whole session.
#[derive(Default)]
pub struct WindowThrottle {
    levels: Mutex<HashMap<ChannelId, Arc<AtomicUsize>>>,
}

impl WindowThrottle {
    /// The target window for `channel`'s next grant.
    pub fn next_window(&self, channel: ChannelId) -> u32 {
        let level = self
            .levels
            .lock()
            .ok()
            .and_then(|l| l.get(&channel).map(|a| a.load(Ordering::SeqCst)));
        window_for(level)
    }

    fn register(&self, channel: ChannelId, level: Arc<AtomicUsize>) -> Registration<'_> {
        if let Ok(mut l) = self.levels.lock() {
            l.insert(channel, level);
        }
        Registration {
            windows: self,
            channel,
        }
    }
}

/// The window target for a channel with `queued` bytes of client input waiting
/// (`None`: a channel no relay has registered, e.g. one waiting for approval).
fn window_for(queued: Option<usize>) -> u32 {
    let Some(queued) = queued else {
        return CLIENT_WINDOW;
    };
    let room = u32::try_from(INPUT_BUDGET.saturating_sub(queued)).unwrap_or(CLIENT_WINDOW);
    room.clamp(TRICKLE_WINDOW, CLIENT_WINDOW)
}

/// Removes a channel from its [`WindowThrottle`] when the relay ends.
struct Registration<'a> {
    windows: &'a WindowThrottle,
    channel: ChannelId,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        if let Ok(mut l) = self.windows.levels.lock() {
            l.remove(&self.channel);
        }
    }
}

/// Bytes relayed so far, readable while the relay runs.
#[derive(Debug, Default)]
pub struct Counters {
    /// Client to upstream.
    pub bytes_in: AtomicU64,
    /// Upstream to client.
    pub bytes_out: AtomicU64,
}

/// Sees what the relay forwards, just before it is forwarded (the session recorder);
/// an error ends the relay with that error.
pub trait Tap: Sync {
    /// Client input, before it goes upstream.
    fn input(&self, data: &[u8]) -> impl Future<Output = Result<(), String>> + Send;
    /// Upstream output (stdout and stderr), before it goes to the client.
    fn output(&self, data: &[u8]) -> Result<(), String>;
}

/// Relays without looking.
pub struct Untapped;

impl Tap for Untapped {
    async fn input(&self, _data: &[u8]) -> Result<(), String> {
        Ok(())
    }

    fn output(&self, _data: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

/// The two channels of a relay: each one's read half and (borrowed) write half.
pub struct Ends<'a, C, U>
where
    C: From<(ChannelId, ChannelMsg)> + Send + Sync + 'static,
    U: From<(ChannelId, ChannelMsg)> + Send + Sync + 'static,
{
    pub client: (ChannelReadHalf, &'a ChannelWriteHalf<C>),
    pub upstream: (ChannelReadHalf, &'a ChannelWriteHalf<U>),
    /// The client connection's window throttle (the client channel is registered with
    /// it while the relay runs).
    pub windows: &'a WindowThrottle,
}

/// Relay `client` ⇄ `upstream` until the upstream channel closes (or either side
/// fails, or `shutdown`), counting into `counters`. The caller sends the client its
/// exit status and closes both channels.
pub async fn run<C, U>(
    ends: Ends<'_, C, U>,
    counters: &Counters,
    shutdown: &CancellationToken,
) -> RelayEnd
where
    C: From<(ChannelId, ChannelMsg)> + Send + Sync + 'static,
    U: From<(ChannelId, ChannelMsg)> + Send + Sync + 'static,
{
    run_tapped(ends, counters, &Untapped, shutdown).await
}

/// [`run`], showing every chunk to `tap` first.
pub async fn run_tapped<C, U, T: Tap>(
    ends: Ends<'_, C, U>,
    counters: &Counters,
    tap: &T,
    shutdown: &CancellationToken,
) -> RelayEnd
where
    C: From<(ChannelId, ChannelMsg)> + Send + Sync + 'static,
    U: From<(ChannelId, ChannelMsg)> + Send + Sync + 'static,
{
    let (mut client_r, client_w) = ends.client;
    let (mut up_r, up_w) = ends.upstream;
    let pair = Pair::default();
    let _registered = ends.windows.register(client_w.id(), pair.inbound.level());
    // The client side ends the relay only on an error; after the client's close, the
    // relay waits for the upstream to finish.
    let inbound = async {
        let read = async {
            let r = pair.read_inbound(&mut client_r).await;
            r.map_err(|_| overflow_message())
        };
        let write = write_upstream(&pair, up_w, &counters.bytes_in, tap);
        tokio::try_join!(read, write)?;
        std::future::pending::<Result<(), String>>().await
    };
    // The upstream side ends the relay when its writer delivered everything the reader
    // queued before the upstream closed.
    let outbound_read = async {
        pair.read_outbound(&mut up_r).await;
        std::future::pending::<()>().await
    };
    let outbound_write = write_client(&pair, client_w, &counters.bytes_out, tap);
    let mut end = RelayEnd::default();
    tokio::select! {
        written = outbound_write => {
            end.status = written.status;
            end.error = written.error;
        }
        () = outbound_read => {}
        Err(e) = inbound => end.error = Some(e),
        _ = shutdown.cancelled() => end.error = Some("Warden is shutting down".into()),
    }
    end.bytes_in = counters.bytes_in.load(Ordering::Relaxed);
    end.bytes_out = counters.bytes_out.load(Ordering::Relaxed);
    end
}

fn overflow_message() -> String {
    format!(
        "the client sent more than {} MiB the upstream had not taken; relay closed",
        HARD_LIMIT / (1024 * 1024)
    )
}

/// Client to upstream. Upstream write errors are not fatal here (the upstream side
/// ends the relay when its channel closes, after its output and exit status); the
/// queue keeps draining so the client's session never blocks on it. A tap error is.
async fn write_upstream<U, T>(
    pair: &Pair,
    up: &ChannelWriteHalf<U>,
    counter: &AtomicU64,
    tap: &T,
) -> Result<(), String>
where
    U: From<(ChannelId, ChannelMsg)> + Send + Sync + 'static,
    T: Tap,
{
    let pipe = &pair.inbound;
    let mut data_tx = up.make_writer();
    let mut ext_tx = up.make_writer_ext(Some(1));
    let mut failed = false;
    while let Some(m) = pipe.pop().await {
        if let ChannelMsg::Data { data } | ChannelMsg::ExtendedData { data, .. } = &m {
            tap.input(data).await?;
        }
        if failed {
            pipe.written();
            continue;
        }
        let ok = match m {
            ChannelMsg::Data { data } => {
                pair.write_data(&mut data_tx, &data, counter).await.is_ok()
            }
            ChannelMsg::ExtendedData { data, .. } => {
                pair.write_data(&mut ext_tx, &data, counter).await.is_ok()
            }
            ChannelMsg::Eof => up.eof().await.is_ok(),
            ChannelMsg::WindowChange {
                col_width,
                row_height,
                pix_width,
                pix_height,
            } => {
                let change = up.window_change(col_width, row_height, pix_width, pix_height);
                change.await.is_ok()
            }
            ChannelMsg::Signal { signal } => up.signal(signal).await.is_ok(),
            _ => true,
        };
        pipe.written();
        failed = !ok;
    }
    // The client closed its channel: close the upstream one, which ends the relay.
    let _ = up.close().await;
    Ok(())
}

/// What the upstream-to-client writer saw.
#[derive(Default)]
struct Written {
    status: Option<u32>,
    error: Option<String>,
}

/// Upstream to client, until the upstream channel closed and everything before its
/// close was delivered, or the client or the tap failed.
async fn write_client<C, T>(
    pair: &Pair,
    client: &ChannelWriteHalf<C>,
    counter: &AtomicU64,
    tap: &T,
) -> Written
where
    C: From<(ChannelId, ChannelMsg)> + Send + Sync + 'static,
    T: Tap,
{
    let pipe = &pair.outbound;
    let mut data_tx = client.make_writer();
    let mut stderr_tx = client.make_writer_ext(Some(1));
    let mut out = Written::default();
    while let Some(m) = pipe.pop().await {
        if let ChannelMsg::Data { data } | ChannelMsg::ExtendedData { data, .. } = &m {
            if let Err(e) = tap.output(data) {
                out.error = Some(e);
                return out;
            }
        }
        let written = match m {
            ChannelMsg::Data { data } => pair.write_data(&mut data_tx, &data, counter).await,
            ChannelMsg::ExtendedData { data, ext: 1 } => {
                pair.write_data(&mut stderr_tx, &data, counter).await
            }
            ChannelMsg::ExitStatus { exit_status } => {
                out.status = Some(exit_status);
                Ok(())
            }
            ChannelMsg::ExitSignal { signal_name, .. } => {
                tracing::debug!(?signal_name, "upstream command killed by a signal");
                out.status = Some(UPSTREAM_FAILED_STATUS);
                Ok(())
            }
            ChannelMsg::Eof => client.eof().await.map_err(std::io::Error::other),
            _ => Ok(()),
        };
        pipe.written();
        if let Err(e) = written {
            out.error = Some(format!("client write failed: {e}"));
            return out;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_shrinks_as_client_input_queues_up() {
        assert_eq!(window_for(None), CLIENT_WINDOW);
        assert_eq!(window_for(Some(0)), CLIENT_WINDOW);
        assert_eq!(window_for(Some(INPUT_BUDGET - 1024)), 1024);
        // Used up: the smallest window that still lets russh grant again.
        assert_eq!(window_for(Some(INPUT_BUDGET)), TRICKLE_WINDOW);
        assert_eq!(window_for(Some(HARD_LIMIT)), TRICKLE_WINDOW);
    }
}
