//! The Gate: the one place every front-end asks "what happens to this Action?".
//!
//! CONTRACT (shared by the postgres, http/kubernetes and ssh front-ends; the postgres
//! work owns the implementation, the others only call it):
//!
//! ```text
//! let gate: Gate = ...;                       // Clone, cheap (Arc inside)
//! match gate.decide(action).await {           // evaluates policy, writes the audit
//!     Admission::Allow(ticket) => {           //   record (durable for writes), and
//!         /* forward */                       //   for Hold creates the approval request
//!         ticket.completed(outcome).await;    // audits the outcome (status, rows, ...)
//!     }
//!     Admission::Deny(refusal) => {           // refusal.message / refusal.rule / kind
//!         /* native error to client */
//!     }
//!     Admission::Hold(held) => {              // held.id, held.url (console link)
//!         /* notice to client first */
//!         match held.wait().await {           // awaits approve/deny/expiry, no polling;
//!             HoldOutcome::Approved(ticket) => /* forward exactly the held bytes once */,
//!             HoldOutcome::Refused(refusal) => /* refusal.kind: Denied | Expired | ... */,
//!         }                                   // dropping `held` withdraws the request
//!     }
//! }
//! ```
//!
//! A `Refusal` carries `kind: RefusalKind { Denied, Expired, Withdrawn, RetryLater{id},
//! AuditUnavailable, Internal }` so each protocol maps it to its own error (SQLSTATE
//! 42501/57014, HTTP 403/202/503, SSH exit 126).
//!
//! The Gate must never return `Allow` for an action whose durable audit record failed
//! to write.
