#!/usr/bin/env python3
"""Seed the fuzz corpora from the project's own test cases, shipped policies and
example config, plus hand-built protocol streams (PostgreSQL, MySQL, audit journal).

Run from the repository root: `python3 fuzz/seed_corpora.py OUT_DIR`, then minimise
each target with `cargo +nightly fuzz cmin TARGET OUT_DIR/TARGET` (docs/hardening.md).
"""
import glob, hashlib, json, os, re, struct, sys, zlib

OUT = sys.argv[1] if len(sys.argv) > 1 else "/tmp/warden-seeds"

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)

STR = re.compile(r'r#"(.*?)"#|(?<![A-Za-z0-9_#])(b?)"((?:[^"\\]|\\.)*)"', re.S)

def unescape(s, raw_bytes=False):
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            simple = {"n": 10, "r": 13, "t": 9, "0": 0, "\\": 92, '"': 34, "'": 39}
            if n in simple:
                out.append(simple[n]); i += 2; continue
            if n == "x":
                out.append(int(s[i + 2:i + 4], 16)); i += 4; continue
            if n == "u":
                j = s.index("}", i)
                out += chr(int(s[i + 3:j], 16)).encode(); i = j + 1; continue
            if n == "\n":
                i += 2
                while i < len(s) and s[i] in " \t\n":
                    i += 1
                continue
        out += c.encode()
        i += 1
    return bytes(out)

def literals(path):
    text = open(path, encoding="utf-8").read()
    for m in STR.finditer(text):
        if m.group(1) is not None:
            yield m.group(1).encode()
        else:
            yield unescape(m.group(3))

# SQL: the inspect crate's SQL tests and the SQL in shipped policies' tests.
for p in glob.glob("crates/inspect/tests/sql_*.rs"):
    for s in literals(p):
        if len(s) >= 6 and b" " in s:
            put("sql_inspect", s)
for p in glob.glob("policies/*.yaml"):
    for m in re.finditer(r'sql: (".*?"|\'.*?\'|[^,}\n]+)', open(p).read()):
        put("sql_inspect", m.group(1).strip("\"'"))

# Shell: the shell tests and the exec commands of the ssh pack's tests.
for p in ["crates/inspect/tests/shell_cases.rs", "crates/inspect/tests/shell_writes.rs"]:
    for s in literals(p):
        if len(s) >= 2:
            put("shell_parse", s)
for m in re.finditer(r'exec: (".*?"|\'.*?\'|[^,}\n]+)', open("policies/ssh.yaml").read()):
    put("shell_parse", m.group(1).strip("\"'"))

# Kubernetes / HTTP request lines: the resolver's and the HTTP inspector's tables, the
# kubernetes pack's tests.
ROW = re.compile(r'\("(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|CONNECT|TRACE)",\s*"([^"]*)"')
for p in ["crates/inspect/tests/kube_cases.rs", "crates/inspect/tests/http_cases.rs"]:
    for m in ROW.finditer(open(p).read()):
        put("kube_path", f"{m.group(1)} {m.group(2)}")
for m in re.finditer(r'method: (\w+), path: ("[^"]*"|[^ }]+)', open("policies/kubernetes.yaml").read()):
    put("kube_path", f"{m.group(1)} {m.group(2).strip(chr(34))}")
put("kube_path", "POST /api/v1/namespaces/prod/pods/x?_method=DELETE\nX-HTTP-Method-Override: DELETE")
put("kube_path", "POST /api/v1/namespaces/prod/pods/web-1/eviction")
put("kube_path", "GET /api/v1/nodes/n1/proxy/configz")

# Policies: the shipped packs and the policy tests' inline files.
for p in glob.glob("policies/*.yaml"):
    put("policy_yaml", open(p, "rb").read())
for p in glob.glob("crates/policy/tests/*.rs"):
    for s in literals(p):
        if b"rules:" in s or b"version:" in s:
            put("policy_yaml", s)

# warden.yaml: the example config and the config tests' inline files.
put("config_yaml", open("deploy/warden.example.yaml", "rb").read())
for s in literals("crates/config/src/tests.rs"):
    if b"targets:" in s or b"web:" in s:
        put("config_yaml", s)

