//! Interactive session recordings in asciicast v2: a JSON header line, then one
//! `[seconds, "o"|"i", text]` line per chunk of output or input. The file's SHA-256 is
//! computed while writing and goes into the audit chain (`SessionRecording`), so a
//! recording that was altered afterwards no longer matches its record.
//!
//! Must never overwrite an existing recording and never make one readable by others.
//! Text is stored as UTF-8 (invalid bytes replaced): a faithful transcript for people,
//! not a byte-exact copy of the terminal stream.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// Writes one recording.
pub struct Recorder {
    out: BufWriter<std::fs::File>,
    hasher: Sha256,
    started: Instant,
    path: PathBuf,
}

impl Recorder {
    /// Create `<dir>/<name>.cast` (mode 0600) and write the header.
    pub fn create(
        dir: &Path,
        name: &str,
        width: u32,
        height: u32,
        term: &str,
    ) -> std::io::Result<Recorder> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{name}.cast"));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(&path)?;
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let header = serde_json::json!({
            "version": 2,
            "width": width.max(1),
            "height": height.max(1),
            "timestamp": timestamp,
            "env": { "TERM": term },
        });
        let mut rec = Recorder {
            out: BufWriter::new(file),
            hasher: Sha256::new(),
            started: Instant::now(),
            path,
        };
        rec.line(&header.to_string())?;
        Ok(rec)
    }

    fn line(&mut self, text: &str) -> std::io::Result<()> {
        self.hasher.update(text.as_bytes());
        self.hasher.update(b"\n");
        self.out.write_all(text.as_bytes())?;
        self.out.write_all(b"\n")
    }

    fn event(&mut self, code: &str, data: &[u8]) -> std::io::Result<()> {
        let at = self.started.elapsed().as_secs_f64();
        let text = String::from_utf8_lossy(data);
        let ev = serde_json::json!([at, code, text]);
        self.line(&ev.to_string())
    }

    /// Terminal output (what the user saw).
    pub fn output(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.event("o", data)
    }

    /// Keyboard input (what the user typed).
    pub fn input(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.event("i", data)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flush and sync; returns the path and the file's SHA-256 (hex).
    pub fn finish(self) -> std::io::Result<(PathBuf, String)> {
        let Recorder {
            out, hasher, path, ..
        } = self;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok((path, hex::encode(hasher.finalize())))
    }
}

/// Splits typed input into submitted lines (best effort: handles backspace, Ctrl-U,
/// Ctrl-C and skips escape sequences such as arrow keys; cannot see shell history or
/// completion).
#[derive(Default)]
pub struct LineBuffer {
    current: Vec<u8>,
    escape: u8,
}

impl LineBuffer {
    /// Feed input; returns the lines completed by it.
    pub fn feed(&mut self, data: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        for &b in data {
            if self.escape == 1 {
                self.escape = if b == b'[' || b == b'O' { 2 } else { 0 };
                continue;
            }
            if self.escape == 2 {
                if (0x40..=0x7e).contains(&b) {
                    self.escape = 0;
                }
                continue;
            }
            match b {
                b'\r' | b'\n' => {
                    let line = String::from_utf8_lossy(&self.current).trim().to_owned();
                    self.current.clear();
                    if !line.is_empty() {
                        lines.push(line);
                    }
                }
                0x1b => self.escape = 1,
                0x7f | 0x08 => {
                    self.current.pop();
                }
                0x15 | 0x03 => self.current.clear(),
                b if (b >= 0x20 || b == b'\t') && self.current.len() < 64 * 1024 => {
                    self.current.push(b);
                }
                _ => {}
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_editing() {
        let mut b = LineBuffer::default();
        assert!(b.feed(b"ls -").is_empty());
        assert_eq!(b.feed(b"l\x7fla\r"), vec!["ls -la"]);
        assert_eq!(b.feed(b"junk\x15echo \x1b[Ahi\r\r"), vec!["echo hi"]);
    }

    #[test]
    fn recording_hash_matches_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut r = Recorder::create(dir.path(), "s1", 80, 24, "xterm").expect("create");
        r.output(b"hello\r\n").expect("o");
        r.input(b"x").expect("i");
        let (path, hash) = r.finish().expect("finish");
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(hex::encode(Sha256::digest(&bytes)), hash);
        let text = String::from_utf8(bytes).expect("utf8");
        let mut lines = text.lines();
        let header: serde_json::Value =
            serde_json::from_str(lines.next().expect("header")).expect("json");
        assert_eq!(header["version"], 2);
        let ev: serde_json::Value = serde_json::from_str(lines.next().expect("ev")).expect("json");
        assert_eq!(ev[1], "o");
        assert_eq!(ev[2], "hello\r\n");
        assert!(
            Recorder::create(dir.path(), "s1", 80, 24, "xterm").is_err(),
            "no overwrite"
        );
    }
}
