#!/usr/bin/env bash
# The floor under Warden's cost, in one run: relays that decide nothing, built on the
# stack Warden is built on, beside the peers issue 17 measures Warden against.
#   HTTP (wrk GET of a small JSON file, throughput -t$THREADS -c$CONNS and latency -t1 -c1):
#     direct       nginx serving the file (the upstream of the two proxies);
#     nginx-proxy  nginx as a reverse proxy, $WORKERS workers, keepalive upstream pool;
#     hyper-relay  src/bin/http_relay.rs: hyper's HTTP/1 server + hyper-util's pooled
#                  client (tokio, $WORKERS worker threads, mimalloc, TCP_NODELAY) — no
#                  guard, no inspection, no Gate, no audit;
#     hyper-relay-1t  the same on tokio's current-thread runtime (one thread, like pgbouncer);
#     hyper-relay-sh  $WORKERS current-thread runtimes, each with its own SO_REUSEPORT
#                  listener (a connection never changes thread, like nginx's workers).
#   PostgreSQL (pgbench -n -S -M <mode> at each client count, scale $SCALE):
#     direct       127.0.0.1:5432 (user postgres, trust auth);
#     pgbouncer    transaction pooling, pool $POOL;
#     tcp-relay    src/bin/tcp_relay.rs: one upstream connection per client and tokio's
#                  copy_bidirectional ($WORKERS worker threads) — reads no message;
#     tcp-relay-1t, tcp-relay-sh  the same on one current-thread runtime, and sharded.
# Prints rps/tps, p50/p99, the CPU µs and context switches per request of each proxy
# process (utime+stime and ctxt_switches from /proc: the cost, which other load on a
# shared machine hardly moves) and the ratios relay/peer. Warden's own rows come from
# benches/http/run.sh and benches/pg/run.sh (the same loads against the same peers):
# what Warden costs above these rows is its own work; what these rows cost above the
# peer is the stack's.
#
# Usage: benches/relay/run.sh
# Env:   WORKERS=2 (nginx proxy workers = tokio workers)  THREADS=2  CONNS=32
#        DURATION=8 (seconds per run)  CLIENTS="1 10"  MODES=simple  SCALE=10  POOL=10
#        ONLY=http|pg   one half only
#        FLAVORS="multi current sharded"   which runtimes the relays run on (src/lib.rs)
#        RELAY_DIR=dir  use the http_relay/tcp_relay binaries there (default: build them,
#                       `cargo build --release` of benches/relay into target/bench-relay)
#        KEEP=1         keep the work directory
# Needs: nginx, wrk, pgbench, pgbouncer, psql, python3; cargo unless RELAY_DIR is set.
# Only loopback addresses are used.
set -euo pipefail

WORKERS=${WORKERS:-2}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
DURATION=${DURATION:-8}; DURATION=${DURATION%s}
CLIENTS=${CLIENTS:-"1 10"}
MODES=${MODES:-simple}
SCALE=${SCALE:-10}
POOL=${POOL:-10}
ONLY=${ONLY:-}
FLAVORS=${FLAVORS:-"multi current sharded"}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
source "$ROOT/benches/lib.sh"
DB=warden_bench_relay
PIDS=()

[[ -z $ONLY || $ONLY == http || $ONLY == pg ]] || die "ONLY must be http or pg"
want() { [[ -z $ONLY || $ONLY == "$1" ]]; }
need python3 "install it: apt-get install -y python3"
if want http; then
  need nginx "install it: apt-get install -y nginx"
  need wrk "install it: apt-get install -y wrk"
  need curl "install it: apt-get install -y curl"
fi
if want pg; then
  need psql "install the PostgreSQL client: apt-get install -y postgresql-client"
  need pgbench "it ships with the PostgreSQL server package (Debian: apt-get install -y postgresql)"
  need pgbouncer "install it: apt-get install -y pgbouncer"
  psql -X -q -h 127.0.0.1 -p 5432 -U postgres -d postgres -w -c 'select 1' >/dev/null 2>&1 ||
    die "PostgreSQL does not answer on 127.0.0.1:5432 for user postgres without a password (trust auth needed)"
  if [[ $(id -u) == 0 ]]; then # pgbouncer refuses to run as root; it drops to this user itself
    BOUNCER_RUN_AS=${BOUNCER_RUN_AS:-postgres}
    id "$BOUNCER_RUN_AS" >/dev/null 2>&1 || die "running as root and there is no '$BOUNCER_RUN_AS' user for pgbouncer"
  fi
fi

