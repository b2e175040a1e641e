"""Backfills in the relay's Prometheus metrics: rows done and estimated, and state, per backfill.

Read from the backfills table when scraped, at most every 5 seconds; a
failed read (no such table yet, the database away) leaves the last reading.
Only backfills that are not ``done`` are exported, so finished ones do not
pile up as series.

- ``outbox_backfill_rows_done{backfill, table, state}``
- ``outbox_backfill_rows_estimated{backfill, table, state}``
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from outbox_triggers import backfills
from outbox_triggers.backfills import Backfill

log = logging.getLogger(__name__)
EVERY_S = 5.0


class BackfillCollector(Collector):
    """A Prometheus collector of the unfinished backfills of one events table."""

    def __init__(self, engine: Engine, events_table: str, every_s: float = EVERY_S) -> None:
        self._engine = engine
        self._events_table = events_table
        self._every_s = every_s
        self._read_at = -float("inf")
        self._lock = threading.Lock()
        self._latest: list[Backfill] = []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The gauges, from a reading at most ``every_s`` old."""
        labels = ["backfill", "table", "state"]
        done = GaugeMetricFamily("outbox_backfill_rows_done", "Rows a backfill has sent", labels=labels)
        estimated = GaugeMetricFamily(
            "outbox_backfill_rows_estimated", "Rows a backfill expects to send (statistics)", labels=labels
        )
        for b in self._read():
            values = [str(b.id), b.table, b.state]
            done.add_metric(values, b.rows_done)
            estimated.add_metric(values, b.rows_estimated)
        yield done
        yield estimated

    def _read(self) -> list[Backfill]:
        with self._lock:
            if time.monotonic() - self._read_at >= self._every_s:
                self._read_at = time.monotonic()
                try:
                    with self._engine.connect() as conn:
                        self._latest = backfills.read(conn, self._events_table, backfills.RESUMABLE)
                except sa.exc.DBAPIError as exc:
                    log.debug("reading the backfills failed: %s", exc)
            return self._latest
