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
#   3. relay — haproxy in TCP mode (2 threads) in front of 127.0.0.1:3306 when haproxy is
#               installed: a proxy that inspects, decides and audits nothing, so its ratio
#               to direct is what any extra process hop costs on this machine (the ceiling
#               for a gateway), and warden/relay is Warden's own cost beside that hop.
# For each test (oltp_point_select, oltp_read_only) and thread count (1, 8) it runs sysbench
# against each (prepared statements: sysbench's default --db-ps-mode=auto) and prints TPS,
# p95 latency and the ratio warden/direct, and the CPU time (utime + stime from
# /proc/PID/stat) and context switches (all threads' ctxt_switches) per transaction of the
# warden process and of mariadbd, measured before and after each run: a cost which the
# other load on a shared machine hardly moves, unlike TPS. Finally it stops Warden and
# verifies the audit chain it wrote (`warden audit verify`).
#
# Usage: benches/mysql/run.sh
# Env:   DURATION=15 (seconds per run)  TABLES=4  TABLE_SIZE=10000
#        TESTS="oltp_point_select oltp_read_only"  THREADS="1 8"
#        WARDEN_BIN=path/to/warden   skip the build and use this binary
#                                    (default: `cargo build --release --bin warden`)
#        POLICIES=policies/mysql-production.yaml   policy file or folder for Warden
#        RELAY=0  skip the haproxy relay (default: run it when `haproxy` is installed;
#                 apt-get install -y haproxy)
#        KEEP=1   keep the work directory (config, logs, sysbench output)
#        PERF=1   also `perf record -F 999 -g` Warden during each of its runs and print the
#                 top entries of each profile by thread and by symbol (self time);
#                 PERF_ARGS="--call-graph dwarf" for call chains (kept with KEEP=1)
#        THREAD_COSTS=1   also print the warden process's CPU µs and context switches per
#                 transaction by thread name (tokio-rt-worker, audit-writer, sled-io, ...)
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
# shellcheck source=../lib.sh
source "$ROOT/benches/lib.sh"
root_sql() { mariadb -h 127.0.0.1 -P 3306 -u root -N -B -e "$1"; }

need mariadb  "install the MariaDB client: apt-get install -y mariadb-client"
need sysbench "install it: apt-get install -y sysbench"
need python3  "install it: apt-get install -y python3"
[[ -n ${WARDEN_BIN:-} ]] || need cargo "install Rust, or set WARDEN_BIN to a built warden binary"
root_sql 'SELECT 1' >/dev/null 2>&1 || die "MariaDB does not answer on 127.0.0.1:3306 as root without a password"
[[ -e $POLICIES ]] || die "policy path $POLICIES does not exist"

MARIADB_PID=$(pgrep -x mariadbd || pgrep -x mysqld || true)
MARIADB_PID=${MARIADB_PID%%$'\n'*}
[[ -n $MARIADB_PID && -r /proc/$MARIADB_PID/stat ]] ||
  echo "note: no local mariadbd/mysqld process readable: its CPU per transaction is not shown" >&2

WORK=$(mktemp -d /tmp/warden-sysbench.XXXXXX)
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

# --- the relay (haproxy, TCP mode) ---------------------------------------------------------
RELAY_PID=
if [[ ${RELAY:-1} != 0 ]] && command -v haproxy >/dev/null 2>&1; then
  RPORT=$(free_port)
  cat >"$WORK/haproxy.cfg" <<CFG
global
  nbthread 2
  maxconn 2000
defaults
  mode tcp
  timeout connect 5s
  timeout client 5m
  timeout server 5m
listen mysql
  bind 127.0.0.1:$RPORT
  server db 127.0.0.1:3306
CFG
  haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
  RELAY_PID=$!; PIDS+=("$RELAY_PID")
  wait_port "$RPORT" "$WORK/haproxy.log"
elif [[ ${RELAY:-1} != 0 ]]; then
  echo "note: haproxy not installed (apt-get install -y haproxy): no relay column" >&2
fi

