//! `tcp_relay LISTEN UPSTREAM`: a byte relay that decides nothing — each accepted
//! connection gets its own upstream connection and tokio's `copy_bidirectional` between
//! the two (TCP_NODELAY on both, as Warden sets it). What a tokio proxy costs per
//! round trip before it reads a single message: the floor under Warden's PostgreSQL and
//! MySQL front-ends. Worker threads: `TOKIO_WORKER_THREADS` (default: one per core), or
//! one thread with `RELAY_RUNTIME=current`.
#![forbid(unsafe_code)]

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    runtime().block_on(serve());
}

async fn serve() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: tcp_relay LISTEN_ADDR UPSTREAM_ADDR");
        std::process::exit(2);
    };
    let listen: SocketAddr = listen.parse().expect("LISTEN_ADDR: host:port");
    let upstream: SocketAddr = upstream.parse().expect("UPSTREAM_ADDR: host:port");
    let listener = TcpListener::bind(listen).await.expect("bind");
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return; // dropping the client closes it
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
    }
}

/// Tokio's multi-threaded runtime (as Warden runs), or with `RELAY_RUNTIME=current` one
/// thread that both waits for IO and runs every task, as pgbouncer and each nginx worker do.
fn runtime() -> tokio::runtime::Runtime {
    let mut b = if std::env::var("RELAY_RUNTIME").as_deref() == Ok("current") {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    b.enable_all().build().expect("tokio runtime")
}