# HTTP framing: the raw requests of the scanner's and smuggling tests (split byte first).
for p in ["crates/frontend-http/src/framing.rs", "crates/frontend-http/tests/http_smuggling.rs"]:
    for s in literals(p):
        if b"HTTP/1" in s or b"\r\n" in s:
            put("http_framing", bytes([len(s) // 2 % 256]) + s.replace(b"{}", b""))

# PostgreSQL: startup, SSLRequest, cancel, simple and extended query, SASL, server messages.
def msg(tag, body):
    return tag + struct.pack(">I", len(body) + 4) + body
def cstr(s):
    return s.encode() + b"\0"
def startup(params):
    body = struct.pack(">I", 196608) + b"".join(cstr(k) + cstr(v) for k, v in params) + b"\0"
    return struct.pack(">I", len(body) + 4) + body
ssl = struct.pack(">II", 8, 80877103)
cancel = struct.pack(">III", 16, 80877102, 4242) + b"\x01\x02\x03\x04"
start = startup([("user", "alice"), ("database", "app"), ("application_name", "psql")])
query = msg(b"Q", cstr("SELECT 1; DROP TABLE t"))
extended = (msg(b"P", cstr("s1") + cstr("SELECT $1::int") + struct.pack(">hI", 1, 23))
            + msg(b"B", cstr("") + cstr("s1") + struct.pack(">hh", 0, 1) + struct.pack(">i", 1) + b"7" + struct.pack(">h", 0))
            + msg(b"D", b"P" + cstr("")) + msg(b"E", cstr("") + struct.pack(">i", 0))
            + msg(b"C", b"S" + cstr("s1")) + msg(b"S", b""))
sasl = (msg(b"p", cstr("SCRAM-SHA-256") + struct.pack(">i", 24) + b"n,,n=,r=rOprNGfwEbeRWgbN")
        + msg(b"p", b"c=biws,r=rOprNGfwEbeRWgbNabcdef,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
server = (msg(b"R", struct.pack(">i", 5) + b"salt") + msg(b"K", struct.pack(">i", 77) + b"secretkey")
          + msg(b"E", b"SERROR\0C42501\0Mpermission denied\0\0") + msg(b"N", b"SNOTICE\0Mhi\0\0"))
put("pg_codec", b"\0" + ssl + start + query)
put("pg_codec", b"\0" + cancel)
put("pg_codec", b"\0" + start + sasl + extended)
put("pg_codec", b"\x01" + extended + query + msg(b"X", b""))
put("pg_codec", b"\x01" + server)
put("pg_codec", b"\0" + struct.pack(">II", 8, 80877104) + start)

# MySQL: handshake response, then commands (each with sequence id 0).
def packet(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload
caps = 1 | 4 | 8 | (1 << 9) | (1 << 13) | (1 << 15) | (1 << 16) | (1 << 17) | (1 << 19) | (1 << 21)
hello = (struct.pack("<IIB", caps, 1 << 24, 45) + bytes(23) + cstr("alice") + bytes([20]) + bytes(range(20))
         + cstr("app") + cstr("mysql_native_password"))
prepare = packet(0, b"\x16" + b"SELECT * FROM t WHERE a = ? AND b = ? -- ?")
execute = packet(0, b"\x17" + struct.pack("<IBI", 1, 0, 1) + b"\x00" + b"\x01"
                 + b"\x03\x00" + b"\xfe\x00" + struct.pack("<i", 7) + b"\x03abc")
longdata = packet(0, b"\x18" + struct.pack("<IH", 1, 1) + b"chunk")
dates = packet(0, b"\x17" + struct.pack("<IBI", 1, 0, 1) + b"\x00" + b"\x01"
               + b"\x0c\x00" + b"\x0b\x00" + b"\x0b" + struct.pack("<HBBBBBI", 2026, 12, 7, 9, 40, 1, 5)
               + b"\x0c" + b"\x01" + struct.pack("<IBBBI", 3, 4, 5, 6, 7))
put("mysql_codec", b"\0" + packet(1, hello) + packet(0, b"\x03SELECT 'a\\'b', \"c\" /*! ? */ FROM t") + packet(0, b"\x01"))
put("mysql_codec", b"\x01" + prepare + execute + longdata + execute)
put("mysql_codec", b"\x01" + packet(0, b"\x16SELECT ?, ?") + dates)
put("mysql_codec", b"\x01" + packet(0, b"\x02app") + packet(0, b"\x0e") + packet(0, b"\x11bob") + packet(0, b"\x1f"))

# Audit: stored values (a version-1 record, a chunk), a journal records payload, a
# journal file with a records frame and a checkpoint frame.
def record(seq, prev, event):
    t = 1_765_000_000_000_000_000 + seq
    h = hashlib.sha256(b"warden-audit-record/v1\n" + struct.pack(">Qq", seq, t) + prev
                       + struct.pack(">I", len(event)) + event).digest()
    return bytes([1]) + struct.pack(">Qq", seq, t) + prev + h + event, h
event = json.dumps({"kind": "connection_opened", "actor": {"name": "alice", "roles": ["dba"]},
                    "target": "prod-db", "protocol": "postgres", "session": "s-1", "detail": "psql"},
                   separators=(",", ":"), sort_keys=True).encode()
r1, h1 = record(1, bytes(32), event)
r2, _ = record(2, h1, event)
chunk = bytes([2]) + struct.pack(">I", 2) + struct.pack(">I", len(r1)) + r1 + struct.pack(">I", len(r2)) + r2
payload = struct.pack(">I", len(chunk)) + chunk
def frame(gen, kind, body):
    head = b"WJF1" + struct.pack(">QBI", gen, kind, len(body)) + body
    return head + struct.pack(">I", zlib.crc32(head))
checkpoint = json.dumps({"seq": 1, "head": h1.hex(), "time": "2026-12-07T09:40:00Z", "time_ns": 1,
                         "key": "00" * 32, "sig": "00" * 64}).encode()
first = frame(9, 1, payload)
journal = first + bytes(-len(first) % 4096) + frame(9, 2, checkpoint)
put("audit_decode", b"\x02" + r1)
put("audit_decode", b"\x02" + chunk)
put("audit_decode", b"\x01" + payload)
put("audit_decode", b"\x00" + journal)
