#!/usr/bin/env bash
# sysbench through Warden vs direct, in one run, against the machine's MariaDB:
#   1. direct — 127.0.0.1:3306 as the bench account (created here);
#   2. warden — the real release binary, `warden serve --config <generated warden.yaml>`,
#               one mysql target (labels env=production) in front of 127.0.0.1:3306 that
#               logs in upstream as the same bench account, the shipped production pack
#               policies/mysql-production.yaml, a Warden user logging in with
#               mysql_native_password (verifier from `warden hash-password`), and the sled
#               audit log: every statement, and every COM_STMT_EXECUTE with its bound
#               values, decided and audited.
# For each test (oltp_point_select, oltp_read_only) and thread count (1, 8) it runs sysbench
# against both (prepared statements: sysbench's default --db-ps-mode=auto) and prints TPS,
# p95 latency and the ratio warden/direct. Finally it stops Warden and verifies the audit
# chain it wrote (`warden audit verify`).
#
# Usage: benches/mysql/run.sh
# Env:   DURATION=15 (seconds per run)  TABLES=4  TABLE_SIZE=10000
#        TESTS="oltp_point_select oltp_read_only"  THREADS="1 8"
#        WARDEN_BIN=path/to/warden   skip the build and use this binary
#                                    (default: `cargo build --release --bin warden`)
#        POLICIES=policies/mysql-production.yaml   policy file or folder for Warden
#        KEEP=1   keep the work directory (config, logs, sysbench output)
# Needs: MariaDB on 127.0.0.1:3306 (root, no password), the mariadb client, sysbench
#        (apt-get install sysbench), python3; cargo unless WARDEN_BIN is set. Only
#        loopback addresses are used.
set -euo pipefail

DURATION=${DURATION:-15}
TABLES=${TABLES:-4}
TABLE_SIZE=${TABLE_SIZE:-10000}
TESTS=${TESTS:-"oltp_point_select oltp_read_only"}
THREADS=${THREADS:-"1 8"}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
POLICIES=${POLICIES:-$ROOT/policies/mysql-production.yaml}
DB=warden_sbtest
UP_USER=warden_sb
UP_PW=sb-upstream-$$-$RANDOM
PW=bench-password-1   # the Warden user's password (only its verifier goes in the config)
PIDS=()

die() { echo "error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found — $2"; }
root_sql() { mariadb -h 127.0.0.1 -P 3306 -u root -N -B -e "$1"; }

need mariadb  "install the MariaDB client: apt-get install -y mariadb-client"
need sysbench "install it: apt-get install -y sysbench"
need python3  "install it: apt-get install -y python3"
[[ -n ${WARDEN_BIN:-} ]] || need cargo "install Rust, or set WARDEN_BIN to a built warden binary"
root_sql 'SELECT 1' >/dev/null 2>&1 || die "MariaDB does not answer on 127.0.0.1:3306 as root without a password"
[[ -e $POLICIES ]] || die "policy path $POLICIES does not exist"

WORK=$(mktemp -d /tmp/warden-sysbench.XXXXXX)
stop_pid() {
  local p=$1
  kill "$p" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  if [[ -n ${DB_CREATED:-} ]]; then
    root_sql "DROP DATABASE IF EXISTS $DB; DROP USER IF EXISTS '$UP_USER'@'127.0.0.1'" >/dev/null 2>&1 || true
  fi
  if [[ -n ${KEEP:-} ]]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { # port log
  for _ in $(seq 300); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "port $1 never opened; log:" >&2; tail -n 30 "$2" >&2; return 1
}

# --- the warden binary -------------------------------------------------------------------
if [[ -z ${WARDEN_BIN:-} ]]; then
  echo "building release warden (cargo build --release --bin warden)..." >&2
  (cd "$ROOT" && cargo build --release -q --bin warden)
  TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  WARDEN_BIN=$TARGET_DIR/release/warden
fi
[[ -x $WARDEN_BIN ]] || die "WARDEN_BIN=$WARDEN_BIN is not an executable"

# --- database and the bench account ------------------------------------------------------
echo "preparing $DB ($TABLES tables x $TABLE_SIZE rows)..." >&2
root_sql "DROP DATABASE IF EXISTS $DB; DROP USER IF EXISTS '$UP_USER'@'127.0.0.1';
          CREATE DATABASE $DB; CREATE USER '$UP_USER'@'127.0.0.1' IDENTIFIED BY '$UP_PW';
          GRANT ALL ON $DB.* TO '$UP_USER'@'127.0.0.1'"
DB_CREATED=1
SB_COMMON=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-db="$DB" --mysql-ssl=off
           --tables="$TABLES" --table-size="$TABLE_SIZE")
sysbench oltp_read_only "${SB_COMMON[@]}" --mysql-port=3306 --mysql-user="$UP_USER" \
  --mysql-password="$UP_PW" prepare >"$WORK/prepare.log" 2>&1 ||
  { cat "$WORK/prepare.log" >&2; die "sysbench prepare failed"; }

