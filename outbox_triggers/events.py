"""The events table as the relay sees it: read a batch in order, delete by exact ids.

The relay's session runs at READ COMMITTED, so it never holds a read view
open across batches (which would hold back InnoDB purge), and each statement
sees every transaction committed before it started.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outbox_triggers import identifiers


class Event(NamedTuple):
    """One undelivered event row: order number, source table, key hash, body, and when it was written.

    A body that is not UTF-8 (a binary ``payload`` column) arrives with its bad
    bytes as escaped surrogates, so it can't be encoded and is dead-lettered.
    """

    seq: int
    table: str
    key_hash: int
    body: str
    created: float = 0.0


class Burial(NamedTuple):
    """Why an event goes to the dead letters: which destination refused it, the error, and what to keep.

    ``payload`` replaces the row's own only when that can't be stored as text
    (its bytes are not UTF-8): then it holds them with U+FFFD in place of each bad one.
    """

    destination: str
    error: str
    payload: str | None = None


MAX_ERROR_CHARS = 4000


PARTITION_FILTER = " AND key_hash % :parts IN :owned"


class Holdings(Protocol):
    """What the events table needs to know of the relay's pipeline to read past it."""

    def holding(self) -> int:
        """How many events it holds (all still in the table)."""

    def highest(self) -> int:
        """At least the newest ``seq`` it holds."""

    def holds(self, seq: int) -> bool:
        """True if it holds ``seq``."""


def _claim(sql: str) -> sa.TextClause:
    statement = sa.text(sql)
    return statement.bindparams(sa.bindparam("owned", expanding=True)) if ":owned" in sql else statement


