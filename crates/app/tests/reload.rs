//! Policy hot reload: a valid edit swaps the set the Gate uses (via the file watcher
//! and on demand); an invalid edit keeps the old set and is audited with diagnostics.

#[path = "../../gate/tests/gate_support/mod.rs"]
mod gate_support;

use std::time::Duration;

use gate_support::*;
use warden_app::reload::{PolicyReloader, ReloadOutcome};
use warden_audit::EventKind;
use warden_gate::{Admission, CancellationToken, Gate};
use warden_policy::{PolicySet, PolicyStore};

const DENY_DROP: &str = "version: 1\nrules:\n  - name: no-drop\n    when: { sql: { statements: [drop] } }\n    action: deny\n";
const DENY_DROP_AND_DELETE: &str = "version: 1\nrules:\n  - name: no-drop\n    when: { sql: { statements: [drop] } }\n    action: deny\n  - name: no-delete\n    when: { sql: { statements: [delete] } }\n    action: deny\n";
const BROKEN: &str = "version: 1\nrules:\n  - name: oops\n    whn: { sql: { statements: [dleete] } }\n    action: deny\n";

fn is_denied(a: &Admission) -> bool {
    matches!(a, Admission::Deny(_))
}

#[tokio::test]
async fn reload_valid_then_invalid() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let s = setup();
        let pol_dir = s.dir.path().join("policies");
        std::fs::create_dir_all(&pol_dir).expect("mkdir");
        let file = pol_dir.join("main.yaml");
        std::fs::write(&file, DENY_DROP).expect("write");
        let paths = vec![pol_dir.clone()];
        let store = PolicyStore::new(PolicySet::load(&paths).expect("load"));
        let gate = Gate::new(
            store.clone(),
            s.audit.clone(),
            s.approvals.clone(),
            Default::default(),
        );
        let reloader = PolicyReloader::new(paths, store.clone(), s.audit.clone());

        let delete = "DELETE FROM accounts WHERE id = 1";
        let a = gate.decide(sql_action(delete)).await;
        assert!(!is_denied(&a), "{a:?}");
        drop(a);
        assert_eq!(reloader.reload(false).await, ReloadOutcome::Unchanged);

        std::fs::write(&file, DENY_DROP_AND_DELETE).expect("write");
        assert_eq!(
            reloader.reload(false).await,
            ReloadOutcome::Reloaded { rules: 2 }
        );
        assert!(is_denied(&gate.decide(sql_action(delete)).await));
        assert_eq!(
            records(&s.audit, EventKind::PolicyReloaded, 1).await.len(),
            1
        );

        std::fs::write(&file, BROKEN).expect("write");
        let ReloadOutcome::Rejected { diagnostics } = reloader.reload(false).await else {
            panic!("broken policy must be rejected");
        };
        assert!(diagnostics.contains("whn"), "{diagnostics}");
        // The previous set stays in force.
        assert!(is_denied(&gate.decide(sql_action(delete)).await));
        let failed = records(&s.audit, EventKind::PolicyReloadFailed, 1).await;
        assert!(failed[0]
            .event
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("whn")));
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn watcher_picks_up_edits() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let s = setup();
        let file = s.dir.path().join("single.yaml");
        std::fs::write(&file, DENY_DROP).expect("write");
        let paths = vec![file.clone()];
        let store = PolicyStore::new(PolicySet::load(&paths).expect("load"));
        let shutdown = CancellationToken::new();
        let task =
            PolicyReloader::new(paths, store.clone(), s.audit.clone()).spawn(shutdown.clone());
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Replace the file the way editors do: write a temp file, rename over it.
        let tmp = s.dir.path().join(".single.yaml.tmp");
        std::fs::write(&tmp, DENY_DROP_AND_DELETE).expect("write");
        std::fs::rename(&tmp, &file).expect("rename");
        let mut rules = 0;
        for _ in 0..100 {
            rules = store.current().rules().count();
            if rules == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(rules, 2, "the watcher reloaded the edited file");
        shutdown.cancel();
        let _ = task.await;
    })
    .await
    .expect("bounded");
}
