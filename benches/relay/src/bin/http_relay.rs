//! `http_relay LISTEN UPSTREAM`: an HTTP/1.1 reverse proxy that decides nothing — hyper's
//! server on each accepted connection, every request sent on through hyper-util's pooled
//! keep-alive client to `UPSTREAM` (host:port) and the response streamed back. The same
//! crates, allocator and socket options as Warden's http front-end, without its guard,
//! inspection, Gate or audit: the floor under Warden's cost per request.
//! Runtime and threads: `RELAY_RUNTIME`, `TOKIO_WORKER_THREADS` (lib.rs).
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::{Either, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Body = Either<Incoming, Empty<Bytes>>;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: http_relay LISTEN_ADDR UPSTREAM_HOST:PORT");
        std::process::exit(2);
    };
    let listen: SocketAddr = listen.parse().expect("LISTEN_ADDR: host:port");
    warden_bench_relay::run(listen, move |listener| accept(listener, upstream.clone()));
}

/// One listener's accept loop, with its own pooled client (one pool per shard, as each
/// nginx worker keeps its own upstream connections).
async fn accept(listener: TcpListener, upstream: String) {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).build(connector);
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            continue;
        };
        let _ = sock.set_nodelay(true);
        let client = client.clone();
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| forward(client.clone(), upstream.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(sock), svc)
                .await;
        });
    }
}

/// Sends one request on to the upstream, its path and query unchanged; 502 when the
/// upstream cannot be reached.
async fn forward(
    client: Client<HttpConnector, Incoming>,
    upstream: String,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let Ok(uri) = format!("http://{upstream}{pq}").parse::<Uri>() else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    *req.uri_mut() = uri;
    Ok(match client.request(req).await {
        Ok(resp) => resp.map(Either::Left),
        Err(_) => status(StatusCode::BAD_GATEWAY),
    })
}

fn status(code: StatusCode) -> Response<Body> {
    let mut r = Response::new(Either::Right(Empty::new()));
    *r.status_mut() = code;
    r
}
