//! A small connection pool: at most `size` connections, idle ones reused, closed ones
//! dropped. Connecting is bounded by the connect timeout.
//!
//! This module must never hand out a connection it knows is closed, and never block a
//! caller longer than the connect timeout waiting for a free slot.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::Client;

use crate::dial::Dialer;
use crate::FleetError;

pub(crate) struct Pool {
    dialer: Dialer,
    idle: Arc<Mutex<Vec<Client>>>,
    slots: Arc<Semaphore>,
    timeout: Duration,
}

/// A connection borrowed from the pool; returned on drop.
pub struct Pooled {
    client: Option<Client>,
    idle: Arc<Mutex<Vec<Client>>>,
    _slot: OwnedSemaphorePermit,
}

impl std::ops::Deref for Pooled {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("present until drop")
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("present until drop")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            if !c.is_closed() {
                self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(c);
            }
        }
    }
}

impl Pool {
    pub(crate) fn new(dialer: Dialer, size: usize, timeout: Duration) -> Pool {
        Pool {
            dialer,
            idle: Arc::new(Mutex::new(Vec::new())),
            slots: Arc::new(Semaphore::new(size)),
            timeout,
        }
    }

    pub(crate) async fn get(&self) -> Result<Pooled, FleetError> {
        let slot = tokio::time::timeout(self.timeout, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| FleetError::Timeout(self.timeout))?
            .map_err(|_| FleetError::Db("pool closed".into()))?;
        let reused = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let mut found = None;
            while let Some(c) = idle.pop() {
                if !c.is_closed() {
                    found = Some(c);
                    break;
                }
            }
            found
        };
        let client = match reused {
            Some(c) => c,
            None => connect(&self.dialer, self.timeout).await?,
        };
        Ok(Pooled {
            client: Some(client),
            idle: Arc::clone(&self.idle),
            _slot: slot,
        })
    }
}

/// One new connection, its driver spawned on the current runtime.
pub(crate) async fn connect(dialer: &Dialer, timeout: Duration) -> Result<Client, FleetError> {
    let (client, mut messages) = dialer.dial(timeout).await?;
    tokio::spawn(async move {
        while let Some(m) = messages.next().await {
            if let Err(e) = m {
                tracing::debug!(error = %e, "fleet database connection ended");
                break;
            }
        }
    });
    Ok(client)
}
