//! Log set-up for the long-running commands (`serve`, `demo`): one subscriber on stderr,
//! filtered by `WARDEN_LOG`, shaped by `WARDEN_LOG_FORMAT` — `text` (the default, for
//! terminals) or `json` (one object a line for log shippers; field names in
//! docs/operations.md). It must never log a credential: events carry names, addresses
//! and ids, and the only free text is an event's message and its `error`.

use std::process::ExitCode;
use std::sync::OnceLock;

use super::exit::Failure;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// `WARDEN_LOG_FORMAT`'s value: unset or empty is text; anything but `text` or
    /// `json` (any case) is an error that names the accepted values.
    pub fn parse(value: Option<&str>) -> Result<LogFormat, String> {
        match value.map(str::trim) {
            None | Some("") => Ok(LogFormat::Text),
            Some(v) if v.eq_ignore_ascii_case("text") => Ok(LogFormat::Text),
            Some(v) if v.eq_ignore_ascii_case("json") => Ok(LogFormat::Json),
            Some(v) => Err(format!(
                "WARDEN_LOG_FORMAT is `{v}`; use `text` (the default) or `json`"
            )),
        }
    }
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Install the subscriber (once per process). `default_filter` applies when `WARDEN_LOG`
/// is unset or invalid. A bad `WARDEN_LOG_FORMAT` is printed and exits 2.
pub fn init(default_filter: &str) -> Result<(), ExitCode> {
    let raw = std::env::var("WARDEN_LOG_FORMAT").ok();
    let format = LogFormat::parse(raw.as_deref()).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(Failure::Invalid)
    })?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        // Event fields stay under `fields` (not flattened): several events have a field
        // named `target` (the Warden target), which would clash with the module path.
        LogFormat::Json => builder
            .json()
            .with_ansi(false)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
    let _ = FORMAT.set(format);
    Ok(())
}

/// Report a failure that ends the process: an `error` event when logs are JSON (so the
/// log shipper sees it), `error: …` on stderr otherwise.
pub fn fatal(message: &dyn std::fmt::Display) {
    if FORMAT.get() == Some(&LogFormat::Json) {
        tracing::error!(error = %message, "warden stopped with an error");
    } else {
        eprintln!("error: {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_two_formats_and_names_them_when_wrong() {
        assert_eq!(LogFormat::parse(None), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("")), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("TEXT")), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some(" json ")), Ok(LogFormat::Json));
        let err = LogFormat::parse(Some("logfmt")).unwrap_err();
        assert!(err.contains("`logfmt`") && err.contains("`json`"), "{err}");
    }
}
