#!/usr/bin/env python3
"""Soak test of the whole gateway: thousands of concurrent client connections through one
`warden serve` for a long time, with steady traffic, while sampling the process.

Set-up (all loopback, free ports, one mktemp work directory):
  * nginx serving a small JSON file (the http target's upstream);
  * PostgreSQL on 127.0.0.1:5432 (trust, user postgres: the postgres target's upstream);
  * a real sshd (benches/crash's harness) unless SSH=0;
  * `warden serve` ($WARDEN_BIN) with an http, a postgres and an ssh target, users with a
    bearer token, a SCRAM secret and an SSH key, no rule (everything allowed and audited).

Load (one asyncio process, real clients for PostgreSQL and SSH):
  * HTTP: CONNS - PG - SSH keep-alive connections, opened at RAMP per second; each sends a
    GET every INTERVAL seconds (jittered) and checks the 200 and its body length;
  * PostgreSQL: PG long-lived `psql` sessions, each sending `SELECT <n>;` every
    PG_INTERVAL seconds and checking the answer;
  * SSH: SSH long-lived `ssh HOST cat` sessions, each writing a line every SSH_INTERVAL
    seconds and reading it back.
Latency is measured by the client (request written -> answer read), so it includes the
client's own event-loop delays.

Every SAMPLE seconds a CSV row: warden RSS, open fds, threads, CPU seconds, connections
open, requests, p50/p99 per protocol, errors. After DURATION the clients close, and the
script waits (up to SETTLE seconds) for Warden's fds and threads to return to the
baseline taken before the first client connected.

Verdict (exit 0 only when all hold): memory flat (mean RSS of the last third of the
steady-state samples at most MAX_GROWTH % over the middle third; the first third is the
warm-up, while the audit store's page cache fills to its bound, audit.cache_mb, and is
printed but not judged), no client errors, fds back to baseline. Never builds anything.
"""

import asyncio
import csv
import hashlib
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "crash"))
from crash_load import Sshd, free_port, port_open  # noqa: E402

ENV = os.environ.get
BIN = os.path.abspath(ENV("WARDEN_BIN", "target/release/warden"))
CONNS = int(ENV("CONNS", "5000"))
PG = int(ENV("PG", "50"))
SSH = int(ENV("SSH", "20")) if os.path.exists("/usr/sbin/sshd") else 0
DURATION = float(ENV("DURATION", "900"))
SAMPLE = float(ENV("SAMPLE", "10"))
INTERVAL = float(ENV("INTERVAL", "10"))
PG_INTERVAL = float(ENV("PG_INTERVAL", "1"))
SSH_INTERVAL = float(ENV("SSH_INTERVAL", "1"))
RAMP = float(ENV("RAMP", "500"))
SETTLE = float(ENV("SETTLE", "120"))
MAX_GROWTH = float(ENV("MAX_GROWTH", "10"))
TIMEOUT = float(ENV("TIMEOUT", "30"))
KEEP = ENV("KEEP") == "1"
CSV_OUT = ENV("CSV")
PW = "soak-alice-pw-1"
HTTP = CONNS - PG - SSH


def die(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)


class Stats:
    """What the clients saw in the current sample window, and in total."""

    def __init__(self):
        self.lat = {"http": [], "pg": [], "ssh": []}
        self.total = {"http": 0, "pg": 0, "ssh": 0}
        self.errors = []
        self.window_errors = 0
        self.open = {"http": 0, "pg": 0, "ssh": 0}

    def ok(self, kind, seconds):
        self.lat[kind].append(seconds * 1000)
        self.total[kind] += 1

    def error(self, kind, what):
        self.window_errors += 1
        self.errors.append(f"{kind}: {what}")

    def take(self):
        lat, self.lat = self.lat, {k: [] for k in self.lat}
        errs, self.window_errors = self.window_errors, 0
        return lat, errs


def pct(values, q):
    if not values:
        return ""
    s = sorted(values)
    return f"{s[min(len(s) - 1, int(q * len(s)))]:.2f}"


# --- the process under test ----------------------------------------------------------------

def proc_sample(pid):
    status = open(f"/proc/{pid}/status").read()
    field = {line.split(":")[0]: line.split(":")[1].split()[0]
             for line in status.splitlines() if line.startswith(("VmRSS", "Threads"))}
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return int(field["VmRSS"]), fds, int(field["Threads"]), cpu


def dir_mib(path):
    """Size of the files under path (the audit store), in MiB."""
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return round(total / 1048576, 1)