# --- runs --------------------------------------------------------------------------------
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))
cost_of() { # pid -> "ticks switches" ("- -" without a pid)
  if [[ -n $1 && -r /proc/$1/stat ]]; then echo "$(cpu_ticks "$1") $(ctx_switches "$1")"; else echo "- -"; fi
}
per_tx() { # before after transactions -> "cpu_us/tx cs/tx"
  local t0 s0 t1 s1
  read -r t0 s0 <<<"$1"; read -r t1 s1 <<<"$2"
  awk -v t0="$t0" -v t1="$t1" -v s0="$s0" -v s1="$s1" -v n="$3" -v us="$TICK_US" 'BEGIN {
    if (t0 == "-" || t1 == "-" || n + 0 == 0) print "- -"; else printf "%.1f %.2f", (t1 - t0) * us / n, (s1 - s0) / n }'
}
# name port user password test threads
#   -> "tps p95_ms proxy_cpu_us/tx proxy_cs/tx mariadb_cpu_us/tx mariadb_cs/tx" ("-" on failure;
#      proxy: the warden process in a warden run, haproxy in a relay run)
# pid -> "tid name ticks switches" per thread, names without their trailing digits
thread_costs() {
  for d in /proc/"$1"/task/*; do
    awk -v OFS=' ' '{ sub(/^.*\) /, ""); print $12 + $13 }' "$d/stat" 2>/dev/null | {
      read -r ticks || exit 0
      name=$(tr -d '0-9' <"$d/comm" | sed 's/-*$//; s/ /_/g')
      cs=$(awk '/ctxt_switches:/ { n += $2 } END { print n + 0 }' "$d/status" 2>/dev/null)
      echo "${d##*/} $name $ticks $cs"
    }
  done
}
run() {
  local name=$1 port=$2 user=$3 pw=$4 test=$5 t=$6 out rc=0 perf_pid=
  local w0 w1 m0 m1
  [[ -n ${THREAD_COSTS:-} && $name == warden ]] && thread_costs "$WARDEN_PID" >"$WORK/threads.$test.t$t.0"
  local proxy=
  case $name in warden) proxy=$WARDEN_PID ;; relay) proxy=$RELAY_PID ;; esac
  w0=$(cost_of "$proxy"); m0=$(cost_of "$MARIADB_PID")
  if [[ -n ${PERF:-} && $name == warden ]]; then
    # shellcheck disable=SC2086
    perf record -q -F 999 ${PERF_ARGS:--g} -p "$WARDEN_PID" -o "$WORK/perf.$test.t$t.data" -- sleep "$DURATION" \
      >/dev/null 2>&1 &
    perf_pid=$!
  fi
  out=$(timeout $((DURATION + 60)) sysbench "$test" "${SB_COMMON[@]}" --mysql-port="$port" \
        --mysql-user="$user" --mysql-password="$pw" --threads="$t" --time="$DURATION" \
        --percentile=95 --report-interval=0 run 2>&1) || rc=$?
  w1=$(cost_of "$proxy"); m1=$(cost_of "$MARIADB_PID")
  [[ -n ${THREAD_COSTS:-} && $name == warden ]] && thread_costs "$WARDEN_PID" >"$WORK/threads.$test.t$t.1"
  [[ -n $perf_pid ]] && { wait "$perf_pid" 2>/dev/null || true; }
  printf '%s\n' "$out" >"$WORK/$name.$test.t$t.out"
  local tps p95 n
  tps=$(sed -n 's/^ *transactions: *[0-9]* *(\([0-9.]*\) per sec.*/\1/p' <<<"$out" | tail -1)
  n=$(sed -n 's/^ *transactions: *\([0-9]*\) *(.*/\1/p' <<<"$out" | tail -1)
  p95=$(sed -n 's/^ *95th percentile: *\([0-9.]*\).*/\1/p' <<<"$out" | tail -1)
  if [[ $rc != 0 || -z $tps ]]; then
    echo "$name $test threads=$t failed (rc=$rc):" >&2
    grep -iE 'error|fatal' <<<"$out" | head -5 >&2 || true
    echo "- - - - - -"; return
  fi
  local wcost="- -"
  [[ -n $proxy ]] && wcost=$(per_tx "$w0" "$w1" "$n")
  echo "$tps ${p95:--} $wcost $(per_tx "$m0" "$m1" "$n")"
}

ratio_of() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a+0 > 0 && b+0 > 0) printf "%.2f", a/b; else print "-" }'; }

echo "warming up MariaDB (3 s oltp_point_select, direct)..." >&2
sysbench oltp_point_select "${SB_COMMON[@]}" --mysql-port=3306 --mysql-user="$UP_USER" \
  --mysql-password="$UP_PW" --threads=2 --time=3 run >/dev/null 2>&1 || true

echo "each run: ${DURATION}s; nproc=$(nproc); load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
RESULTS=()
COSTS=()
for test in $TESTS; do
  for t in $THREADS; do
    read -r d_tps d_p95 _ _ d_mcpu d_mcs < <(run direct 3306 "$UP_USER" "$UP_PW" "$test" "$t")
    read -r w_tps w_p95 w_cpu w_cs w_mcpu w_mcs < <(run warden "$WPORT" bench "$PW" "$test" "$t")
    r_tps=- r_p95=- r_cpu=- r_cs=-
    if [[ -n $RELAY_PID ]]; then
      read -r r_tps r_p95 r_cpu r_cs _ _ < <(run relay "$RPORT" "$UP_USER" "$UP_PW" "$test" "$t")
    fi
    ratio=$(ratio_of "$w_tps" "$d_tps")
    RESULTS+=("$test $t $d_tps $d_p95 $w_tps $w_p95 $ratio $r_tps $r_p95 $(ratio_of "$r_tps" "$d_tps") $(ratio_of "$w_tps" "$r_tps")")
    COSTS+=("$test $t $w_cpu $w_cs $d_mcpu $d_mcs $w_mcpu $w_mcs $r_cpu $r_cs")
    echo "  done: $test threads=$t" >&2
  done
