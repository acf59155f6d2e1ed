//! Small assertions the MySQL tests share.

use super::Harness;

/// The server error code of a failed call (`None` when it succeeded or failed otherwise).
pub fn server_code(r: Result<(), mysql_async::Error>) -> Option<u16> {
    match r {
        Err(mysql_async::Error::Server(e)) => Some(e.code),
        _ => None,
    }
}

/// Never returns; panics as soon as any approval is requested (race it against a case
/// that must be decided without a hold).
pub async fn no_hold_ever(h: &Harness) {
    loop {
        let pending = h
            .gate
            .approvals()
            .list(Some(warden_approval::ApprovalState::Pending));
        assert!(pending.is_empty(), "held: {pending:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
