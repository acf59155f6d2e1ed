//! The `warden` binary: parse the command line, load config, run. Nothing else lives here.

#![forbid(unsafe_code)]

fn main() {
    println!("warden {}", env!("CARGO_PKG_VERSION"));
}
