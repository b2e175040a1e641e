"""The events table as the relay sees it: read a batch in order, delete by exact ids.

The relay's session runs at READ COMMITTED, so it never holds a read view
open across batches (which would hold back InnoDB purge), and each statement
sees every transaction committed before it started.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outbox_triggers import identifiers


@dataclass(frozen=True)
class Event:
    """One undelivered event row: order number, source table, key hash, body, and when it was written."""

    seq: int
    table: str
    key_hash: int
    body: str
    created: float = 0.0


class EventsTable:
    """Statements on one events table, built once from its validated name."""

    def __init__(self, name: str) -> None:
        quoted = identifiers.quote_text(name)
        self.name = name
        # Rows up to :hi (the newest the relay already holds) come back as bare seqs: the relay
        # needs to see them, to notice a late commit among them, but not to read their bodies again.
        created = "CAST(UNIX_TIMESTAMP(created_at) * 1000000 AS UNSIGNED)"
        recent = ", ".join(
            f"IF(seq > :hi, {c}, NULL)" for c in ("table_name", "key_hash", "payload", created)
        )
        self._select = sa.text(f"SELECT seq, {recent} FROM {quoted} ORDER BY seq LIMIT :n")  # noqa: S608
        self._select_parts = sa.text(
            f"SELECT seq, {recent} FROM {quoted} WHERE key_hash % :parts IN :owned ORDER BY seq LIMIT :n"  # noqa: S608
        ).bindparams(sa.bindparam("owned", expanding=True))
        self._select_late = sa.text(
            f"SELECT seq, table_name, key_hash, payload, {created} FROM {quoted} "  # noqa: S608
            "WHERE seq IN :seqs ORDER BY seq"
        ).bindparams(sa.bindparam("seqs", expanding=True))
        # the driver's own parameter style: it binds the whole tuple, with none of SQLAlchemy's per-item work
        self._delete = f"DELETE FROM {identifiers.quote(name).replace('%', '%%')} WHERE seq IN %s"  # noqa: S608
        dead = identifiers.quote_text(identifiers.dead_letters_table(name))
        self.dead_letters = identifiers.dead_letters_table(name)
        self._bury = sa.text(
            f"INSERT INTO {dead} (seq, table_name, key_hash, payload, created_at, destination, error) "  # noqa: S608
            f"SELECT seq, table_name, key_hash, payload, created_at, :destination, :error FROM {quoted} "
            "WHERE seq = :seq"
        )
        kept = identifiers.quote_text(identifiers.delivered_table(name))
        self._archive = sa.text(
            f"INSERT INTO {kept} (seq, table_name, key_hash, payload, created_at) "  # noqa: S608
            f"SELECT seq, table_name, key_hash, payload, created_at FROM {quoted} WHERE seq IN :seqs"
        ).bindparams(sa.bindparam("seqs", expanding=True))
        self._purge = sa.text(
            f"DELETE FROM {kept} WHERE delivered_at < NOW(6) - INTERVAL :age SECOND "  # noqa: S608
            "ORDER BY delivered_at LIMIT :chunk"
        )
        self._count = sa.text(f"SELECT COUNT(*) FROM {quoted}")  # noqa: S608
        self._high = sa.text(f"SELECT COALESCE(MAX(seq), 0) FROM {quoted}")  # noqa: S608

    @property
    def claim_statement(self) -> sa.TextClause:
        """The batch-claim query :meth:`fetch` runs (``:n`` rows, bodies past ``:hi``), for EXPLAIN."""
        return self._select

    def fetch(
        self,
        conn: Connection,
        limit: int,
        partitions: int = 1,
        owned: frozenset[int] = frozenset(),
        held: Callable[[int], bool] = lambda seq: False,
        hi: int = 0,
    ) -> list[Event]:
        """The oldest ``limit`` committed events not ``held``, in order; with partitions, only ``owned`` ones.

        Every row counts toward ``limit``, held or not. The relay holds every
        event up to ``hi`` it has seen, so the bodies of rows up to ``hi`` are
        read only for the few it has not: transactions that committed late.
        """
        params: dict[str, object] = {"n": limit, "hi": hi}
        if partitions > 1:
            if not owned:
                return []
            params.update(parts=partitions, owned=sorted(owned))
        rows = conn.execute(self._select_parts if partitions > 1 else self._select, params).all()
        late = [seq for seq, table, *_ in rows if table is None and not held(seq)]
        if late:
            rows = [*conn.execute(self._select_late, {"seqs": late}).all(), *rows]
        conn.commit()
        return [Event(seq, t, k, b, (c or 0) / 1e6) for seq, t, k, b, c in rows if t is not None]

    def settle(
        self,
        conn: Connection,
        delivered: Sequence[int],
        dead: Mapping[int, tuple[str, str]],
        keep: bool = False,
    ) -> None:
        """Dead-letter ``dead`` (seq → destination, error) and delete them with ``delivered``, atomically."""
        for seq, (destination, error) in dead.items():
            conn.execute(self._bury, {"seq": seq, "destination": destination[:64], "error": error})
        if keep and delivered:
            conn.execute(self._archive, {"seqs": list(delivered)})
        self.delete(conn, [*delivered, *dead])

    def purge_delivered(self, conn: Connection, older_than_s: int, chunk: int = 1000) -> int:
        """Delete kept events delivered more than ``older_than_s`` ago, ``chunk`` rows per transaction."""
        total = 0
        while True:
            gone = int(conn.execute(self._purge, {"age": older_than_s, "chunk": chunk}).rowcount)
            conn.commit()
            total += gone
            if gone < chunk:
                return total

    def delete(self, conn: Connection, seqs: Sequence[int]) -> int:
        """Delete exactly these events; return how many rows went."""
        if not seqs:
            return 0
        deleted = conn.exec_driver_sql(self._delete, (tuple(seqs),)).rowcount
        conn.commit()
        return int(deleted)

    def count(self, conn: Connection) -> int:
        """How many events wait for delivery."""
        value = conn.execute(self._count).scalar()
        conn.commit()
        return int(value or 0)

    def high_water(self, conn: Connection) -> int:
        """The newest committed event's ``seq`` (0 when empty)."""
        value = conn.execute(self._high).scalar()
        conn.commit()
        return int(value or 0)