done

echo
echo "# benches/mysql/run.sh — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r); $("$WARDEN_BIN" --version)"
echo "sysbench through Warden vs direct (MariaDB $(root_sql 'SELECT VERSION()'), ${DURATION}s per run, $TABLES x $TABLE_SIZE rows, load after: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-18s %7s | %10s %7s | %10s %7s | %13s | %10s %7s | %12s | %12s\n' test threads "direct TPS" "p95 ms" \
  "warden TPS" "p95 ms" "warden/direct" "relay TPS" "p95 ms" "relay/direct" "warden/relay"
printf -- '-%.0s' $(seq 139); echo
for r in "${RESULTS[@]}"; do
  read -r test t d_tps d_p95 w_tps w_p95 ratio r_tps r_p95 r_ratio wr <<<"$r"
  printf '%-18s %7s | %10s %7s | %10s %7s | %13s | %10s %7s | %12s | %12s\n' "$test" "$t" "$d_tps" "$d_p95" \
    "$w_tps" "$w_p95" "$ratio" "$r_tps" "$r_p95" "$r_ratio" "$wr"
done
[[ -n $RELAY_PID ]] && echo "(relay: haproxy $(haproxy -v 2>/dev/null | sed -n '1s/^HAProxy version \([^ ]*\).*/\1/p'), TCP mode, nbthread 2: the cost of one extra process hop, nothing decided)"
echo
printf '%-18s %7s | %10s %9s | %10s %9s | %10s %9s | %10s %9s\n' test threads "warden µs" "warden cs" \
  "mdb µs dir" "mdb cs dir" "mdb µs w" "mdb cs w" "relay µs" "relay cs"
printf -- '-%.0s' $(seq 117); echo
for r in "${COSTS[@]}"; do
  read -r test t a b c d e f g h <<<"$r"
  printf '%-18s %7s | %10s %9s | %10s %9s | %10s %9s | %10s %9s\n' "$test" "$t" "$a" "$b" "$c" "$d" "$e" "$f" "$g" "$h"
done
echo "(CPU µs and context switches per transaction: of the warden process in the warden run; of mariadbd"
echo " in the direct run (dir) and in the warden run (w); of haproxy in the relay run. oltp_point_select: 1 statement per transaction;"
echo " oltp_read_only: 16 (BEGIN, 10 point selects, 4 range selects, COMMIT))"

if [[ -n ${THREAD_COSTS:-} ]]; then
  for f in "$WORK"/threads.*.0; do
    [[ -e $f ]] || continue
    base=${f%.0}; tag=${base##*/threads.}
    n=$(sed -n 's/^ *transactions: *\([0-9]*\) *(.*/\1/p' "$WORK/warden.$tag.out" | tail -1)
    echo
    echo "warden threads, $tag: CPU µs and context switches per transaction, by thread name (threads)"
    # threads alive at both ends (by thread id), summed by name
    awk -v n="${n:-0}" -v us="$TICK_US" 'FNR == NR { t0[$1] = $3; s0[$1] = $4; next }
      { if (!($1 in t0)) next; k = $2; cnt[k]++; t[k] += $3 - t0[$1]; s[k] += $4 - s0[$1] }
      END { if (n == 0) exit; for (k in t) printf "  %-18s %3d %9.1f %7.2f\n", k, cnt[k], t[k] * us / n, s[k] / n }' \
      "$f" "$base.1" | sort -k3 -nr
  done
fi

if [[ -n ${PERF:-} ]]; then
  for f in "$WORK"/perf.*.data; do
    [[ -e $f ]] || continue
    echo
    echo "perf, warden process, $(basename "$f" .data): by thread, then top symbols (self time)"
    perf_top "$f" comm 8 200
    perf_top "$f" dso,symbol 25 120
  done
fi

# --- the audit chain Warden wrote ----------------------------------------------------------
stop_pid "$WARDEN_PID"
[[ -n $RELAY_PID ]] && stop_pid "$RELAY_PID"
PIDS=()
if verify=$("$WARDEN_BIN" audit verify --path "$WORK/warden/audit" --key "$WORK/warden/audit.key.pub" 2>&1); then
  echo
  echo "audit log: verified, $(sed -n 's/^ok: \([0-9]*\) records.*/\1/p' <<<"$verify") records"
else
  echo "$verify" >&2; die "warden audit verify failed"
fi
