#!/usr/bin/env bash
# Side-by-side pgbench in one run, against the machine's PostgreSQL:
#   1. direct     — 127.0.0.1:5432 (user postgres, trust auth);
#   2. pgbouncer  — transaction pooling, pool of $POOL server connections, started here on a
#                   free port with a generated ini (auth_type trust);
#   3. warden     — the real release binary, `warden serve --config <generated warden.yaml>`,
#                   one postgres target (labels env=production) in front of 127.0.0.1:5432,
#                   the shipped production pack policies/postgres-production.yaml, a user
#                   logging in with SCRAM (verifier from `warden hash-password`), and the
#                   sled audit log (every statement decided and audited).
# For every protocol mode (simple, prepared, extended) and client count (1, 10) it runs
# `pgbench -n -S` against the three, then prints TPS, p50/p99 latency (computed from
# pgbench's per-transaction --log files), the ratios warden/pgbouncer and warden/direct,
# the p50 Warden adds over direct, the CPU time and context switches per transaction of
# the warden and pgbouncer processes (their ratio is the cost ratio, which other load on a
# shared machine hardly moves, unlike tps), and the RSS of the warden process (VmRSS from
# /proc/PID/status) before and after the runs plus its peak (VmHWM). Finally it stops Warden
# and verifies the audit chain it wrote (`warden audit verify`): records per transaction.
#
# Usage: benches/pg/run.sh
# Env:   DURATION=8 (seconds per run)  SCALE=10  POOL=10 (pgbouncer default_pool_size)
#        MODES="simple prepared extended"  CLIENTS="1 10"
#        WARDEN_BIN=path/to/warden   skip the build and use this binary
#                                    (default: `cargo build --release -p warden`, honouring
#                                    CARGO_TARGET_DIR)
#        POLICIES=policies/postgres-production.yaml   policy file or folder for Warden
#        KEEP=1   keep the work directory (configs, logs, pgbench logs) instead of deleting it
#        PERF=1   also `perf record` Warden during each of its runs and print the top entries
#                 of each profile (needs linux-perf; software cpu-clock events suffice)
# Needs: PostgreSQL on 127.0.0.1:5432 (user postgres, trust), psql, pgbench, pgbouncer,
#        python3; cargo unless WARDEN_BIN is set. Only loopback addresses are used.
set -euo pipefail

DURATION=${DURATION:-8}
SCALE=${SCALE:-10}
POOL=${POOL:-10}
MODES=${MODES:-"simple prepared extended"}
CLIENTS=${CLIENTS:-"1 10"}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
POLICIES=${POLICIES:-$ROOT/policies/postgres-production.yaml}
DB=warden_bench
PW=bench-password-1          # the Warden user's password (only its hashes go in the config)
PIDS=()

die() { echo "error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found — $2"; }

# --- prerequisites ---------------------------------------------------------------------
need psql      "install the PostgreSQL client: apt-get install -y postgresql-client"
need pgbench   "it ships with the PostgreSQL server package (Debian: apt-get install -y postgresql)"
need pgbouncer "install it: apt-get install -y pgbouncer"
need python3   "install it: apt-get install -y python3"
need timeout   "install coreutils"
[[ -n ${WARDEN_BIN:-} ]] || need cargo "install Rust, or set WARDEN_BIN to a built warden binary"
if [[ $(id -u) == 0 ]]; then
  # pgbouncer refuses to run as root; it drops to this user itself (`pgbouncer -u`).
  BOUNCER_RUN_AS=${BOUNCER_RUN_AS:-postgres}
  id "$BOUNCER_RUN_AS" >/dev/null 2>&1 || die "running as root and there is no '$BOUNCER_RUN_AS' user for pgbouncer (set BOUNCER_RUN_AS)"
fi
psql -X -q -h 127.0.0.1 -p 5432 -U postgres -d postgres -w -c 'select 1' >/dev/null 2>&1 ||
  die "PostgreSQL does not answer on 127.0.0.1:5432 for user postgres without a password (trust auth needed)"
[[ -e $POLICIES ]] || die "policy path $POLICIES does not exist"

# --- work directory and cleanup ----------------------------------------------------------
WORK=$(mktemp -d /tmp/warden-pgbench.XXXXXX)
chmod 755 "$WORK"   # pgbouncer runs as another user and must reach its own subfolder

stop_pid() { # pid: TERM, wait up to 5 s, then KILL
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
    psql -X -q -h 127.0.0.1 -p 5432 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
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
rss_kb() { awk '/^'"$2"':/{print $2}' "/proc/$1/status"; }   # pid VmRSS|VmHWM -> kB
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }

