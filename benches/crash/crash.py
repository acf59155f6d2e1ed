#!/usr/bin/env python3
"""Gateway crash test: SIGKILL `warden serve` again and again under mixed load, restart it
each time, then check what it promised.

Load (all through the real gateway, with the real clients):
  * psql writers: long-lived `psql -f -` sessions sending INSERT ... RETURNING; a row
    printed by psql is an acknowledged write (committed: PostgreSQL commits before it
    answers CommandComplete/ReadyForQuery);
  * psql readers: the same with SELECTs (read-only: the audit may group-commit them);
  * held statements: `psql -c "INSERT INTO crash_held ..."`, held by a policy rule until an
    approver (this script, through the JSON API) approves about half of the requests it
    sees, including requests left pending by a killed process;
  * HTTP: curl GET and POST through an http target to a small upstream in this process;
  * SSH: `ssh ... 'echo ...'` through an ssh target to a real sshd (when /usr/sbin/sshd
    exists and SSH is not 0).

Checks after the last restart: every acknowledged write (psql INSERT, HTTP POST, SSH exec)
has its decision record in `warden audit export`; `warden audit verify` passes; no
crash_held row exists whose approval is not recorded as approved; no held row exists
twice; every client call ended within its timeout; client errors are the expected clean
ones. Exit status 0 when every check passes, 1 otherwise.

Never builds anything: WARDEN_BIN names the binary.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crash_load as load  # noqa: E402

KILLS = int(os.environ.get("KILLS", "20"))
MIN_UP = float(os.environ.get("MIN_UP", "1.0"))
MAX_UP = float(os.environ.get("MAX_UP", "4.0"))
SEED = int(os.environ.get("SEED", str(int(time.time()))))
BIN = os.path.abspath(os.environ.get("WARDEN_BIN", "target/release/warden"))
KEEP = os.environ.get("KEEP") == "1"
WITH_SSH = os.environ.get("SSH", "1") != "0" and os.path.exists("/usr/sbin/sshd")

POLICY = """version: 1
rules:
  - name: crash-held-insert
    when: { protocol: postgres, sql: { statements: [insert], objects: ["crash_held", "*.crash_held"] } }
    action: hold
    approval: { approvers: { roles: [approver] }, required: 1, timeout: 10m }
"""


def die(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)


def hash_password(pw):
    out = subprocess.run([BIN, "hash-password"], input=pw + "\n", capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0], out[1]


def write_config(work, ports, ssh):
    alice_hash, alice_scram = hash_password(load.ALICE_PW)
    bob_hash, _ = hash_password(load.BOB_PW)
    alice_keys = ""
    if ssh:
        alice_keys = f', ssh_authorized_keys: ["{ssh.alice_pub}"]'
    os.makedirs(os.path.join(work, "policies"), exist_ok=True)
    with open(os.path.join(work, "policies", "crash.yaml"), "w") as f:
        f.write(POLICY)
    targets = [
        f"  - {{ name: db, protocol: postgres, listen: 127.0.0.1:{ports['pg']}, "
        f"upstream: 127.0.0.1:5432, upstream_user: postgres }}",
        f"  - {{ name: api, protocol: http, listen: 127.0.0.1:{ports['http']}, "
        f"upstream: http://127.0.0.1:{ports['origin']} }}",
    ]
    if ssh:
        targets.append(
            f"  - {{ name: host, protocol: ssh, listen: 127.0.0.1:{ports['ssh']}, "
            f"upstream: 127.0.0.1:{ssh.port}, upstream_user: root, ssh: "
            f"{{ host_key_fingerprint: \"{ssh.fingerprint}\", upstream_key_file: {ssh.client_key} }} }}")
    cfg = f"""web:
  listen: 127.0.0.1:{ports['web']}
audit:
  path: ./data/audit
data_dir: ./data
policies: [./policies]
shutdown_grace: 2s
users:
  - {{ name: alice, roles: [developer], password_hash: "{alice_hash}", scram_sha256: "{alice_scram}"{alice_keys} }}
  - {{ name: bob, roles: [approver], password_hash: "{bob_hash}" }}
