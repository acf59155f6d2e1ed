//! How the bench relays run: the listener and the tokio runtime(s) around a relay's accept
//! loop, chosen by `RELAY_RUNTIME` —
//! * `multi` (default): tokio's multi-threaded runtime, `TOKIO_WORKER_THREADS` workers
//!   sharing one listener and stealing each other's tasks (as `warden serve` runs);
//! * `current`: one thread that waits for IO and runs every task (like pgbouncer);
//! * `sharded`: `TOKIO_WORKER_THREADS` threads (default: one per core), each its own
//!   current-thread runtime with its own `SO_REUSEPORT` listener on the same address, so
//!   the kernel spreads connections over them and a connection never changes thread
//!   (like nginx's workers).
//!
//! Bench code only: it must never be linked into Warden.
#![forbid(unsafe_code)]

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Runs `serve` on a listener bound to `addr` under the runtime `RELAY_RUNTIME` names
/// (see the module docs); returns when every `serve` has.
pub fn run<F, Fut>(addr: SocketAddr, serve: F)
where
    F: Fn(TcpListener) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()>,
{
    let flavor = std::env::var("RELAY_RUNTIME").unwrap_or_default();
    match flavor.as_str() {
        "" | "multi" => one(
            tokio::runtime::Builder::new_multi_thread(),
            addr,
            false,
            serve,
        ),
        "current" => one(
            tokio::runtime::Builder::new_current_thread(),
            addr,
            false,
            serve,
        ),
        "sharded" => {
            let n = std::env::var("TOKIO_WORKER_THREADS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let shards: Vec<_> = (0..n)
                .map(|i| {
                    let serve = serve.clone();
                    std::thread::Builder::new()
                        .name(format!("shard-{i}"))
                        .spawn(move || {
                            one(
                                tokio::runtime::Builder::new_current_thread(),
                                addr,
                                true,
                                serve,
                            )
                        })
                        .expect("spawn a shard thread")
                })
                .collect();
            for s in shards {
                let _ = s.join();
            }
        }
        other => {
            eprintln!("RELAY_RUNTIME={other}: expected multi, current or sharded");
            std::process::exit(2);
        }
    }
}

fn one<F, Fut>(mut builder: tokio::runtime::Builder, addr: SocketAddr, reuseport: bool, serve: F)
where
    F: Fn(TcpListener) -> Fut,
    Fut: Future<Output = ()>,
{
    let rt = builder.enable_all().build().expect("tokio runtime");
    rt.block_on(async move {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .expect("socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        if reuseport {
            socket.set_reuseport(true).expect("SO_REUSEPORT");
        }
        socket.bind(addr).expect("bind");
        serve(socket.listen(1024).expect("listen")).await
    })
}
