"""Building blocks of the synthetic Warden workload: roles, targets, statements and the
audit events they become (in the shape `warden audit export` writes).

Deterministic: everything random comes from the `random.Random` passed in. No I/O.
"""

import random

# name -> (protocol, environment)
TARGETS = {
    "app-db-prod": ("postgres", "production"),
    "app-db-staging": ("postgres", "staging"),
    "warehouse": ("postgres", "production"),
    "reporting-db": ("postgres", "production"),
    "payroll-db": ("postgres", "production"),
    "billing-db": ("mysql", "production"),
    "k8s-prod": ("kubernetes", "production"),
    "k8s-staging": ("kubernetes", "staging"),
    "api-internal": ("http", "production"),
    "bastion-prod": ("ssh", "production"),
    "bastion-staging": ("ssh", "staging"),
}

# role -> dict(targets with weights, working day, activity, rows scale)
ROLES = {
    "developer": dict(targets={"app-db-staging": 5, "k8s-staging": 3, "api-internal": 2,
                               "app-db-prod": 1, "bastion-staging": 1},
                      start=(8.5, 10.5), length=(7.5, 9.5), rate=(0.4, 1.2), rows=200),
    "analyst": dict(targets={"warehouse": 6, "reporting-db": 3, "billing-db": 1},
                    start=(8.0, 9.5), length=(7.5, 9.0), rate=(0.3, 0.9), rows=5000),
    "sre": dict(targets={"k8s-prod": 5, "k8s-staging": 2, "bastion-prod": 3,
                         "app-db-prod": 1, "bastion-staging": 1},
                start=(8.0, 11.0), length=(7.0, 10.0), rate=(0.3, 1.0), rows=50),
    "dba": dict(targets={"app-db-prod": 4, "warehouse": 2, "reporting-db": 2, "billing-db": 2},
                start=(7.5, 9.5), length=(8.0, 9.5), rate=(0.3, 0.8), rows=1000),
    "support": dict(targets={"api-internal": 5, "app-db-prod": 2, "billing-db": 1},
                    start=(7.0, 9.0), length=(7.5, 8.5), rate=(0.5, 1.2), rows=5),
    "finance": dict(targets={"payroll-db": 4, "reporting-db": 3, "billing-db": 2},
                    start=(8.0, 9.5), length=(7.0, 8.5), rate=(0.2, 0.6), rows=300),
    # Only in the `alt` profile (profiles.py).
    "qa": dict(targets={"app-db-staging": 4, "k8s-staging": 3, "api-internal": 3, "bastion-staging": 2},
               start=(7.0, 10.0), length=(7.0, 9.0), rate=(0.5, 1.4), rows=100),
}

TABLES = {
    "app-db-prod": ["users", "orders", "order_items", "sessions", "products", "customers"],
    "app-db-staging": ["users", "orders", "order_items", "feature_flags", "products", "migrations"],
    "warehouse": ["fact_sales", "dim_customer", "dim_product", "fact_events", "daily_revenue"],
    "reporting-db": ["kpi_daily", "kpi_weekly", "churn", "cohorts"],
    "payroll-db": ["salaries", "employees", "payslips", "bonuses"],
    "billing-db": ["invoices", "payments", "subscriptions", "refunds"],
}

COLUMNS = ["id", "status", "created_at", "customer_id", "amount", "name", "region", "updated_at"]


def ip_port(rng, ip):
    return "%s:%d" % (ip, rng.randint(32768, 60999))


