"""Load, ledger and checks for crash.py: the clients (psql, curl, ssh), the approver, the
HTTP origin and sshd, what each client saw acknowledged, and the checks against the audit
log and the database. Never builds or starts Warden itself."""

import collections
import hashlib
import http.server
import json
import os
import re
import socket
import subprocess
import threading
import time

ALICE_PW = "crash-alice-pw-1"
BOB_PW = "crash-bob-pw-2"
ID = re.compile(r"\b([wrhspg])-(\d+)-(\d+)\b")

# What a client may see when the gateway dies under it or is not up yet: clean errors.
CLEAN = [
    "server closed the connection unexpectedly",
    "Connection refused",
    "could not receive data from server",
    "connection to server was lost",
    "no connection to the server",
    "Warden is shutting down",
    "was withdrawn",
    "statement not run",
    "Denied by Warden",
    "denied",
    "Connection reset by peer",
    "Connection closed by",
    "closed by remote host",
    "kex_exchange_identification",
    "Broken pipe",
    "connection timeout expired",
    "timeout expired",
    "exit 255 without a message",
]
# curl exit codes for a dead or restarting gateway: refused, empty reply, send/recv failure.
CURL_CLEAN = {7, 52, 55, 56}
PSQL_TIMEOUT = 60
HELD_TIMEOUT = 120
CURL_TIMEOUT = 10
SSH_TIMEOUT = 30


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def admin(db, sql):
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-U", "postgres",
                          "-d", db, "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"error: psql as postgres on {db}: {out.stderr.strip()}")
    return out.stdout


def held_rows(db):
    return collections.Counter(admin(db, "SELECT id FROM crash_held").split())


