//! `tcp_relay LISTEN UPSTREAM`: a byte relay that decides nothing — each accepted
//! connection gets its own upstream connection and tokio's `copy_bidirectional` between
//! the two (TCP_NODELAY on both, as Warden sets it). What a tokio proxy costs per
//! round trip before it reads a single message: the floor under Warden's PostgreSQL and
//! MySQL front-ends. Runtime and threads: `RELAY_RUNTIME`, `TOKIO_WORKER_THREADS` (lib.rs).
#![forbid(unsafe_code)]

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: tcp_relay LISTEN_ADDR UPSTREAM_ADDR");
        std::process::exit(2);
    };
    let listen: SocketAddr = listen.parse().expect("LISTEN_ADDR: host:port");
    let upstream: SocketAddr = upstream.parse().expect("UPSTREAM_ADDR: host:port");
    warden_bench_relay::run(listen, move |listener| accept(listener, upstream));
}

async fn accept(listener: TcpListener, upstream: SocketAddr) {
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
