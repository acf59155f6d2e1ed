//! MySQL wire constants and the small encodings every other module uses: capability
//! flags, command bytes, server status bits, length-encoded integers, ERR and OK
//! packets, and [`Body`], a bounds-checked reader over one packet's payload.
//!
//! Must never panic on a short or malformed payload: every read is checked and a
//! truncation is a [`MyError::Malformed`].

use bytes::{BufMut, Bytes, BytesMut};

use super::errors::MyError;

pub mod caps {
    pub const LONG_PASSWORD: u32 = 1;
    pub const FOUND_ROWS: u32 = 1 << 1;
    pub const LONG_FLAG: u32 = 1 << 2;
    pub const CONNECT_WITH_DB: u32 = 1 << 3;
    pub const NO_SCHEMA: u32 = 1 << 4;
    pub const COMPRESS: u32 = 1 << 5;
    pub const ODBC: u32 = 1 << 6;
    pub const LOCAL_FILES: u32 = 1 << 7;
    pub const PROTOCOL_41: u32 = 1 << 9;
    pub const INTERACTIVE: u32 = 1 << 10;
    pub const SSL: u32 = 1 << 11;
    pub const TRANSACTIONS: u32 = 1 << 13;
    pub const SECURE_CONNECTION: u32 = 1 << 15;
    pub const MULTI_STATEMENTS: u32 = 1 << 16;
    pub const MULTI_RESULTS: u32 = 1 << 17;
    pub const PS_MULTI_RESULTS: u32 = 1 << 18;
    pub const PLUGIN_AUTH: u32 = 1 << 19;
    pub const CONNECT_ATTRS: u32 = 1 << 20;
    pub const PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 1 << 21;
    pub const DEPRECATE_EOF: u32 = 1 << 24;

    /// What Warden offers a client. Never LOCAL_FILES, SSL, COMPRESS, DEPRECATE_EOF or
    /// session tracking: the relay reads result framing with classic EOF packets.
    pub const OFFERED: u32 = LONG_PASSWORD
        | FOUND_ROWS
        | LONG_FLAG
        | CONNECT_WITH_DB
        | ODBC
        | PROTOCOL_41
        | INTERACTIVE
        | TRANSACTIONS
        | SECURE_CONNECTION
        | MULTI_STATEMENTS
        | MULTI_RESULTS
        | PS_MULTI_RESULTS
        | PLUGIN_AUTH
        | CONNECT_ATTRS
        | PLUGIN_AUTH_LENENC_CLIENT_DATA;

    /// Of the client's capabilities, those that shape the session and are passed to the
    /// upstream (the ones that change result encoding must match on both sides).
    pub const PASSED_UPSTREAM: u32 = LONG_PASSWORD
        | FOUND_ROWS
        | LONG_FLAG
        | ODBC
        | INTERACTIVE
        | TRANSACTIONS
        | MULTI_STATEMENTS
        | MULTI_RESULTS
        | PS_MULTI_RESULTS;
}

pub mod command {
    pub const SLEEP: u8 = 0x00;
    pub const QUIT: u8 = 0x01;
    pub const INIT_DB: u8 = 0x02;
    pub const QUERY: u8 = 0x03;
    pub const FIELD_LIST: u8 = 0x04;
    pub const SHUTDOWN: u8 = 0x08;
    pub const STATISTICS: u8 = 0x09;
    pub const PROCESS_KILL: u8 = 0x0c;
    pub const PING: u8 = 0x0e;
    pub const CHANGE_USER: u8 = 0x11;
    pub const BINLOG_DUMP: u8 = 0x12;
    pub const REGISTER_SLAVE: u8 = 0x15;
    pub const STMT_PREPARE: u8 = 0x16;
    pub const STMT_EXECUTE: u8 = 0x17;
    pub const STMT_SEND_LONG_DATA: u8 = 0x18;
    pub const STMT_CLOSE: u8 = 0x19;
    pub const STMT_RESET: u8 = 0x1a;
    pub const SET_OPTION: u8 = 0x1b;
    pub const STMT_FETCH: u8 = 0x1c;
    pub const BINLOG_DUMP_GTID: u8 = 0x1e;
    pub const RESET_CONNECTION: u8 = 0x1f;
}

