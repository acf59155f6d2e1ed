//! A deliberately small MySQL client written for the tests (its own framing, not the
//! front-end's): logs in with mysql_native_password and sends hand-made commands, so
//! tests can send what real drivers never would (bad sequence ids, lengths, commands).

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server response to one command.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    Ok {
        affected: u64,
    },
    Err {
        code: u16,
        message: String,
    },
    /// Result-set rows (raw payloads), over all result sets.
    Rows(Vec<Vec<u8>>),
}

impl Reply {
    pub fn err_code(&self) -> Option<u16> {
        match self {
            Reply::Err { code, .. } => Some(*code),
            _ => None,
        }
    }
}

pub struct RawClient {
    pub stream: TcpStream,
}

fn lenenc(p: &[u8], pos: &mut usize) -> u64 {
    let b = p[*pos];
    *pos += 1;
    let n = match b {
        0xfc => 2,
        0xfd => 3,
        0xfe => 8,
        _ => return u64::from(b),
    };
    let mut v = 0u64;
    for i in 0..n {
        v |= u64::from(p[*pos + i]) << (8 * i);
    }
    *pos += n;
    v
}

fn parse_err(p: &[u8]) -> Reply {
    let code = u16::from_le_bytes([p[1], p[2]]);
    let message = String::from_utf8_lossy(&p[9..]).into_owned();
    Reply::Err { code, message }
}

