"""Yielding to writers: a backfill pauses between chunks so the service's writes keep their pace.

The server's row counters (``Handler_write``, ``Handler_update`` and
``Handler_delete``, which MariaDB and MySQL both keep) count every row anyone
changed; less the backfill session's own, that is the writers' rate. Measured during a chunk (busy) and during
the pause after it (idle), their ratio ``s`` is how much a chunk slows the
writers down. Pausing ``k = (share - s) / (1 - share)`` times as long as each
chunk took then keeps them at ``share`` of their own pace overall:
``(k + s) / (k + 1) = share``. With nobody writing there is nothing to yield
to, and the backfill runs at full speed. The counters are the whole server's:
a backfill yields to every writer on it, the relay's deletes included.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)
COUNTERS = "STATUS WHERE Variable_name IN ('Handler_write', 'Handler_update', 'Handler_delete')"
WRITING = 50.0
"""Rows/s of others' writes below which nobody is writing (background noise)."""
MAX_PAUSE_FACTOR = 20.0
SMOOTHING = 0.5
PROBE_EVERY = 10
"""While writers are about but unhurt, measure them again (one pause of one chunk) every this many chunks."""


@dataclass
class Writers:
    """How much to pause after each chunk for the writers to keep ``share`` of their pace (0: never)."""

    share: float
    slowdown: float | None = None  # writers' rate during a chunk ÷ during a pause, smoothed
    factor: float = 0.0  # the pause, in chunk lengths
    unprobed: int = PROBE_EVERY  # chunks since the writers were last measured alone

    def rows(self, conn: Connection) -> int:
        """Rows changed so far on the whole server, less those this session changed."""
        if self.share <= 0:
            return 0
        everyone = sum(int(value) for _, value in conn.exec_driver_sql(f"SHOW GLOBAL {COUNTERS}").all())
        return everyone - sum(
            int(value) for _, value in conn.exec_driver_sql(f"SHOW SESSION {COUNTERS}").all()
        )

    def after_chunk(self, conn: Connection, before: int, took_s: float, stop: threading.Event) -> float:
        """Pause as the writers need after a chunk that took ``took_s``; the seconds it paused."""
        if self.share <= 0 or took_s <= 0:
            return 0.0
        changed = self.rows(conn)
        conn.rollback()  # no transaction stays open through the pause
        busy = max(0, changed - before) / took_s
        self.unprobed += 1
        if self.factor == 0 and (busy < WRITING or self.unprobed < PROBE_EVERY):
            return 0.0  # nobody writes, or they were unhurt lately: nothing to yield to
        self.unprobed = 0
        pause = took_s * (self.factor or 1.0)  # with no factor yet, a probe: the writers alone
        started = time.monotonic()
        stop.wait(pause)
        slept = time.monotonic() - started
        idle = (self.rows(conn) - changed) / slept if slept > 0 else 0.0
        self._learn(busy, idle)
        log.debug(
            "writers: %.0f rows/s during a chunk, %.0f during the pause; pause factor %.2f",
            busy,
            idle,
            self.factor,
        )
        return slept

    def _learn(self, busy: float, idle: float) -> None:
        """Update the pause factor from the writers' rate during the chunk and during the pause."""
        if idle < WRITING:
            self.factor /= 2  # the writers went quiet
            if self.factor < 0.05:
                self.factor, self.slowdown = 0.0, None
            return
        sample = min(1.0, busy / idle)
        last = sample if self.slowdown is None else self.slowdown
        self.slowdown = (1 - SMOOTHING) * last + SMOOTHING * sample
        needed = (self.share - self.slowdown) / (1 - self.share) if self.share < 1 else MAX_PAUSE_FACTOR
        self.factor = min(MAX_PAUSE_FACTOR, max(0.0, needed))