class Ledger:
    """What the clients saw, shared by all worker threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = collections.defaultdict(set)   # kind -> ids the client saw succeed
        self.sent = collections.Counter()           # kind -> requests sent
        self.errors = collections.Counter()         # clean error class -> count
        self.unclean = []                           # (kind, message) not in CLEAN
        self.hangs = []                             # (kind, id) past their timeout
        self.held_ran = set()                       # held ids whose psql said INSERT 0 1
        self.approved = set()                       # held ids the approver approved (200)
        self.approve_tried = set()                  # ... or tried to (reply maybe lost)
        self.denied = set()
        self.approve_requests = collections.Counter()  # approval id -> approvals sent
        self.kills = 0

    def ack(self, kind, ident):
        with self.lock:
            self.acked[kind].add(ident)

    def count(self, kind, n=1):
        with self.lock:
            self.sent[kind] += n

    def error(self, kind, text):
        text = text.strip()
        with self.lock:
            for pattern in CLEAN:
                if pattern in text:
                    self.errors[f"{kind}: {pattern}"] += 1
                    return
            self.unclean.append((kind, text[-300:]))

    def hang(self, kind, ident):
        with self.lock:
            self.hangs.append((kind, ident))

    def progress(self):
        with self.lock:
            return ", ".join(f"{k} {len(v)}" for k, v in sorted(self.acked.items()))


class Context:
    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.counter = collections.Counter()
        self.lock = threading.Lock()

    def next_id(self, prefix, worker):
        with self.lock:
            self.counter[(prefix, worker)] += 1
            return f"{prefix}-{worker}-{self.counter[(prefix, worker)]}"

    def wait_up(self, port):
        while not self.stop.is_set() and not port_open(port):
            time.sleep(0.05)
        return not self.stop.is_set()


def psql_env():
    return dict(os.environ, PGPASSWORD=ALICE_PW, PGCONNECT_TIMEOUT="5", PGSSLMODE="disable")


def psql_args(ctx, *extra):
    return ["psql", "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", str(ctx.ports["pg"]),
            "-U", "alice", "-d", ctx.db, *extra]


def psql_session(ctx, kind, worker):
    """One long psql session per batch: INSERTs (kind w) or SELECTs (kind r), each
    answering `ack:<id>`; the session ends when the gateway dies under it."""
    while ctx.wait_up(ctx.ports["pg"]):
        ids = [ctx.next_id(kind, worker) for _ in range(40)]
        if kind == "w":
            sql = "".join(f"INSERT INTO crash_w VALUES ('{i}') RETURNING 'ack:' || id;\n"
                          for i in ids)
        else:
            sql = "".join(f"SELECT 'ack:{i}', count(*) FROM crash_w;\n" for i in ids)
        try:
            out = subprocess.run(psql_args(ctx, "-v", "ON_ERROR_STOP=1", "-f", "-"), input=sql,
                                 capture_output=True, text=True, env=psql_env(),
                                 timeout=PSQL_TIMEOUT)
        except subprocess.TimeoutExpired:
            ctx.ledger.hang(kind, ids[0])
            continue
        acked = [line.split("|")[0][4:] for line in out.stdout.splitlines()
                 if line.startswith("ack:")]
        for i in acked:
            ctx.ledger.ack(kind, i)
        ctx.ledger.count(kind, len(acked) + (1 if out.returncode else 0))
        if out.returncode != 0:
            ctx.ledger.error("psql", out.stderr)


def held_client(ctx, worker):
    """A statement the policy holds; it runs only if the approver approves it."""
    while ctx.wait_up(ctx.ports["pg"]):
        ident = ctx.next_id("h", worker)
        ctx.ledger.count("h")
        try:
            out = subprocess.run(psql_args(ctx, "-c",
                                           f"INSERT INTO crash_held VALUES ('{ident}')"),
                                 capture_output=True, text=True, env=psql_env(),
                                 timeout=HELD_TIMEOUT)
        except subprocess.TimeoutExpired:
            ctx.ledger.hang("h", ident)
            continue
        if out.returncode == 0:
            with ctx.ledger.lock:
                ctx.ledger.held_ran.add(ident)
        else:
            ctx.ledger.error("held", out.stderr)


def curl(ctx, *args, timeout=CURL_TIMEOUT):
    return subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                           "--max-time", str(timeout), *args],
                          capture_output=True, text=True)


def approver(ctx):
    """Bob approves about half of the held requests he sees, denies a fifth, and leaves
    the rest pending (they die with the gateway, or are approved after a restart)."""
    api = f"http://127.0.0.1:{ctx.ports['web']}/api/v1/approvals"
    seen = set()
    while not ctx.stop.is_set():
        time.sleep(0.3)
        out = subprocess.run(["curl", "-s", "--max-time", "5", "-u", f"bob:{BOB_PW}",
                              f"{api}?state=pending"], capture_output=True, text=True)
        try:
            pending = json.loads(out.stdout).get("approvals", [])
        except ValueError:
            continue
        for req in pending:
            rid = req.get("id")
            m = ID.search(json.dumps(req.get("action", {}).get("raw", "")))
            if not rid or not m or rid in seen:
                continue
            seen.add(rid)
            ident = m.group(0)
            roll = int(hashlib.sha256(f"{ctx.seed}:{rid}".encode()).hexdigest()[:8], 16) % 10
            verb = "approve" if roll < 5 else "deny" if roll < 7 else None
            if verb is None:
                continue
            with ctx.ledger.lock:
                (ctx.ledger.approve_tried if verb == "approve" else ctx.ledger.denied).add(ident)
                ctx.ledger.approve_requests[rid] += 1
            res = curl(ctx, "-u", f"bob:{BOB_PW}", "-X", "POST", "-H",
                       "content-type: application/json", "-d", '{"reason":"crash test"}',
                       f"{api}/{rid}/{verb}")
            if res.stdout == "200" and verb == "approve":
                with ctx.ledger.lock:
                    ctx.ledger.approved.add(ident)


def http_client(ctx, worker):
    """GET (a read) and POST (a write, audited durably) through the http target."""
    base = f"http://127.0.0.1:{ctx.ports['http']}"
    while ctx.wait_up(ctx.ports["http"]):
        for kind in ("g", "p"):
            ident = ctx.next_id(kind, worker)
            ctx.ledger.count(kind)
            args = ["-u", f"alice:{ALICE_PW}"]
            if kind == "p":
                args += ["-X", "POST", "-d", ident]
            res = curl(ctx, *args, f"{base}/{ident}")
            if res.stdout == "200":
                ctx.ledger.ack(kind, ident)
            elif res.returncode == 28:
                ctx.ledger.hang(kind, ident)
            elif res.returncode in CURL_CLEAN or res.stdout in ("502", "503"):
                with ctx.ledger.lock:
                    ctx.ledger.errors[f"curl: exit {res.returncode} http {res.stdout}"] += 1
            else:
                with ctx.ledger.lock:
                    ctx.ledger.unclean.append(("curl", f"exit {res.returncode} http {res.stdout}"))


def ssh_client(ctx, worker):
    """`ssh host 'echo <id>'` through the ssh target (an exec: audited durably)."""
    while ctx.wait_up(ctx.ports["ssh"]):
        ident = ctx.next_id("s", worker)
        ctx.ledger.count("s")
        try:
            out = subprocess.run(["ssh", "-i", ctx.ssh.alice_key, "-p", str(ctx.ports["ssh"]),
                                  "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                                  "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                                  "-o", "ConnectTimeout=5", "alice@127.0.0.1", f"echo {ident}"],
                                 capture_output=True, text=True, timeout=SSH_TIMEOUT,
                                 stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            ctx.ledger.hang("s", ident)
            continue
        if out.returncode == 0 and ident in out.stdout:
            ctx.ledger.ack("s", ident)
        else:
            # ssh exits 255 on its own connection errors; with LogLevel=ERROR a connection
            # the gateway dropped during the handshake may say nothing more.
            silent = out.returncode == 255 and not out.stderr.strip()
            ctx.ledger.error("ssh", "exit 255 without a message" if silent else out.stderr)


def start_workers(ctx):
    specs = [("w1", psql_session, ("w", 1)), ("w2", psql_session, ("w", 2)),
             ("r1", psql_session, ("r", 1)), ("h1", held_client, (1,)),
             ("h2", held_client, (2,)), ("approver", approver, ()),
             ("http1", http_client, (1,))]
    if ctx.ssh:
        specs.append(("ssh1", ssh_client, (1,)))
    threads = []
    for name, fn, args in specs:
        t = threading.Thread(target=fn, args=(ctx, *args), name=name, daemon=True)
        t.start()
        threads.append(t)
    return threads


class Origin:
    """The http target's upstream: answers 200 to GET and POST."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self):
                n = int(self.headers.get("content-length") or 0)
                if n:
                    self.rfile.read(n)
                self.send_response(200)
                self.send_header("content-length", "3")
                self.end_headers()
                self.wfile.write(b"ok\n")

            do_GET = do_POST = answer

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # The gateway's upstream connections die with it: expected, not news.
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


