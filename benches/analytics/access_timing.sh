#!/usr/bin/env bash
# Timings of the access report (`warden report access`, /api/v1/reports/access,
# /reports/access) and the insights page (/insights) over a real audit store of about
# one million generated records. Not a test: the numbers depend on the machine.
#
#   benches/analytics/access_timing.sh                 # debug binaries from target/debug
#   PROFILE=release benches/analytics/access_timing.sh # cargo build --release first
#
# Steps: generate.py writes ~1M realistic events (48 users in 6 roles, PostgreSQL,
# MySQL, Kubernetes, HTTP and SSH targets, allow/deny/hold, logins, approvals);
# the `store_from_export` example appends them to a fresh store through the audit
# crate's API and writes the users of a warden.yaml; then each reader is timed RUNS
# times (the CLI first: it needs a store no gateway holds). Everything lives in a
# mktemp directory that is deleted on exit (KEEP=1 keeps it). Knobs: WEEKS (14 ≈ 1M
# records), RUNS (5), PROFILE (debug|release), SEED (7).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PROFILE=${PROFILE:-debug}
WEEKS=${WEEKS:-14}
RUNS=${RUNS:-5}
SEED=${SEED:-7}
bin="$root/target/$PROFILE/warden"
loader="$root/target/$PROFILE/examples/store_from_export"
[ -x "$bin" ] && [ -x "$loader" ] || {
  echo "build first: cargo build ${PROFILE/debug/} -p warden && cargo build ${PROFILE/debug/} -p warden-audit --example store_from_export" | tr -s ' ' >&2
  exit 2
}

work=$(mktemp -d /tmp/access-timing.XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

echo "== generate (seed $SEED, $WEEKS weeks)"
python3 "$here/generate.py" --seed "$SEED" --weeks "$WEEKS" --no-incidents --out "$work/wl" >/dev/null
wc -l <"$work/wl/events.jsonl" | xargs echo "events:"
echo "== load into $work/data/audit"
"$loader" "$work/wl/events.jsonl" "$work/data/audit" "$work/users.yaml"
rm -rf "$work/wl"
du -sh "$work/data/audit" | cut -f1 | xargs echo "store size:"

pw=timing-password
hash=$(printf %s "$pw" | "$bin" hash-password | head -1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/policies"
cp "$root/policies/postgres-production.yaml" "$work/policies/"
{
  printf 'web: { listen: "127.0.0.1:%s" }\naudit: { path: ./data/audit }\ndata_dir: ./data\npolicies: [./policies]\n' "$port"
  cat "$work/users.yaml"
  printf '  - name: timer\n    roles: [admin]\n    password_hash: "%s"\n' "$hash"
} >"$work/warden.yaml"

# median and max of RUNS runs of a command, in ms
timed() {
  local label=$1
  shift
  local all=()
  for _ in $(seq "$RUNS"); do
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null
    t1=$(date +%s%N)
    all+=($(((t1 - t0) / 1000000)))
  done
  printf '%s\n' "${all[@]}" | sort -n | awk -v l="$label" '{a[NR]=$1} END {printf "%-48s median %6d ms  max %6d ms  (%d runs)\n", l, a[int((NR+1)/2)], a[NR], NR}'
}

echo "== warden report access ($PROFILE build)"
timed "report access --since 30d --format text" \
  "$bin" report access --config "$work/warden.yaml" --since 30d --format text
timed "report access --since 30d --format json" \
  "$bin" report access --config "$work/warden.yaml" --since 30d --format json
"$bin" report access --config "$work/warden.yaml" --since 30d --format json |
  python3 -c 'import json,sys; r=json.load(sys.stdin); print("records in the window:", r.get("records"))'

echo "== console ($PROFILE build)"
t0=$(date +%s%N)
(cd "$work" && WARDEN_LOG=info exec "$bin" serve --config warden.yaml >"$work/serve.log" 2>&1) &
pid=$!
url="http://127.0.0.1:$port"
until curl -s -o /dev/null "$url/login"; do sleep 0.1; done
echo "console up after $((($(date +%s%N) - t0) / 1000000)) ms"
# The insights are the live aggregates: wait for the restore of the store at start.
until grep -q "baselines restored" "$work/serve.log"; do sleep 0.2; done
echo "analytics restored after $((($(date +%s%N) - t0) / 1000000)) ms: $(sed 's/\x1b\[[0-9;]*m//g' "$work/serve.log" | grep -o 'records=[0-9]*' | head -1)"
get() { curl -sf -u "timer:$pw" -o /dev/null "$url$1"; }
# the server's CPU time (user + system, ms) so far: steadier than wall time on a
# shared machine
cpu() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$pid/stat"; }
get /insights # the Basic credential is verified (argon2) once, then cached
for page in "/api/v1/reports/access?since=30d" "/reports/access" \
  "/insights" "/insights?step=hour" "/api/v1/insights"; do
  c0=$(cpu)
  timed "GET $page" get "$page"
  echo "    server CPU over the $RUNS runs: $(($(cpu) - c0)) ms"
done