WORK=$(mktemp -d /tmp/warden-relaybench.XXXXXX)
chmod 755 "$WORK" # pgbouncer runs as another user and must reach its own subfolder
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

# --- the relays ----------------------------------------------------------------------------
if [[ -z ${RELAY_DIR:-} ]]; then
  need cargo "install Rust, or set RELAY_DIR to a folder holding http_relay and tcp_relay"
  echo "building the relays (cargo build --release in benches/relay)..." >&2
  (cd "$ROOT/benches/relay" && cargo build --release -q --target-dir "$ROOT/target/bench-relay")
  RELAY_DIR=$ROOT/target/bench-relay/release
fi
for b in http_relay tcp_relay; do [[ -x $RELAY_DIR/$b ]] || die "$RELAY_DIR/$b is not an executable"; done

declare -A PORT PID
# relay_start BIN NAME FLAVOR UPSTREAM LOG: starts one relay on a free port (PORT[NAME], PID[NAME])
relay_start() {
  PORT[$2]=$(free_port)
  RELAY_RUNTIME=$3 TOKIO_WORKER_THREADS=$WORKERS "$RELAY_DIR/$1" "127.0.0.1:${PORT[$2]}" "$4" >"$5" 2>&1 &
  PID[$2]=$!; PIDS+=("$!")
  wait_port "${PORT[$2]}" "$5"
}
relay_name() { case $2 in multi) echo "$1" ;; current) echo "$1-1t" ;; sharded) echo "$1-sh" ;; *) die "FLAVORS: $2?" ;; esac; }
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))
ticks_of() { local p n=0; for p in "$@"; do n=$(( n + $(cpu_ticks "$p") )); done; echo "$n"; }
switches_of() { local p n=0; for p in "$@"; do n=$(( n + $(ctx_switches "$p") )); done; echo "$n"; }
per_req() { # ticks switches n -> "cpu_us/req cs/req"
  awk -v t="$1" -v s="$2" -v n="${3:-0}" -v us="$TICK_US" \
    'BEGIN { if (n > 0) printf "%.1f %.2f", t * us / n, s / n; else print "- -" }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "-" || b == "-" || b+0 == 0) print "-"; else printf "%.2f", a/b }'; }
added_us() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "-" || b == "-") print "-"; else printf "%+.0f", (a-b)*1000 }'; }

