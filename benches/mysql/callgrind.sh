#!/usr/bin/env bash
# Instructions (callgrind Ir, user space, all threads) per sysbench transaction of one
# warden binary: a number the other load on a shared machine does not move, unlike TPS or
# CPU time. Sets up a small sysbench database and the bench account, runs
# `warden serve` under `valgrind --tool=callgrind` with the same config as run.sh
# (production pack, mysql_native_password user, sled audit log), warms one session up,
# zeroes the counters, runs EVENTS transactions, dumps, and prints Ir per transaction:
# in total, without sha2 (valgrind hides SHA-NI, so SHA-256 costs ~10x its native
# cost there), in the session task (minus the audit record Ticket::complete
# prepares) and in Ticket::complete; then the top functions by self cost.
# Note: the totals include timer-driven work (audit writer, sled) that scales with time,
# not transactions: compare binaries at similar rates; the session-task figure does not
# depend on the rate.
#
# Usage: benches/mysql/callgrind.sh WARDEN_BIN [TEST=oltp_point_select] [THREADS=1] [EVENTS=3000]
# Needs: valgrind, sysbench, the mariadb client, python3; MariaDB on 127.0.0.1:3306
#        (root, no password).
set -euo pipefail
BIN=${1:?usage: callgrind.sh WARDEN_BIN [TEST] [THREADS] [EVENTS]}
TEST=${2:-oltp_point_select}; T=${3:-1}; EV=${4:-3000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
source "$ROOT/benches/lib.sh"
need valgrind "apt-get install -y valgrind"
need sysbench "apt-get install -y sysbench"
DB=warden_cgbench; UP_USER=warden_cg; UP_PW=cg-$$-$RANDOM; PW=bench-password-1
root_sql() { mariadb -h 127.0.0.1 -P 3306 -u root -N -B -e "$1"; }
W=$(mktemp -d /tmp/warden-callgrind.XXXXXX)
P=
cleanup() {
  [[ -n $P ]] && stop_pid "$P"
  root_sql "DROP DATABASE IF EXISTS $DB; DROP USER IF EXISTS '$UP_USER'@'127.0.0.1'" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
root_sql "DROP DATABASE IF EXISTS $DB; DROP USER IF EXISTS '$UP_USER'@'127.0.0.1';
          CREATE DATABASE $DB; CREATE USER '$UP_USER'@'127.0.0.1' IDENTIFIED BY '$UP_PW';
          GRANT ALL ON $DB.* TO '$UP_USER'@'127.0.0.1'"
SB=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-db=$DB --mysql-ssl=off --tables=2 --table-size=1000)
sysbench oltp_read_only "${SB[@]}" --mysql-port=3306 --mysql-user=$UP_USER --mysql-password="$UP_PW" prepare >/dev/null
WPORT=$(free_port); WEBPORT=$(free_port)
mapfile -t H < <(printf '%s\n' "$PW" | "$BIN" hash-password)
cat >"$W/warden.yaml" <<YAML
web: { listen: 127.0.0.1:$WEBPORT, public_url: http://127.0.0.1:$WEBPORT }
audit: { path: $W/audit, signing_key: $W/audit.key }
data_dir: $W/data
shutdown_grace: 2s
policies: [$ROOT/policies/mysql-production.yaml]
users:
  - { name: bench, roles: [developer], password_hash: "${H[0]}", mysql_native_password: "${H[2]}" }
targets:
  - { name: bench-db, protocol: mysql, listen: 127.0.0.1:$WPORT, upstream: 127.0.0.1:3306,
      upstream_user: $UP_USER, upstream_password_env: WARDEN_CG_UPSTREAM_PASSWORD,
      labels: { env: production } }
YAML
export WARDEN_CG_UPSTREAM_PASSWORD=$UP_PW
WARDEN_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$W/cg.%p" "$BIN" serve --config "$W/warden.yaml" >"$W/log" 2>&1 &
P=$!
for _ in $(seq 600); do (echo >"/dev/tcp/127.0.0.1/$WPORT") 2>/dev/null && break; sleep 0.5; done
RUN=(sysbench "$TEST" "${SB[@]}" --mysql-port="$WPORT" --mysql-user=bench --mysql-password="$PW" --threads="$T" --time=0)
"${RUN[@]}" --events=200 run >/dev/null
callgrind_control -z "$P" >/dev/null 2>&1
"${RUN[@]}" --events="$EV" run >"$W/sysbench.out"
callgrind_control -d "$P" >/dev/null 2>&1
N=$(sed -n 's/^ *transactions: *\([0-9]*\) *(.*/\1/p' "$W/sysbench.out")
echo "callgrind, $(basename "$BIN"), $TEST, $T threads, $N transactions ($(sed -n 's/^ *transactions: *[0-9]* *(\([0-9.]*\) per sec.*/\1/p' "$W/sysbench.out")/s under valgrind)"
python3 - "$(ls "$W"/cg.*.1)" "$N" <<'PY'
import collections, re, sys
path, n = sys.argv[1], int(sys.argv[2])
names, own, calls = {}, collections.Counter(), collections.Counter()
fn = cfn = None; call_line = False
def name(line, key):
    m = re.match(key + r'=\((\d+)\)(?: (.*))?', line)
    if m.group(2): names[m.group(1)] = m.group(2)
    return names.get(m.group(1), m.group(1))
for line in open(path, errors='replace'):
    line = line.rstrip('\n')
    if not line: continue
    if call_line:
        call_line = False
        parts = line.split()
        if len(parts) >= 2: calls[(fn, cfn)] += int(parts[1])
    elif line.startswith('fn='): fn = name(line, 'fn')
    elif line.startswith('cfn='): cfn = name(line, 'cfn')
    elif line.startswith('calls='): call_line = True
    elif line[0] in '0123456789+-*':
        parts = line.split()
        if len(parts) >= 2 and fn is not None: own[fn] += int(parts[1])
total = sum(own.values())
sha = sum(v for k, v in own.items() if k.startswith('sha2::'))
pump = 'Session<C,U>::pump::{{closure}}'
task = sum(v for k, v in own.items() if pump in k) + sum(v for (f, c), v in calls.items() if pump in f)
record = sum(v for (f, c), v in calls.items() if pump in f and 'Ticket::complete' in c)
print(f"Ir per transaction: {total/n:.0f} in all; {(total-sha)/n:.0f} without sha2; "
      f"session task {(task-record)/n:.0f} + audit record (Ticket::complete) {record/n:.0f}")
for f, c in own.most_common(20):
    print(f"  {c/n:9.0f} {100*c/total:5.1f}%  {f[:110]}")
PY
