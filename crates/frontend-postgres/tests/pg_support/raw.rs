//! A minimal raw wire client for tests that need exact control over messages
//! (pipelines, malformed input).

use std::time::Duration;

use bytes::{Buf, BytesMut};
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Raw {
    pub io: TcpStream,
    buf: BytesMut,
    /// The BackendKeyData (pid, secret) received at login.
    pub key: Option<(u32, Vec<u8>)>,
}

pub fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(((body.len() + 4) as u32).to_be_bytes());
    out.extend(body);
    out
}

pub fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

pub fn parse(name: &str, sql: &str) -> Vec<u8> {
    let mut b = cstr(name);
    b.extend(cstr(sql));
    b.extend(0i16.to_be_bytes());
    msg(b'P', &b)
}

pub fn bind(portal: &str, stmt: &str) -> Vec<u8> {
    let mut b = cstr(portal);
    b.extend(cstr(stmt));
    b.extend(0i16.to_be_bytes()); // formats
    b.extend(0i16.to_be_bytes()); // params
    b.extend(0i16.to_be_bytes()); // result formats
    msg(b'B', &b)
}

pub fn execute(portal: &str) -> Vec<u8> {
    let mut b = cstr(portal);
    b.extend(0i32.to_be_bytes());
    msg(b'E', &b)
}

/// Parse `sql` as statement `stmt`, Bind it to the unnamed portal, Execute it.
pub fn parse_bind_execute(stmt: &str, sql: &str) -> Vec<u8> {
    let mut b = parse(stmt, sql);
    b.extend(bind("", stmt));
    b.extend(execute(""));
    b
}

pub fn sync() -> Vec<u8> {
    msg(b'S', &[])
}

pub fn query(sql: &str) -> Vec<u8> {
    msg(b'Q', &cstr(sql))
}

pub fn startup(user: &str, db: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend((3u32 << 16).to_be_bytes());
    for (k, v) in [("user", user), ("database", db)] {
        body.extend(cstr(k));
        body.extend(cstr(v));
    }
    body.push(0);
    let mut out = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    out.extend(body);
    out
}

impl Raw {
    pub async fn connect(addr: std::net::SocketAddr) -> Raw {
        let io = TcpStream::connect(addr).await.expect("connect");
        Raw {
            io,
            buf: BytesMut::new(),
            key: None,
        }
    }

    /// Connects and logs in with SCRAM; returns after the first ReadyForQuery.
    pub async fn login(addr: std::net::SocketAddr, user: &str, password: &str, db: &str) -> Raw {
        let mut raw = Raw::connect(addr).await;
        raw.send(&startup(user, db)).await;
        let mut scram: Option<ScramSha256> = None;
        loop {
            let (tag, body) = raw.recv().await.expect("message during login");
            match tag {
                b'R' => {
                    let code = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                    match code {
                        0 => {}
                        10 => {
                            let client = ScramSha256::new(
                                password.as_bytes(),
                                ChannelBinding::unsupported(),
                            );
                            let mut b = cstr("SCRAM-SHA-256");
                            b.extend((client.message().len() as i32).to_be_bytes());
                            b.extend(client.message());
                            raw.send(&msg(b'p', &b)).await;
                            scram = Some(client);
                        }
                        11 => {
                            let c = scram.as_mut().expect("scram");
                            c.update(&body[4..]).expect("server-first");
                            let m = c.message().to_vec();
                            raw.send(&msg(b'p', &m)).await;
                        }
                        12 => scram
                            .as_mut()
                            .expect("scram")
                            .finish(&body[4..])
                            .expect("server signature"),
                        other => panic!("auth code {other}"),
                    }
                }
                b'K' if body.len() >= 8 => {
                    let pid = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                    raw.key = Some((pid, body[4..].to_vec()));
                }
                b'Z' => return raw,
                b'E' => panic!("login failed: {}", String::from_utf8_lossy(&body)),
                _ => {}
            }
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.expect("send");
    }

    /// Sends, ignoring errors (the server may have closed already).
    pub async fn send_lossy(&mut self, bytes: &[u8]) {
        let _ = self.io.write_all(bytes).await;
    }

    /// Next message, or None when the server closed. Panics after 20 s.
    pub async fn recv(&mut self) -> Option<(u8, Vec<u8>)> {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                if self.buf.len() >= 5 {
                    let len =
                        u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]])
                            as usize;
                    if self.buf.len() > len {
                        let tag = self.buf[0];
                        self.buf.advance(5);
                        let body = self.buf.split_to(len - 4).to_vec();
                        return Some((tag, body));
                    }
                }
                self.buf.reserve(4096);
                match self.io.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
        .expect("recv timed out")
    }

    /// Messages up to and including the next ReadyForQuery (tags + bodies).
    pub async fn until_ready(&mut self) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some((tag, body)) = self.recv().await {
            out.push((tag, body));
            if tag == b'Z' {
                break;
            }
        }
        out
    }
}

/// The SQLSTATE and message of an ErrorResponse body.
pub fn error_fields(body: &[u8]) -> (String, String) {
    let mut code = String::new();
    let mut message = String::new();
    let mut rest = body;
    while let Some((&field, tail)) = rest.split_first() {
        if field == 0 {
            break;
        }
        let end = tail.iter().position(|b| *b == 0).unwrap_or(tail.len());
        let value = String::from_utf8_lossy(&tail[..end]).into_owned();
        match field {
            b'C' => code = value,
            b'M' => message = value,
            _ => {}
        }
        rest = tail.get(end + 1..).unwrap_or(&[]);
    }
    (code, message)
}
