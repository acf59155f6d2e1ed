//! Fuzz-style properties of the MySQL codec (proptest): whatever bytes a client or an
//! upstream sends — arbitrary bytes, valid framing around arbitrary payloads, packet
//! sequences with wrong sequence ids, lengths or truncations — the packet reader, the
//! command classifier, the handshake parser, the bound-value reader and the response
//! relay never panic, never read past their limits, and fail with a clean error.
//! No database is needed.

use bytes::BytesMut;
use proptest::prelude::*;
use tokio::io::AsyncWriteExt;
use warden_frontend_mysql::packet::{encode, PacketReader};
use warden_frontend_mysql::params::{placeholders, with_values, ParamState};
use warden_frontend_mysql::relay::{relay, Expect};
use warden_frontend_mysql::{command, handshake, MyError};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Reads every packet `bytes` holds, as the session reads a client.
async fn read_all(bytes: &[u8], max: usize) -> Result<Vec<Vec<u8>>, MyError> {
    let mut r = PacketReader::new(bytes, max);
    let mut out = Vec::new();
    while let Some(p) = r.read_packet(0).await? {
        assert!(
            p.payload.len() <= max,
            "a packet over the limit was returned"
        );
        out.push(p.payload.to_vec());
    }
    Ok(out)
}

/// Framed packets, each with a sequence id that is right (0) or possibly wrong.
fn framed() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        (
            prop::collection::vec(any::<u8>(), 0..300),
            prop::bool::weighted(0.8),
            any::<u8>(),
        ),
        0..6,
    )
    .prop_map(|packets| {
        let mut out = BytesMut::new();
        for (payload, right_seq, seq) in packets {
            encode(&mut out, if right_seq { 0 } else { seq }, &payload);
        }
        out.to_vec()
    })
}

/// A valid stream with bytes flipped, cut or appended.
fn mangled() -> impl Strategy<Value = Vec<u8>> {
    (
        framed(),
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        any::<usize>(),
    )
        .prop_map(|(mut bytes, flips, cut)| {
            for (at, b) in flips {
                if !bytes.is_empty() {
                    let i = at % bytes.len();
                    bytes[i] = b;
                }
            }
            let keep = if bytes.is_empty() {
                0
            } else {
                cut % (bytes.len() + 1)
            };
            bytes.truncate(keep.max(bytes.len() / 2));
            bytes
        })
}

fn check_error(e: &MyError) {
    // every error renders, and becomes an ERR packet for the client
    assert!(!e.to_string().is_empty());
    let err = e.err_packet();
    assert_eq!(err.payload()[0], 0xff);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_packet_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Err(e) = block_on(read_all(&bytes, 512)) {
            check_error(&e);
        }
    }

    #[test]
    fn framed_and_mangled_streams_read_cleanly(bytes in prop_oneof![framed(), mangled()]) {
        match block_on(read_all(&bytes, 256)) {
            Ok(packets) => {
                for p in packets {
                    // every command classifies (or fails cleanly); none panics
                    if let Err(e) = command::classify(&p) {
                        check_error(&e);
                    }
                }
            }
            Err(e) => check_error(&e),
        }
    }

    #[test]
    fn commands_and_handshakes_never_panic(payload in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = command::classify(&payload) {
            check_error(&e);
        }
        if let Err(e) = handshake::parse_response(&payload, false) {
            check_error(&e);
        }
    }

    #[test]
    fn bound_values_never_panic_and_stay_bounded(
        count in 0u16..40,
        body in prop::collection::vec(any::<u8>(), 0..1024),
        long in prop::collection::vec((0u16..50, prop::collection::vec(any::<u8>(), 0..64)), 0..4),
    ) {
        let mut state = ParamState::new(count);
        for (param, chunk) in &long {
            state.long_data(*param, chunk);
        }
        let mut payload = vec![0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0];
        payload.extend_from_slice(&body);
        match state.read(&payload) {
            Ok(values) => {
                prop_assert_eq!(values.len(), usize::from(count));
                let sql = vec!["?"; values.len()].join(", ");
                let shown = with_values(&sql, &values);
                prop_assert!(shown.len() <= sql.len() + 4096 + 200 + values.len() * 200);
            }
            Err(e) => check_error(&e),
        }
    }

    #[test]
    fn placeholders_never_panic(sql in ".{0,200}") {
        for at in placeholders(&sql) {
            prop_assert_eq!(sql.as_bytes()[at], b'?');
        }
    }

    #[test]
    fn the_relay_never_panics_on_upstream_bytes(
        bytes in prop_oneof![framed(), mangled(), prop::collection::vec(any::<u8>(), 0..1024)],
        expect in prop_oneof![Just(Expect::Results), Just(Expect::Prepare), Just(Expect::One), Just(Expect::Fetch)],
    ) {
        block_on(async {
            let (mut feed, upstream) = tokio::io::duplex(bytes.len() + 64 * 1024);
            // the upstream's packets are numbered from 1 in a response
            let mut renumbered = bytes.clone();
            if renumbered.len() >= 4 {
                renumbered[3] = 1;
            }
            feed.write_all(&renumbered).await.expect("feed");
            drop(feed);
            let mut up = PacketReader::new(upstream, 1 << 20);
            let mut client = Vec::new();
            if let Err(e) = relay(&mut up, &mut client, expect).await {
                check_error(&e);
            }
        });
    }
}