# --- the warden binary -----------------------------------------------------------------
if [[ -z ${WARDEN_BIN:-} ]]; then
  echo "building release warden (cargo build --release -p warden)..." >&2
  (cd "$ROOT" && cargo build --release -q -p warden)
  TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  WARDEN_BIN=$TARGET_DIR/release/warden
fi
[[ -x $WARDEN_BIN ]] || die "WARDEN_BIN=$WARDEN_BIN is not an executable"

# --- database ----------------------------------------------------------------------------
echo "preparing database $DB (pgbench -i, scale $SCALE)..." >&2
PGOPTIONS="-c client_min_messages=warning" psql -X -q -h 127.0.0.1 -p 5432 -U postgres -d postgres \
  -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
DB_CREATED=1
pgbench -h 127.0.0.1 -p 5432 -U postgres -i -q -s "$SCALE" "$DB" >"$WORK/pgbench-init.log" 2>&1 ||
  { cat "$WORK/pgbench-init.log" >&2; die "pgbench -i failed"; }

# --- Warden ----------------------------------------------------------------------------
WPORT=$(free_port); WEBPORT=$(free_port)
mkdir -p "$WORK/warden"
mapfile -t HASHES < <(printf '%s\n' "$PW" | "$WARDEN_BIN" hash-password)
[[ ${#HASHES[@]} -ge 2 && ${HASHES[0]} == '$argon2id$'* && ${HASHES[1]} == SCRAM-SHA-256* ]] ||
  die "warden hash-password did not print an argon2id hash and a SCRAM verifier"
cat >"$WORK/warden/warden.yaml" <<YAML
# generated by benches/pg/run.sh
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
    scram_sha256: "${HASHES[1]}"
targets:
  - name: bench-db
    protocol: postgres
    listen: 127.0.0.1:$WPORT
    upstream: 127.0.0.1:5432
    upstream_user: postgres
    labels: { env: production }
YAML
"$WARDEN_BIN" check --config "$WORK/warden/warden.yaml" >"$WORK/warden/check.log" 2>&1 ||
  { cat "$WORK/warden/check.log" >&2; die "warden check rejected the generated config"; }
WARDEN_LOG=${WARDEN_LOG:-warn} "$WARDEN_BIN" serve --config "$WORK/warden/warden.yaml" >"$WORK/warden/warden.log" 2>&1 &
WARDEN_PID=$!; PIDS+=("$WARDEN_PID")
wait_port "$WPORT" "$WORK/warden/warden.log"
got=$(PGPASSWORD=$PW timeout 30 psql -X -tA -h 127.0.0.1 -p "$WPORT" -U bench -d "$DB" -c 'select 1' 2>&1) ||
  { echo "$got" >&2; tail -n 30 "$WORK/warden/warden.log" >&2; die "cannot log in through Warden"; }

# --- pgbouncer -------------------------------------------------------------------------
BPORT=$(free_port)
B=$WORK/pgbouncer
mkdir -p "$B"
echo '"postgres" ""' >"$B/userlist.txt"
cat >"$B/pgbouncer.ini" <<INI
[databases]
$DB = host=127.0.0.1 port=5432 user=postgres dbname=$DB
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BPORT
unix_socket_dir =
auth_type = trust
auth_file = $B/userlist.txt
pool_mode = transaction
default_pool_size = $POOL
max_client_conn = 200
logfile = $B/pgbouncer.log
pidfile = $B/pgbouncer.pid
INI
BOUNCER_USER=()
if [[ $(id -u) == 0 ]]; then
  chown -R "$BOUNCER_RUN_AS" "$B"
  BOUNCER_USER=(-u "$BOUNCER_RUN_AS")
fi
pgbouncer "${BOUNCER_USER[@]}" "$B/pgbouncer.ini" >"$WORK/pgbouncer.out" 2>&1 &
BOUNCER_PID=$!; PIDS+=("$BOUNCER_PID")
wait_port "$BPORT" "$WORK/pgbouncer.out"
got=$(timeout 30 psql -X -tA -h 127.0.0.1 -p "$BPORT" -U postgres -d "$DB" -c 'select 1' 2>&1) ||
  { echo "$got" >&2; die "cannot connect through pgbouncer"; }

# --- runs ------------------------------------------------------------------------------
mkdir -p "$WORK/log"
# CPU time (user + system, all threads, clock ticks) and context switches (voluntary +
# involuntary, summed over live threads) of a process: what it costs per transaction,
# a measure the other load on a shared machine hardly moves (unlike tps).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ctx_switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches:/ { n += $2 } END { print n + 0 }'; }
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))
run() { # name port user password mode clients -> "tps p50_ms p99_ms cpu_us/tx cs/tx" ("-" on failure)
  local name=$1 port=$2 user=$3 pw=$4 mode=$5 c=$6
  local prefix="$WORK/log/$name.$mode.c$c"
  local jobs=$(( c < 2 ? 1 : 2 ))
  local out rc=0 perf_pid= pid= t0=0 s0=0
  case $name in warden) pid=$WARDEN_PID ;; pgbouncer) pid=$BOUNCER_PID ;; esac
  [[ -n $pid ]] && { t0=$(cpu_ticks "$pid"); s0=$(ctx_switches "$pid"); }
  if [[ -n ${PERF:-} && $name == warden ]]; then
    perf record -q -F 999 -g -p "$WARDEN_PID" -o "$WORK/perf.$mode.c$c.data" -- sleep "$DURATION" \
      >/dev/null 2>&1 &
    perf_pid=$!
  fi
  out=$(PGPASSWORD=$pw timeout $((DURATION + 60)) pgbench -n -S -M "$mode" -c "$c" -j "$jobs" -T "$DURATION" \
        -h 127.0.0.1 -p "$port" -U "$user" --log --log-prefix="$prefix" "$DB" 2>&1) || rc=$?
  printf '%s\n' "$out" >"$prefix.out"
  [[ -n $perf_pid ]] && wait "$perf_pid" 2>/dev/null
  local cost="- -"
  if [[ -n $pid ]]; then
    local t1 s1 n
    t1=$(cpu_ticks "$pid"); s1=$(ctx_switches "$pid")
    n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    cost=$(awk -v t=$((t1 - t0)) -v s=$((s1 - s0)) -v n="${n:-0}" -v us="$TICK_US" \
      'BEGIN { if (n > 0) printf "%.1f %.2f", t * us / n, s / n; else print "- -" }')
  fi
  local tps
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | tail -1)
  if [[ $rc != 0 || -z $tps ]] || grep -q 'aborted' <<<"$out"; then
    local why
    why=$(grep -m1 -iE 'error|aborted|fatal' <<<"$out" || true)
    [[ $rc == 124 ]] && why="timed out after $((DURATION + 60)) s (a statement held by policy?)"
    # pgbouncer before 1.21 (max_prepared_statements) cannot keep protocol-level prepared
    # statements in transaction pooling: with more clients than luck, a client's P_0 lands
    # on a server connection where another client already prepared it, or not at all.
    [[ $name == pgbouncer && $mode == prepared ]] &&
      why="$why [pgbouncer transaction pooling does not track protocol-level prepared statements before 1.21]"
    rm -f "$prefix".[0-9]*
    echo "$name -M $mode -c $c failed (exit $rc): ${why:-see $prefix.out}" >&2
    echo "$name -M $mode -c $c: ${why:-exit $rc}" >>"$WORK/failures"
    echo "- - - - -"; return
  fi
  # per-transaction log: field 3 is the transaction's latency in microseconds
  cat "$prefix".[0-9]* | awk '{print $3}' | sort -n >"$prefix.sorted"
  awk -v tps="$tps" -v cost="$cost" '{ v[NR] = $1 } END {
      if (NR == 0) { print tps, "-", "-", cost; exit }
      printf "%.0f %.3f %.3f %s\n", tps, v[int(NR*0.50)+1]/1000, v[int(NR*0.99)+1]/1000, cost }' "$prefix.sorted"
  rm -f "$prefix".[0-9]* "$prefix.sorted"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "-" || b == "-" || b+0 == 0) print "-"; else printf "%.2f", a/b }'; }
