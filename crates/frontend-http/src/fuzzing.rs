//! Entry point shared by the `http_framing` fuzz target (`fuzz/fuzz_targets/`) and the
//! corpus replay test (`tests/fuzz_corpus.rs`). Not an API: hidden from the docs.
//!
//! Must never panic on any input; checks the scanner's promises rather than its
//! verdicts: it never alters or invents bytes, and how the bytes arrive (one read or
//! several) never changes what it releases or what it refuses.

use crate::framing::{FramingScanner, Violation};

/// Small on purpose, so that "head too large" is reachable by a fuzzer.
const MAX_HEAD: usize = 1024;

/// Scan the input (after its first byte) whole, then in two reads split where the first
/// byte says, then byte by byte, and compare.
pub fn http_framing(data: &[u8]) {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let whole = scan(&[input]);
    let at = usize::from(split).min(input.len());
    let (a, b) = input.split_at(at);
    assert_eq!(scan(&[a, b]), whole, "split at {at} changed the outcome");
    if input.len() <= 4096 {
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(
            scan(&bytes),
            whole,
            "byte-by-byte reads changed the outcome"
        );
    }
    assert!(
        input.starts_with(&whole.0),
        "released bytes are not the input's prefix"
    );
}

fn scan(reads: &[&[u8]]) -> (Vec<u8>, Option<Violation>) {
    let mut scanner = FramingScanner::new(MAX_HEAD);
    let mut out = Vec::new();
    for read in reads {
        if let Err(v) = scanner.push(read, &mut out) {
            return (out, Some(v));
        }
    }
    (out, None)
}
