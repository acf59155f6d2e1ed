//! The shared accept loop: connection cap, stop on shutdown, drain with a deadline.

mod gate_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gate_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use warden_config::Config;
use warden_gate::auth::{LoginThrottle, UserDirectory};
use warden_gate::frontend::{accept_loop, drain};
use warden_gate::{CancellationToken, FrontendContext};

fn context(s: &Setup, max_connections: usize) -> FrontendContext {
    let cfg = Config::parse(
        &format!(
            "targets:\n  - {{ name: t, protocol: http, listen: 127.0.0.1:0, upstream: 127.0.0.1:1, max_connections: {max_connections} }}\n"
        ),
        "test.yaml",
        Path::new("/tmp"),
    )
    .expect("config");
    FrontendContext::new(
        Arc::clone(&cfg.targets[0]),
        s.gate.clone(),
        Arc::new(UserDirectory::default()),
        Arc::new(LoginThrottle::default()),
        CancellationToken::new(),
        s.dir.path().to_path_buf(),
    )
}

/// Each connection echoes one byte back, then waits for shutdown or (when `linger`)
/// forever, so the test controls when connections end.
async fn start(ctx: FrontendContext, linger: bool) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(accept_loop(
        listener,
        ctx,
        move |mut stream, _peer, ctx| async move {
            let mut b = [0u8; 1];
            if stream.read_exact(&mut b).await.is_ok() {
                let _ = stream.write_all(&b).await;
            }
            if linger {
                std::future::pending::<()>().await;
            }
            ctx.shutdown.cancelled().await;
        },
    ));
    addr
}

async fn echo(addr: std::net::SocketAddr) -> Option<TcpStream> {
    let mut c = TcpStream::connect(addr).await.ok()?;
    c.write_all(b"x").await.ok()?;
    let mut b = [0u8; 1];
    match tokio::time::timeout(Duration::from_secs(2), c.read(&mut b)).await {
        Ok(Ok(1)) => Some(c),
        _ => None,
    }
}

#[tokio::test]
async fn cap_refuses_extra_connections_and_drain_waits() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let s = setup();
        let ctx = context(&s, 2);
        let addr = start(ctx.clone(), false).await;
        let a = echo(addr).await.expect("first connection served");
        let b = echo(addr).await.expect("second connection served");
        assert_eq!(ctx.open_connections(), 2);
        assert!(
            echo(addr).await.is_none(),
            "third connection is over the cap"
        );
        drop(a);
        // Shutdown: handlers return, drain finds nothing left.
        ctx.shutdown.cancel();
        assert_eq!(drain(&ctx, Duration::from_secs(5)).await, 0);
        drop(b);
        assert!(
            TcpStream::connect(addr).await.is_err() || echo(addr).await.is_none(),
            "no accepting after shutdown"
        );
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn drain_reports_connections_cut_off_at_the_deadline() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let s = setup();
        let ctx = context(&s, 10);
        let addr = start(ctx.clone(), true).await;
        let _c = echo(addr).await.expect("served");
        ctx.shutdown.cancel();
        assert_eq!(drain(&ctx, Duration::from_millis(200)).await, 1);
    })
    .await
    .expect("bounded");
}
