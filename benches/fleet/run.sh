#!/usr/bin/env bash
# Fleet-mode throughput in one run, against the machine's PostgreSQL and a local nginx:
#   1. embedded   — one `warden serve` without `fleet:` (approvals and audit in sled only);
#   2. fleet ×1   — one replica with `fleet:` (approvals in PostgreSQL, its audit shipped
#                   every `ship_every` and anchored every `anchor_every`);
#   3. fleet ×2   — two replicas of the same fleet, the same total load split over both
#                   (as a load balancer would), run at the same time and summed.
# Each runs the same two loads: HTTP (`wrk`, GET of a small JSON file from nginx through an
# http target, bearer token) and PostgreSQL (`pgbench -n -S`, through a postgres target
# with the shipped production pack). Prints requests/s and transactions/s, the ratios
# fleet×1/embedded (the cost of fleet mode) and fleet×2/fleet×1 (what a second replica
# adds), and the CPU time per request of the Warden processes. After the runs it checks
# that the shipped copy is complete (`warden audit verify --fleet`).
#
# On a 2-core machine two replicas share the same two cores as one: the fleet×2 figure
# shows the overhead of coordination, not scale-out. Read the CPU per request as well.
#
# Usage: WARDEN_BIN=target/release/warden benches/fleet/run.sh
# Env:   WARDEN_BIN (default target/release/warden)  DURATION=8 (seconds per run)
#        CONNS=32 (wrk connections, split over the replicas)  CLIENTS=8 (pgbench clients,
#        split)  SCALE=10  KEEP=1 (keep the work directory)
#        PERF=1 (perf record the first Warden of each setup during its pgbench run and print
#        the top entries by self time and by thread; needs linux-perf)
# Needs: PostgreSQL on 127.0.0.1:5432 (user postgres, trust), psql, pgbench, nginx, wrk,
#        curl, python3, sha256sum. Only loopback addresses are used. Builds nothing.
set -euo pipefail

DURATION=${DURATION:-8}; DURATION=${DURATION%s}
CONNS=${CONNS:-32}
CLIENTS=${CLIENTS:-8}
SCALE=${SCALE:-10}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WARDEN_BIN=${WARDEN_BIN:-$ROOT/target/release/warden}
DB=warden_fleetbench_$$
FLEETDB=warden_fleetbench_fleet_$$
PW=bench-password-1
PIDS=()
# shellcheck source=../lib.sh
source "$ROOT/benches/lib.sh"

need psql "apt-get install -y postgresql-client"
need pgbench "it ships with the PostgreSQL server package"
need nginx "apt-get install -y nginx"
need wrk "apt-get install -y wrk"
need curl "apt-get install -y curl"
need python3 "apt-get install -y python3"
[[ -x $WARDEN_BIN ]] || die "WARDEN_BIN=$WARDEN_BIN is not an executable (cargo build --release -p warden)"
PSQL=(psql -X -q -h 127.0.0.1 -p 5432 -U postgres -w)
"${PSQL[@]}" -d postgres -c 'select 1' >/dev/null 2>&1 ||
  die "PostgreSQL does not answer on 127.0.0.1:5432 for user postgres (trust auth needed)"

WORK=$(mktemp -d /tmp/warden-fleetbench.XXXXXX)
cleanup() {
  local rc=$?
  trap - EXIT
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  for d in "$DB" "$FLEETDB"; do
    "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
  done
  if [[ -n ${KEEP:-} ]]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))

# --- upstreams: nginx serving a file, a pgbench database, an empty fleet database ---------
UP=$(free_port)
mkdir -p "$WORK/www" "$WORK/nginx"
python3 -c 'import json; print(json.dumps({"users":[{"id":i,"name":"user%d"%i} for i in range(20)]}))' >"$WORK/www/users.json"
NGINX_USER=""; [[ $(id -u) == 0 ]] && NGINX_USER="user root;"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
$NGINX_USER
error_log $WORK/nginx/error.log warn;
pid $WORK/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx/tb; proxy_temp_path $WORK/nginx/tp;
  fastcgi_temp_path $WORK/nginx/tf; uwsgi_temp_path $WORK/nginx/tu; scgi_temp_path $WORK/nginx/ts;
  server { listen 127.0.0.1:$UP; location / { root $WORK/www; default_type application/json; } }
}
EOF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' >"$WORK/nginx/stderr.log" 2>&1 & PIDS+=("$!")
wait_port "$UP" "$WORK/nginx/error.log"

