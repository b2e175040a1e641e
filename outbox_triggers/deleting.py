"""Deleting delivered events on a thread and connection of their own, beside the relay's reads.

A delete and its commit (an fsync on the server) take as long as a read, so
the relay hands them here and reads on. The delete runs uncommitted while
reads go on: at READ COMMITTED they still see the rows, and count them as
held (they are in :attr:`Deleter.settling`). Its COMMIT, and forgetting the
rows, happen under ``guard``, which the relay holds around each read, so a
read either sees the rows and holds them, or sees neither.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy.engine import Connection, Engine

from outbox_triggers.events import Burial, EventsTable

log = logging.getLogger(__name__)
Batch = dict[int, Burial | None]  # seq → None (delivered) or why it goes to the dead letters


class Deleter:
    """One delete at a time; :meth:`finish` collects it, and gives a failed batch back."""

    def __init__(self, engine: Engine, events: EventsTable, keep: bool, guard: threading.Lock) -> None:
        self.settling: Batch = {}
        self._engine = engine
        self._events = events
        self._keep = keep
        self._guard = guard
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="outbox-delete")
        self._job: Future[None] | None = None
        self._conn: Connection | None = None

    def busy(self) -> bool:
        """True while a delete is under way."""
        return self._job is not None and not self._job.done()

    def start(self, batch: Batch) -> None:
        """Delete (or dead-letter) ``batch`` in the background; call only when not :meth:`busy`."""
        self.settling.update(batch)
        self._job = self._pool.submit(self._delete, batch)

    def finish(self) -> tuple[Batch, BaseException | None] | None:
        """Wait for the delete under way: None if there was none, else (the batch it failed, its error)."""
        if self._job is None:
            return None
        job, self._job = self._job, None
        error = job.exception()
        failed, self.settling = (self.settling, {}) if error else ({}, self.settling)
        return failed, error

    def close(self, wait: bool = True) -> None:
        """Stop the thread (``wait`` False: abandon a delete under way) and drop the connection."""
        self._pool.shutdown(wait=wait, cancel_futures=True)
        if wait:
            self._drop()

    def _delete(self, batch: Batch) -> None:
        delivered = [seq for seq, why in batch.items() if why is None]
        dead = {seq: why for seq, why in batch.items() if why is not None}
        try:
            conn = self._connection()
            self._events.settle(conn, delivered, dead, keep=self._keep, commit=False)
            with self._guard:
                conn.commit()
                self.settling = {}
        except BaseException:
            self._drop()
            raise

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(isolation_level="READ COMMITTED")
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.invalidate()
                conn.close()
            except Exception:
                log.debug("closing the delete connection failed", exc_info=True)
