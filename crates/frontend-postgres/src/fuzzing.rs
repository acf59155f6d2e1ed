//! Entry point shared by the `pg_codec` fuzz target (`fuzz/fuzz_targets/`) and the
//! corpus replay test (`tests/fuzz_corpus.rs`). Not an API: hidden from the docs.
//!
//! Must never panic on any input. Reads the input as a client's byte stream the way the
//! front-end does: startup-phase packets (SSLRequest, CancelRequest, StartupMessage with
//! its parameters), then typed messages and the bodies the session reads (Query, Parse,
//! Bind, Execute, Close, SASL responses through the SCRAM server), and server messages
//! (ErrorResponse/NoticeResponse, BackendKeyData, authentication requests).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use crate::codec::{self, Body, FrameReader, CANCEL_REQUEST};
use crate::errors::PgError;
use crate::scram::{dummy_verifier, ScramServer, MECHANISM};
use crate::startup::read_params;

/// The front-end's default message limit is larger; a small one lets a fuzzer reach it.
const MAX_MESSAGE: usize = 64 * 1024;

/// Read the input (after its first byte) as a client stream; the first byte's low bit
/// skips the startup phase.
pub fn pg_codec(data: &[u8]) {
    let Some((&flags, stream)) = data.split_first() else {
        return;
    };
    let mut reader = FrameReader::new(stream, MAX_MESSAGE);
    if flags & 1 == 0 {
        match ready(startup_phase(&mut reader)) {
            Ok(true) => {}
            Ok(false) | Err(_) => return,
        }
    }
    let _ = ready(messages(&mut reader));
}

/// Polls a future over an in-memory stream: reading a `&[u8]` never waits.
fn ready<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("an in-memory stream never waits"),
    }
}

/// `Ok(true)` when a StartupMessage was read and typed messages follow.
async fn startup_phase(reader: &mut FrameReader<&[u8]>) -> Result<bool, PgError> {
    while let Some(packet) = reader.read_startup().await? {
        let mut body = Body::new(packet);
        match body.i32()? as u32 {
            CANCEL_REQUEST => {
                body.i32()?;
                let _secret = body.rest();
                return Ok(false);
            }
            version if version >> 16 == 3 => {
                read_params(&mut body)?;
                return Ok(true);
            }
            _ => {}
        }
    }
    Ok(false)
}

async fn messages(reader: &mut FrameReader<&[u8]>) -> Result<(), PgError> {
    let mut scram: Option<ScramServer> = None;
    while let Some(frame) = reader.read_frame().await? {
        let mut b = Body::new(frame.body.clone());
        match frame.tag {
            b'Q' => {
                b.cstr()?;
            }
            b'P' => {
                b.cstr()?;
                b.cstr()?;
                let types = b.count16()?;
                b.bytes(types * 4)?;
            }
            b'B' => {
                b.cstr()?;
                b.cstr()?;
            }
            b'E' => {
                // Execute from a client, ErrorResponse from a server: read it both ways.
                b.cstr()?;
                let _ = codec::parse_report(&frame.body);
            }
            b'N' => {
                let _ = codec::parse_report(&frame.body);
            }
            b'C' => {
                b.u8()?;
                b.cstr()?;
            }
            b'K' => {
                b.i32()?;
                b.rest();
            }
            b'R' => {
                // AuthenticationMD5Password carries a 4-byte salt.
                let code = b.i32()?;
                b.bytes(if code == 5 { 4 } else { 0 })?;
            }
            b'p' => scram = sasl(scram.take(), b)?,
            _ => {}
        }
    }
    Ok(())
}

/// A SASLInitialResponse starts an exchange; the next password message finishes it.
fn sasl(exchange: Option<ScramServer>, mut b: Body) -> Result<Option<ScramServer>, PgError> {
    if let Some(server) = exchange {
        let _ = server.finish(&b.rest());
        return Ok(None);
    }
    if b.cstr()? != MECHANISM {
        return Ok(None);
    }
    let len = usize::try_from(b.i32()?).map_err(|_| PgError::Protocol("SASL length".into()))?;
    let first: Bytes = b.bytes(len)?;
    Ok(ScramServer::start(dummy_verifier("fuzz"), &first)
        .ok()
        .map(|(server, _)| server))
}
