//! The response relay on hand-built upstream responses (no database): a result set is
//! passed to the client byte for byte however its packets fall across reads (rows
//! already buffered are copied as one run), its outcome counts every row, an ERR among
//! the rows ends it with that error, and a row with a wrong sequence id is an error
//! that is never forwarded.

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use warden_frontend_mysql::packet::{encode, PacketReader};
use warden_frontend_mysql::relay::{relay, relay_with, Expect};
use warden_frontend_mysql::MyError;

/// Payloads of a text result set: one column, `rows` rows of `width` bytes, EOFs.
fn result_set(rows: usize, width: usize) -> Vec<Vec<u8>> {
    let mut p = vec![vec![1u8]]; // column count
    p.push(
        b"\x03def\x00\x00\x00\x01c\x00\x0c\x21\x00\x10\x00\x00\x00\xfd\x00\x00\x00\x00\x00"
            .to_vec(),
    );
    p.push(vec![0xfe, 0, 0, 0x02, 0]); // EOF after the definitions
    for i in 0..rows {
        let mut row = vec![width as u8];
        row.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, width));
        p.push(row);
    }
    p.push(vec![0xfe, 0, 0, 0x02, 0]); // EOF: no more results
    p
}

/// The packets framed with sequence ids from 1, as an upstream answers a command.
fn framed(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut out = BytesMut::new();
    let mut seq = 1u8;
    for p in payloads {
        seq = encode(&mut out, seq, p);
    }
    out.to_vec()
}

/// An upstream reader over `bytes`, fed in `chunk`-sized writes and then closed.
async fn upstream(bytes: &[u8], chunk: usize) -> PacketReader<tokio::io::DuplexStream> {
    let (mut feed, upstream) = tokio::io::duplex(bytes.len() + 64);
    for c in bytes.chunks(chunk) {
        feed.write_all(c).await.expect("feed");
    }
    drop(feed);
    PacketReader::new(upstream, 1 << 20)
}

/// Relays `bytes` fed in `chunk`-sized writes: (result, what the client got).
async fn relayed(
    bytes: &[u8],
    chunk: usize,
) -> (
    Result<warden_frontend_mysql::relay::Relayed, MyError>,
    Vec<u8>,
) {
    let mut up = upstream(bytes, chunk).await;
    let mut client = Vec::new();
    let r = relay(&mut up, &mut client, Expect::Results).await;
    (r, client)
}

#[tokio::test]
async fn result_sets_pass_byte_for_byte_and_every_row_counts() {
    for (rows, width, chunk) in [
        (0, 10, 1 << 20),
        (1, 10, 1 << 20),
        (100, 20, 1 << 20),
        (100, 20, 7),
        (5000, 90, 1000),
        (3, 200, 1),
    ] {
        let payloads = result_set(rows, width);
        let bytes = framed(&payloads);
        let (r, client) = relayed(&bytes, chunk).await;
        let r = r.expect("relayed");
        assert_eq!(client, bytes, "{rows} rows in chunks of {chunk}");
        assert_eq!(r.outcome.rows, Some(rows as u64));
        assert_eq!(
            r.outcome.status.as_deref(),
            Some(&*format!("SELECT {rows}"))
        );
        assert_eq!(r.outcome.error, None);
        let payload_bytes: usize = payloads.iter().map(Vec::len).sum();
        assert_eq!(r.outcome.bytes, Some(payload_bytes as u64));
    }
}

#[tokio::test]
async fn an_err_among_the_rows_ends_the_response_with_it() {
    let mut payloads = result_set(50, 30);
    payloads.truncate(3 + 20);
    payloads.push(b"\xff\x15\x04#70100Query execution was interrupted".to_vec());
    let bytes = framed(&payloads);
    let (r, client) = relayed(&bytes, 1 << 20).await;
    let r = r.expect("relayed");
    assert_eq!(client, bytes);
    assert_eq!(r.outcome.rows, Some(20));
    assert_eq!(
        r.outcome.error.as_deref(),
        Some("1045: Query execution was interrupted")
    );
}

#[tokio::test]
async fn a_row_out_of_order_is_an_error_and_never_forwarded() {
    let payloads = result_set(40, 30);
    let mut bytes = framed(&payloads);
    // the 11th row's header: 3 header packets (1 + 2 + 5 bytes + headers) then 10 rows
    let at = (4 + 1) + (4 + payloads[1].len()) + (4 + 5) + 10 * (4 + 31);
    assert_eq!(bytes[at + 3], 14, "the packet found is the 11th row");
    bytes[at + 3] = 99;
    let marker = payloads[3 + 10].clone();
    for chunk in [1 << 20, 64, 3] {
        let mut up = upstream(&bytes, chunk).await;
        let mut client = Vec::new();
        let mut out = BytesMut::new();
        let e = relay_with(&mut up, &mut client, &mut out, Expect::Results)
            .await
            .expect_err("out of order");
        assert!(
            matches!(&e, MyError::Upstream(m) if m.contains("out of order")),
            "{e}"
        );
        assert!(
            !client.windows(marker.len()).any(|w| w == marker),
            "the row with the wrong sequence id reached the client"
        );
        assert!(out.is_empty(), "the session's buffer is left empty");
    }
}