def fd_kinds(pid):
    """What the process's open fds point at, by kind (socket, pipe, eventpoll, file path)."""
    kinds = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        kind = target.split(":[")[0] if ":[" in target else target
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def tcp_peers(pid, ports):
    """The process's TCP sockets counted by state and by which port they talk to."""
    names = {str(p): k for k, p in ports.items()}
    names["5432"] = "postgres"
    out = subprocess.run(["ss", "-tanpH"], capture_output=True, text=True).stdout
    counts = {}
    for line in out.splitlines():
        if f"pid={pid}," not in line:
            continue
        f = line.split()
        local, peer = f[3].rsplit(":", 1)[1], f[4].rsplit(":", 1)[1]
        what = (f"from-client:{names[local]}" if local in names
                else f"to:{names.get(peer, peer)}")
        key = f"{f[0]}/{what}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def write_nginx(work, port):
    www = os.path.join(work, "www")
    os.makedirs(www)
    body = ('{"users":[' + ",".join(f'{{"id":{i},"name":"user{i}"}}' for i in range(20))
            + "]}\n")
    with open(os.path.join(www, "users.json"), "w") as f:
        f.write(body)
    user = "user root;" if os.getuid() == 0 else ""
    d = os.path.join(work, "nginx")
    os.makedirs(d)
    cfg = os.path.join(d, "nginx.conf")
    temps = "\n".join(f"  {t}_temp_path {d}/tmp_{t};" for t in
                      ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    with open(cfg, "w") as f:
        f.write(f"""worker_processes 2;
worker_rlimit_nofile 40000;
{user}
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 75s;  # nginx's default: it closes the idle upstream connections Warden keeps
{temps}
  server {{ listen 127.0.0.1:{port} backlog=8192;
           location / {{ root {www}; default_type application/json; }} }}
}}
""")
    proc = subprocess.Popen(["nginx", "-p", d, "-c", cfg, "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, len(body)


def write_warden(work, ports, token, ssh):
    out = subprocess.run([BIN, "hash-password"], input=PW + "\n", capture_output=True,
                         text=True, check=True).stdout.split()
    token_sha = hashlib.sha256(token.encode()).hexdigest()
    keys = f', ssh_authorized_keys: ["{ssh.alice_pub}"]' if ssh else ""
    targets = [
        f"  - {{ name: api, protocol: http, listen: 127.0.0.1:{ports['http']}, "
        f"upstream: http://127.0.0.1:{ports['nginx']}, max_connections: {HTTP + 1024} }}",
        f"  - {{ name: db, protocol: postgres, listen: 127.0.0.1:{ports['pg']}, "
        f"upstream: 127.0.0.1:5432, upstream_user: postgres, max_connections: {PG + 64} }}",
    ]
    if ssh:
        targets.append(
            f"  - {{ name: host, protocol: ssh, listen: 127.0.0.1:{ports['ssh']}, "
            f"upstream: 127.0.0.1:{ssh.port}, upstream_user: root, max_connections: "
            f"{SSH + 64}, ssh: {{ host_key_fingerprint: \"{ssh.fingerprint}\", "
            f"upstream_key_file: {ssh.client_key} }} }}")
    os.makedirs(os.path.join(work, "policies"))
    with open(os.path.join(work, "policies", "soak.yaml"), "w") as f:
        f.write("version: 1\ndescription: benches/soak — no rule, everything is allowed "
                "and audited.\nrules: []\n")
    cfg = os.path.join(work, "warden.yaml")
    cache_mb = os.environ.get("AUDIT_CACHE_MB")
    cache_line = f"\n  cache_mb: {int(cache_mb)}" if cache_mb else ""
    with open(cfg, "w") as f:
        f.write(f"""# generated by benches/soak
web:
  listen: 127.0.0.1:{ports['web']}
audit:
  path: {work}/data/audit{cache_line}
data_dir: {work}/data
policies: [{work}/policies]
shutdown_grace: 2s
users:
  - {{ name: alice, roles: [developer], password_hash: "{out[0]}", scram_sha256: "{out[1]}",
      tokens: ["{token_sha}"]{keys} }}
targets:
""" + "\n".join(targets) + "\n")
    check = subprocess.run([BIN, "check", "--config", cfg], capture_output=True, text=True)
    if check.returncode != 0:
        die(f"warden check rejected the generated config:\n{check.stdout}{check.stderr}")
    return cfg


# --- clients -------------------------------------------------------------------------------

async def http_client(stats, port, token, body_len, stop, start_at):
    req = (f"GET /users.json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
           f"Authorization: Bearer {token}\r\n\r\n").encode()
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), TIMEOUT)
    except (OSError, asyncio.TimeoutError) as e:
        stats.error("http", f"connect: {e!r}")
        return
    stats.open["http"] += 1
    try:
        while not stop.is_set():
            t0 = time.monotonic()
            async with asyncio.timeout(TIMEOUT):
                writer.write(req)
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                hdr = {k.strip().lower(): v.strip()
                       for k, _, v in (line.partition(":") for line in lines[1:] if line)}
                if "content-length" in hdr:
                    body = await reader.readexactly(int(hdr["content-length"]))
                else:
                    body = await reader.readuntil(b"0\r\n\r\n")
            if lines[0].split()[1] != "200" or len(body) < body_len:
                stats.error("http", f"{lines[0]} ({len(body)} bytes)")
            else:
                stats.ok("http", time.monotonic() - t0)
            # a plain sleep (no timer task per wait): closing takes up to 1.5 x INTERVAL
            await asyncio.sleep(INTERVAL * random.uniform(0.5, 1.5))
    except (OSError, TimeoutError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError) as e:
        stats.error("http", repr(e))
    finally:
        stats.open["http"] -= 1
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def line_session(stats, kind, argv, env, make_line, expect, interval, stop, start_at):
    """A long-lived client process fed one line at a time, each answered by one line."""
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    n, opened = 0, False
    try:
        while not stop.is_set():
            n += 1
            t0 = time.monotonic()
            proc.stdin.write(make_line(n).encode())
            await proc.stdin.drain()
            line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
            if line.decode().strip() != expect(n):
                err = (await asyncio.wait_for(proc.stderr.read(4096), 5)).decode().strip()
                stats.error(kind, f"answer {line!r}: {err or 'no message'}")
                return
            if not opened:
                opened = True
                stats.open[kind] += 1
            stats.ok(kind, time.monotonic() - t0)
            try:
                await asyncio.wait_for(stop.wait(), interval * random.uniform(0.5, 1.5))
            except asyncio.TimeoutError:
                pass
    except (OSError, asyncio.TimeoutError) as e:
        stats.error(kind, repr(e))
    finally:
        if opened:
            stats.open[kind] -= 1
        if proc.returncode is None:
            proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()


def pg_session(stats, port, stop, start_at):
    argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
            "-p", str(port), "-U", "alice", "-d", "postgres"]
    env = dict(os.environ, PGPASSWORD=PW, PGCONNECT_TIMEOUT="10")
    return line_session(stats, "pg", argv, env, lambda n: f"SELECT {n};\n", str,
                        PG_INTERVAL, stop, start_at)