echo "# benches/relay/run.sh — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# --- HTTP -----------------------------------------------------------------------------------
if want http; then
  UP=$(free_port); NP=$(free_port)
  PORT[direct]=$UP PORT[nginx-proxy]=$NP
  mkdir -p "$WORK/www" "$WORK/up" "$WORK/px"
  python3 -c 'import json; print(json.dumps({"users":[{"id":i,"name":"user%d"%i} for i in range(20)]}))' >"$WORK/www/users.json"
  nginx_conf "$WORK/up" 2 "server { listen 127.0.0.1:$UP; location / { root $WORK/www; default_type application/json; } }"
  nginx_conf "$WORK/px" "$WORKERS" "upstream up { server 127.0.0.1:$UP; keepalive 64; }
    server { listen 127.0.0.1:$NP; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
  nginx -p "$WORK/up" -c "$WORK/up/nginx.conf" -g 'daemon off;' >"$WORK/up/stderr.log" 2>&1 & PIDS+=("$!")
  nginx -p "$WORK/px" -c "$WORK/px/nginx.conf" -g 'daemon off;' >"$WORK/px/stderr.log" 2>&1 &
  NGINX_PX_PID=$!; PIDS+=("$NGINX_PX_PID")
  wait_port "$UP" "$WORK/up/error.log"; wait_port "$NP" "$WORK/px/error.log"
  RELAYS=()
  for f in $FLAVORS; do
    RELAYS+=("$(relay_name hyper-relay "$f")")
    relay_start http_relay "${RELAYS[-1]}" "$f" "127.0.0.1:$UP" "$WORK/${RELAYS[-1]}.log"
  done
  for name in nginx-proxy "${RELAYS[@]}"; do
    cmp -s <(curl -s "http://127.0.0.1:${PORT[$name]}/users.json") "$WORK/www/users.json" ||
      die "$name does not serve the file"
  done
  http_pids() { case $1 in nginx-proxy) ps -o pid= --ppid "$NGINX_PX_PID" ;; direct) ;; *) echo "${PID[$1]}" ;; esac; }
  http_run() { # name port threads conns -> "rps p50 p99 errors cpu_us/req cs/req"
    local out="$WORK/$1.t$3.c$4.txt" pids t0=0 s0=0 n cost="- -"
    pids=$(http_pids "$1")
    # shellcheck disable=SC2086
    [[ -n $pids ]] && { t0=$(ticks_of $pids); s0=$(switches_of $pids); }
    wrk -t"$3" -c"$4" -d"$DURATION"s --latency "http://127.0.0.1:$2/users.json" >"$out"
    n=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$out")
    # shellcheck disable=SC2086
    [[ -n $pids ]] && cost=$(per_req $(( $(ticks_of $pids) - t0 )) $(( $(switches_of $pids) - s0 )) "$n")
    echo "$(wrk_stats "$out") $cost"
  }
  echo "# $(nginx -v 2>&1), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); GET /users.json ($(stat -c %s "$WORK/www/users.json") bytes);"
  echo "# upstream nginx 2 workers; nginx proxy $WORKERS workers, keepalive 64; relays: TOKIO_WORKER_THREADS=$WORKERS, RELAY_RUNTIME $FLAVORS"
  echo
  echo "HTTP throughput: wrk -t$THREADS -c$CONNS -d${DURATION}s --latency (after a 2 s warm-up each)"
  ROW='%-15s %9s %9s %9s %7s %10s %11s %8s\n'
  printf "$ROW" path rps p50_ms p99_ms errors vs_direct cpu_us/req cs/req
  declare -A RPS CPU CS P50_1
  for name in direct nginx-proxy "${RELAYS[@]}"; do
    port=${PORT[$name]}
    wrk -t"$THREADS" -c"$CONNS" -d2s "http://127.0.0.1:$port/users.json" >"$WORK/$name.warmup.txt"
    read -r rps p50 p99 err cpu cs < <(http_run "$name" "$port" "$THREADS" "$CONNS")
    RPS[$name]=$rps CPU[$name]=$cpu CS[$name]=$cs
    printf "$ROW" "$name" "$rps" "$p50" "$p99" "$err" "$(ratio "$rps" "${RPS[direct]}")" "$cpu" "$cs"
  done
  for name in "${RELAYS[@]}"; do
    echo "$name/nginx-proxy: rps $(ratio "${RPS[$name]}" "${RPS[nginx-proxy]}"), cpu_us/req $(ratio "${CPU[$name]}" "${CPU[nginx-proxy]}"), cs/req $(ratio "${CS[$name]}" "${CS[nginx-proxy]}")"
  done
  echo
  echo "HTTP latency: wrk -t1 -c1 -d${DURATION}s --latency"
  ROW1='%-15s %9s %9s %9s %7s %14s %11s %8s\n'
  printf "$ROW1" path rps p50_ms p99_ms errors p50_added_us cpu_us/req cs/req
  for name in direct nginx-proxy "${RELAYS[@]}"; do
    read -r rps p50 p99 err cpu cs < <(http_run "$name" "${PORT[$name]}" 1 1)
    P50_1[$name]=$p50
    printf "$ROW1" "$name" "$rps" "$p50" "$p99" "$err" "$(added_us "$p50" "${P50_1[direct]}")" "$cpu" "$cs"
  done
fi

