#!/usr/bin/env bash
# Side-by-side pgbench: the machine's PostgreSQL direct, through Warden (release build,
# one postgres target, SCRAM login, a small policy, sled audit log), and through
# pgbouncer (session pooling), in one run. Prints TPS, the ratio to direct, and p50/p99
# latency computed from pgbench's per-transaction logs.
#
# Usage: benches/pg/run.sh            (DURATION=10 SCALE=10 by default)
#        WARDEN=serve benches/pg/run.sh   use the full `warden serve` instead of the
#        stand-alone gateway example (crates/proxy/examples/pg_bench_proxy.rs: same Gate,
#        policy engine, sled audit log and postgres front-end, nothing else).
# Needs: PostgreSQL on 127.0.0.1:5432 (user postgres, trust), pgbench, pgbouncer.
set -euo pipefail

DURATION=${DURATION:-10}
SCALE=${SCALE:-10}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/warden-pgbench.XXXXXX)
DB=warden_bench
PW=bench-password-1
export PGHOST=127.0.0.1 PGUSER=postgres

cleanup() {
  [[ -n "${WARDEN_PID:-}" ]] && kill "$WARDEN_PID" 2>/dev/null || true
  [[ -n "${BOUNCER_PID:-}" ]] && kill "$BOUNCER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port [log]
  for _ in $(seq 600); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "port $1 never opened" >&2; [[ -n "${2:-}" ]] && cat "$2" >&2; return 1
}

MODE=${WARDEN:-example}
if [[ $MODE == serve ]]; then
  echo "building release warden..." >&2
  (cd "$ROOT" && cargo build --release -q --bin warden)
else
  echo "building release pg_bench_proxy example..." >&2
  (cd "$ROOT" && cargo build --release -q -p warden-proxy --example pg_bench_proxy)
fi

echo "preparing $DB (scale $SCALE)..." >&2
psql -X -q -p 5432 -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
pgbench -p 5432 -i -q -s "$SCALE" "$DB" >/dev/null 2>&1

# --- Warden ----------------------------------------------------------------------------
WPORT=$(free_port); WEBPORT=$(free_port)
mkdir -p "$WORK/policies"
# pgbench's start-up catalog queries call functions outside the inspector's pure list
# (opaque: held by default); a benchmark has nobody to approve them, so allow opaque.
cat >"$WORK/policies/bench.yaml" <<'YAML'
version: 1
defaults: { unparsed: deny, opaque: allow }
rules:
  - name: no-drop-or-truncate
    when: { protocol: postgres, sql: { statements: [drop, truncate] } }
    action: deny
    message: DROP and TRUNCATE are blocked
YAML
if [[ $MODE == serve ]]; then
  WARDEN_BIN="$ROOT/target/release/warden"
  mapfile -t HASHES < <(printf '%s' "$PW" | "$WARDEN_BIN" hash-password)
  cat >"$WORK/warden.yaml" <<YAML
web:
  listen: 127.0.0.1:$WEBPORT
  public_url: http://127.0.0.1:$WEBPORT
audit:
  path: $WORK/audit
  signing_key: $WORK/audit.key
policies: [$WORK/policies]
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
    labels: { env: bench }
YAML
  RUST_LOG=warn "$WARDEN_BIN" serve --config "$WORK/warden.yaml" >"$WORK/warden.log" 2>&1 &
else
  BENCH_PASSWORD=$PW "$ROOT/target/release/examples/pg_bench_proxy" "127.0.0.1:$WPORT" 127.0.0.1:5432 \
    "$WORK" "$WORK/policies/bench.yaml" >"$WORK/warden.log" 2>&1 &
fi
WARDEN_PID=$!
wait_port "$WPORT" "$WORK/warden.log"

# --- pgbouncer -------------------------------------------------------------------------
BPORT=$(free_port)
echo '"postgres" ""' >"$WORK/userlist.txt"
cat >"$WORK/pgbouncer.ini" <<INI
[databases]
$DB = host=127.0.0.1 port=5432 user=postgres dbname=$DB
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BPORT
unix_socket_dir =
auth_type = trust
auth_file = $WORK/userlist.txt
pool_mode = session
max_client_conn = 200
default_pool_size = 20
logfile = $WORK/pgbouncer.log
pidfile = $WORK/pgbouncer.pid
INI
# pgbouncer refuses to run as root: drop to the postgres user when we are root.
BOUNCER_USER=()
if [[ $(id -u) == 0 ]]; then
  chmod 755 "$WORK"; touch "$WORK/pgbouncer.log"; chown postgres "$WORK/pgbouncer.log"
  chmod 644 "$WORK/pgbouncer.ini" "$WORK/userlist.txt"; chmod 777 "$WORK"
  BOUNCER_USER=(-u postgres)
fi
pgbouncer "${BOUNCER_USER[@]}" "$WORK/pgbouncer.ini" >/dev/null 2>&1 &
BOUNCER_PID=$!
wait_port "$BPORT" "$WORK/pgbouncer.log"

# --- runs ------------------------------------------------------------------------------
run() { # name port user password mode clients
  local name=$1 port=$2 user=$3 pw=$4 mode=$5 c=$6
  local prefix="$WORK/log.$name.$mode.$c"
  local jobs=$(( c < 2 ? 1 : 2 ))
  local out
  out=$(PGPASSWORD=$pw pgbench -n -S -M "$mode" -c "$c" -j "$jobs" -T "$DURATION" -h 127.0.0.1 -p "$port" -U "$user" \
        --log --log-prefix="$prefix" "$DB" 2>&1) || { echo "$name $mode c=$c failed: $out" >&2; echo "0 0 0"; return; }
  local tps
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | tail -1)
  # per-transaction log: field 3 is the latency in microseconds
  cat "$prefix".* | awk '{print $3}' | sort -n >"$prefix.sorted"
  local n p50 p99
  n=$(wc -l <"$prefix.sorted")
  p50=$(awk -v n="$n" 'NR==int(n*0.50)+1{printf "%.3f", $1/1000; exit}' "$prefix.sorted")
  p99=$(awk -v n="$n" 'NR==int(n*0.99)+1{printf "%.3f", $1/1000; exit}' "$prefix.sorted")
  echo "$tps $p50 $p99"
}

printf '%-10s %-9s %3s %11s %8s %9s %9s\n' target mode c tps ratio p50_ms p99_ms
for mode in simple prepared; do
  for c in 1 10; do
    read -r dtps dp50 dp99 < <(run direct 5432 postgres "" "$mode" "$c")
    printf '%-10s %-9s %3s %11.0f %8s %9s %9s\n' direct "$mode" "$c" "$dtps" "1.00" "$dp50" "$dp99"
    for target in warden pgbouncer; do
      if [[ $target == warden ]]; then port=$WPORT user=bench pw=$PW; else port=$BPORT user=postgres pw=""; fi
      read -r tps p50 p99 < <(run "$target" "$port" "$user" "$pw" "$mode" "$c")
      ratio=$(awk -v a="$tps" -v b="$dtps" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a" }')
      printf '%-10s %-9s %3s %11.0f %8s %9s %9s\n' "$target" "$mode" "$c" "$tps" "$ratio" "$p50" "$p99"
    done
  done
done
psql -X -q -p 5432 -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