def ssh_session(stats, port, ssh, stop, start_at, i):
    argv = ["ssh", "-i", ssh.alice_key, "-p", str(port), "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "alice@127.0.0.1", "cat"]
    return line_session(stats, "ssh", argv, dict(os.environ), lambda n: f"soak-{i}-{n}\n",
                        lambda n: f"soak-{i}-{n}", SSH_INTERVAL, stop, start_at)


# --- the run -------------------------------------------------------------------------------

async def sampler(pid, stats, rows, stop_sampling, t_start, phase, audit_dir):
    while not stop_sampling.is_set():
        try:
            await asyncio.wait_for(stop_sampling.wait(), SAMPLE)
        except asyncio.TimeoutError:
            pass
        lat, errs = stats.take()
        rss, fds, threads, cpu = proc_sample(pid)
        row = {"t_s": round(time.monotonic() - t_start, 1), "phase": phase[0],
               "rss_kib": rss, "fds": fds, "threads": threads, "cpu_s": round(cpu, 2),
               "http_open": stats.open["http"], "pg_open": stats.open["pg"],
               "ssh_open": stats.open["ssh"], "errors": errs,
               "client_cpu_s": round(time.process_time(), 1), "audit_mib": dir_mib(audit_dir)}
        for k in ("http", "pg", "ssh"):
            row[f"{k}_reqs"] = len(lat[k])
            row[f"{k}_p50_ms"] = pct(lat[k], 0.50)
            row[f"{k}_p99_ms"] = pct(lat[k], 0.99)
        rows.append(row)
        print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)