delta_us() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "-" || b == "-") print "-"; else printf "%+.0f", (a-b)*1000 }'; }

echo "warming up PostgreSQL (3 s select-only, direct)..." >&2
pgbench -n -S -c 2 -j 2 -T 3 -h 127.0.0.1 -p 5432 -U postgres "$DB" >/dev/null 2>&1 || true

RSS_BEFORE=$(rss_kb "$WARDEN_PID" VmRSS)
echo "# benches/pg/run.sh — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(pgbench --version), $(pgbouncer --version 2>/dev/null | head -1), $("$WARDEN_BIN" --version)"
echo "# pgbench -n -S -M <mode> -c <c> -j <1|2> -T $DURATION, scale $SCALE; pgbouncer pool_mode=transaction default_pool_size=$POOL;"
echo "# warden: target labels env=production, policies $(basename "$POLICIES"), SCRAM login, sled audit log"
echo
ROW='%-10s %-9s %3s %9s %9s %9s %10s %7s\n'
printf "$ROW" target mode c tps p50_ms p99_ms cpu_us/tx cs/tx
SUMMARY=()
COST=()
for mode in $MODES; do
  for c in $CLIENTS; do
    read -r dtps dp50 dp99 _ _ < <(run direct 5432 postgres "" "$mode" "$c")
    printf "$ROW" direct "$mode" "$c" "$dtps" "$dp50" "$dp99" - -
    read -r btps bp50 bp99 bcpu bcs < <(run pgbouncer "$BPORT" postgres "" "$mode" "$c")
    printf "$ROW" pgbouncer "$mode" "$c" "$btps" "$bp50" "$bp99" "$bcpu" "$bcs"
    read -r wtps wp50 wp99 wcpu wcs < <(run warden "$WPORT" bench "$PW" "$mode" "$c")
    printf "$ROW" warden "$mode" "$c" "$wtps" "$wp50" "$wp99" "$wcpu" "$wcs"
    SUMMARY+=("$(printf '%-9s %3s %9s %9s %9s %9s %9s %11s %11s' "$mode" "$c" "$dtps" "$btps" "$wtps" \
      "$(ratio "$wtps" "$btps")" "$(ratio "$wtps" "$dtps")" "$(delta_us "$wp50" "$dp50")" "$(delta_us "$bp50" "$dp50")")")
    COST+=("$(printf '%-9s %3s %11s %11s %9s %9s %9s' "$mode" "$c" "$wcpu" "$bcpu" "$(ratio "$wcpu" "$bcpu")" "$wcs" "$bcs")")
  done
