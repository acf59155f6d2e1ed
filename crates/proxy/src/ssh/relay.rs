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
//! Here every direction is a [`Pipe`]: a reader drains the source into a bounded queue
//! and a writer empties it into the sink. A reader stops at [`SOFT_LIMIT`] queued bytes
//! (backpressure) unless the other direction's writer is blocked on its sink, which is
//! the session this reader drains; then it keeps reading (that session's loop must keep
//! moving for the writer to get anywhere) up to [`HARD_LIMIT`], well above what a peer
//! that honours the window can send ahead of its WINDOW_ADJUST. A client that keeps
//! sending beyond that without reading its output ends the relay with an error instead
//! of a stall.
//!
//! Must never buffer more than [`HARD_LIMIT`] bytes per direction (on top of russh's
//! own per-channel queue), never spin while waiting, and never reorder a channel's
//! messages (exit status and EOF follow the data they come after).

mod pipe;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use russh::{ChannelId, ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use tokio_util::sync::CancellationToken;

use self::pipe::Pair;
use super::exec::UPSTREAM_FAILED_STATUS;

/// Queued bytes per direction above which a reader waits for the writer (backpressure).
pub const SOFT_LIMIT: usize = 512 * 1024;
/// Queued bytes per direction a reader may hold while the other direction's writer is
/// blocked: several times the soft limit, russh's per-channel queue and a 2 MiB window.
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
}

/// Relay `client` ⇄ `upstream` until the upstream channel closes (or either side
/// fails, or `shutdown`), counting into `counters`. The caller sends the client its
/// exit status and closes both channels.
pub async fn run<C, U>(
    client: (ChannelReadHalf, &ChannelWriteHalf<C>),
    upstream: (ChannelReadHalf, &ChannelWriteHalf<U>),
    counters: &Counters,
    shutdown: &CancellationToken,
) -> RelayEnd
where
    C: From<(ChannelId, ChannelMsg)> + Send + Sync + 'static,
    U: From<(ChannelId, ChannelMsg)> + Send + Sync + 'static,
{
    run_tapped(Ends { client, upstream }, counters, &Untapped, shutdown).await
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
    // The client side ends the relay only on an error; after the client's close, the
    // relay waits for the upstream to finish.
    let inbound = async {
        let read = async {
            let r = pair.read(&mut client_r, &pair.inbound).await;
            r.map_err(|_| overflow_message())
        };
        let write = write_upstream(&pair, up_w, &counters.bytes_in, tap);
        tokio::try_join!(read, write)?;
        std::future::pending::<Result<(), String>>().await
    };
    let outbound_read = async {
        let r = pair.read(&mut up_r, &pair.outbound).await;
        match r {
            Ok(()) => std::future::pending().await,
            Err(_) => overflow_message(),
        }
    };
    let outbound_write = write_client(&pair, client_w, &counters.bytes_out, tap);
    let mut end = RelayEnd::default();
    tokio::select! {
        written = outbound_write => {
            end.status = written.status;
            end.error = written.error;
        }
        e = outbound_read => end.error = Some(e),
        Err(e) = inbound => end.error = Some(e),
        _ = shutdown.cancelled() => end.error = Some("Warden is shutting down".into()),
    }
    end.bytes_in = counters.bytes_in.load(Ordering::Relaxed);
    end.bytes_out = counters.bytes_out.load(Ordering::Relaxed);
    end
}

fn overflow_message() -> String {
    format!(
        "the client sent more than {} MiB ahead of reading the output; relay closed",
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
            continue;
        }
        let ok = match m {
            ChannelMsg::Data { data } => pair
                .write_data(pipe, &mut data_tx, &data, counter)
                .await
                .is_ok(),
            ChannelMsg::ExtendedData { data, .. } => pair
                .write_data(pipe, &mut ext_tx, &data, counter)
                .await
                .is_ok(),
            ChannelMsg::Eof => pair.watched(pipe, up.eof()).await.is_ok(),
            ChannelMsg::WindowChange {
                col_width,
                row_height,
                pix_width,
                pix_height,
            } => {
                let change = up.window_change(col_width, row_height, pix_width, pix_height);
                pair.watched(pipe, change).await.is_ok()
            }
            ChannelMsg::Signal { signal } => pair.watched(pipe, up.signal(signal)).await.is_ok(),
            _ => true,
        };
        failed = !ok;
    }
    // The client closed its channel: close the upstream one, which ends the relay.
    let _ = pair.watched(pipe, up.close()).await;
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
            ChannelMsg::Data { data } => pair.write_data(pipe, &mut data_tx, &data, counter).await,
            ChannelMsg::ExtendedData { data, ext: 1 } => {
                pair.write_data(pipe, &mut stderr_tx, &data, counter).await
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
            ChannelMsg::Eof => pair
                .watched(pipe, client.eof())
                .await
                .map_err(std::io::Error::other),
            _ => Ok(()),
        };
        if let Err(e) = written {
            out.error = Some(format!("client write failed: {e}"));
            return out;
        }
    }
    out
}
