//! Opening one connection to the fleet database, plain or over TLS (`fleet.tls`), with
//! its messages (notifications, notices) as a stream the caller drives.
//!
//! With TLS configured this module must never fall back to a plain connection (the
//! server is asked for TLS and refused otherwise) and never skip the certificate check.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::{MakeTlsConnect, NoTls};
use tokio_postgres::{AsyncMessage, Client, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::FleetError;

/// TLS towards the fleet database: the verifying client configuration (trusted `ca`,
/// client certificate if any) and the name to check the certificate against when it is
/// not the URL's host.
#[derive(Clone)]
pub struct FleetTls {
    pub config: Arc<rustls::ClientConfig>,
    pub server_name: Option<String>,
}

impl std::fmt::Debug for FleetTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// A connection's messages; driving this stream drives the connection.
pub(crate) type Messages =
    Pin<Box<dyn Stream<Item = Result<AsyncMessage, tokio_postgres::Error>> + Send>>;

/// How to open a connection: the settings, and TLS when configured.
#[derive(Clone)]
pub(crate) struct Dialer {
    pg: tokio_postgres::Config,
    tls: Option<NamedTls>,
}

impl Dialer {
    pub(crate) fn new(mut pg: tokio_postgres::Config, tls: Option<&FleetTls>) -> Dialer {
        let tls = tls.map(|t| {
            // Never `prefer`: a server (or a man in the middle) answering "no TLS" must
            // end the attempt, not continue in the clear.
            pg.ssl_mode(SslMode::Require);
            NamedTls {
                inner: MakeRustlsConnect::new((*t.config).clone()),
                name: t.server_name.clone(),
            }
        });
        Dialer { pg, tls }
    }

    /// One new connection within `timeout`, and its message stream (to be driven).
    pub(crate) async fn dial(&self, timeout: Duration) -> Result<(Client, Messages), FleetError> {
        let opened = async {
            Ok::<_, tokio_postgres::Error>(match &self.tls {
                None => {
                    let (client, conn) = self.pg.connect(NoTls).await?;
                    (client, messages(conn))
                }
                Some(tls) => {
                    let (client, conn) = self.pg.connect(tls.clone()).await?;
                    (client, messages(conn))
                }
            })
        };
        Ok(tokio::time::timeout(timeout, opened)
            .await
            .map_err(|_| FleetError::Timeout(timeout))??)
    }
}

/// A connection as the stream of its messages (driving it drives the connection).
fn messages<T>(mut conn: tokio_postgres::Connection<Socket, T>) -> Messages
where
    T: tokio_postgres::tls::TlsStream + Unpin + Send + 'static,
{
    Box::pin(futures::stream::poll_fn(move |cx| conn.poll_message(cx)))
}

/// rustls for tokio-postgres, checking the certificate against `name` when set (else
/// against the host tokio-postgres connects to).
#[derive(Clone)]
struct NamedTls {
    inner: MakeRustlsConnect,
    name: Option<String>,
}

impl MakeTlsConnect<Socket> for NamedTls {
    type Stream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;
    type TlsConnect = <MakeRustlsConnect as MakeTlsConnect<Socket>>::TlsConnect;
    type Error = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        let name = self.name.as_deref().unwrap_or(domain);
        MakeTlsConnect::<Socket>::make_tls_connect(&mut self.inner, name)
    }
}
