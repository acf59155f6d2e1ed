//! One http/kubernetes target: the shared accept loop (connection cap), optional client-facing
//! TLS (ALPN h2 + http/1.1), the framing guard under hyper, HTTP/1.1 and HTTP/2 via
//! hyper-util's auto builder (with upgrades) — or hyper's HTTP/1 builder directly for a
//! plain connection whose first bytes rule HTTP/2 out ([`sniff`](super::sniff)) — and
//! graceful drain on shutdown.
//!
//! Must never: serve a connection without the framing guard, or keep accepting after
//! shutdown was requested.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use std::convert::Infallible;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::{service_fn, Service};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use warden_inspect::Protocol;

use super::body::ProxyBody;
use super::handler::{handle, Conn, Shared};
use super::holds::AsyncHolds;
use super::identity::BasicCache;
use super::smuggling::{FramingGuard, ViolationSlot};
use super::sniff::{first_bytes, FirstBytes};
use super::tls;
use super::upstream::Upstream;
use warden_gate::frontend::{accept_loop, FrontendContext};

/// How long open connections get to finish after shutdown was requested.
const DRAIN: Duration = Duration::from_secs(10);
/// Time allowed for a client's TLS handshake.
const TLS_HANDSHAKE: Duration = Duration::from_secs(10);

/// Serves one http or kubernetes target until `ctx.shutdown` is cancelled.
pub async fn serve(listener: TcpListener, ctx: FrontendContext) -> io::Result<()> {
    let target = ctx.target.clone();
    let upstream = Upstream::from_target(&target)?;
    let acceptor = match &target.tls {
        Some(files) => Some(TlsAcceptor::from(tls::server_config(
            &files.cert,
            &files.key,
        )?)),
        None => None,
    };
    let kube = target.protocol == Protocol::Kubernetes;
    let shared = Arc::new(Shared {
        opts: target.http.clone(),
        kube,
        protocol: target.protocol,
        target: target.target_ref(),
        upstream,
        basic_cache: BasicCache::default(),
        holds: Arc::new(AsyncHolds::default()),
        ctx,
    });
    let loop_ctx = shared.ctx.clone();
    accept_loop(listener, loop_ctx, move |tcp, peer, _ctx| {
        connection(shared.clone(), acceptor.clone(), tcp, peer)
    })
    .await
}

async fn connection(
    shared: Arc<Shared>,
    acceptor: Option<TlsAcceptor>,
    tcp: TcpStream,
    peer: SocketAddr,
) {
    let _ = tcp.set_nodelay(true);
    // Each branch's state is boxed: a task holds its future at the size of its largest
    // state, and the TLS branch (handshake, rustls session) would make every plain
    // connection pay for it while it sits idle.
    match acceptor {
        None => match first_bytes(&tcp, shared.request_timeout()).await {
            FirstBytes::Http1 => Box::pin(serve_http1(shared, tcp, peer)).await,
            FirstBytes::MaybeHttp2 => Box::pin(serve_any(shared, tcp, peer)).await,
            FirstBytes::Closed => {}
            FirstBytes::TimedOut => tracing::debug!(%peer, "no request within the request timeout"),
        },
        Some(acceptor) => Box::pin(tls_connection(shared, acceptor, tcp, peer)).await,
    }
}

/// The TLS branch of [`connection`], boxed there: the handshake future holds a whole
/// rustls session, and left inline it sized every connection's task by it.
async fn tls_connection(
    shared: Arc<Shared>,
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
) {
    match tokio::time::timeout(TLS_HANDSHAKE, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Box::pin(serve_any(shared, tls, peer)).await,
        Ok(Err(e)) => tracing::debug!(%peer, "tls handshake failed: {e}"),
        Err(_) => tracing::debug!(%peer, "tls handshake timed out"),
    }
}

/// The future a request's service call returns (boxed: see [`guarded_service`]).
type HandleFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Response<ProxyBody>, Infallible>> + Send>,
>;

/// The connection's bytes behind the framing guard, and the service that answers its
/// requests.
fn guarded_service<IO>(
    shared: &Arc<Shared>,
    io: IO,
    peer: SocketAddr,
) -> (
    TokioIo<FramingGuard<IO>>,
    impl Service<
            Request<Incoming>,
            Response = Response<ProxyBody>,
            Error = Infallible,
            Future = HandleFuture,
        > + Clone
        + Send,
)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let slot = ViolationSlot::default();
    let guarded = FramingGuard::new(io, shared.opts.max_header_bytes, slot.clone());
    let conn = Arc::new(Conn {
        peer,
        peer_text: peer.to_string(),
        session: uuid::Uuid::new_v4().to_string(),
        slot,
        next_index: AtomicU64::new(0),
        logins: Default::default(),
    });
    let svc_shared = shared.clone();
    // hyper keeps a slot for the service's future in every connection for its whole life
    // (`Box<Option<S::Future>>`, allocated when the connection starts): with `handle`'s
    // state machine in it, each idle keep-alive connection held ~20 KiB. Boxed here, the
    // slot is a pointer and the state lives only while a request is in flight.
    let svc = service_fn(move |req| {
        let shared = svc_shared.clone();
        let conn = conn.clone();
        Box::pin(async move { Ok::<_, Infallible>(handle(shared, conn, req).await) })
            as HandleFuture
    });
    (TokioIo::new(guarded), svc)
}

/// The largest buffer hyper may grow for one connection.
fn max_buf(shared: &Shared) -> usize {
    // The guard enforces the head limit with a proper 431; leave hyper headroom.
    (shared.opts.max_header_bytes + 16 * 1024).max(8 * 1024)
}

/// A plain connection whose first bytes ruled HTTP/2 out: hyper's HTTP/1 server alone
/// (its own function, boxed by the caller, so that an HTTP/1 connection's state is not
/// sized by the auto builder's HTTP/2 machinery).
async fn serve_http1<IO>(shared: Arc<Shared>, io: IO, peer: SocketAddr)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (io, svc) = guarded_service(&shared, io, peer);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.request_timeout())
        .max_buf_size(max_buf(&shared))
        .serve_connection(io, svc)
        .with_upgrades();
    tokio::pin!(conn);
    drive(conn, &shared.ctx.shutdown, peer, |c| c.graceful_shutdown()).await
}

/// HTTP/1.1 or HTTP/2: hyper-util's auto builder reads the preface and decides.
async fn serve_any<IO>(shared: Arc<Shared>, io: IO, peer: SocketAddr)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (io, svc) = guarded_service(&shared, io, peer);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.request_timeout())
        .max_buf_size(max_buf(&shared));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(shared.opts.max_header_bytes).unwrap_or(u32::MAX));
    let conn = builder.serve_connection_with_upgrades(io, svc);
    tokio::pin!(conn);
    drive(conn, &shared.ctx.shutdown, peer, |c| c.graceful_shutdown()).await
}

/// Runs a connection to its end; on shutdown, asks it to finish gracefully and gives it
/// [`DRAIN`] to do so.
async fn drive<F, E>(
    mut conn: std::pin::Pin<&mut F>,
    shutdown: &tokio_util::sync::CancellationToken,
    peer: SocketAddr,
    graceful: impl FnOnce(std::pin::Pin<&mut F>),
) where
    F: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                tracing::debug!(%peer, "http connection ended: {e}");
            }
        }
        _ = shutdown.cancelled() => {
            graceful(conn.as_mut());
            let _ = tokio::time::timeout(DRAIN, conn.as_mut()).await;
        }
    }
}
