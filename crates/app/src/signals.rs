//! SIGINT / SIGTERM → one future that completes on the first of them (listening from the
//! moment [`termination`] is called); SIGHUP as a stream for the reloaders (policies,
//! warden.yaml), each of which listens on its own through [`reload_on_events`].

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long to wait for a burst of file events to settle before reloading.
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(250);

/// The reloaders' loop until `shutdown`: `reload(true)` on SIGHUP (forced), and
/// `reload(false)` once a burst of file events on `files` has settled for [`DEBOUNCE`]
/// (editors write in several steps). Ends when the file watcher's sender is gone.
pub(crate) async fn reload_on_events<F, Fut>(
    mut files: mpsc::UnboundedReceiver<()>,
    shutdown: CancellationToken,
    mut reload: F,
) where
    F: FnMut(bool) -> Fut,
    Fut: Future,
{
    let mut hup = hangup_stream();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = next_hup(&mut hup) => {
                reload(true).await;
            }
            got = files.recv() => {
                if got.is_none() {
                    return;
                }
                tokio::time::sleep(DEBOUNCE).await;
                while files.try_recv().is_ok() {}
                reload(false).await;
            }
        }
    }
}

/// Starts listening for SIGINT/SIGTERM now and returns the future that completes on the
/// first of them. Call it before anything accepts connections: a signal that arrives
/// before the handler exists kills the process outright (no drain, no seal).
pub fn termination() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            return Box::pin(async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            });
        }
    }
    Box::pin(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

#[cfg(unix)]
pub(crate) type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
pub(crate) type Hangup = Option<()>;

#[cfg(unix)]
pub(crate) fn hangup_stream() -> Hangup {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}
#[cfg(not(unix))]
pub(crate) fn hangup_stream() -> Hangup {
    None
}

#[cfg(unix)]
pub(crate) async fn next_hup(h: &mut Hangup) {
    match h {
        Some(s) => {
            if s.recv().await.is_none() {
                std::future::pending::<()>().await
            }
        }
        None => std::future::pending::<()>().await,
    }
}
#[cfg(not(unix))]
pub(crate) async fn next_hup(_h: &mut Hangup) {
    std::future::pending::<()>().await
}
