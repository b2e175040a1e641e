"""The dead-letter table: events no destination will ever accept, kept with the reason.

``list`` shows them, ``retry`` moves them back into the events table under
their original ``seq`` (so they go out before newer events), ``purge``
deletes them for good. Retried events go to every destination of their
table again, so a destination that had accepted one receives a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outbox_triggers import identifiers
from outbox_triggers.errors import DatabaseError


@dataclass(frozen=True)
class DeadLetter:
    """One buried event."""

    seq: int
    table: str
    destination: str
    failed_at: str
    error: str
    size: int


class DeadLetters:
    """Statements on one events table's dead letters."""

    def __init__(self, events_table: str) -> None:
        self.table = identifiers.dead_letters_table(events_table)
        dead, events = identifiers.quote_text(self.table), identifiers.quote_text(events_table)
        self._list = sa.text(
            "SELECT seq, table_name, destination, DATE_FORMAT(failed_at, '%Y-%m-%dT%H:%i:%s.%fZ'), error, "  # noqa: S608
            f"LENGTH(payload) FROM {dead} ORDER BY seq LIMIT :limit"
        )
        self._restore = sa.text(
            f"INSERT INTO {events} (seq, table_name, key_hash, payload, created_at) "  # noqa: S608
            f"SELECT seq, table_name, key_hash, payload, created_at FROM {dead} WHERE seq IN :seqs"
        ).bindparams(sa.bindparam("seqs", expanding=True))
        self._delete = sa.text(f"DELETE FROM {dead} WHERE seq IN :seqs").bindparams(  # noqa: S608
            sa.bindparam("seqs", expanding=True)
        )
        self._all = sa.text(f"SELECT seq FROM {dead} ORDER BY seq")  # noqa: S608

    def rows(self, conn: Connection, limit: int = 1000) -> list[DeadLetter]:
        """The oldest ``limit`` dead letters."""
        self._require(conn)
        rows = conn.execute(self._list, {"limit": limit}).all()
        return [DeadLetter(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), int(r[5])) for r in rows]

    def retry(self, conn: Connection, seqs: Sequence[int] = ()) -> int:
        """Move these (or all) dead letters back to the events table; return how many."""
        chosen = self._chosen(conn, seqs)
        if chosen:
            conn.execute(self._restore, {"seqs": chosen})
            conn.execute(self._delete, {"seqs": chosen})
        conn.commit()
        return len(chosen)

    def purge(self, conn: Connection, seqs: Sequence[int] = ()) -> int:
        """Delete these (or all) dead letters for good; return how many."""
        chosen = self._chosen(conn, seqs)
        if chosen:
            conn.execute(self._delete, {"seqs": chosen})
        conn.commit()
        return len(chosen)

    def _chosen(self, conn: Connection, seqs: Sequence[int]) -> list[int]:
        self._require(conn)
        present = [int(r[0]) for r in conn.execute(self._all)]
        if not seqs:
            return present
        missing = sorted(set(seqs) - set(present))
        if missing:
            raise DatabaseError(f"no dead letter with seq {', '.join(map(str, missing))} in {self.table}")
        return sorted(seqs)

    def _require(self, conn: Connection) -> None:
        if self.table not in sa.inspect(conn).get_table_names():
            raise DatabaseError(f"dead-letter table {self.table!r} does not exist: run migrate first")