def sql_statement(rng, target, kind=None):
    """(raw, statement kind, objects) of an ordinary statement on `target`."""
    t = rng.choice(TABLES[target])
    kind = kind or rng.choices(["select", "select", "select", "select", "update", "insert", "explain"],
                               k=1)[0]
    c = rng.choice(COLUMNS)
    if kind == "select":
        shape = rng.randrange(5)
        if shape == 0:
            raw = "SELECT * FROM %s WHERE id = %d" % (t, rng.randint(1, 10 ** 6))
        elif shape == 1:
            raw = "SELECT %s, count(*) FROM %s GROUP BY %s ORDER BY 2 DESC LIMIT %d" % (
                c, t, c, rng.choice([10, 20, 50, 100]))
        elif shape == 2:
            raw = "SELECT id, %s FROM %s WHERE created_at > now() - interval '%d days'" % (
                c, t, rng.randint(1, 30))
        elif shape == 3:
            raw = "SELECT * FROM %s WHERE %s = '%s' LIMIT 100" % (t, c, rng.choice(
                ["open", "closed", "eu-west", "us-east", "pending"]))
        else:
            raw = "SELECT count(*) FROM %s" % t
        return raw, "select", [t]
    if kind == "update":
        return ("UPDATE %s SET status = '%s' WHERE id = %d" % (
            t, rng.choice(["open", "closed", "void"]), rng.randint(1, 10 ** 6)), "update", [t])
    if kind == "insert":
        return ("INSERT INTO %s (%s) VALUES ('%s')" % (t, c, rng.randint(1, 10 ** 6)), "insert", [t])
    return ("EXPLAIN SELECT * FROM %s WHERE %s = %d" % (t, c, rng.randint(1, 999)), "explain", [t])


def sql_facts(kind, objects, writes=None):
    if writes is None:
        writes = kind in ("update", "insert", "delete", "drop", "truncate", "grant", "revoke", "role",
                          "create", "alter")
    return {"kind": "sql", "statements": [{"kind": kind, "objects": objects, "without_where": False,
                                           "opaque": False, "writes": writes}], "unparsed": False}


KUBE_READS = [("GET", "/api/v1/namespaces/{ns}/pods", "list", "pods"),
              ("GET", "/apis/apps/v1/namespaces/{ns}/deployments", "list", "deployments"),
              ("GET", "/api/v1/namespaces/{ns}/pods/{name}/log", "get", "pods"),
              ("GET", "/api/v1/namespaces/{ns}/services", "list", "services"),
              ("GET", "/api/v1/namespaces/{ns}/events", "list", "events")]
KUBE_WRITES = [("PATCH", "/apis/apps/v1/namespaces/{ns}/deployments/{name}", "patch", "deployments"),
               ("DELETE", "/api/v1/namespaces/{ns}/pods/{name}", "delete", "pods")]
NAMESPACES = ["web", "payments", "search", "batch", "monitoring"]


def kube_request(rng, write=False):
    method, path, verb, resource = rng.choice(KUBE_WRITES if write else KUBE_READS)
    ns = rng.choice(NAMESPACES)
    name = "%s-%x" % (ns, rng.randint(0, 0xfffff))
    path = path.format(ns=ns, name=name)
    group = "apps" if "/apis/apps/" in path else ""
    facts = {"kind": "kubernetes", "http": {"method": method, "path": path, "unparsed": False},
             "kube": {"verb": verb, "group": group, "version": "v1", "resource": resource,
                      "namespace": ns, "non_resource": False, "unparsed": False}}
    if "/" + resource + "/" in path:
        facts["kube"]["name"] = name
    return "%s %s" % (method, path), facts


HTTP_PATHS = ["/api/customers/{id}", "/api/orders/{id}", "/api/customers/{id}/orders",
              "/api/tickets?status=open&page={p}", "/api/search?q=acct{id}", "/api/health"]


def http_request(rng, method="GET"):
    path = rng.choice(HTTP_PATHS).format(id=rng.randint(1, 10 ** 6), p=rng.randint(1, 20))
    p, _, q = path.partition("?")
    facts = {"kind": "http", "method": method, "path": p, "unparsed": False}
    if q:
        facts["query"] = q
    return "%s %s" % (method, path), facts


SSH_COMMANDS = ["uptime", "df -h", "systemctl status nginx", "journalctl -u app --since -1h | tail -n 50",
                "ls -la /var/log/app", "free -m", "cat /etc/os-release", "ps aux | grep java",
                "tail -n 200 /var/log/app/app.log", "du -sh /var/lib/docker"]


def ssh_facts(cmd):
    commands = []
    for part in cmd.split("|"):
        argv = part.split()
        if argv:
            commands.append({"argv": argv, "program": argv[0].rsplit("/", 1)[-1]})
    return {"kind": "ssh", "request": "exec", "commands": commands, "interactive": False,
            "opaque": False, "unparsed": False}


