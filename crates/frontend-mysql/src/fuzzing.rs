//! Entry point shared by the `mysql_codec` fuzz target (`fuzz/fuzz_targets/`) and the
//! corpus replay test (`tests/fuzz_corpus.rs`). Not an API: hidden from the docs.
//!
//! Must never panic on any input. Reads the input as a client's byte stream the way the
//! front-end does: packets (with continuations and sequence ids), the handshake
//! response, then commands, the statement text checks, and COM_STMT_EXECUTE parameters
//! shown as literals in the statement.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::command::{classify, Command};
use crate::errors::MyError;
use crate::handshake::parse_response;
use crate::lexing::{backslash_literal_reading, refusal};
use crate::packet::PacketReader;
use crate::params::{placeholders, with_values, ParamState};

/// The front-end's default packet limit is larger; a small one lets a fuzzer reach it.
const MAX_PACKET: usize = 64 * 1024;

/// Read the input (after its first byte) as a client stream; the first byte's low bit
/// skips the handshake response.
pub fn mysql_codec(data: &[u8]) {
    let Some((&flags, stream)) = data.split_first() else {
        return;
    };
    let mut reader = PacketReader::new(stream, MAX_PACKET);
    let _ = ready(session(&mut reader, flags & 1 == 0));
}

/// Polls a future over an in-memory stream: reading a `&[u8]` never waits.
fn ready<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("an in-memory stream never waits"),
    }
}

async fn session(reader: &mut PacketReader<&[u8]>, handshake: bool) -> Result<(), MyError> {
    if handshake {
        let Some(packet) = reader.read_packet(1).await? else {
            return Ok(());
        };
        parse_response(&packet.payload, false)?;
    }
    let mut statement = String::new();
    let mut params = ParamState::new(0);
    while let Some(packet) = reader.read_packet(0).await? {
        match classify(&packet.payload)? {
            Command::Query(sql) | Command::Prepare(sql) | Command::InitDb(sql) => {
                let _ = refusal(&sql);
                let _ = backslash_literal_reading(&sql);
                let count = placeholders(&sql).len();
                params = ParamState::new(u16::try_from(count).unwrap_or(u16::MAX));
                statement = sql;
            }
            Command::LongData { param, .. } => {
                params.long_data(param, packet.payload.get(7..).unwrap_or_default());
            }
            Command::Execute { .. } => {
                let values = params.read(&packet.payload)?;
                let _ = with_values(&statement, &values);
                params.executed();
            }
            _ => {}
        }
    }
    Ok(())
}