async def run(pid, ports, token, body_len, ssh, audit_dir):
    stats, rows, phase = Stats(), [], ["baseline"]
    stop, stop_sampling = asyncio.Event(), asyncio.Event()
    t_start = time.monotonic()
    await asyncio.sleep(2)
    base = proc_sample(pid)
    base_fds = fd_kinds(pid)
    print(f"# baseline: rss {base[0]} KiB, fds {base[1]}, threads {base[2]}", flush=True)
    sampling = asyncio.create_task(
        sampler(pid, stats, rows, stop_sampling, t_start, phase, audit_dir))
    phase[0] = "ramp"
    t0 = time.monotonic()
    tasks = [asyncio.create_task(pg_session(stats, ports["pg"], stop, t0 + i * 0.05))
             for i in range(PG)]
    tasks += [asyncio.create_task(ssh_session(stats, ports["ssh"], ssh, stop, t0 + i * 0.2, i))
              for i in range(SSH)]
    tasks += [asyncio.create_task(http_client(stats, ports["http"], token, body_len, stop,
                                              t0 + i / RAMP)) for i in range(HTTP)]
    # steady once every client is connected (or has failed), then 5 s more
    ramp_limit = t0 + max(HTTP / RAMP, PG * 0.05, SSH * 0.2) + 120
    while (sum(stats.open.values()) + len(stats.errors) < CONNS
           and time.monotonic() < ramp_limit):
        await asyncio.sleep(0.5)
    await asyncio.sleep(5)
    phase[0] = "steady"
    steady_from = time.monotonic() - t_start
    print(f"# steady at {steady_from:.0f} s: open {stats.open}", flush=True)
    await asyncio.sleep(max(0.0, t0 + DURATION - time.monotonic()))
    phase[0] = "closing"
    stop.set()
    await asyncio.gather(*tasks)
    closed_at = time.monotonic()
    phase[0] = "after"
    # wait for the gateway to let go of every connection: idle upstream HTTP connections
    # stay in Warden's pool until nginx closes them (keepalive_timeout 75 s)
    while time.monotonic() - closed_at < SETTLE:
        _, fds, threads, _ = proc_sample(pid)
        if fds <= base[1] and threads <= base[2]:
            break
        await asyncio.sleep(1)
    settle_s = time.monotonic() - closed_at
    await asyncio.sleep(1)
    stop_sampling.set()
    await sampling
    end = proc_sample(pid)
    end_fds = fd_kinds(pid)
    extra = {k: n - base_fds.get(k, 0) for k, n in end_fds.items() if n > base_fds.get(k, 0)}
    if extra:
        print(f"# fds over the baseline after close: {extra}; its TCP sockets by state and "
              f"peer: {tcp_peers(pid, ports)}", flush=True)
    return stats, rows, base, end, steady_from, settle_s


def verdict(stats, rows, base, end, steady_from, settle_s):
    steady = [r for r in rows if r["phase"] == "steady" and r["t_s"] > steady_from + SAMPLE]
    ok = True
    print()
    print(f"requests: http {stats.total['http']:,}, pg {stats.total['pg']:,}, "
          f"ssh {stats.total['ssh']:,}; peak open "
          f"{max((r['http_open'] + r['pg_open'] + r['ssh_open'] for r in rows), default=0):,} "
          f"(http {max((r['http_open'] for r in rows), default=0):,}, "
          f"pg {max((r['pg_open'] for r in rows), default=0)}, "
          f"ssh {max((r['ssh_open'] for r in rows), default=0)})")
    if len(steady) >= 3:
        third = len(steady) // 3
        first = statistics.mean(r["rss_kib"] for r in steady[:third])
        middle = statistics.mean(r["rss_kib"] for r in steady[third:-third])
        last = statistics.mean(r["rss_kib"] for r in steady[-third:])
        growth = (last - middle) / middle * 100
        flat = growth <= MAX_GROWTH
        ok &= flat
        print(f"memory: steady-state RSS mean of the first (warm-up) / middle / last third "
              f"{first / 1024:.1f} / {middle / 1024:.1f} / {last / 1024:.1f} MiB; last vs "
              f"middle {growth:+.1f} % (limit {MAX_GROWTH:.0f} %), max "
              f"{max(r['rss_kib'] for r in steady) / 1024:.1f} MiB -> "
              f"{'FLAT' if flat else 'GROWING'}")
        for k in ("http", "pg", "ssh"):
            p50 = [float(r[f"{k}_p50_ms"]) for r in steady if r[f"{k}_p50_ms"]]
            p99 = [float(r[f"{k}_p99_ms"]) for r in steady if r[f"{k}_p99_ms"]]
            if p50:
                print(f"latency {k}: per-sample p50 median {statistics.median(p50):.2f} ms "
                      f"(max {max(p50):.2f}), p99 median {statistics.median(p99):.2f} ms "
                      f"(max {max(p99):.2f})")
        print(f"steady state: fds {min(r['fds'] for r in steady)}-"
              f"{max(r['fds'] for r in steady)}, threads {min(r['threads'] for r in steady)}-"
              f"{max(r['threads'] for r in steady)}, warden CPU "
              f"{steady[-1]['cpu_s'] - steady[0]['cpu_s']:.0f} s over "
              f"{steady[-1]['t_s'] - steady[0]['t_s']:.0f} s")
    else:
        ok = False
        print("memory: too few steady-state samples for a verdict (raise DURATION)")
    print(f"errors: {len(stats.errors)}" + ("" if not stats.errors else " -> FAIL"))
    for e in sorted(set(stats.errors))[:10]:
        print(f"  {stats.errors.count(e)} x {e}")
    ok &= not stats.errors
    back = end[1] <= base[1]
    ok &= back
    print(f"after close: fds {end[1]} (baseline {base[1]}), threads {end[2]} (baseline "
          f"{base[2]}), rss {end[0] / 1024:.1f} MiB (baseline {base[0] / 1024:.1f}); "
          f"settled in {settle_s:.0f} s -> {'BACK TO BASELINE' if back else 'LEAKED FDS'}")
    print(f"verdict: {'PASS' if ok else 'FAIL'}")
    return ok