class Sshd:
    """A real OpenSSH server on a free loopback port (root logs in with a generated key),
    set up as the SSH front-end's own tests do."""

    def __init__(self, work):
        os.makedirs("/run/sshd", exist_ok=True)
        d = os.path.join(work, "sshd")
        os.makedirs(d)
        keys = {n: os.path.join(d, n) for n in ("host", "upstream", "alice")}
        for path in keys.values():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "crash", "-f",
                            path], check=True)
        auth = os.path.join(d, "authorized_keys")
        with open(keys["upstream"] + ".pub") as src, open(auth, "w") as dst:
            dst.write(src.read())
        self.port = free_port()
        cfg = os.path.join(d, "sshd_config")
        with open(cfg, "w") as f:
            f.write(f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {keys['host']}\n"
                    f"AuthorizedKeysFile {auth}\nStrictModes no\nUsePAM no\n"
                    f"PidFile {d}/sshd.pid\nPermitRootLogin prohibit-password\n"
                    "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                    "LogLevel ERROR\nMaxStartups 100\n")
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", cfg],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("error: sshd did not start")
            time.sleep(0.05)
        fp = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", keys["host"] + ".pub"],
                            capture_output=True, text=True, check=True).stdout.split()[1]
        self.fingerprint = fp
        self.client_key = keys["upstream"]
        self.alice_key = keys["alice"]
        with open(keys["alice"] + ".pub") as f:
            self.alice_pub = f.read().strip()

    def close(self):
        self.proc.kill()
        self.proc.wait()


from crash_check import check  # noqa: E402,F401  (re-exported for crash.py)
