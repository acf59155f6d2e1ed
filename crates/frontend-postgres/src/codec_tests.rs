//! Tests of the wire framing (`codec.rs`).

use super::*;
use tokio::io::AsyncReadExt;

async fn frames(input: &[u8], max: usize) -> Vec<Result<Option<Frame>, String>> {
    let mut r = FrameReader::new(input, max);
    let mut out = Vec::new();
    loop {
        let f = r.read_frame().await.map_err(|e| e.to_string());
        let stop = !matches!(f, Ok(Some(_)));
        out.push(f);
        if stop {
            return out;
        }
    }
}

#[tokio::test]
async fn reads_consecutive_frames_and_clean_eof() {
    let mut buf = BytesMut::new();
    query(&mut buf, "select 1");
    typed(&mut buf, b'S', &[]);
    let got = frames(&buf, 1024).await;
    assert_eq!(got.len(), 3);
    let Ok(Some(q)) = &got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(q.tag, b'Q');
    assert_eq!(&q.body[..], b"select 1\0");
    assert!(matches!(&got[1], Ok(Some(f)) if f.tag == b'S' && f.body.is_empty()));
    assert!(matches!(got[2], Ok(None)));
}

#[tokio::test]
async fn rejects_bad_lengths() {
    for len in [0u32, 3, 0x8000_0000, u32::MAX] {
        let mut raw = vec![b'Q'];
        raw.extend(len.to_be_bytes());
        raw.extend(b"abc");
        let got = frames(&raw, 1 << 20).await;
        assert!(got[0].is_err(), "len {len}: {got:?}");
    }
}

#[tokio::test]
async fn rejects_truncated_message_and_header() {
    let got = frames(b"Q\0\0\0\x10abc", 1024).await;
    assert!(got[0].as_ref().is_err_and(|e| e.contains("truncated")));
    let got = frames(b"Q\0\0", 1024).await;
    assert!(got[0].as_ref().is_err_and(|e| e.contains("truncated")));
}

#[tokio::test]
async fn enforces_the_message_limit() {
    let mut buf = BytesMut::new();
    query(&mut buf, &"x".repeat(100));
    let got = frames(&buf, 50).await;
    assert!(
        got[0].as_ref().is_err_and(|e| e.contains("too large")),
        "{got:?}"
    );
}

#[tokio::test]
async fn startup_packet_limits() {
    let mut r = FrameReader::new(&[0u8, 0, 0, 4][..], 1024);
    assert!(r.read_startup().await.is_err());
    let mut big = Vec::from(20_000u32.to_be_bytes());
    big.resize(20_000, 0);
    let mut r = FrameReader::new(&big[..], 1024);
    assert!(r.read_startup().await.is_err());
    let mut ok = BytesMut::new();
    startup_packet(&mut ok, &startup_body(&[("user", "alice")]));
    let mut r = FrameReader::new(&ok[..], 1024);
    let body = r.read_startup().await.ok().flatten();
    assert!(body.is_some_and(|b| b.starts_with(&[0, 3, 0, 0])));
}

#[test]
fn body_reader_never_panics_on_short_input() {
    let mut b = Body::new(Bytes::from_static(b"ab"));
    assert!(b.i32().is_err());
    let mut b = Body::new(Bytes::from_static(b"no terminator"));
    assert!(b.cstr().is_err());
    let mut b = Body::new(Bytes::from_static(&[0xff, 0xfe]));
    assert!(b.count16().is_err());
    let mut b = Body::new(Bytes::from_static(b"ok\0rest"));
    assert_eq!(b.cstr().ok().as_deref(), Some("ok"));
    assert!(b.bytes(10).is_err());
}

#[test]
fn report_round_trip() {
    let mut out = BytesMut::new();
    Report::error("42501", "nope")
        .with_detail("d")
        .encode_error(&mut out);
    let mut r = Body::new(out.freeze());
    assert_eq!(r.u8().ok(), Some(b'E'));
    let len = r.i32().unwrap_or_default() as usize;
    assert_eq!(len, r.remaining() + 4);
    let (code, msg) = parse_report(&r.rest());
    assert_eq!(code.as_deref(), Some("42501"));
    assert_eq!(msg.as_deref(), Some("nope"));
}

#[tokio::test]
async fn buffered_frames_are_taken_without_reading_and_checked_alike() {
    let mut wire = BytesMut::new();
    query(&mut wire, "select 1");
    typed(&mut wire, b'S', &[]);
    // The first read ends 3 bytes into the Sync (a Chain reads one part per read).
    let cut = wire.len() - 2;
    let mut r = FrameReader::new(AsyncReadExt::chain(&wire[..cut], &wire[cut..]), 1024);
    assert!(matches!(r.buffered_frame(), Ok(None)), "nothing read yet");
    assert_eq!(r.fill_more(1024).await.expect("read"), cut);
    let q = r
        .buffered_frame()
        .expect("valid")
        .expect("whole Query buffered");
    assert_eq!((q.tag, &q.body[..]), (b'Q', &b"select 1\0"[..]));
    // A partial message is left for read_frame, which completes it.
    assert_eq!(r.buffered(), 3);
    assert!(matches!(r.buffered_frame(), Ok(None)));
    let s = r.read_frame().await.expect("valid").expect("Sync");
    assert_eq!(s.tag, b'S');
    assert!(matches!(r.buffered_frame(), Ok(None)));

    // The same limits as read_frame: a bad tag or an oversized length is an error as
    // soon as the header is buffered, before the body.
    let mut r = FrameReader::new(&b"Zxxxx"[..], 1024).with_tag_check(|t| t != b'Z');
    r.fill_more(64).await.expect("read");
    assert!(r.buffered_frame().is_err());
    let mut big = vec![b'Q'];
    big.extend_from_slice(&2000u32.to_be_bytes());
    let mut r = FrameReader::new(&big[..], 1024);
    r.fill_more(64).await.expect("read");
    assert!(matches!(r.buffered_frame(), Err(PgError::TooLarge { .. })));
}

#[test]
fn frame_header_is_tag_and_length_word() {
    let f = Frame {
        tag: b'E',
        body: Bytes::from_static(b"\0\0\0\0\0"),
    };
    let mut wire = BytesMut::new();
    f.encode(&mut wire);
    assert_eq!(&f.header()[..], &wire[..5]);
}
