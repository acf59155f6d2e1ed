# Helpers the side-by-side scripts under benches/ share; sourced, not run.
# die MSG | need CMD HINT | stop_pid PID (TERM, 5 s, KILL) | free_port | wait_port PORT LOG
# | cpu_ticks PID (utime + stime, clock ticks) | ctx_switches PID (voluntary + involuntary,
# summed over the live threads)

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
