//! Warden users: password verification, SCRAM verifiers, login throttling (owned by the runtime work).
