#!/usr/bin/env bash
# Gateway crash test: SIGKILL the real `warden serve` $KILLS times (default 20) at random
# moments under mixed load (psql writes and reads, held statements and an approver, curl
# through an http target, ssh exec through an ssh target to a real sshd), restart it each
# time, then check: every acknowledged write has its audit record, the chain verifies,
# nothing held ran without approval or twice, clients saw clean errors and no hangs.
# See docs/hardening-crash.md. Builds nothing.
#
# Usage: WARDEN_BIN=target/release/warden benches/crash/run.sh
# Env:   WARDEN_BIN (default target/release/warden)  KILLS=20  MIN_UP=1.0 MAX_UP=4.0
#        (seconds the gateway runs before each kill)  SEED (default: the time)
#        SSH=0 (leave out the ssh target)  KEEP=1 (keep the work directory)
# Needs: PostgreSQL on 127.0.0.1:5432 (user postgres, trust), psql, curl, python3;
#        /usr/sbin/sshd, ssh, ssh-keygen for the ssh part (run as root: sshd logs root in).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export WARDEN_BIN=${WARDEN_BIN:-$ROOT/target/release/warden}
exec python3 "$ROOT/benches/crash/crash.py"