def ordinary_action(rng, target, role_rows, write_share=0.1):
    """(raw, facts, rows, bytes) of one ordinary action on `target`."""
    protocol = TARGETS[target][0]
    if protocol in ("postgres", "mysql"):
        kind = None if rng.random() > write_share else rng.choice(["update", "insert"])
        raw, kind, objects = sql_statement(rng, target, kind)
        rows = 1 if kind in ("update", "insert") else max(0, int(rng.lognormvariate(0, 1.2) * role_rows / 3))
        return raw, sql_facts(kind, objects), rows, rows * rng.randint(60, 300)
    if protocol == "kubernetes":
        raw, facts = kube_request(rng, write=rng.random() < write_share)
        return raw, facts, None, rng.randint(500, 60000)
    if protocol == "http":
        raw, facts = http_request(rng, "GET" if rng.random() > write_share else "POST")
        return raw, facts, None, rng.randint(200, 20000)
    cmd = rng.choice(SSH_COMMANDS)
    return cmd, ssh_facts(cmd), None, rng.randint(50, 8000)


class Emitter:
    """Builds audit events; `emit` is called with (time_s, event, tag)."""

    def __init__(self, rng, emit):
        self.rng = rng
        self.emit = emit
        self.sessions = 0

    def actor(self, user, ip):
        return {"name": user["name"], "roles": [user["role"]], "client_addr": ip_port(self.rng, ip)}

    def session_id(self):
        self.sessions += 1
        return "s-%06x" % self.sessions

    def base(self, kind, user, ip, target, session, roles=True):
        actor = self.actor(user, ip)
        if not roles:
            actor["roles"] = []
        return {"kind": kind, "actor": actor, "target": target,
                "protocol": TARGETS[target][0], "session": session}

    def login(self, t, user, ip, target, tag=None, failures=0):
        s = self.session_id()
        for i in range(failures):
            ev = self.base("auth_failed", user, ip, target, s, roles=False)
            ev["detail"] = "password authentication failed"
            self.emit(t + i * self.rng.uniform(2, 9), ev, tag)
        t += failures * 10
        ev = self.base("connection_opened", user, ip, target, s, roles=False)
        ev["detail"] = "tls=true"
        self.emit(t, ev, tag)
        ev = self.base("authenticated", user, ip, target, s)
        ev["detail"] = "scram-sha-256 or password"
        self.emit(t + 0.05, ev, tag)
        return s, t + 0.1

    def failed_login(self, t, name, ip, target, tag=None):
        user = {"name": name, "role": ""}
        ev = self.base("auth_failed", user, ip, target, self.session_id(), roles=False)
        ev["detail"] = "password authentication failed for user \"%s\"" % name
        self.emit(t, ev, tag)

    def action(self, t, user, ip, target, session, raw, facts, decision="allow", rows=None,
               nbytes=None, error=None, tag=None, rules=None):
        ev = self.base("action_decided", user, ip, target, session)
        protocol = TARGETS[target][0]
        ev["action"] = {"protocol": protocol, "user": self.actor(user, ip),
                        "target": {"name": target, "labels": {"env": TARGETS[target][1]}},
                        "session": session, "raw": raw, "facts": facts}
        ev["verdict"] = {"decision": decision, "rules": rules or ([] if decision == "allow" else
                                                                   ["guard-" + decision])}
        self.emit(t, ev, tag)
        if decision != "allow":
            return
        done = self.base("action_completed", user, ip, target, session)
        outcome = {"duration_ms": self.rng.randint(1, 400)}
        if error:
            outcome["error"] = error
            if protocol in ("http", "kubernetes"):
                outcome["status"] = str(self.rng.choice([400, 403, 404, 500]))
        else:
            if protocol in ("postgres", "mysql"):
                outcome["status"] = "%s %d" % (raw.split()[0].upper(), rows or 0)
                outcome["rows"] = rows or 0
            elif protocol in ("http", "kubernetes"):
                outcome["status"] = "200"
            else:
                outcome["status"] = "0"
            if nbytes:
                outcome["bytes"] = nbytes
        done["outcome"] = outcome
        done["detail"] = "decided"
        self.emit(t + outcome["duration_ms"] / 1000.0, done, tag)

    def close(self, t, user, ip, target, session, tag=None):
        self.emit(t, self.base("connection_closed", user, ip, target, session, roles=False), tag)

    def reload(self, t, detail, tag=None):
        self.emit(t, {"kind": "policy_reloaded", "detail": detail}, tag)