# --- Warden ------------------------------------------------------------------------------
WPORT=$(free_port); WEBPORT=$(free_port)
mkdir -p "$WORK/warden"
mapfile -t HASHES < <(printf '%s\n' "$PW" | "$WARDEN_BIN" hash-password)
[[ ${#HASHES[@]} -ge 3 && ${HASHES[2]} == '*'* ]] ||
  die "warden hash-password did not print a mysql_native_password verifier on its third line"
cat >"$WORK/warden/warden.yaml" <<YAML
# generated by benches/mysql/run.sh
web:
  listen: 127.0.0.1:$WEBPORT
  public_url: http://127.0.0.1:$WEBPORT
audit:
  path: $WORK/warden/audit
  signing_key: $WORK/warden/audit.key
data_dir: $WORK/warden/data
shutdown_grace: 2s
policies: [$POLICIES]
users:
  - name: bench
    roles: [developer]
    password_hash: "${HASHES[0]}"
    mysql_native_password: "${HASHES[2]}"
targets:
  - name: bench-db
    protocol: mysql
    listen: 127.0.0.1:$WPORT
    upstream: 127.0.0.1:3306
    upstream_user: $UP_USER
    upstream_password_env: WARDEN_SB_UPSTREAM_PASSWORD
    labels: { env: production }
YAML
export WARDEN_SB_UPSTREAM_PASSWORD=$UP_PW
"$WARDEN_BIN" check --config "$WORK/warden/warden.yaml" >"$WORK/warden/check.log" 2>&1 ||
  { cat "$WORK/warden/check.log" >&2; die "warden check rejected the generated config"; }
WARDEN_LOG=${WARDEN_LOG:-warn} "$WARDEN_BIN" serve --config "$WORK/warden/warden.yaml" >"$WORK/warden/warden.log" 2>&1 &
WARDEN_PID=$!; PIDS+=("$WARDEN_PID")
wait_port "$WPORT" "$WORK/warden/warden.log"
got=$(timeout 30 mariadb --skip-ssl -h 127.0.0.1 -P "$WPORT" -u bench -p"$PW" -N -B "$DB" -e 'SELECT COUNT(*) FROM sbtest1' 2>&1) ||
  { echo "$got" >&2; tail -n 30 "$WORK/warden/warden.log" >&2; die "cannot log in through Warden"; }
[[ $got == "$TABLE_SIZE" ]] || die "unexpected answer through Warden: $got"

# --- runs --------------------------------------------------------------------------------
run() { # name port user password test threads -> "tps p95_ms" ("- -" on failure)
  local name=$1 port=$2 user=$3 pw=$4 test=$5 t=$6 out rc=0
  out=$(timeout $((DURATION + 60)) sysbench "$test" "${SB_COMMON[@]}" --mysql-port="$port" \
        --mysql-user="$user" --mysql-password="$pw" --threads="$t" --time="$DURATION" \
        --percentile=95 --report-interval=0 run 2>&1) || rc=$?
  printf '%s\n' "$out" >"$WORK/$name.$test.t$t.out"
  local tps p95
  tps=$(sed -n 's/^ *transactions: *[0-9]* *(\([0-9.]*\) per sec.*/\1/p' <<<"$out" | tail -1)
  p95=$(sed -n 's/^ *95th percentile: *\([0-9.]*\).*/\1/p' <<<"$out" | tail -1)
  if [[ $rc != 0 || -z $tps ]]; then
    echo "$name $test threads=$t failed (rc=$rc):" >&2
    grep -iE 'error|fatal' <<<"$out" | head -5 >&2 || true
    echo "- -"; return
  fi
  echo "$tps ${p95:--}"
}

echo "each run: ${DURATION}s; nproc=$(nproc); load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
RESULTS=()
for test in $TESTS; do
  for t in $THREADS; do
    read -r d_tps d_p95 < <(run direct 3306 "$UP_USER" "$UP_PW" "$test" "$t")
    read -r w_tps w_p95 < <(run warden "$WPORT" bench "$PW" "$test" "$t")
    ratio=$(awk -v w="$w_tps" -v d="$d_tps" 'BEGIN{ if (d+0 > 0 && w+0 > 0) printf "%.2f", w/d; else print "-" }')
    RESULTS+=("$test $t $d_tps $d_p95 $w_tps $w_p95 $ratio")
    echo "  done: $test threads=$t" >&2
  done
done

echo
echo "sysbench through Warden vs direct (MariaDB $(root_sql 'SELECT VERSION()'), ${DURATION}s per run, $TABLES x $TABLE_SIZE rows, load after: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-18s %7s | %10s %9s | %10s %9s | %13s\n' test threads "direct TPS" "p95 ms" "warden TPS" "p95 ms" "warden/direct"
printf -- '-%.0s' $(seq 89); echo
for r in "${RESULTS[@]}"; do
  read -r test t d_tps d_p95 w_tps w_p95 ratio <<<"$r"
  printf '%-18s %7s | %10s %9s | %10s %9s | %13s\n' "$test" "$t" "$d_tps" "$d_p95" "$w_tps" "$w_p95" "$ratio"
done

# --- the audit chain Warden wrote ----------------------------------------------------------
stop_pid "$WARDEN_PID"
PIDS=()
if verify=$("$WARDEN_BIN" audit verify --path "$WORK/warden/audit" --key "$WORK/warden/audit.key.pub" 2>&1); then
  echo
  echo "audit log: verified, $(sed -n 's/^ok: \([0-9]*\) records.*/\1/p' <<<"$verify") records"
else
  echo "$verify" >&2; die "warden audit verify failed"
fi
