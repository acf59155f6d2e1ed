#!/usr/bin/env bash
# Side-by-side HTTP benchmark in one run: wrk GET of a small JSON file against
#   1. direct       — nginx serving the file itself (the upstream of the other two),
#   2. nginx-proxy  — nginx as a reverse proxy ($WORKERS worker processes, keepalive
#                     upstream pool) in front of it,
#   3. warden       — the real release binary, `warden serve --config <generated warden.yaml>`,
#                     one http target in front of the same upstream, bearer-token login
#                     (the config holds only the token's SHA-256), one deny rule, the sled
#                     audit log (every request decided and audited), and the same number of
#                     tokio worker threads ($WORKERS, via TOKIO_WORKER_THREADS) as the nginx
#                     proxy has workers.
# Two loads: throughput (`wrk -t$THREADS -c$CONNS`) and latency on an idle server
# (`wrk -t1 -c1`). Prints rps, p50/p99, the ratio warden/nginx-proxy, the p50 each proxy
# adds over direct at -c1, the CPU time (utime+stime from /proc/PID/stat) and context switches
# (voluntary + involuntary, summed over /proc/PID/task/*/status) per request of the warden
# process and of the nginx proxy's worker processes, with their ratio (the cost ratio: other
# load on a shared machine hardly moves it, unlike rps), and Warden's RSS (VmRSS from /proc/PID/status): idle after start,
# with $IDLE_CONNS idle keep-alive connections open (each has made one request; measured
# first, on the fresh process), under load, after the runs, and the peak. Finally it stops
# Warden and verifies the audit chain it wrote (`warden audit verify`): records per request.
#
# Usage: benches/http/run.sh
# Env:   WORKERS=2 (nginx proxy workers = warden tokio workers)  THREADS=2  CONNS=32
#        DURATION=8 (seconds per wrk run)  IDLE_CONNS=1000
#        WARDEN_BIN=path/to/warden   skip the build and use this binary
#                                    (default: `cargo build --release -p warden`, honouring
#                                    CARGO_TARGET_DIR)
#        KEEP=1   keep the work directory (configs, logs, wrk outputs)
#        PERF=1   also `perf record` Warden during its wrk runs and print the top entries of
#                 each profile (needs linux-perf; software cpu-clock events suffice)
# Needs: nginx, wrk, curl, python3, sha256sum; cargo unless WARDEN_BIN is set.
# Only loopback addresses are used.
set -euo pipefail

