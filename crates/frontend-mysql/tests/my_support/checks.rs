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

/// Details of the `kind` records (`authenticated`, `auth_failed`) of `user` so far.
pub async fn auth_details(h: &Harness, kind: &str, user: &str) -> Vec<String> {
    h.audit_records(kind)
        .await
        .into_iter()
        .filter(|e| e.actor.as_ref().is_some_and(|a| a.name == user))
        .filter(|e| format!("{:?}", e.kind).to_lowercase() == kind.replace('_', ""))
        .filter_map(|e| e.detail)
        .collect()
}

/// [`auth_details`], polled until `done` holds (records are written in the background;
/// at most 5 s).
pub async fn details_until(
    h: &Harness,
    kind: &str,
    user: &str,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let mut details = Vec::new();
    for _ in 0..100 {
        details = auth_details(h, kind, user).await;
        if done(&details) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    details
}
