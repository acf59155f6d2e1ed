//! The table `t (id, v)` with rows 1, 2, 3 that the statement tests work on, read and
//! reset directly on MariaDB (not through Warden).

use super::Harness;

pub fn setup(h: &Harness) {
    h.direct("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (1,'a'),(2,'b'),(3,'c')");
}

/// Rows in `t`, as MariaDB counts them.
pub fn count(h: &Harness) -> String {
    h.direct("SELECT COUNT(*) FROM t")
}

/// Back to the three rows.
pub fn refill(h: &Harness) {
    h.direct("DELETE FROM t; INSERT INTO t VALUES (1,'a'),(2,'b'),(3,'c')");
}
