"""Write path: rows/s of single-row and 100-row transactions, with capture ÷ without, interleaved.

Every figure compares modes on **the same table, with the same data, in the same
run**. Rounds alternate between modes (the order rotates every round) and each
ratio is the median of the per-round ratios. A transaction is one INSERT, UPDATE
or DELETE (in turn) of one row, or of 100 rows, then COMMIT, from one PyMySQL
connection. The table's size stays steady: inserts add new ids, updates pick a
random id, deletes take the oldest.

- ``plain``: no capture (the triggers are dropped for the round);
- ``triggers``: the triggers ``migrate`` installed (re-created for the round);
- ``app``: no triggers; the application writes its own outbox row per changed row
  in the same transaction, with a JSON body it builds itself (the hand-rolled pattern);
- ``binlog_off`` / ``binlog_on``: on the throwaway binlog server (ROW, sync_binlog=1),
  no triggers, with ``sql_log_bin`` off or on for the session. With it off, a
  transaction writes nothing to the binary log and commits in one phase, as on a
  server without a binlog, so the only difference between the two is the binlog.
"""

from __future__ import annotations

import json
import random
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import Any

from bench.common import (
    EVENTS,
    ROW_COLUMNS,
    TABLE,
    captured_database,
    connect,
    create_work_table,
    insert_rows_sql,
    interleave,
    log,
    median,
    ratios,
    scratch_database,
    show,
)
from bench.settings import Settings
from outbox_triggers import identifiers
from outbox_triggers.render import RenderedTrigger

OPS = ("insert", "update", "delete")
BATCH = 100
WARMUP_TXNS = 30
APP_OUTBOX = "app_outbox"


@dataclass(frozen=True)
class Change:
    """One transaction's statement and the rows it changes."""

    op: str
    ids: range
    sql: str
    args: tuple[Any, ...] | None = None


class Workload:
    """Transactions that keep the table's size steady: new ids in, random ids updated, oldest ids out."""

    def __init__(self, prefill: int, seed: int = 6) -> None:
        self.low = 1
        self.next = prefill + 1
        self._rng = random.Random(seed)

    def single(self, step: int) -> Change:
        """The ``step``-th single-row transaction: insert, update, delete in turn."""
        op = OPS[step % 3]
        if op == "insert":
            (row_id,) = ids = self._take_new(1)
            note = f"order {row_id} for customer {row_id % 1000}"
            sql = f"INSERT INTO {TABLE} ({ROW_COLUMNS}) VALUES (%s, %s, %s, %s, %s, NOW(6))"
            return Change(op, ids, sql, (row_id, row_id % 1000, "new", _total(row_id), note))
        if op == "update":
            (row_id,) = ids = self._random(1)
            status = ("paid", "shipped")[step % 2]
            sql = f"UPDATE {TABLE} SET status = %s, total = %s, note = %s, updated_at = NOW(6) WHERE id = %s"
            return Change(op, ids, sql, (status, _total(row_id + step), f"updated at step {step}", row_id))
        (row_id,) = ids = self._take_old(1)
        return Change(op, ids, f"DELETE FROM {TABLE} WHERE id = %s", (row_id,))

    def batch(self, step: int) -> Change:
        """The ``step``-th 100-row transaction: one statement changing 100 rows."""
        op = OPS[step % 3]
        if op == "insert":
            ids = self._take_new(BATCH)
            return Change(op, ids, insert_rows_sql(ids.start, BATCH))
        if op == "update":
            ids = self._random(BATCH)
            sql = (
                f"UPDATE {TABLE} SET status = IF(status = 'paid', 'shipped', 'paid'), "
                "total = total + 0.01, updated_at = NOW(6) WHERE id BETWEEN %s AND %s"
            )
            return Change(op, ids, sql, (ids.start, ids.stop - 1))
        ids = self._take_old(BATCH)
        return Change(op, ids, f"DELETE FROM {TABLE} WHERE id BETWEEN %s AND %s", (ids.start, ids.stop - 1))

    def _take_new(self, count: int) -> range:
        ids = range(self.next, self.next + count)
        self.next += count
        return ids

    def _take_old(self, count: int) -> range:
        ids = range(self.low, self.low + count)
        self.low += count
        return ids

    def _random(self, count: int) -> range:
        start = self._rng.randint(self.low, self.next - count)
        return range(start, start + count)


def _total(seed: int) -> str:
    return f"{seed % 100000 / 100:.2f}"


def app_outbox_rows(change: Change) -> list[tuple[str, int, str]]:
    """The rows a hand-rolled outbox writes for ``change``: table, key hash, JSON body built in Python."""
    ts = datetime.now(timezone.utc).isoformat()
    rows = []
    for row_id in change.ids:
        after = None
        if change.op != "delete":
            after = {"id": row_id, "customer_id": row_id % 1000, "status": "paid", "total": _total(row_id)}
        body = {
            "id": str(uuid.uuid4()),
            "table": TABLE,
            "op": change.op,
            "key": {"id": row_id},
            "after": after,
            "ts": ts,
        }
        key_hash = zlib.crc32(f"{TABLE}\x1f{row_id}".encode())
        rows.append((TABLE, key_hash, json.dumps(body)))
    return rows