echo "preparing databases $DB (pgbench -i -s $SCALE) and $FLEETDB..." >&2
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB" -c "CREATE DATABASE $FLEETDB" >/dev/null
pgbench -h 127.0.0.1 -p 5432 -U postgres -i -q -s "$SCALE" "$DB" >"$WORK/pgbench-init.log" 2>&1 ||
  { cat "$WORK/pgbench-init.log" >&2; die "pgbench -i failed"; }

# --- Warden configurations -----------------------------------------------------------------
TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
TOKEN_SHA=$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)
mapfile -t HASHES < <(printf '%s\n' "$PW" | "$WARDEN_BIN" hash-password)
[[ ${#HASHES[@]} -ge 2 && ${HASHES[1]} == SCRAM-SHA-256* ]] || die "warden hash-password printed no SCRAM verifier"
mkdir -p "$WORK/policies"
cp "$ROOT/policies/postgres-production.yaml" "$WORK/policies/"
cat >"$WORK/policies/http.yaml" <<'YAML'
version: 1
description: benches/fleet — one deny rule for HTTP; everything else is allowed (and audited).
rules:
  - name: no-admin-api
    when: { protocol: http, http: { paths: ["/admin/**"] } }
    action: deny
    message: The admin API is not reachable through Warden.
YAML
config() { # name [replica_id] -> writes $WORK/$name/warden.yaml, sets ports in $name_* vars
  local name=$1 replica=${2:-}
  local dir=$WORK/$name web http pg
  web=$(free_port); http=$(free_port); pg=$(free_port)
  mkdir -p "$dir"
  {
    cat <<YAML
# generated by benches/fleet/run.sh
web: { listen: "127.0.0.1:$web" }
audit: { path: $dir/audit, signing_key: $dir/audit.key }
data_dir: $dir/data
shutdown_grace: 2s
policies: [$WORK/policies]
users:
  - name: bench
    roles: [developer]
    password_hash: "${HASHES[0]}"
    scram_sha256: "${HASHES[1]}"
    tokens: ["$TOKEN_SHA"]
targets:
  - { name: api, protocol: http, listen: "127.0.0.1:$http", upstream: "http://127.0.0.1:$UP", labels: { env: bench } }
  - { name: db, protocol: postgres, listen: "127.0.0.1:$pg", upstream: "127.0.0.1:5432", upstream_user: postgres, labels: { env: production } }
YAML
    [[ -n $replica ]] && cat <<YAML
fleet:
  url: postgresql://postgres@127.0.0.1:5432/$FLEETDB
  replica_id: $replica
YAML
  } >"$dir/warden.yaml"
  "$WARDEN_BIN" check --config "$dir/warden.yaml" >"$dir/check.log" 2>&1 ||
    { cat "$dir/check.log" >&2; die "warden check rejected $dir/warden.yaml"; }
  printf -v "${name}_http" %s "$http"; printf -v "${name}_pg" %s "$pg"
}
start() { # name -> sets ${name}_pid, waits for both targets and a login on each
  local name=$1 dir=$WORK/$1 http pg
  WARDEN_LOG=${WARDEN_LOG:-warn} "$WARDEN_BIN" serve --config "$dir/warden.yaml" >"$dir/warden.log" 2>&1 &
  PIDS+=("$!"); printf -v "${name}_pid" %s "$!"
  http=${name}_http; pg=${name}_pg
  wait_port "${!http}" "$dir/warden.log"; wait_port "${!pg}" "$dir/warden.log"
  [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:${!http}/users.json") == 200 ]] ||
    { tail -n 20 "$dir/warden.log" >&2; die "$name: HTTP through Warden failed"; }
  PGPASSWORD=$PW timeout 30 psql -X -tA -h 127.0.0.1 -p "${!pg}" -U bench -d "$DB" -c 'select 1' >/dev/null 2>&1 ||
    { tail -n 20 "$dir/warden.log" >&2; die "$name: psql through Warden failed"; }
}
stop() { local p=${1}_pid; stop_pid "${!p}"; }

# --- loads -------------------------------------------------------------------------------
wrk_rps() { # port conns outfile
  wrk -t1 -c"$2" -d"${DURATION}s" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$1/users.json" >"$3" 2>&1 || true
  awk '/^Requests\/sec:/ { print $2 }' "$3"
}
pgb_tps() { # port clients outfile
  PGPASSWORD=$PW pgbench -n -S -M simple -h 127.0.0.1 -p "$1" -U bench -c "$2" -j 1 -T "$DURATION" "$DB" >"$3" 2>&1 || true
  awk '/^tps = / { print $3 }' "$3"
}
RESULTS=()
measure() { # label replicas...  (the load split over them, run at once, summed)
  local label=$1; shift
  local n=$# r pids=() t0=0 t1=0 total
  for r in "$@"; do local p=${r}_pid; t0=$(( t0 + $(cpu_ticks "${!p}") )); done
  for r in "$@"; do
    local port=${r}_http
    wrk_rps "${!port}" $(( CONNS / n )) "$WORK/wrk.$label.$r" >"$WORK/rps.$label.$r" & pids+=("$!")
  done
  wait "${pids[@]}"; pids=()
  total=$(cat "$WORK"/rps."$label".* | awk '{ s += $1 } END { printf "%.0f", s }')
  for r in "$@"; do local p=${r}_pid; t1=$(( t1 + $(cpu_ticks "${!p}") )); done
  RESULTS+=("$label http $total $(awk -v t=$(( (t1 - t0) * TICK_US )) -v n="$total" -v d="$DURATION" 'BEGIN { printf "%.1f", (n > 0 ? t / (n * d) : 0) }')")
  t0=0; t1=0
  for r in "$@"; do local p=${r}_pid; t0=$(( t0 + $(cpu_ticks "${!p}") )); done
  for r in "$@"; do
    local port=${r}_pg
    pgb_tps "${!port}" $(( CLIENTS / n )) "$WORK/pgb.$label.$r" >"$WORK/tps.$label.$r" & pids+=("$!")
  done
  if [[ -n ${PERF:-} ]]; then
    local first=${1}_pid
    perf record -q -F 999 -g -p "${!first}" -o "$WORK/perf.$label.data" -- sleep "$DURATION" >/dev/null 2>&1 || true
  fi
  wait "${pids[@]}"
  total=$(cat "$WORK"/tps."$label".* | awk '{ s += $1 } END { printf "%.0f", s }')
  for r in "$@"; do local p=${r}_pid; t1=$(( t1 + $(cpu_ticks "${!p}") )); done
  RESULTS+=("$label pgbench $total $(awk -v t=$(( (t1 - t0) * TICK_US )) -v n="$total" -v d="$DURATION" 'BEGIN { printf "%.1f", (n > 0 ? t / (n * d) : 0) }')")
}

config embedded
config a replica-a
config b replica-b
echo "embedded..." >&2
start embedded; measure embedded embedded; stop embedded
echo "fleet ×1..." >&2
start a; measure fleet1 a
echo "fleet ×2..." >&2
start b; measure fleet2 a b
sleep 2   # one more shipping round before the replicas stop (they also ship at a graceful stop)
stop a; stop b

# --- the shipped copy ------------------------------------------------------------------------
VERIFY=$("$WARDEN_BIN" audit verify --fleet --config "$WORK/a/warden.yaml" 2>&1) && verified=yes || verified=NO
SHIPPED=$("${PSQL[@]}" -d "$FLEETDB" -tA -c "SELECT replica_id || ' ' || count(*) FROM warden_audit_records GROUP BY replica_id ORDER BY 1" | tr '\n' ',' )

# --- report --------------------------------------------------------------------------------
echo
echo "fleet bench: DURATION=${DURATION}s CONNS=$CONNS CLIENTS=$CLIENTS SCALE=$SCALE nproc=$(nproc) $(date -u +%FT%TZ)"
printf '%-10s %-8s %12s %14s\n' setup load "req|tx /s" "warden cpu µs/req"
for r in "${RESULTS[@]}"; do
  read -r label load n cpu <<<"$r"
  printf '%-10s %-8s %12s %14s\n' "$label" "$load" "$n" "$cpu"
done
val() { for r in "${RESULTS[@]}"; do read -r l k n _ <<<"$r"; [[ $l == "$1" && $k == "$2" ]] && echo "$n"; done; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
for load in http pgbench; do
  echo "$load: fleet×1 / embedded $(ratio "$(val fleet1 $load)" "$(val embedded $load)")×, fleet×2 / fleet×1 $(ratio "$(val fleet2 $load)" "$(val fleet1 $load)")×"
done
if [[ -n ${PERF:-} ]]; then
  for f in "$WORK"/perf.*.data; do
    [[ -e $f ]] || continue
    echo
    echo "perf, pgbench run, first Warden of $(basename "$f" .data): by thread, then top symbols (self)"
    perf_top "$f" comm 8 200
    perf_top "$f" symbol 15 110
  done
fi
echo "shipped rows per replica: ${SHIPPED%,}"
echo "warden audit verify --fleet: $verified"
[[ $verified == yes ]] || { echo "$VERIFY" >&2; exit 1; }