/// `SERVER_STATUS_AUTOCOMMIT`.
pub const STATUS_AUTOCOMMIT: u16 = 0x0002;
/// `SERVER_MORE_RESULTS_EXISTS`: another result follows this OK/EOF.
pub const STATUS_MORE_RESULTS: u16 = 0x0008;
/// `SERVER_STATUS_CURSOR_EXISTS`: an execute opened a cursor (rows come by fetch).
pub const STATUS_CURSOR_EXISTS: u16 = 0x0040;
/// utf8mb4_general_ci, the collation Warden announces.
pub const DEFAULT_COLLATION: u8 = 45;

/// One ERR packet: error number, SQLSTATE (5 characters) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrPacket {
    pub code: u16,
    pub state: &'static str,
    pub message: String,
}

impl ErrPacket {
    pub fn new(code: u16, state: &'static str, message: impl Into<String>) -> ErrPacket {
        ErrPacket {
            code,
            state,
            message: message.into(),
        }
    }

    pub fn payload(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.message.len() + 9);
        out.put_u8(0xff);
        out.put_u16_le(self.code);
        out.put_u8(b'#');
        out.extend_from_slice(self.state.as_bytes());
        out.extend_from_slice(self.message.as_bytes());
        out.freeze()
    }
}

/// An OK packet with no rows affected.
pub fn ok_payload(status: u16) -> Bytes {
    let mut out = BytesMut::with_capacity(7);
    out.put_u8(0x00);
    put_lenenc(&mut out, 0);
    put_lenenc(&mut out, 0);
    out.put_u16_le(status);
    out.put_u16_le(0);
    out.freeze()
}

pub fn put_lenenc(out: &mut BytesMut, n: u64) {
    if n < 251 {
        out.put_u8(n as u8);
    } else if n < 1 << 16 {
        out.put_u8(0xfc);
        out.put_u16_le(n as u16);
    } else if n < 1 << 24 {
        out.put_u8(0xfd);
        out.put_uint_le(n, 3);
    } else {
        out.put_u8(0xfe);
        out.put_u64_le(n);
    }
}

/// A bounds-checked reader over one payload.
pub struct Body<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Body<'a> {
    pub fn new(data: &'a [u8]) -> Body<'a> {
        Body { data, pos: 0 }
    }

    fn short(what: &str) -> MyError {
        MyError::Malformed(format!("packet too short reading {what}"))
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], MyError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| Body::short("bytes"))?;
        let s = self
            .data
            .get(self.pos..end)
            .ok_or_else(|| Body::short("bytes"))?;
        self.pos = end;
        Ok(s)
    }

    pub fn u8(&mut self) -> Result<u8, MyError> {
        Ok(self.bytes(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, MyError> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Result<u32, MyError> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn lenenc(&mut self) -> Result<u64, MyError> {
        match self.u8()? {
            n @ 0..=250 => Ok(u64::from(n)),
            0xfc => Ok(u64::from(self.u16()?)),
            0xfd => {
                let b = self.bytes(3)?;
                Ok(u64::from(b[0]) | u64::from(b[1]) << 8 | u64::from(b[2]) << 16)
            }
            0xfe => {
                let b = self.bytes(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Ok(u64::from_le_bytes(a))
            }
            other => Err(MyError::Malformed(format!(
                "bad length-encoded integer prefix {other:#x}"
            ))),
        }
    }

    /// A NUL-terminated string (bytes without the NUL).
    pub fn cstr(&mut self) -> Result<&'a [u8], MyError> {
        let rest = &self.data[self.pos..];
        let end = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| MyError::Malformed("unterminated string".into()))?;
        self.pos += end + 1;
        Ok(&rest[..end])
    }

    pub fn rest(&mut self) -> &'a [u8] {
        let r = &self.data[self.pos..];
        self.pos = self.data.len();
        r
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenenc_round_trips_and_truncation_is_an_error() {
        for n in [
            0u64,
            250,
            251,
            65535,
            65536,
            (1 << 24) - 1,
            1 << 24,
            u64::MAX,
        ] {
            let mut out = BytesMut::new();
            put_lenenc(&mut out, n);
            assert_eq!(Body::new(&out).lenenc().ok(), Some(n));
            assert!(Body::new(&out[..out.len() - 1]).lenenc().is_err() || n < 251);
        }
        assert!(Body::new(&[0xff]).lenenc().is_err());
        assert!(Body::new(b"abc").cstr().is_err());
    }

    #[test]
    fn err_packet_layout() {
        let p = ErrPacket::new(1227, "42000", "no").payload();
        assert_eq!(&p[..], b"\xff\xcb\x04#42000no");
    }
}
