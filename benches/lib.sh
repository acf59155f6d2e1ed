# Helpers the side-by-side scripts under benches/ share; sourced, not run.
# die MSG | need CMD HINT | stop_pid PID (TERM, 5 s, KILL) | free_port | wait_port PORT LOG
# | cpu_ticks PID (utime + stime, clock ticks) | ctx_switches PID (voluntary + involuntary,
# summed over the live threads) | wrk_stats FILE ("rps p50_ms p99_ms errors" of a wrk
# --latency output) | nginx_conf DIR WORKERS SERVER_BLOCK (a minimal nginx.conf in DIR)

die() { echo "error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found — $2"; }
stop_pid() {
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() {
  for _ in $(seq 300); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "port $1 never opened; log:" >&2; tail -n 30 "$2" >&2; return 1
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ctx_switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches:/ { n += $2 } END { print n + 0 }'; }
# perf_top FILE SORT LINES WIDTH: the top LINES entries of a perf profile by SORT (self
# time, no call graph), cut to WIDTH columns and indented; nothing if perf cannot read it.
perf_top() {
  perf report -i "$1" --no-children --sort "$2" --stdio -g none 2>/dev/null |
    grep -E '^ +[0-9]' | head -n "$3" | cut -c1-"$4" | sed 's/^/  /' || true
}
# wrk_stats FILE: "rps p50_ms p99_ms errors" from a `wrk --latency` output (errors: non-2xx
# responses plus socket errors).
wrk_stats() {
  python3 - "$1" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
def ms(v):
    n, u = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
errs = (int(bad.group(1)) if bad else 0) + (sum(map(int, sock.groups())) if sock else 0)
print(f"{rps:.0f} {p50:.3f} {p99:.3f} {errs}")
EOF
}
# nginx_conf DIR WORKERS SERVER_BLOCK: writes DIR/nginx.conf (no access log, endless
# keep-alive, every temp path and log inside DIR; `user root;` when run as root, since
# the scripts' work directories are 0700 and owned by root).
nginx_conf() {
  local user=""
  [[ $(id -u) == 0 ]] && user="user root;"
  cat >"$1/nginx.conf" <<EOF
worker_processes $2;
$user
error_log $1/error.log warn;
pid $1/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $1/tmp_body;
  proxy_temp_path $1/tmp_proxy;
  fastcgi_temp_path $1/tmp_fastcgi;
  uwsgi_temp_path $1/tmp_uwsgi;
  scgi_temp_path $1/tmp_scgi;
  $3
}
EOF
}
