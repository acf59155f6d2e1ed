#!/usr/bin/env bash
# Soak test: CONNS (default 5,000) concurrent client connections through one real
# `warden serve` for DURATION seconds (default 900) with steady traffic — HTTP keep-alive
# to nginx, long-lived psql sessions to PostgreSQL, long-lived ssh sessions to a real sshd —
# sampling Warden's RSS, open fds, threads, CPU and the clients' p50/p99 latency every
# SAMPLE seconds into a CSV, then printing a verdict: memory flat, no errors, fds back to
# baseline after the clients close. See benches/soak/soak.py's header and docs/hardening.md.
#
# Usage: WARDEN_BIN=target/release/warden benches/soak/run.sh
#        DURATION=60 benches/soak/run.sh            # a quick run
# Env:   WARDEN_BIN (default target/release/warden, else target/debug/warden)
#        CONNS=5000 PG=50 SSH=20 (0 without sshd)  DURATION=900  SAMPLE=10 (seconds)
#        INTERVAL=10 (seconds between GETs per HTTP connection)  PG_INTERVAL=1 SSH_INTERVAL=1
#        RAMP=500 (HTTP connections opened per second)  SETTLE=120 (seconds to wait for fds
#        after close)  MAX_GROWTH=10 (% RSS growth, last vs middle third, still "flat";
#        the first third is warm-up)
#        CSV=path (keep the samples there; default: inside the work directory)  KEEP=1
#        AUDIT_CACHE_MB (audit.cache_mb of the generated config; default: Warden's, 64)
# Needs: nginx, psql, PostgreSQL on 127.0.0.1:5432 (user postgres, trust), python3;
#        /usr/sbin/sshd, ssh, ssh-keygen for the ssh sessions (as root: sshd logs root in).
# Builds nothing. Exit status 0 when the verdict is PASS.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
if [[ -z ${WARDEN_BIN:-} ]]; then
  WARDEN_BIN=$ROOT/target/release/warden
  if [[ ! -x $WARDEN_BIN ]]; then
    WARDEN_BIN=$ROOT/target/debug/warden
    echo "note: no release binary, using the debug build $WARDEN_BIN" >&2
  fi
fi
export WARDEN_BIN
# one socket per client in the load process, and per client plus per upstream in Warden
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
need=$(( ${CONNS:-5000} * 2 + 1024 ))
(( $(ulimit -n) >= need )) || { echo "error: open-file limit $(ulimit -n) < $need" >&2; exit 2; }
exec python3 "$ROOT/benches/soak/soak.py"