impl RawClient {
    pub async fn read_packet(&mut self) -> io::Result<(u8, Vec<u8>)> {
        let mut head = [0u8; 4];
        self.stream.read_exact(&mut head).await?;
        let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body).await?;
        Ok((head[3], body))
    }

    pub async fn write_packet(&mut self, seq: u8, payload: &[u8]) -> io::Result<()> {
        let len = payload.len();
        let mut out = vec![len as u8, (len >> 8) as u8, (len >> 16) as u8, seq];
        out.extend_from_slice(payload);
        self.stream.write_all(&out).await
    }

    /// Connects and logs in; `Err` carries the server's ERR text.
    pub async fn login(
        addr: SocketAddr,
        user: &str,
        pw: &str,
        db: Option<&str>,
    ) -> Result<RawClient, String> {
        let native = |challenge: &[u8]| {
            warden_config::mysql_native::native_reply(pw.as_bytes(), challenge).to_vec()
        };
        let (c, _, answer) =
            RawClient::start(addr, user, db, "mysql_native_password", native).await?;
        match answer.first() {
            Some(0x00) => Ok(c),
            _ => Err(format!("{:?}", parse_err(&answer))),
        }
    }

    /// Connects and sends a HandshakeResponse41 for `user` naming `plugin`, with
    /// `reply(challenge)` as its authentication data; returns the client, the greeting's
    /// 20-byte challenge and Warden's first answer (sequence id 2).
    pub async fn start(
        addr: SocketAddr,
        user: &str,
        db: Option<&str>,
        plugin: &str,
        reply: impl Fn(&[u8]) -> Vec<u8>,
    ) -> Result<(RawClient, Vec<u8>, Vec<u8>), String> {
        let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let mut c = RawClient { stream };
        let (_, greeting) = c.read_packet().await.map_err(|e| e.to_string())?;
        let mut pos = 1 + greeting[1..].iter().position(|b| *b == 0).expect("version") + 1;
        pos += 4;
        let mut challenge = greeting[pos..pos + 8].to_vec();
        pos += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10;
        challenge.extend_from_slice(&greeting[pos..pos + 12]);
        let reply = reply(&challenge);
        let caps: u32 = 1 | 1 << 3 | 1 << 9 | 1 << 13 | 1 << 15 | 1 << 16 | 1 << 17 | 1 << 19;
        let mut out = Vec::new();
        out.extend_from_slice(&caps.to_le_bytes());
        out.extend_from_slice(&(1u32 << 24).to_le_bytes());
        out.push(45);
        out.extend_from_slice(&[0u8; 23]);
        out.extend_from_slice(user.as_bytes());
        out.push(0);
        out.push(reply.len() as u8);
        out.extend_from_slice(&reply);
        out.extend_from_slice(db.unwrap_or("").as_bytes());
        out.push(0);
        out.extend_from_slice(plugin.as_bytes());
        out.push(0);
        c.write_packet(1, &out).await.map_err(|e| e.to_string())?;
        let (_, answer) = c.read_packet().await.map_err(|e| e.to_string())?;
        Ok((c, challenge, answer))
    }

    /// Sends `payload` as a command (sequence id 0) and reads the response.
    pub async fn command(&mut self, payload: &[u8]) -> io::Result<Reply> {
        self.write_packet(0, payload).await?;
        self.response().await
    }

    pub async fn query(&mut self, sql: &str) -> io::Result<Reply> {
        let mut p = vec![0x03];
        p.extend_from_slice(sql.as_bytes());
        self.command(&p).await
    }

    /// OK, ERR or result sets (several when the server says more results follow).
    pub async fn response(&mut self) -> io::Result<Reply> {
        let mut rows = Vec::new();
        loop {
            let (_, first) = self.read_packet().await?;
            match first[0] {
                0x00 => {
                    let mut pos = 1;
                    let affected = lenenc(&first, &mut pos);
                    lenenc(&first, &mut pos);
                    let status = u16::from_le_bytes([first[pos], first[pos + 1]]);
                    if status & 8 == 0 {
                        return Ok(if rows.is_empty() {
                            Reply::Ok { affected }
                        } else {
                            Reply::Rows(rows)
                        });
                    }
                }
                0xff => return Ok(parse_err(&first)),
                _ => {
                    let mut pos = 0;
                    let columns = lenenc(&first, &mut pos);
                    for _ in 0..=columns {
                        self.read_packet().await?;
                    }
                    loop {
                        let (_, p) = self.read_packet().await?;
                        if p[0] == 0xff {
                            return Ok(parse_err(&p));
                        }
                        if p[0] == 0xfe && p.len() < 9 {
                            let status = u16::from_le_bytes([p[3], p[4]]);
                            if status & 8 == 0 {
                                return Ok(Reply::Rows(rows));
                            }
                            break;
                        }
                        rows.push(p);
                    }
                }
            }
        }
    }

    /// COM_STMT_PREPARE: the statement id, or the ERR.
    pub async fn prepare(&mut self, sql: &str) -> io::Result<Result<u32, Reply>> {
        let mut p = vec![0x16];
        p.extend_from_slice(sql.as_bytes());
        self.write_packet(0, &p).await?;
        let (_, first) = self.read_packet().await?;
        if first[0] == 0xff {
            return Ok(Err(parse_err(&first)));
        }
        let id = u32::from_le_bytes([first[1], first[2], first[3], first[4]]);
        let columns = u16::from_le_bytes([first[5], first[6]]);
        let params = u16::from_le_bytes([first[7], first[8]]);
        for n in [params, columns] {
            if n > 0 {
                for _ in 0..=n {
                    self.read_packet().await?;
                }
            }
        }
        Ok(Ok(id))
    }

    /// COM_STMT_EXECUTE of a statement without parameters.
    pub async fn execute(&mut self, id: u32) -> io::Result<Reply> {
        let mut p = vec![0x17];
        p.extend_from_slice(&id.to_le_bytes());
        p.push(0);
        p.extend_from_slice(&1u32.to_le_bytes());
        self.command(&p).await
    }

    /// COM_STMT_EXECUTE of a statement without parameters with a read-only cursor:
    /// whether the server says a cursor is open (rows come by fetch), or the ERR.
    pub async fn execute_cursor(&mut self, id: u32) -> io::Result<Result<bool, Reply>> {
        let mut p = vec![0x17];
        p.extend_from_slice(&id.to_le_bytes());
        p.push(1);
        p.extend_from_slice(&1u32.to_le_bytes());
        self.write_packet(0, &p).await?;
        let (_, first) = self.read_packet().await?;
        if first[0] == 0xff {
            return Ok(Err(parse_err(&first)));
        }
        let mut pos = 0;
        let columns = lenenc(&first, &mut pos);
        let mut last = first;
        for _ in 0..=columns {
            last = self.read_packet().await?.1;
        }
        let status = u16::from_le_bytes([last[3], last[4]]);
        Ok(Ok(status & 0x40 != 0))
    }

    /// COM_STMT_FETCH of up to `rows` rows: the rows, or the ERR.
    pub async fn fetch(&mut self, id: u32, rows: u32) -> io::Result<Reply> {
        let mut p = vec![0x1c];
        p.extend_from_slice(&id.to_le_bytes());
        p.extend_from_slice(&rows.to_le_bytes());
        self.write_packet(0, &p).await?;
        let mut out = Vec::new();
        loop {
            let (_, p) = self.read_packet().await?;
            if p[0] == 0xff {
                return Ok(parse_err(&p));
            }
            if p[0] == 0xfe && p.len() < 9 {
                return Ok(Reply::Rows(out));
            }
            out.push(p);
        }
    }

    /// Whether the server closes the connection (whatever it still sends first).
    pub async fn closed(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            let read = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                self.stream.read(&mut buf),
            )
            .await;
            match read {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}
