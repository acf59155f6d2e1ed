//! The start of a connection, before any credential is looked at: Warden's greeting,
//! the client's first packet and — when it is an SSLRequest and the target has `tls:`
//! settings — the TLS handshake and the real HandshakeResponse over TLS.
//!
//! Must never read past the SSLRequest before the TLS handshake (the first packet is
//! read byte-exactly), never continue in plaintext after an SSLRequest, and never panic
//! on client input: every refusal is an ERR packet for this connection only.

use std::sync::Arc;

use tokio::io::AsyncWrite;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use super::errors::MyError;
use super::handshake::{self, HandshakeResponse};
use super::packet::{self, PacketReader};
use super::tls::{self, BoxIo};

/// Largest packet a client may send before it has logged in.
pub const HANDSHAKE_PACKET_LIMIT: usize = 64 * 1024;

/// A client that has answered the greeting.
pub struct Greeted {
    pub client: PacketReader<BoxIo>,
    pub response: HandshakeResponse,
    /// The sequence id of Warden's next packet.
    pub seq: u8,
    pub tls: bool,
}

/// Why the greeting phase ended without a client to log in.
pub enum Ended {
    /// The client left before sending anything.
    Left,
    /// Refused (the ERR was sent where the client could still read it).
    Refused(MyError),
}

async fn refuse<W: AsyncWrite + Unpin>(io: &mut W, seq: u8, e: MyError) -> Ended {
    let _ = packet::send(io, seq, &e.err_packet().payload()).await;
    Ended::Refused(e)
}

fn timed_out() -> MyError {
    MyError::Timeout("handshake and login")
}

/// Greets the client and reads its HandshakeResponse, over TLS when it asks for it.
pub async fn greet(
    mut tcp: TcpStream,
    connection_id: u32,
    challenge: &[u8; 20],
    tls_config: Option<&Arc<rustls::ServerConfig>>,
    deadline: Instant,
) -> Result<Greeted, Ended> {
    let hello = handshake::greeting(connection_id, challenge, tls_config.is_some());
    if let Err(e) = packet::send(&mut tcp, 0, &hello).await {
        return Err(Ended::Refused(e));
    }
    let first = match timeout_at(
        deadline,
        packet::read_first(&mut tcp, HANDSHAKE_PACKET_LIMIT),
    )
    .await
    {
        Ok(Ok(Some(p))) => p,
        Ok(Ok(None)) => return Err(Ended::Left),
        Ok(Err(e)) => return Err(refuse(&mut tcp, 2, e).await),
        Err(_) => return Err(refuse(&mut tcp, 2, timed_out()).await),
    };
    if !handshake::is_ssl_request(&first) {
        return match handshake::parse_response(&first, false) {
            Ok(response) => Ok(Greeted {
                client: PacketReader::new(Box::new(tcp), HANDSHAKE_PACKET_LIMIT),
                response,
                seq: 2,
                tls: false,
            }),
            Err(e) => Err(refuse(&mut tcp, 2, e).await),
        };
    }
    let Some(config) = tls_config else {
        let e = MyError::Unsupported(
            "this target has no TLS settings (tls: in warden.yaml); connect without TLS (e.g. --skip-ssl)".into(),
        );
        return Err(refuse(&mut tcp, 2, e).await);
    };
    let io = match timeout_at(deadline, tls::accept(tcp, config)).await {
        Ok(Ok(io)) => io,
        Ok(Err(e)) => return Err(Ended::Refused(e)),
        Err(_) => return Err(Ended::Refused(timed_out())),
    };
    let mut client = PacketReader::new(io, HANDSHAKE_PACKET_LIMIT);
    let second = match timeout_at(deadline, client.read_packet(2)).await {
        Ok(Ok(Some(p))) => p,
        Ok(Ok(None)) => return Err(Ended::Left),
        Ok(Err(e)) => return Err(refuse(client.get_mut(), 3, e).await),
        Err(_) => return Err(refuse(client.get_mut(), 3, timed_out()).await),
    };
    match handshake::parse_response(&second.payload, true) {
        Ok(response) => Ok(Greeted {
            client,
            response,
            seq: 3,
            tls: true,
        }),
        Err(e) => Err(refuse(client.get_mut(), 3, e).await),
    }
}
