"""PyMySQL through Warden, for the MySQL front-end tests.

usage: pymysql_client.py PORT USER PASSWORD DATABASE STATEMENT...

Runs each statement on one connection (multi-statements on, autocommit) and prints one
line per statement: `OK <rows of every result set, '|'-separated>` or `ERR <code>`; a
failed login prints `LOGIN_ERR <code>`. PYMYSQL_SERVER_PUBLIC_KEY (when not empty) names
a PEM file given to PyMySQL as the server's RSA public key.
"""
import os
import sys

import pymysql
from pymysql.constants import CLIENT

port, user, password, db = sys.argv[1:5]
key_file = os.environ.get("PYMYSQL_SERVER_PUBLIC_KEY")
server_public_key = open(key_file, "rb").read() if key_file else None
try:
    conn = pymysql.connect(host="127.0.0.1", port=int(port), user=user, password=password,
                           database=db, client_flag=CLIENT.MULTI_STATEMENTS, autocommit=True,
                           connect_timeout=10, read_timeout=60,
                           server_public_key=server_public_key)
except pymysql.err.MySQLError as e:
    print("LOGIN_ERR %s" % (e.args[0] if e.args else "?"), flush=True)
    sys.exit(0)
for sql in sys.argv[5:]:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        rows = []
        while True:
            rows.extend(",".join(str(v) for v in row) for row in cur.fetchall())
            if not cur.nextset():
                break
        print("OK " + "|".join(rows), flush=True)
    except pymysql.err.MySQLError as e:
        print("ERR %s" % (e.args[0] if e.args else "?"), flush=True)
    finally:
        cur.close()
conn.close()
