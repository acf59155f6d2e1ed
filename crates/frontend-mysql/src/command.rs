//! One client command, read into what the session must do with it. Commands Warden
//! does not know are refused (fail closed), and so are those that would step around
//! the Gate (another login, replication streams, server shutdown, killing sessions).
//!
//! Must never panic on a short payload, and never classify an unknown command as one
//! that may pass.

use super::errors::MyError;
use super::wire::{command as com, Body};

/// What a client command asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Quit,
    /// COM_QUERY: the statement text.
    Query(String),
    /// COM_STMT_PREPARE: the statement text.
    Prepare(String),
    /// COM_INIT_DB: the database name (decided as `USE`).
    InitDb(String),
    /// COM_STMT_EXECUTE of statement `id`; `cursor` when a cursor was asked for.
    Execute {
        id: u32,
        cursor: bool,
    },
    /// COM_STMT_FETCH: more rows of the cursor an execute of statement `id` opened.
    Fetch {
        id: u32,
    },
    /// COM_STMT_SEND_LONG_DATA for parameter `param` (no response).
    LongData {
        id: u32,
        param: u16,
    },
    /// COM_STMT_CLOSE (no response).
    Close {
        id: u32,
    },
    /// COM_STMT_RESET (one response packet).
    Reset {
        id: u32,
    },
    /// COM_PING, COM_STATISTICS, COM_SET_OPTION: forwarded, one response packet.
    PassOne(&'static str),
    /// COM_RESET_CONNECTION: forwarded; prepared statements are gone afterwards.
    ResetConnection,
    /// Refused with ERR 1227 and an audit record; `name` is the command's name.
    Refused {
        name: &'static str,
        why: String,
    },
}

fn text(bytes: &[u8]) -> Option<String> {
    String::from_utf8(bytes.to_vec()).ok()
}

/// Reads one command packet.
pub fn classify(payload: &[u8]) -> Result<Command, MyError> {
    let mut b = Body::new(payload);
    let code = b.u8()?;
    let refused = |name: &'static str, why: &str| Command::Refused {
        name,
        why: why.to_owned(),
    };
    let not_utf8 =
        |name: &'static str| refused(name, "statement text that is not UTF-8 cannot be inspected");
    Ok(match code {
        com::QUIT => Command::Quit,
        com::QUERY => text(b.rest()).map_or_else(|| not_utf8("COM_QUERY"), Command::Query),
        com::STMT_PREPARE => {
            text(b.rest()).map_or_else(|| not_utf8("COM_STMT_PREPARE"), Command::Prepare)
        }
        com::INIT_DB => text(b.rest()).map_or_else(|| not_utf8("COM_INIT_DB"), Command::InitDb),
        com::STMT_EXECUTE => {
            let id = b.u32()?;
            let flags = b.u8()?;
            Command::Execute {
                id,
                cursor: flags & 0x07 != 0,
            }
        }
        com::STMT_SEND_LONG_DATA => Command::LongData {
            id: b.u32()?,
            param: b.u16()?,
        },
        com::STMT_CLOSE => Command::Close { id: b.u32()? },
        com::STMT_FETCH => Command::Fetch { id: b.u32()? },
        com::STMT_RESET => Command::Reset { id: b.u32()? },
        com::PING => Command::PassOne("COM_PING"),
        com::STATISTICS => Command::PassOne("COM_STATISTICS"),
        com::SET_OPTION => Command::PassOne("COM_SET_OPTION"),
        com::RESET_CONNECTION => Command::ResetConnection,
        com::CHANGE_USER => refused(
            "COM_CHANGE_USER",
            "changing user inside a session is not allowed through Warden; reconnect as the other Warden user",
        ),
        com::BINLOG_DUMP => refused("COM_BINLOG_DUMP", "replication streams are not allowed through Warden"),
        com::BINLOG_DUMP_GTID => refused("COM_BINLOG_DUMP_GTID", "replication streams are not allowed through Warden"),
        com::REGISTER_SLAVE => refused("COM_REGISTER_SLAVE", "replication is not allowed through Warden"),
        com::SHUTDOWN => refused("COM_SHUTDOWN", "shutting the server down is not allowed through Warden"),
        com::PROCESS_KILL => refused(
            "COM_PROCESS_KILL",
            "COM_PROCESS_KILL is not allowed through Warden; use KILL QUERY (decided by policy)",
        ),
        com::FIELD_LIST => refused("COM_FIELD_LIST", "COM_FIELD_LIST is not supported by Warden; use SHOW COLUMNS"),
        other => Command::Refused {
            name: "unknown command",
            why: format!("command {other:#04x} is not supported by Warden"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(
            classify(b"\x03SELECT 1").ok(),
            Some(Command::Query("SELECT 1".into()))
        );
        assert_eq!(
            classify(b"\x17\x01\x00\x00\x00\x00\x01\x00\x00\x00").ok(),
            Some(Command::Execute {
                id: 1,
                cursor: false
            })
        );
        assert_eq!(
            classify(b"\x17\x01\x00\x00\x00\x01\x01\x00\x00\x00").ok(),
            Some(Command::Execute {
                id: 1,
                cursor: true
            })
        );
        assert!(classify(b"\x17\x01").is_err());
        assert!(classify(b"").is_err());
        assert!(matches!(
            classify(b"\x11bob"),
            Ok(Command::Refused {
                name: "COM_CHANGE_USER",
                ..
            })
        ));
        assert!(matches!(classify(b"\x63"), Ok(Command::Refused { .. })));
        assert!(matches!(
            classify(b"\x03\xff\xfe"),
            Ok(Command::Refused { .. })
        ));
    }
}
