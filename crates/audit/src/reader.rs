//! [`AuditReader`]: read access to a store that no [`crate::AuditLog`] in this process
//! has open (the CLI's export and tail). Never writes a record.

use std::io::Write;
use std::path::Path;

use crate::error::AuditError;
use crate::query::{self, Page, Query};
use crate::record::Record;

/// An existing store opened for reading. Holds sled's directory lock while alive, so
/// keep it short-lived next to a gateway that may start.
pub struct AuditReader {
    db: sled::Db,
}

impl AuditReader {
    /// Open an existing store; [`AuditError::Locked`] while another process holds it.
    pub fn open(dir: &Path) -> Result<AuditReader, AuditError> {
        Ok(AuditReader {
            db: crate::store::open_existing(dir)?,
        })
    }

    /// Sequence number of the last record (0 when empty).
    pub fn head_seq(&self) -> Result<u64, AuditError> {
        crate::export::last_seq(&self.db)
    }

    /// Records matching `q`, newest first.
    pub fn query(&self, q: &Query) -> Result<Page, AuditError> {
        query::run(&self.db, q)
    }

    /// One record by sequence number.
    pub fn get(&self, seq: u64) -> Result<Option<Record>, AuditError> {
        crate::records::with_record(&self.db, seq, Record::from_stored)
    }

    /// Call `f` with every record whose time is in `[since, until)`, oldest first;
    /// how many there were. Their `prev_hash` and `hash` are left empty.
    pub fn walk_window(
        &self,
        since: Option<time::OffsetDateTime>,
        until: Option<time::OffsetDateTime>,
        f: impl FnMut(&Record),
    ) -> Result<u64, AuditError> {
        crate::window::walk_window(&self.db, since, until, f)
    }

    /// Export matching records with sequence `>= from` as JSON lines, oldest first.
    pub fn export_from(
        &self,
        q: &Query,
        from: u64,
        out: &mut impl Write,
    ) -> Result<u64, AuditError> {
        crate::export::export_from(&self.db, q, from, out)
    }
}
