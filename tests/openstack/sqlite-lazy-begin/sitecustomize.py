"""Loaded by every OpenStack service of the test control plane (PYTHONPATH), never elsewhere.

oslo.db runs SQLite connections with pysqlite's own transaction handling off and emits a plain
(deferred) ``BEGIN`` at the start of every SQLAlchemy transaction. A deferred transaction that
first reads holds a WAL read snapshot; when it then writes after another connection committed,
SQLite answers SQLITE_BUSY_SNAPSHOT *at once* - the busy timeout does not apply, because
waiting cannot help - and the API returns 500 "database is locked" (seen in nova-api during
`pulumi up`, a few times an hour on a busy machine).

Here such a ``BEGIN`` is held back: the statements before the first write run as they would
outside a transaction (each sees the latest commit), and the first write opens the transaction
with ``BEGIN IMMEDIATE``, which takes the write lock up front and so waits (the URL's
``timeout``) instead of failing. A transaction that only reads never takes a lock at all.
The price, acceptable for a test plane: reads made before a transaction's first write are not
part of one snapshot with it.
"""

import os
import sqlite3
import sqlite3.dbapi2
import sys

_READS = ("SELECT", "PRAGMA", "EXPLAIN")


def _verb(sql):
    return sql.lstrip().split(None, 1)[0].upper() if sql and sql.strip() else ""


class _Cursor(sqlite3.Cursor):
    def _before(self, sql):
        conn = self.connection
        verb = _verb(sql)
        if verb == "BEGIN" and sql.strip().upper() == "BEGIN":
            conn._lazy_begin = True
            return False
        if verb in ("COMMIT", "END", "ROLLBACK") and conn._lazy_begin and "TO" not in sql.upper().split():
            conn._lazy_begin = False
            return False  # nothing was written: nothing to commit or roll back
        if conn._lazy_begin and verb not in _READS:
            conn._lazy_begin = False
            if not conn.in_transaction:
                sqlite3.Cursor.execute(self, "BEGIN IMMEDIATE")
        return True

    def execute(self, sql, *args):
        if not self._before(sql):
            return self
        return super().execute(sql, *args)

    def executemany(self, sql, *args):
        if not self._before(sql):
            return self
        return super().executemany(sql, *args)


class _Connection(sqlite3.Connection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lazy_begin = False

    def cursor(self, factory=_Cursor):
        return super().cursor(factory)

    def commit(self):
        self._lazy_begin = False
        return super().commit()

    def rollback(self):
        self._lazy_begin = False
        return super().rollback()


_connect = sqlite3.dbapi2.connect


def _connect_lazy(*args, **kwargs):
    kwargs.setdefault("factory", _Connection)
    return _connect(*args, **kwargs)


sqlite3.dbapi2.connect = _connect_lazy
sqlite3.connect = _connect_lazy
sys.stderr.write(f"sqlite-lazy-begin: active in pid {os.getpid()}\n")
