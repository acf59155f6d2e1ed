//! `LISTEN` on a dedicated connection that reconnects by itself. Subscribers get each
//! notification's payload, and a `Resync` after every (re)connect: notifications sent
//! while the connection was down are lost, so the subscriber must re-query.
//!
//! This module must never drop a reconnect silently: every new connection is followed
//! by a `Resync`.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

use crate::dial::Dialer;

/// What a listener reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// A `NOTIFY` on the channel, with its payload.
    Notified(String),
    /// (Re)connected and listening: anything may have changed meanwhile; re-query.
    Resync,
    /// The connection was lost; notifications are not seen until the next `Resync`.
    Lost,
}

pub(crate) fn spawn(
    dialer: Dialer,
    channel: &'static str,
    timeout: Duration,
) -> mpsc::UnboundedReceiver<Signal> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        loop {
            if tx.is_closed() {
                return;
            }
            match dialer.dial(timeout).await {
                Ok((client, mut stream)) => {
                    let (msg_tx, mut msg_rx) = mpsc::unbounded_channel();
                    let driver = tokio::spawn(async move {
                        while let Some(m) = stream.next().await {
                            match m {
                                Ok(AsyncMessage::Notification(n)) => {
                                    let _ = msg_tx.send(n.payload().to_string());
                                }
                                Ok(_) => {}
                                Err(e) => {
                                    tracing::warn!(error = %e, "fleet LISTEN connection failed");
                                    break;
                                }
                            }
                        }
                    });
                    if let Err(e) = client.batch_execute(&format!("LISTEN {channel}")).await {
                        tracing::warn!(error = %e, "fleet LISTEN failed");
                        driver.abort();
                    } else {
                        backoff = Duration::from_millis(200);
                        if tx.send(Signal::Resync).is_err() {
                            return;
                        }
                        while let Some(payload) = msg_rx.recv().await {
                            if tx.send(Signal::Notified(payload)).is_err() {
                                return;
                            }
                        }
                        let _ = tx.send(Signal::Lost);
                        drop(client);
                    }
                }
                Err(e) => tracing::debug!(error = %e, "fleet LISTEN connect failed"),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    });
    rx
}
