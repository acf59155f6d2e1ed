//! Errors of the MySQL front-end and the ERR packet each gives the client before its
//! connection closes.
//!
//! Error texts may reach the client and the audit log: they must never contain upstream
//! credentials or the user's password.

use super::wire::ErrPacket;

/// Everything that ends a MySQL connection early.
#[derive(Debug, thiserror::Error)]
pub enum MyError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The client broke the wire protocol (truncated packet, bad field).
    #[error("malformed packet: {0}")]
    Malformed(String),
    #[error("packets out of order: expected sequence id {expected}, got {got}")]
    OutOfOrder { expected: u8, got: u8 },
    #[error("packet too large: {len} bytes (limit {max})")]
    TooLarge { len: usize, max: usize },
    /// The client failed to authenticate (safe to show).
    #[error("authentication failed: {0}")]
    Auth(String),
    /// Something Warden does not support yet was asked for at connection time.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The upstream refused Warden or spoke nonsense.
    #[error("upstream: {0}")]
    Upstream(String),
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// Refused by Warden at connection time (the ERR as the client gets it).
    #[error("refused: {}", .0.message)]
    Refused(ErrPacket),
}

impl MyError {
    /// The ERR packet a client gets before the connection closes.
    pub fn err_packet(&self) -> ErrPacket {
        match self {
            MyError::Io(_) => ErrPacket::new(2013, "HY000", "Lost connection"),
            MyError::Malformed(m) => {
                ErrPacket::new(1835, "HY000", format!("Malformed packet: {m}"))
            }
            MyError::OutOfOrder { .. } => ErrPacket::new(1156, "08S01", self.to_string()),
            MyError::TooLarge { .. } => ErrPacket::new(1153, "08S01", self.to_string()),
            MyError::Auth(m) => ErrPacket::new(1045, "28000", m.clone()),
            MyError::Unsupported(m) => ErrPacket::new(1251, "08004", format!("Warden: {m}")),
            MyError::Upstream(m) => ErrPacket::new(
                2013,
                "HY000",
                format!("Warden could not reach the database: {m}"),
            ),
            MyError::Timeout(what) => ErrPacket::new(1159, "08S01", format!("timed out: {what}")),
            MyError::Refused(err) => err.clone(),
        }
    }
}
