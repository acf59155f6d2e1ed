"""PyMySQL through Warden, for the MySQL front-end tests.

usage: pymysql_client.py PORT USER PASSWORD DATABASE STATEMENT...

Runs each statement on one connection (multi-statements on, autocommit) and prints one
line per statement: `OK <rows of every result set, '|'-separated>` or `ERR <code>`.
"""
import sys

import pymysql
from pymysql.constants import CLIENT

port, user, password, db = sys.argv[1:5]
conn = pymysql.connect(host="127.0.0.1", port=int(port), user=user, password=password,
                       database=db, client_flag=CLIENT.MULTI_STATEMENTS, autocommit=True,
                       connect_timeout=10, read_timeout=60)
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