def main():
    if not os.access(BIN, os.X_OK):
        die(f"WARDEN_BIN={BIN} is not an executable")
    for tool in ("nginx", "psql", "ssh"):
        if not shutil.which(tool):
            die(f"{tool} not found")
    if HTTP < 1:
        die("CONNS must exceed PG + SSH")
    if not port_open(5432):
        die("PostgreSQL is not listening on 127.0.0.1:5432")
    work = tempfile.mkdtemp(prefix="warden-soak.")
    procs, ssh = [], None
    try:
        ports = {k: free_port() for k in ("nginx", "http", "pg", "ssh", "web")}
        nginx, body_len = write_nginx(work, ports["nginx"])
        procs.append(nginx)
        ssh = Sshd(work) if SSH else None
        if ssh:
            ports["sshd"] = ssh.port
        token = secrets.token_hex(32)
        cfg = write_warden(work, ports, token, ssh)
        log = open(os.path.join(work, "warden.log"), "w")
        warden = subprocess.Popen([BIN, "serve", "--config", cfg], cwd=work, stdout=log,
                                  stderr=subprocess.STDOUT,
                                  env=dict(os.environ, WARDEN_LOG=ENV("WARDEN_LOG", "warn")))
        procs.append(warden)
        deadline = time.monotonic() + 60
        want = [ports["nginx"], ports["http"], ports["pg"]] + ([ports["ssh"]] if ssh else [])
        while not all(port_open(p) for p in want):
            if time.monotonic() > deadline or warden.poll() is not None:
                die(f"warden did not start; log:\n{open(log.name).read()[-2000:]}")
            time.sleep(0.1)
        version = subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout
        print(f"# benches/soak — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
              f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, {version.strip()} "
              f"({BIN})")
        print(f"# {CONNS} connections: {HTTP} http keep-alive (a GET every ~{INTERVAL:g} s), "
              f"{PG} psql (a SELECT every ~{PG_INTERVAL:g} s), {SSH} ssh `cat` "
              f"(a line every ~{SSH_INTERVAL:g} s); {DURATION:g} s; sample every {SAMPLE:g} s")
        stats, rows, base, end, steady_from, settle_s = asyncio.run(
            run(warden.pid, ports, token, body_len, ssh, os.path.join(work, "data", "audit")))
        csv_path = CSV_OUT or os.path.join(work, "soak.csv")
        with open(csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        print(f"# samples: {csv_path}")
        ok = verdict(stats, rows, base, end, steady_from, settle_s)
        panics = [line for line in open(log.name) if "panic" in line.lower()
                  or "ERROR" in line]
        if panics:
            print(f"warden log: {len(panics)} error lines, first: {panics[0].strip()}")
        warden.send_signal(signal.SIGTERM)
        warden.wait(timeout=30)
        verify = subprocess.run([BIN, "audit", "verify", "--path", f"{work}/data/audit"],
                                capture_output=True, text=True)
        said = [line for line in (verify.stdout + verify.stderr).splitlines()
                if not line.startswith("note:")]
        print(f"audit verify (exit {verify.returncode}): {' '.join(said)[:300]}")
        ok &= verify.returncode == 0 and not panics
        return 0 if ok else 1
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if ssh:
            ssh.close()
        if KEEP:
            print(f"work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
