#!/usr/bin/env bash
# Side-by-side HTTP throughput: wrk against
#   1. direct   — nginx serving a small static JSON file (the upstream),
#   2. warden   — Warden's http front-end (example `http_gateway`, real Gate + audit) in front of it,
#   3. nginx    — nginx as a reverse proxy in front of the same upstream,
# with the same worker count for Warden (tokio worker threads) and the nginx proxy
# (worker_processes). Prints rps, p50/p99 latency and the ratios to direct.
#
# Usage: benches/http/run.sh            (env: WORKERS=2 THREADS=2 CONNS=32 DURATION=10s)
set -euo pipefail

WORKERS=${WORKERS:-2}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
DURATION=${DURATION:-10s}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

for tool in nginx wrk cargo python3; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
UP=$(free_port); GW=$(free_port); NP=$(free_port)

echo "building the gateway (release)..." >&2
(cd "$ROOT" && cargo build --release -q -p warden-proxy --example http_gateway)
GATEWAY="$ROOT/target/release/examples/http_gateway"

mkdir -p "$TMP/www" "$TMP/up" "$TMP/px"
python3 -c 'import json; print(json.dumps({"users":[{"id":i,"name":"user%d"%i} for i in range(20)]}))' > "$TMP/www/users.json"

nginx_conf() { # $1 dir, $2 workers, $3 server block
  cat > "$1/nginx.conf" <<EOF
worker_processes $2;
user root;
error_log $1/error.log warn;
pid $1/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  $3
}
EOF
}
nginx_conf "$TMP/up" 2 "server { listen 127.0.0.1:$UP; location / { root $TMP/www; default_type application/json; } }"
nginx_conf "$TMP/px" "$WORKERS" "upstream up { server 127.0.0.1:$UP; keepalive 64; }
  server { listen 127.0.0.1:$NP; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"

nginx -p "$TMP/up" -c "$TMP/up/nginx.conf" -g 'daemon off;' & PIDS+=($!)
nginx -p "$TMP/px" -c "$TMP/px/nginx.conf" -g 'daemon off;' & PIDS+=($!)
"$GATEWAY" "127.0.0.1:$GW" "127.0.0.1:$UP" "$WORKERS" > "$TMP/gw.log" 2>&1 & PIDS+=($!)

wait_port() { for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" -H 'Authorization: Bearer bench-token' && return 0; sleep 0.1; done; echo "port $1 never came up" >&2; exit 1; }
wait_port "$UP"; wait_port "$NP"; wait_port "$GW"

URL_PATH=/users.json
check=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW$URL_PATH" -H 'Authorization: Bearer bench-token')
[ "$check" = 200 ] || { echo "gateway answered $check" >&2; cat "$TMP/gw.log" >&2; exit 1; }

# run NAME PORT -> "rps p50 p99"
run() {
  wrk -t"$THREADS" -c"$CONNS" -d2s -H 'Authorization: Bearer bench-token' "http://127.0.0.1:$2$URL_PATH" >/dev/null
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H 'Authorization: Bearer bench-token' \
      "http://127.0.0.1:$2$URL_PATH" > "$TMP/$1.txt"
  python3 - "$TMP/$1.txt" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
def ms(v):
    n, u = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print(f"{rps:.0f} {p50:.3f} {p99:.3f} {errs.group(1) if errs else 0}")
EOF
}

echo "wrk -t$THREADS -c$CONNS -d$DURATION, workers=$WORKERS, $(nproc) cores, GET $URL_PATH ($(stat -c %s "$TMP/www/users.json") bytes)"
read -r D_RPS D_P50 D_P99 D_ERR < <(run direct "$UP")
read -r W_RPS W_P50 W_P99 W_ERR < <(run warden "$GW")
read -r N_RPS N_P50 N_P99 N_ERR < <(run nginx "$NP")
printf '%-8s %10s %10s %10s %8s %10s\n' path rps p50_ms p99_ms non2xx vs_direct
printf '%-8s %10s %10s %10s %8s %10s\n' direct "$D_RPS" "$D_P50" "$D_P99" "$D_ERR" 1.00
printf '%-8s %10s %10s %10s %8s %10s\n' warden "$W_RPS" "$W_P50" "$W_P99" "$W_ERR" "$(python3 -c "print(f'{$W_RPS/$D_RPS:.2f}')")"
printf '%-8s %10s %10s %10s %8s %10s\n' nginx "$N_RPS" "$N_P50" "$N_P99" "$N_ERR" "$(python3 -c "print(f'{$N_RPS/$D_RPS:.2f}')")"
echo "warden/nginx rps ratio: $(python3 -c "print(f'{$W_RPS/$N_RPS:.2f}')")"