done
RSS_AFTER=$(rss_kb "$WARDEN_PID" VmRSS)
RSS_PEAK=$(rss_kb "$WARDEN_PID" VmHWM)

echo
printf '%-9s %3s %9s %9s %9s %9s %9s %11s %11s\n' mode c direct pgbouncer warden w/pgb w/direct w_p50+us b_p50+us
for line in "${SUMMARY[@]}"; do echo "$line"; done
echo "(tps; w/pgb, w/direct: warden tps ratios; w_p50+us, b_p50+us: p50 added over direct by warden / pgbouncer, µs)"
echo
printf '%-9s %3s %11s %11s %9s %9s %9s\n' mode c w_cpu_us b_cpu_us w/b_cpu w_cs b_cs
for line in "${COST[@]}"; do echo "$line"; done
echo "(CPU µs and context switches per transaction of the warden / pgbouncer process; w/b_cpu: warden's CPU per"
echo " transaction over pgbouncer's — the cost ratio, which other load on the machine hardly moves)"
echo
echo "warden RSS: before $(mib "$RSS_BEFORE") MiB, after $(mib "$RSS_AFTER") MiB, peak (VmHWM) $(mib "$RSS_PEAK") MiB"
if [[ -s $WORK/failures ]]; then
  echo
  echo "failed runs ('-' above):"
  sed 's/^/  /' "$WORK/failures"
fi

if [[ -n ${PERF:-} ]]; then
  for f in "$WORK"/perf.*.data; do
    [[ -e $f ]] || continue
    echo
    echo "perf top entries (self time, warden process): $(basename "$f" .data)"
    perf report -i "$f" --no-children --sort symbol --stdio -g none 2>/dev/null |
      grep -E '^ +[0-9]' | head -n 25 | cut -c1-110 | sed 's/^/  /' || true
  done
fi

# Stop Warden (sled locks the store) and verify the audit chain it wrote during the runs.
stop_pid "$WARDEN_PID"
echo
W_TX=$(cat "$WORK"/log/warden.*.out | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' |
  awk '{ n += $1 } END { print n + 0 }')
if VERIFY=$("$WARDEN_BIN" audit verify --path "$WORK/warden/audit" --key "$WORK/warden/audit.key.pub" 2>&1); then
  RECORDS=$(sed -n 's/^ok: \([0-9]*\) records.*/\1/p' <<<"$VERIFY")
  echo "audit log: verified (chain + signed checkpoints), $RECORDS records for $W_TX pgbench transactions through Warden" \
       "($(awk -v r="$RECORDS" -v t="$W_TX" 'BEGIN{ if (t > 0) printf "%.2f", r/t; else print "-" }') per transaction)"
else
  echo "audit log: VERIFY FAILED: $VERIFY"
fi
if grep -qiE 'error|panic' "$WORK/warden/warden.log"; then
  echo
  echo "warden log (errors):"
  grep -iE 'error|panic' "$WORK/warden/warden.log" | head -n 10 | sed 's/^/  /'
fi
