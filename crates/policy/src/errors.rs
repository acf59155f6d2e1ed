//! The error a failed policy load returns: every diagnostic at once.

use std::fmt;

use warden_diagnostic::Diagnostic;

/// Every diagnostic of a failed load, in file then position order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyErrors(pub Vec<Diagnostic>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        warden_diagnostic::write_all(f, &self.0)
    }
}