WORKERS=${WORKERS:-2}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
DURATION=${DURATION:-8}; DURATION=${DURATION%s}
IDLE_CONNS=${IDLE_CONNS:-1000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
source "$ROOT/benches/lib.sh"
URL_PATH=/users.json
PIDS=()

die() { echo "error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found — $2"; }

# --- prerequisites ---------------------------------------------------------------------
need nginx     "install it: apt-get install -y nginx"
need wrk       "install it: apt-get install -y wrk"
need curl      "install it: apt-get install -y curl"
need python3   "install it: apt-get install -y python3"
need sha256sum "install coreutils"
[[ -n ${WARDEN_BIN:-} ]] || need cargo "install Rust, or set WARDEN_BIN to a built warden binary"
# 1,000 client sockets in one python process plus as many in Warden
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(( $(ulimit -n) > IDLE_CONNS + 100 )) || die "open-file limit $(ulimit -n) is too low for IDLE_CONNS=$IDLE_CONNS"

# --- work directory and cleanup ----------------------------------------------------------
WORK=$(mktemp -d /tmp/warden-httpbench.XXXXXX)
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

UP=$(free_port); NP=$(free_port); GW=$(free_port); WEBPORT=$(free_port)

# --- nginx: the upstream (direct) and the reverse proxy -----------------------------------
mkdir -p "$WORK/www" "$WORK/up" "$WORK/px"
python3 -c 'import json; print(json.dumps({"users":[{"id":i,"name":"user%d"%i} for i in range(20)]}))' >"$WORK/www/users.json"
nginx_conf "$WORK/up" 2 "server { listen 127.0.0.1:$UP; location / { root $WORK/www; default_type application/json; } }"
nginx_conf "$WORK/px" "$WORKERS" "upstream up { server 127.0.0.1:$UP; keepalive 64; }
  server { listen 127.0.0.1:$NP; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
nginx -p "$WORK/up" -c "$WORK/up/nginx.conf" -g 'daemon off;' >"$WORK/up/stderr.log" 2>&1 & PIDS+=("$!")
nginx -p "$WORK/px" -c "$WORK/px/nginx.conf" -g 'daemon off;' >"$WORK/px/stderr.log" 2>&1 &
NGINX_PX_PID=$!; PIDS+=("$NGINX_PX_PID")

# --- Warden ----------------------------------------------------------------------------
TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
TOKEN_SHA=$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)
mkdir -p "$WORK/warden/policies"
cat >"$WORK/warden/policies/bench.yaml" <<'YAML'
version: 1
description: benches/http — one deny rule; everything else is allowed (and audited).
rules:
  - name: no-admin-api
    when: { protocol: http, http: { paths: ["/admin/**"] } }
    action: deny
    message: The admin API is not reachable through Warden.
tests:
  - name: admin is denied
    action: { protocol: http, target: { name: bench-api }, user: { name: bench-bot },
              http: { method: GET, path: "/admin/users" } }
    expect: deny
  - name: the JSON file is allowed
    action: { protocol: http, target: { name: bench-api }, user: { name: bench-bot },
              http: { method: GET, path: "/users.json" } }
    expect: allow
YAML
cat >"$WORK/warden/warden.yaml" <<YAML
# generated by benches/http/run.sh
web:
  listen: 127.0.0.1:$WEBPORT
  public_url: http://127.0.0.1:$WEBPORT
audit:
  path: $WORK/warden/audit
  signing_key: $WORK/warden/audit.key
data_dir: $WORK/warden/data
shutdown_grace: 2s
policies: [$WORK/warden/policies]
users:
  - name: bench-bot
    roles: [ci]
    tokens: ["$TOKEN_SHA"]     # SHA-256 of the bearer token, never the token
targets:
  - name: bench-api
    protocol: http
    listen: 127.0.0.1:$GW
    upstream: http://127.0.0.1:$UP
    labels: { env: bench }
    max_connections: $((IDLE_CONNS + 1024))
YAML
"$WARDEN_BIN" check --config "$WORK/warden/warden.yaml" >"$WORK/warden/check.log" 2>&1 ||
  { cat "$WORK/warden/check.log" >&2; die "warden check rejected the generated config"; }
"$WARDEN_BIN" policy test "$WORK/warden/policies" >"$WORK/warden/policy-test.log" 2>&1 ||
  { cat "$WORK/warden/policy-test.log" >&2; die "the bench policy's own tests fail"; }
TOKIO_WORKER_THREADS=$WORKERS WARDEN_LOG=${WARDEN_LOG:-warn} \
  "$WARDEN_BIN" serve --config "$WORK/warden/warden.yaml" >"$WORK/warden/warden.log" 2>&1 &
WARDEN_PID=$!; PIDS+=("$WARDEN_PID")

wait_port "$UP" "$WORK/up/error.log"; wait_port "$NP" "$WORK/px/error.log"; wait_port "$GW" "$WORK/warden/warden.log"

# --- sanity: every path serves the file; Warden authenticates and denies ------------------
AUTH="Authorization: Bearer $TOKEN"
expect_status() { # want url [curl args...]
  local want=$1 url=$2; shift 2
  local got
  got=$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url") || got="curl failed"
  [[ $got == "$want" ]] || { tail -n 20 "$WORK/warden/warden.log" >&2; die "$url answered $got, expected $want"; }
}
expect_status 200 "http://127.0.0.1:$UP$URL_PATH"
expect_status 200 "http://127.0.0.1:$NP$URL_PATH"
expect_status 200 "http://127.0.0.1:$GW$URL_PATH" -H "$AUTH"
expect_status 401 "http://127.0.0.1:$GW$URL_PATH"
expect_status 403 "http://127.0.0.1:$GW/admin/users" -H "$AUTH"
cmp -s <(curl -s -H "$AUTH" "http://127.0.0.1:$GW$URL_PATH") "$WORK/www/users.json" ||
  die "Warden's response body differs from the file"

# --- idle keep-alive connections ---------------------------------------------------------
# Measured first, on the freshly started gateway (what a quiet production instance with
# many idle clients looks like); the load runs below come after.
sleep 1
RSS_IDLE=$(rss_kb "$WARDEN_PID" VmRSS)
cat >"$WORK/idle_conns.py" <<'PY'
# Open N connections to the gateway and hold them idle in two steps, with a marker file
# after each so the caller can read the gateway's RSS:
#   1. only connected (accepted, no request yet)            -> writes <dir>/connected
#   2. one authenticated GET answered on each (keep-alive)  -> writes <dir>/requested
# then wait for <dir>/done and print how many connections the server still keeps open.
import os, socket, sys, time
port, n, token, d = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
def mark(name, text):
    with open(os.path.join(d, name + ".tmp"), "w") as f:
        f.write(text + "\n")
    os.rename(os.path.join(d, name + ".tmp"), os.path.join(d, name))
def wait_for(name):
    while not os.path.exists(os.path.join(d, name)):
        time.sleep(0.05)
req = (f"GET /users.json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
       f"Authorization: Bearer {token}\r\n\r\n").encode()
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
mark("connected", str(len(socks)))
wait_for("go")
for s in socks:
    s.sendall(req)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("connection closed before the response head")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if lines[0].split()[1] != "200":
        sys.exit("unexpected response: " + lines[0])
    hdr = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    if "content-length" in hdr:
        while len(body) < int(hdr["content-length"]):
            body += s.recv(65536)
    else:  # chunked
        while not body.endswith(b"0\r\n\r\n"):
            body += s.recv(65536)
mark("requested", str(len(socks)))
wait_for("done")
alive = 0
for s in socks:
    s.setblocking(False)
    try:
        alive += 1 if s.recv(1) else 0
    except BlockingIOError:
        alive += 1
    except OSError:
        pass
print(alive)
PY
mkdir -p "$WORK/idle"
python3 "$WORK/idle_conns.py" "$GW" "$IDLE_CONNS" "$TOKEN" "$WORK/idle" >"$WORK/idle.out" 2>&1 &
IDLE_PID=$!; PIDS+=("$IDLE_PID")
wait_mark() { # name
  for _ in $(seq 1200); do [[ -e $WORK/idle/$1 ]] && return 0; kill -0 "$IDLE_PID" 2>/dev/null || break; sleep 0.1; done
  cat "$WORK/idle.out" >&2; die "idle connections: step '$1' did not complete"
}
wait_mark connected; sleep 3   # let the gateway settle with the connections idle
RSS_CONNECTED=$(rss_kb "$WARDEN_PID" VmRSS)
touch "$WORK/idle/go"
wait_mark requested; sleep 3
RSS_IDLE_CONNS=$(rss_kb "$WARDEN_PID" VmRSS)
touch "$WORK/idle/done"
wait "$IDLE_PID" || true
STILL_OPEN=$(tail -n 1 "$WORK/idle.out")
sleep 1
RSS_IDLE_CLOSED=$(rss_kb "$WARDEN_PID" VmRSS)

# --- runs ------------------------------------------------------------------------------
cpu_ticks() { local p n=0; for p in "$@"; do n=$(( n + $(awk '{ print $14 + $15 }' "/proc/$p/stat") )); done; echo "$n"; }
ctx_switches() { local p; for p in "$@"; do cat /proc/"$p"/task/*/status 2>/dev/null; done |
  awk '/ctxt_switches:/ { n += $2 } END { print n + 0 }'; }
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))
cost_pids() { # name -> the pids whose CPU a run is charged to (none for direct)
  case $1 in
    warden) echo "$WARDEN_PID" ;;
    nginx-proxy) ps -o pid= --ppid "$NGINX_PX_PID" ;;
  esac
}
wrk_run() { # name port threads conns -> "rps p50 p99 errors cpu_us/req cs/req"
  local name=$1 port=$2 t=$3 c=$4 perf_pid= t0=0 s0=0 pids
  pids=$(cost_pids "$name")
  # shellcheck disable=SC2086
  [[ -n $pids ]] && { t0=$(cpu_ticks $pids); s0=$(ctx_switches $pids); }
  if [[ -n ${PERF:-} && $name == warden ]]; then
    perf record -q -F 999 -g -p "$WARDEN_PID" -o "$WORK/perf.t$t.c$c.data" -- sleep "$DURATION" \
      >/dev/null 2>&1 &
    perf_pid=$!
  fi
  wrk -t"$t" -c"$c" -d"$DURATION"s --latency -H "$AUTH" "http://127.0.0.1:$port$URL_PATH" >"$WORK/$name.t$t.c$c.txt"
  [[ -n $perf_pid ]] && wait "$perf_pid" 2>/dev/null
  local cost="- -"
  if [[ -n $pids ]]; then
    local t1 s1 n
    # shellcheck disable=SC2086
    { t1=$(cpu_ticks $pids); s1=$(ctx_switches $pids); }
    n=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$WORK/$name.t$t.c$c.txt")
    cost=$(awk -v t=$((t1 - t0)) -v s=$((s1 - s0)) -v n="${n:-0}" -v us="$TICK_US" \
      'BEGIN { if (n > 0) printf "%.1f %.2f", t * us / n, s / n; else print "- -" }')
  fi
  echo "$(wrk_stats "$WORK/$name.t$t.c$c.txt") $cost"
}
warm() { # name port
  wrk -t"$THREADS" -c"$CONNS" -d2s -H "$AUTH" "http://127.0.0.1:$2$URL_PATH" >"$WORK/$1.warmup.txt"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "-" || b == "-" || b+0 == 0) print "-"; else printf "%.2f", a/b }'; }
sample_rss() { # pid outfile: keep the max VmRSS seen until killed
  local max=0 v
  while v=$(rss_kb "$1" VmRSS 2>/dev/null); do
    ((v > max)) && { max=$v; echo "$max" >"$2"; }
    sleep 0.2
  done
}

echo "# benches/http/run.sh — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(nginx -v 2>&1), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $("$WARDEN_BIN" --version)"
echo "# GET $URL_PATH ($(stat -c %s "$WORK/www/users.json") bytes); upstream nginx 2 workers; nginx proxy $WORKERS workers, keepalive 64;"
echo "# warden TOKIO_WORKER_THREADS=$WORKERS, bearer token, 1 deny rule, sled audit log"
echo
echo "throughput: wrk -t$THREADS -c$CONNS -d${DURATION}s --latency (after a 2 s warm-up each)"
ROW='%-12s %9s %9s %9s %7s %10s %11s %8s\n'
printf "$ROW" path rps p50_ms p99_ms errors vs_direct cpu_us/req cs/req
warm direct "$UP";  read -r D_RPS D_P50 D_P99 D_ERR D_CPU D_CS < <(wrk_run direct "$UP" "$THREADS" "$CONNS")
printf "$ROW" direct "$D_RPS" "$D_P50" "$D_P99" "$D_ERR" 1.00 "$D_CPU" "$D_CS"
warm nginx-proxy "$NP";  read -r N_RPS N_P50 N_P99 N_ERR N_CPU N_CS < <(wrk_run nginx-proxy "$NP" "$THREADS" "$CONNS")
printf "$ROW" nginx-proxy "$N_RPS" "$N_P50" "$N_P99" "$N_ERR" "$(ratio "$N_RPS" "$D_RPS")" "$N_CPU" "$N_CS"
warm warden "$GW"
sample_rss "$WARDEN_PID" "$WORK/rss-load" & SAMPLER=$!; PIDS+=("$SAMPLER")
read -r W_RPS W_P50 W_P99 W_ERR W_CPU W_CS < <(wrk_run warden "$GW" "$THREADS" "$CONNS")
stop_pid "$SAMPLER"
RSS_LOAD=$(cat "$WORK/rss-load" 2>/dev/null || echo 0)
printf "$ROW" warden "$W_RPS" "$W_P50" "$W_P99" "$W_ERR" "$(ratio "$W_RPS" "$D_RPS")" "$W_CPU" "$W_CS"
echo "warden/nginx-proxy rps: $(ratio "$W_RPS" "$N_RPS"), cpu_us/req: $(ratio "$W_CPU" "$N_CPU"), cs/req: $(ratio "$W_CS" "$N_CS")"

echo
echo "latency: wrk -t1 -c1 -d${DURATION}s --latency"
ROW1='%-12s %9s %9s %9s %7s %14s %11s %8s\n'
printf "$ROW1" path rps p50_ms p99_ms errors p50_added_us cpu_us/req cs/req
read -r d1_rps d1_p50 d1_p99 d1_err d1_cpu d1_cs < <(wrk_run direct "$UP" 1 1)
printf "$ROW1" direct "$d1_rps" "$d1_p50" "$d1_p99" "$d1_err" 0 "$d1_cpu" "$d1_cs"
for name in nginx-proxy warden; do
  port=$NP; [[ $name == warden ]] && port=$GW
  read -r rps p50 p99 err cpu cs < <(wrk_run "$name" "$port" 1 1)
  printf "$ROW1" "$name" "$rps" "$p50" "$p99" "$err" \
    "$(awk -v a="$p50" -v b="$d1_p50" 'BEGIN{printf "%+.0f", (a-b)*1000}')" "$cpu" "$cs"
  if [[ $name == warden ]]; then W1_RPS=$rps W1_CPU=$cpu W1_CS=$cs; else N1_RPS=$rps N1_CPU=$cpu N1_CS=$cs; fi
done
echo "warden/nginx-proxy at -c1: rps $(ratio "$W1_RPS" "$N1_RPS"), cpu_us/req $(ratio "$W1_CPU" "$N1_CPU"), cs/req $(ratio "$W1_CS" "$N1_CS")"

sleep 1
RSS_AFTER=$(rss_kb "$WARDEN_PID" VmRSS)
RSS_PEAK=$(rss_kb "$WARDEN_PID" VmHWM)

echo
per_conn() { awk -v a="$1" -v b="$2" -v n="$IDLE_CONNS" 'BEGIN{printf "%+.1f MiB, %+.1f KiB per connection", (a-b)/1024, (a-b)/n}'; }
echo "warden RSS (VmRSS):"
printf '  %-52s %7s MiB\n' "idle after start" "$(mib "$RSS_IDLE")"
printf '  %-52s %7s MiB  (%s)\n' "$IDLE_CONNS idle connections, accepted, no request yet" \
  "$(mib "$RSS_CONNECTED")" "$(per_conn "$RSS_CONNECTED" "$RSS_IDLE")"
printf '  %-52s %7s MiB  (%s; %s of %s still open after 3 s)\n' "$IDLE_CONNS idle keep-alive connections, one GET each" \
  "$(mib "$RSS_IDLE_CONNS")" "$(per_conn "$RSS_IDLE_CONNS" "$RSS_IDLE")" "$STILL_OPEN" "$IDLE_CONNS"
printf '  %-52s %7s MiB\n' "after closing them" "$(mib "$RSS_IDLE_CLOSED")"
printf '  %-52s %7s MiB\n' "under load (max sampled during the -c$CONNS run)" "$(mib "$RSS_LOAD")"
printf '  %-52s %7s MiB\n' "after all runs" "$(mib "$RSS_AFTER")"
printf '  %-52s %7s MiB\n' "peak (VmHWM)" "$(mib "$RSS_PEAK")"

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
W_REQ=$(cat "$WORK"/warden.*.txt | sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
if VERIFY=$("$WARDEN_BIN" audit verify --path "$WORK/warden/audit" --key "$WORK/warden/audit.key.pub" 2>&1); then
  RECORDS=$(sed -n 's/^ok: \([0-9]*\) records.*/\1/p' <<<"$VERIFY")
  echo
  echo "audit log: verified (chain + signed checkpoints), $RECORDS records for $W_REQ wrk requests (warm-up included)" \
       "+ $IDLE_CONNS idle-connection GETs + 4 checks through Warden" \
       "($(awk -v r="$RECORDS" -v t="$((W_REQ + IDLE_CONNS + 4))" 'BEGIN{ if (t > 0) printf "%.2f", r/t; else print "-" }') per request)"
else
  echo "audit log: VERIFY FAILED: $VERIFY"
fi
if grep -qiE 'error|panic' "$WORK/warden/warden.log"; then
  echo
  echo "warden log (errors):"
  grep -iE 'error|panic' "$WORK/warden/warden.log" | head -n 10 | sed 's/^/  /'
fi