class Writer:
    """Runs timed rounds of one kind of transaction on one connection."""

    def __init__(self, url: str, workload: Workload, make: Callable[[Workload, int], Change]) -> None:
        self.conn = connect(url)
        self.cur = self.conn.cursor()
        self.workload = workload
        self._make = make
        self._step = 0
        self.rows = 0
        self._app_sql = (
            f"INSERT INTO {identifiers.quote(APP_OUTBOX)} (table_name, key_hash, payload) VALUES (%s, %s, %s)"
        )

    def transaction(self, app_outbox: bool) -> int:
        """One transaction; returns the rows it changed."""
        change = self._make(self.workload, self._step)
        self._step += 1
        self.cur.execute(change.sql, change.args)
        if app_outbox:
            self.cur.executemany(self._app_sql, app_outbox_rows(change))
        self.conn.commit()
        self.rows += len(change.ids)
        return len(change.ids)

    def rate(self, seconds: float, app_outbox: bool = False, warmup: int = WARMUP_TXNS) -> float:
        """Rows/s over one round of at most ``seconds`` (and a bounded number of transactions)."""
        for _ in range(warmup):
            self.transaction(app_outbox)
        rows = txns = 0
        start = time.perf_counter()
        deadline = start + seconds
        while txns < 200_000 and time.perf_counter() < deadline:
            rows += self.transaction(app_outbox)
            txns += 1
        return rows / (time.perf_counter() - start)

    def close(self) -> None:
        self.conn.close()


class TriggerSwitch:
    """Drops and re-creates the triggers ``migrate`` installed, so modes share one table."""

    def __init__(self, url: str, triggers: Sequence[RenderedTrigger]) -> None:
        self._conn = connect(url, autocommit=True)
        self._triggers = triggers
        self._on = True

    def events(self) -> int:
        """How many events the events table holds: a check that capture is on exactly when it should be."""
        cur = self._conn.cursor()
        cur.execute(f"SELECT COUNT(*) FROM {identifiers.quote(EVENTS)}")
        return int(cur.fetchone()[0])

    def set(self, on: bool) -> None:
        if on == self._on:
            return
        cur = self._conn.cursor()
        for trigger in self._triggers:
            cur.execute(trigger.sql if on else f"DROP TRIGGER {identifiers.quote(trigger.name)}")
        self._on = on

    def close(self) -> None:
        self._conn.close()


def _capture_rounds(writer: Writer, switch: TriggerSwitch, settings: Settings) -> dict[str, list[float]]:
    def mode(triggers: bool, app: bool) -> Callable[[], float]:
        def run() -> float:
            switch.set(triggers)
            rows, events = writer.rows, switch.events()
            rate = writer.rate(settings.write_seconds, app_outbox=app)
            captured = switch.events() - events
            if captured != (writer.rows - rows if triggers else 0):
                raise RuntimeError(f"{writer.rows - rows} rows changed but {captured} events captured")
            return rate

        return run

    return interleave(
        {"plain": mode(False, False), "triggers": mode(True, False), "app": mode(False, True)},
        settings.write_rounds,
    )


def run(server: str, settings: Settings) -> dict[str, float]:
    """The write-path figures on the main server: capture by triggers, and by the application."""
    figures: dict[str, float] = {}
    with captured_database(server, "write", settings.write_prefill) as (url, triggers):
        ddl = connect(url, autocommit=True)
        ddl.cursor().execute(f"CREATE TABLE {APP_OUTBOX} LIKE {EVENTS}")
        ddl.close()
        switch = TriggerSwitch(url, triggers)
        workload = Workload(settings.write_prefill)
        try:
            for kind, make in (("single", Workload.single), ("batch", Workload.batch)):
                writer = Writer(url, workload, make)
                try:
                    log(f"write path: {kind}-row transactions, plain / triggers / app outbox")
                    rates = _capture_rounds(writer, switch, settings)
                finally:
                    writer.close()
                figures.update(_figures(kind, rates))
        finally:
            switch.close()
    return figures


def _figures(kind: str, rates: dict[str, list[float]]) -> dict[str, float]:
    show(f"{kind}: triggers ÷ plain per round", ratios(rates["triggers"], rates["plain"]))
    show(f"{kind}: app outbox ÷ plain per round", ratios(rates["app"], rates["plain"]))
    app_key = "write_app_outbox_ratio" if kind == "single" else "write_app_outbox_batch_ratio"
    return {
        f"write_{kind}_ratio": median(ratios(rates["triggers"], rates["plain"])),
        app_key: median(ratios(rates["app"], rates["plain"])),
        f"write_{kind}_rows_per_s_plain": median(rates["plain"]),
        f"write_{kind}_rows_per_s_triggers": median(rates["triggers"]),
        f"write_{kind}_rows_per_s_app_outbox": median(rates["app"]),
    }


def run_binlog(binlog_server: str, settings: Settings) -> dict[str, float]:
    """On the binlog server: rows/s with the session's binary logging on ÷ off, no triggers."""
    figures: dict[str, float] = {}
    with scratch_database(binlog_server, "write_binlog") as url:
        create_work_table(url, settings.write_prefill)
        workload = Workload(settings.write_prefill)
        for kind, make in (("single", Workload.single), ("batch", Workload.batch)):
            writer = Writer(url, workload, make)
            try:
                log(f"write path: {kind}-row transactions, binary log off / on (throwaway server)")
                rates = interleave(
                    {
                        "off": partial(_binlog_round, writer, False, settings),
                        "on": partial(_binlog_round, writer, True, settings),
                    },
                    settings.write_rounds,
                )
            finally:
                writer.close()
            show(f"{kind}: binlog on ÷ off per round", ratios(rates["on"], rates["off"]))
            figures[f"write_{kind}_binlog_ratio"] = median(ratios(rates["on"], rates["off"]))
            figures[f"write_{kind}_rows_per_s_binlog_off"] = median(rates["off"])
            figures[f"write_{kind}_rows_per_s_binlog_on"] = median(rates["on"])
    return figures


def _binlog_round(writer: Writer, on: bool, settings: Settings) -> float:
    writer.cur.execute(f"SET SESSION sql_log_bin = {int(on)}")
    return writer.rate(settings.write_seconds)
