"""The control plane's SQLite shim (tests/openstack/sqlite-lazy-begin), checked with oslo.db itself.

Run with Debian's python3 (python3-oslo.db). Two engines as two services would make them, on one
WAL database: A begins a transaction and reads, B writes and commits, A writes.
  python3 tests/openstack/sqlite_lazy_begin_check.py expect-failure   # without the shim
  PYTHONPATH=tests/openstack/sqlite-lazy-begin python3 ... expect-success
Exit 0 when what happened is what was expected, 1 otherwise (with the error printed).
"""

import os
import sqlite3
import sys
import tempfile

import sqlalchemy
from oslo_db.sqlalchemy import engines


def main(expect):
    shim = "sqlite-lazy-begin" in os.environ.get("PYTHONPATH", "")
    d = tempfile.mkdtemp(prefix="sqlite-lazy-begin.")
    url = f"sqlite:///{d}/t.sqlite?timeout=5"
    a = engines.create_engine(url)
    b = engines.create_engine(url)
    raw = sqlite3.connect(f"{d}/t.sqlite", isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    raw.execute("INSERT INTO t VALUES (1, 0)")
    raw.close()
    error = None
    ca = a.connect()
    try:
        with ca.begin():
            ca.execute(sqlalchemy.text("SELECT v FROM t WHERE id = 1")).scalar()
            with b.connect() as cb, cb.begin():
                cb.execute(sqlalchemy.text("UPDATE t SET v = v + 1 WHERE id = 1"))
            ca.execute(sqlalchemy.text("UPDATE t SET v = v + 10 WHERE id = 1"))
    except sqlalchemy.exc.OperationalError as e:
        error = e
    finally:
        ca.close()
    with b.connect() as c:
        v = c.execute(sqlalchemy.text("SELECT v FROM t WHERE id = 1")).scalar()
    print(f"shim={'on' if shim else 'off'} error={str(error.orig) if error else None} v={v}")
    if expect == "expect-failure":
        return 0 if error is not None and "locked" in str(error) else 1
    return 0 if error is None and v == 11 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "expect-success"))