# --- PostgreSQL -----------------------------------------------------------------------------
if want pg; then
  echo "preparing database $DB (pgbench -i, scale $SCALE)..." >&2
  PGOPTIONS="-c client_min_messages=warning" psql -X -q -h 127.0.0.1 -p 5432 -U postgres -d postgres \
    -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
  DB_CREATED=1
  pgbench -h 127.0.0.1 -p 5432 -U postgres -i -q -s "$SCALE" "$DB" >"$WORK/pgbench-init.log" 2>&1 ||
    { cat "$WORK/pgbench-init.log" >&2; die "pgbench -i failed"; }
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
  if [[ $(id -u) == 0 ]]; then chown -R "$BOUNCER_RUN_AS" "$B"; BOUNCER_USER=(-u "$BOUNCER_RUN_AS"); fi
  pgbouncer "${BOUNCER_USER[@]}" "$B/pgbouncer.ini" >"$WORK/pgbouncer.out" 2>&1 &
  BOUNCER_PID=$!; PIDS+=("$BOUNCER_PID")
  wait_port "$BPORT" "$WORK/pgbouncer.out"
  TCP_RELAYS=()
  for f in $FLAVORS; do
    TCP_RELAYS+=("$(relay_name tcp-relay "$f")")
    relay_start tcp_relay "${TCP_RELAYS[-1]}" "$f" 127.0.0.1:5432 "$WORK/${TCP_RELAYS[-1]}.log"
  done
  PORT[pgbouncer]=$BPORT
  for name in pgbouncer "${TCP_RELAYS[@]}"; do
    [[ $(timeout 30 psql -X -tA -h 127.0.0.1 -p "${PORT[$name]}" -U postgres -d "$DB" -c 'select 41+1' 2>&1) == 42 ]] ||
      die "no answer through $name"
  done
  pg_run() { # name port mode clients -> "tps p50_ms p99_ms cpu_us/tx cs/tx"
    local name=$1 port=$2 mode=$3 c=$4 pid= t0=0 s0=0 out n cost="- -" tps
    local prefix="$WORK/log.$name.$mode.c$c"
    case $name in direct) ;; pgbouncer) pid=$BOUNCER_PID ;; *) pid=${PID[$name]} ;; esac
    [[ -n $pid ]] && { t0=$(cpu_ticks "$pid"); s0=$(ctx_switches "$pid"); }
    out=$(timeout $((DURATION + 60)) pgbench -n -S -M "$mode" -c "$c" -j $(( c < 2 ? 1 : 2 )) -T "$DURATION" \
      -h 127.0.0.1 -p "$port" -U postgres --log --log-prefix="$prefix" "$DB" 2>&1) ||
      { echo "$name -M $mode -c $c failed: $(grep -m1 -iE 'error|fatal' <<<"$out")" >&2; echo "- - - - -"; return; }
    n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    [[ -n $pid ]] && cost=$(per_req $(( $(cpu_ticks "$pid") - t0 )) $(( $(ctx_switches "$pid") - s0 )) "$n")
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | tail -1)
    # per-transaction log: field 3 is the transaction's latency in microseconds
    cat "$prefix".[0-9]* | awk '{print $3}' | sort -n | awk -v tps="$tps" -v cost="$cost" '{ v[NR] = $1 } END {
      printf "%.0f %.3f %.3f %s\n", tps, v[int(NR*0.50)+1]/1000, v[int(NR*0.99)+1]/1000, cost }'
    rm -f "$prefix".[0-9]*
  }
  echo "warming up PostgreSQL (3 s select-only, direct)..." >&2
  pgbench -n -S -c 2 -j 2 -T 3 -h 127.0.0.1 -p 5432 -U postgres "$DB" >/dev/null 2>&1 || true
  echo
  echo "# $(pgbench --version), $(pgbouncer --version 2>/dev/null | head -1); pgbench -n -S -M <mode> -c <c> -T $DURATION, scale $SCALE;"
  echo "# pgbouncer pool_mode=transaction default_pool_size=$POOL; relays: TOKIO_WORKER_THREADS=$WORKERS, RELAY_RUNTIME $FLAVORS"
  PROW='%-13s %-9s %3s %9s %9s %9s %10s %7s\n'
  printf "$PROW" target mode c tps p50_ms p99_ms cpu_us/tx cs/tx
  SUMMARY=()
  for mode in $MODES; do
    for c in $CLIENTS; do
      read -r dtps dp50 dp99 _ _ < <(pg_run direct 5432 "$mode" "$c")
      printf "$PROW" direct "$mode" "$c" "$dtps" "$dp50" "$dp99" - -
      read -r btps bp50 bp99 bcpu bcs < <(pg_run pgbouncer "$BPORT" "$mode" "$c")
      printf "$PROW" pgbouncer "$mode" "$c" "$btps" "$bp50" "$bp99" "$bcpu" "$bcs"
      for name in "${TCP_RELAYS[@]}"; do
        read -r rtps rp50 rp99 rcpu rcs < <(pg_run "$name" "${PORT[$name]}" "$mode" "$c")
        printf "$PROW" "$name" "$mode" "$c" "$rtps" "$rp50" "$rp99" "$rcpu" "$rcs"
        SUMMARY+=("$(printf '%-12s %-9s %3s %7s %8s %8s %8s %8s %7s' "$name" "$mode" "$c" "$(ratio "$rtps" "$btps")" \
          "$(ratio "$rtps" "$dtps")" "$(ratio "$btps" "$dtps")" "$(added_us "$rp50" "$dp50")" "$(added_us "$bp50" "$dp50")" \
          "$(ratio "$rcpu" "$bcpu")")")
      done
    done
  done
  echo
  printf '%-12s %-9s %3s %7s %8s %8s %8s %8s %7s\n' relay mode c r/pgb r/direct b/direct r_p50+us b_p50+us r/b_cpu
  for line in "${SUMMARY[@]}"; do echo "$line"; done
  echo "(r = the relay, b = pgbouncer: tps ratios, p50 added over direct in µs, CPU per transaction ratio)"
fi
