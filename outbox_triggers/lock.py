"""The relay locks: MySQL named locks on a dedicated connection.

``GET_LOCK`` belongs to the session that took it and is released when that
session ends, so a relay that dies (even by SIGKILL) hands over as soon as the
server notices its connection is gone. The relay checks it still holds its
locks before every read.

With one partition (the default) there is one lock per events table, and one
relay publishes at a time. With ``relay.partitions: N``, every event belongs
to partition ``key_hash % N``, each partition has its own lock, and each relay
also holds one *member* lock. A relay counts the member locks in use and keeps
a fair share, ``ceil(N / members)``, of the partition locks: it gives up extras
between batches and takes free ones, so starting or stopping a relay
rebalances the partitions with no coordinator and no human. The relay lets
its requests in flight come back before it gives a partition up. A key's events
are always in one partition, held by one relay at a time, so per-key order
holds across relays.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Protocol

from sqlalchemy.engine import Connection, Engine

from outbox_triggers.database import translate_errors


def lock_name(database: str, events_table: str, suffix: str = "") -> str:
    """The named lock for an events table (plus ``suffix``); at most 64 characters, as MySQL requires."""
    name = f"outbox_triggers.{database}.{events_table}"
    if len(name) + len(suffix) > 64:
        name = "outbox_triggers." + hashlib.sha256(name.encode("utf-8")).hexdigest()[:40]
    return name + suffix


def partition_lock_base(database: str, events_table: str) -> str:
    """The base name of partition locks: ``<base>.p<i>`` for partitions, ``<base>.m<j>`` for members."""
    return lock_name(database, events_table, ".p999")[: -len(".p999")]


def partition_lock_names(database: str, events_table: str, partitions: int) -> tuple[list[str], list[str]]:
    """The (partition, member) lock names for ``partitions`` partitions."""
    base = partition_lock_base(database, events_table)
    return [f"{base}.p{i}" for i in range(partitions)], [f"{base}.m{j}" for j in range(partitions)]


class Lock(Protocol):
    """What the relay needs of its locks: take, keep, know which partitions, give back."""

    name: str
    partitions: int
    owned: frozenset[int]

    def acquire(self, wait_s: float) -> bool:
        """Take the lock (or a share of partitions), waiting up to ``wait_s`` seconds."""

    def held(self) -> bool:
        """True while this relay may still publish."""

    def rebalance_due(self) -> bool:
        """True when partitions are due to rebalance: drain the pipeline, then call ``rebalance``."""

    def rebalance(self) -> frozenset[int]:
        """Give up or take partitions until holding a fair share; return the ones owned."""

    def holder(self) -> int | None:
        """The connection id of whoever holds the lock, when that means something."""

    def release(self) -> None:
        """Give everything back."""


def for_relay(engine: Engine, events_table: str, partitions: int) -> Lock:
    """The single relay lock, or partition locks when ``partitions`` > 1."""
    if partitions > 1:
        return PartitionLocks(engine, events_table, partitions)
    return RelayLock(engine, events_table)


class RelayLock:
    """The named lock that makes one relay at a time publish an events table."""

    partitions = 1
    owned = frozenset({0})

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

    def rebalance_due(self) -> bool:
        """A single lock never rebalances."""
        return False

    def rebalance(self) -> frozenset[int]:
        """Nothing to rebalance: the one partition."""
        return self.owned

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


class PartitionLocks:
    """A relay's member lock and its fair share of ``partitions`` partition locks."""

    REBALANCE_EVERY_S = 1.0

    def __init__(self, engine: Engine, events_table: str, partitions: int) -> None:
        self._engine = engine
        self._events_table = events_table
        self.partitions = partitions
        self._conn: Connection | None = None
        self._session: object = None
        self._balanced_at = 0.0
        self.name = ""
        self.member: int | None = None
        self.owned: frozenset[int] = frozenset()

    def acquire(self, wait_s: float) -> bool:
        """Take a fair share of partitions now; False (after waiting ``wait_s``) if there is none to take."""
        if self.rebalance():
            return True
        time.sleep(min(wait_s, self.REBALANCE_EVERY_S))
        return False

    def held(self) -> bool:
        """True while the lock session is still the one that took the partitions, and owns some."""
        try:
            if self._run("SELECT CONNECTION_ID()") != self._session:
                raise ConnectionError("lock session changed")
        except Exception:
            self.release()
            return False
        return bool(self.owned)

    def rebalance_due(self) -> bool:
        """About once a second."""
        return time.monotonic() - self._balanced_at > self.REBALANCE_EVERY_S

    def holder(self) -> int | None:
        """Partitions have many holders; see ``outbox-triggers status``."""
        return None

    def rebalance(self) -> frozenset[int]:
        """Join as a member, then give up or take partitions until holding a fair share."""
        self._balanced_at = time.monotonic()
        with translate_errors(self._engine.url):
            self._connection()
            self._join()
            self._verify()
            share = 0 if self.member is None else math.ceil(self.partitions / max(1, self._members()))
            for i in sorted(self.owned, reverse=True)[: max(0, len(self.owned) - share)]:
                self._run("SELECT RELEASE_LOCK(%s)", self._partition(i))
                self.owned = self.owned - {i}
            for i in range(self.partitions):
                if len(self.owned) >= share:
                    break
                if i not in self.owned and self._run("SELECT GET_LOCK(%s, 0)", self._partition(i)) == 1:
                    self.owned = self.owned | {i}
        return self.owned

    def release(self) -> None:
        """Give up every lock by closing the connection."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            self.owned, self.member = frozenset(), None
            try:
                conn.exec_driver_sql("SELECT RELEASE_ALL_LOCKS()")
            except Exception:
                pass
            finally:
                conn.invalidate()
                conn.close()

    def _join(self) -> None:
        if self.member is not None:
            return
        for j in range(self.partitions):
            if self._run("SELECT GET_LOCK(%s, 0)", self._member(j)) == 1:
                self.member = j
                return

    def _verify(self) -> None:
        mine = self._run("SELECT CONNECTION_ID()")
        self.owned = frozenset(
            i for i in self.owned if self._run("SELECT IS_USED_LOCK(%s)", self._partition(i)) == mine
        )

    def _members(self) -> int:
        return sum(
            1
            for j in range(self.partitions)
            if self._run("SELECT IS_USED_LOCK(%s)", self._member(j)) is not None
        )

    def _partition(self, i: int) -> str:
        return f"{self.name}.p{i}"

    def _member(self, j: int) -> str:
        return f"{self.name}.m{j}"

    def _run(self, sql: str, *args: object) -> object:
        return self._connection().exec_driver_sql(sql, args or None).scalar()

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            database = str(self._conn.exec_driver_sql("SELECT DATABASE()").scalar())
            self.name = partition_lock_base(database, self._events_table)
            self._session = self._conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
        return self._conn