targets:
""" + "\n".join(targets) + "\n"
    path = os.path.join(work, "warden.yaml")
    with open(path, "w") as f:
        f.write(cfg)
    return path


class Warden:
    """The gateway process; started and SIGKILLed by the main loop."""

    def __init__(self, cfg, work, expect):
        self.cfg, self.work, self.expect = cfg, work, expect
        self.proc = None
        self.starts = 0
        self.start_ms = []

    def start(self):
        self.starts += 1
        log = open(os.path.join(self.work, f"warden-{self.starts}.log"), "w")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([BIN, "serve", "--config", self.cfg], cwd=self.work,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, WARDEN_LOG="warn"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                die(f"warden exited with {self.proc.returncode} at start {self.starts}; "
                    f"see {log.name}")
            if all(load.port_open(p) for p in self.expect):
                self.start_ms.append((time.monotonic() - t0) * 1000)
                return
            time.sleep(0.02)
        die(f"warden did not listen within 60 s (start {self.starts})")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            return None


def audit_export(work):
    out = subprocess.run([BIN, "audit", "export", "--path", os.path.join(work, "data/audit")],
                         capture_output=True, text=True, cwd=work)
    if out.returncode != 0:
        die(f"audit export failed: {out.stderr}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def audit_verify(work):
    out = subprocess.run([BIN, "audit", "verify", "--path", os.path.join(work, "data/audit")],
                         capture_output=True, text=True, cwd=work)
    return out.returncode, (out.stdout + out.stderr).strip().splitlines()


def main():
    if not os.access(BIN, os.X_OK):
        die(f"{BIN} is not an executable warden binary (set WARDEN_BIN)")
    for tool in ["psql", "curl"] + (["ssh", "ssh-keygen"] if WITH_SSH else []):
        if shutil.which(tool) is None:
            die(f"{tool} not found")
    work = tempfile.mkdtemp(prefix="warden-crash-")
    db = f"warden_crash_{os.getpid()}"
    load.admin("postgres", f"CREATE DATABASE {db}")
    ok = False
    try:
        ok = run(work, db)
    finally:
        # Also on errors and Ctrl-C: the database goes; the work directory stays for a look.
        load.admin("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        if KEEP or not ok:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


def run(work, db):
    """One crash test in `work` against database `db`; whether every check passed."""
    rng = random.Random(SEED)
    load.admin(db, "CREATE TABLE crash_w (id text); CREATE TABLE crash_held (id text)")
    origin = load.Origin()
    ssh = load.Sshd(work) if WITH_SSH else None
    ports = {k: load.free_port() for k in ["pg", "http", "web", "ssh"]}
    ports["origin"] = origin.port
    cfg = write_config(work, ports, ssh)
    expect = [ports["pg"], ports["http"], ports["web"]] + ([ports["ssh"]] if ssh else [])
    warden = Warden(cfg, work, expect)
    ledger = load.Ledger()
    stop = threading.Event()
    ctx = load.Context(db=db, ports=ports, work=work, ledger=ledger, stop=stop, ssh=ssh,
                       seed=SEED)
    threads = load.start_workers(ctx)
    t_begin = time.monotonic()
    try:
        for i in range(KILLS):
            warden.start()
            time.sleep(rng.uniform(MIN_UP, MAX_UP))
            warden.kill()
            ledger.kills += 1
            print(f"kill {i + 1}/{KILLS} after start {warden.starts}: "
                  f"{ledger.progress()}", flush=True)
            time.sleep(rng.uniform(0.0, 0.3))
        # A last run, long enough for the approver to see what the last kill left.
        warden.start()
        time.sleep(max(MIN_UP, 2.0))
        # Stop the clients, then the gateway: statements still held get 57P01 from the
        # clean shutdown and their clients end.
        stop.set()
        code = warden.stop()
        for t in threads:
            t.join(timeout=60)
        hung_threads = [t.name for t in threads if t.is_alive()]
    finally:
        stop.set()
        if warden.proc and warden.proc.poll() is None:
            warden.kill()
        origin.close()
        if ssh:
            ssh.close()
    elapsed = time.monotonic() - t_begin
    verify_code, verify_out = audit_verify(work)
    records = audit_export(work)
    rows = load.held_rows(db)
    report = load.check(ledger, records, rows, verify_code, verify_out, hung_threads, code)
    print()
    print(f"warden crash test: seed {SEED}, {KILLS} SIGKILLs, {warden.starts} starts, "
          f"{elapsed:.0f} s, binary {BIN}")
    ms = sorted(warden.start_ms)
    print(f"restart to listening: median {ms[len(ms) // 2]:.0f} ms, max {ms[-1]:.0f} ms")
    for line in report.lines:
        print(line)
    print("RESULT: " + ("PASS" if report.ok else "FAIL"), flush=True)
    return report.ok


if __name__ == "__main__":
    main()