class EventsTable:
    """Statements on one events table, built once from its validated name."""

    def __init__(self, name: str, lag: bool = True) -> None:
        """``lag`` False skips each event's write time (nothing measures lag): less work on both ends."""
        quoted = identifiers.quote_text(name)
        self.name = name
        self._lag = lag
        created = ", CAST(UNIX_TIMESTAMP(created_at) * 1000000 AS UNSIGNED)" if lag else ""
        body = f"table_name, key_hash, payload{created}"
        nulls = ", NULL, CAST(NULL AS UNSIGNED), NULL" + (
            ", CAST(NULL AS UNSIGNED)" if lag else ""
        )  # typed: ints stay ints
        # From the start: rows up to :hi (the newest the relay holds) come back as bare seqs, so a
        # late commit among them is seen without reading again the bodies the relay already has.
        bare = ", ".join(f"IF(seq > :hi, {c}, NULL)" for c in body.split(", "))
        self._from_start = {
            mine: _claim(f"SELECT seq, {bare} FROM {quoted} WHERE TRUE{mine} ORDER BY seq LIMIT :n")  # noqa: S608
            for mine in ("", PARTITION_FILTER)
        }
        # After :hi, when the count of rows up to :hi proves there is no late commit among them. The
        # count is a row of its own (no table name), not a column repeated on every row: less to parse.
        self._after = {
            mine: _claim(
                f"SELECT CAST(COUNT(*) AS UNSIGNED){nulls} FROM {quoted} WHERE seq <= :hi{mine} "  # noqa: S608
                f"UNION ALL (SELECT seq, {body} FROM {quoted} WHERE seq > :hi{mine} ORDER BY seq LIMIT :n)"
            )
            for mine in ("", PARTITION_FILTER)
        }
        self._select_late = sa.text(
            f"SELECT seq, {body} FROM {quoted} WHERE seq IN :seqs ORDER BY seq"  # noqa: S608
        ).bindparams(sa.bindparam("seqs", expanding=True))
        # no parameters for the driver to escape one by one: the seqs are integers, joined as text
        self._delete = f"DELETE FROM {identifiers.quote(name).replace('%', '%%')} WHERE seq IN ("  # noqa: S608
        dead = identifiers.quote_text(identifiers.dead_letters_table(name))
        self.dead_letters = identifiers.dead_letters_table(name)
        self._bury = sa.text(
            f"INSERT INTO {dead} (seq, table_name, key_hash, payload, created_at, destination, error) "  # noqa: S608
            "SELECT seq, table_name, key_hash, COALESCE(:payload, payload), created_at, :destination, :error "
            f"FROM {quoted} WHERE seq = :seq"
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
        """The batch-claim query from the start (``:n`` rows, bodies past ``:hi``), for EXPLAIN."""
        return self._from_start[""]

    @property
    def claim_after_statement(self) -> sa.TextClause:
        """The batch-claim query past what the relay holds (``:n`` rows after ``:hi``), for EXPLAIN."""
        return self._after[""]

    def fetch(
        self,
        conn: Connection,
        limit: int,
        partitions: int = 1,
        owned: frozenset[int] = frozenset(),
        pipeline: Holdings | None = None,
    ) -> list[Event]:
        """The oldest ``limit`` committed events the ``pipeline`` does not hold, in order.

        With partitions, only events of ``owned`` ones. The pipeline holds the
        events it has read up to ``highest()``, in order, so the claim usually
        starts after them; it starts from the beginning only when rows up to
        there are not all held (a transaction that committed late), and then
        reads the bodies of those rows alone.
        """
        held = pipeline.holding() if pipeline else 0
        params: dict[str, object] = {"n": limit, "hi": pipeline.highest() if pipeline and held else 0}
        mine = PARTITION_FILTER if partitions > 1 else ""
        if mine:
            if not owned:
                return []
            params.update(parts=partitions, owned=sorted(owned))
        rows = self._claim_after(conn, mine, params, held) if held else None
        if rows is None:
            rows = self._claim_from_start(conn, mine, {**params, "n": limit + held}, pipeline)
        conn.commit()
        if self._lag:
            return [
                Event(seq, t, k, b if b.__class__ is str else _text(b), (c or 0) / 1e6)
                for seq, t, k, b, c in rows
                if t is not None
            ]
        return [
            Event(seq, t, k, b if b.__class__ is str else _text(b)) for seq, t, k, b in rows if t is not None
        ]

    def _claim_after(
        self, conn: Connection, mine: str, params: dict[str, object], held: int
    ) -> list[Any] | None:
        """Rows past the ``held`` ones the pipeline holds; None when a late commit hides among those.

        The count's row, the only one without a table name, is left in: readers skip it.
        """
        rows = list(conn.execute(self._after[mine], params).all())
        counts = [row[0] for row in rows if row[1] is None]
        return rows if counts == [held] else None

    def _claim_from_start(
        self, conn: Connection, mine: str, params: dict[str, object], pipeline: Holdings | None
    ) -> list[Any]:
        """Rows from the start, held ones bare; bodies of rows up to ``:hi`` read only for those not held."""
        rows = list(conn.execute(self._from_start[mine], params).all())
        late = [seq for seq, table, *_ in rows if table is None and not (pipeline and pipeline.holds(seq))]
        if late:
            rows = [*conn.execute(self._select_late, {"seqs": late}).all(), *rows]
        return rows

    def settle(
        self,
        conn: Connection,
        delivered: Sequence[int],
        dead: Mapping[int, Burial],
        keep: bool = False,
        commit: bool = True,
    ) -> None:
        """Dead-letter ``dead``, delete them with ``delivered``, in one transaction (and commit it)."""
        for seq, (destination, error, payload) in dead.items():
            params = {"seq": seq, "destination": destination[:64], "error": error[:MAX_ERROR_CHARS]}
            conn.execute(self._bury, {**params, "payload": payload})
        if keep and delivered:
            conn.execute(self._archive, {"seqs": list(delivered)})
        self.delete(conn, [*delivered, *dead], commit)

    def purge_delivered(self, conn: Connection, older_than_s: int, chunk: int = 1000) -> int:
        """Delete kept events delivered more than ``older_than_s`` ago, ``chunk`` rows per transaction."""
        total = 0
        while True:
            gone = int(conn.execute(self._purge, {"age": older_than_s, "chunk": chunk}).rowcount)
            conn.commit()
            total += gone
            if gone < chunk:
                return total

    def delete(self, conn: Connection, seqs: Sequence[int], commit: bool = True) -> int:
        """Delete exactly these events (and commit, unless told not to); return how many rows went."""
        if not seqs:
            return 0
        deleted = conn.exec_driver_sql(
            self._delete + ",".join([str(int(seq)) for seq in seqs]) + ")"
        ).rowcount
        if commit:
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


def _text(body: bytes) -> str:
    """A ``payload`` read as bytes (a binary column): UTF-8, any bad byte kept as an escaped surrogate."""
    return body.decode("utf-8", "surrogateescape")


def burial(destination: str, error: str, body: str) -> Burial:
    """The dead letter for ``body``; a body that is not UTF-8 is kept with U+FFFD for each bad byte."""
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:
        kept = body.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return Burial(destination, error, kept)
    return Burial(destination, error)
