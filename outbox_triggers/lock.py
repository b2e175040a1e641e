"""The relay lock: one MySQL named lock per events table, on a dedicated connection.

``GET_LOCK`` belongs to the session that took it and is released when that
session ends, so a relay that dies (even by SIGKILL) hands over as soon as the
server notices its connection is gone. The relay checks it still holds the
lock before every batch.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.engine import Connection, Engine

from outbox_triggers.database import translate_errors


def lock_name(database: str, events_table: str) -> str:
    """The named lock for an events table; at most 64 characters, as MySQL requires."""
    name = f"outbox_triggers.{database}.{events_table}"
    if len(name) <= 64:
        return name
    return "outbox_triggers." + hashlib.sha256(name.encode("utf-8")).hexdigest()[:40]


class RelayLock:
    """The named lock that makes one relay at a time publish an events table."""

    def __init__(self, engine: Engine, events_table: str) -> None:
        self._engine = engine
        self._events_table = events_table
        self._conn: Connection | None = None
        self.name = ""

    def acquire(self, wait_s: float) -> bool:
        """Try to take the lock, waiting up to ``wait_s`` seconds."""
        with translate_errors(self._engine.url):
            conn = self._connection()
            got = conn.exec_driver_sql("SELECT GET_LOCK(%s, %s)", (self.name, wait_s)).scalar()
        return got == 1

    def held(self) -> bool:
        """True while this relay's connection still owns the lock."""
        if self._conn is None:
            return False
        try:
            owner = self._conn.exec_driver_sql(
                "SELECT IS_USED_LOCK(%s) = CONNECTION_ID()", (self.name,)
            ).scalar()
        except Exception:
            self.release()
            return False
        return owner == 1

    def holder(self) -> int | None:
        """The connection id holding the lock, if anyone does."""
        with translate_errors(self._engine.url):
            value = self._connection().exec_driver_sql("SELECT IS_USED_LOCK(%s)", (self.name,)).scalar()
        return int(value) if value is not None else None

    def release(self) -> None:
        """Release the lock by closing its connection."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.exec_driver_sql("SELECT RELEASE_LOCK(%s)", (self.name,))
            except Exception:
                pass
            finally:
                conn.invalidate()
                conn.close()

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            database = str(self._conn.exec_driver_sql("SELECT DATABASE()").scalar())
            self.name = lock_name(database, self._events_table)
        return self._conn
