"""Application events: what ``emit()`` costs in a transaction, and how fast the relay drains domain events.

- ``app_emit_us_per_event`` / ``app_insert_us_per_event``: µs per event of
  ``emit()`` on a PyMySQL connection, against a plain INSERT of the same row
  (table name, key hash and JSON body built beforehand), 100 events per
  transaction so the commit is shared; rounds interleaved, medians.
- ``app_emit_ratio``: 1-event transactions per second with ``emit()`` ÷ with the
  plain INSERT: the cost as a service sees it, commit included.
- ``app_emit_build_us`` (diagnostic): CPU µs of building the row alone
  (encoding, JSON, size check), no database.
- ``app_relay_events_per_s``: the relay (its defaults) draining a backlog of
  ``emit()`` events into the in-memory null sink, routed by ``routing``
  (``by: aggregate_type``, a map), so the field lookup is in the figure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bench.common import EVENTS, NullSink, captured_database, connect, interleave, log, median, ratios, show
from bench.settings import Settings
from outbox_triggers import database, emit
from outbox_triggers.emitting import event_row, insert_sql
from outbox_triggers.relay import Relay
from outbox_triggers.routing import Router, Routing

PER_TRANSACTION = 100


def _payload(n: int) -> dict[str, Any]:
    """A typical domain event: a few fields, a Decimal, a small list."""
    return {"order_id": n, "amount": Decimal("12.50"), "currency": "EUR", "lines": [{"sku": "A-1", "qty": 2}]}


def _emit(cur: Any, n: int) -> None:
    emit(cur.connection, aggregate_type="order", aggregate_id=n, event_type="OrderPaid", payload=_payload(n))


def _prebuilt(count: int) -> list[tuple[str, int, str]]:
    rows = [
        event_row(aggregate_type="order", aggregate_id=n, event_type="OrderPaid", payload=_payload(n))
        for n in range(count)
    ]
    return [(t, k, b) for t, k, b, _ in rows]


def _rate(url: str, seconds: float, per_txn: int, write: Callable[[Any, int], None]) -> float:
    """Events per second writing ``per_txn`` events per transaction for about ``seconds``."""
    conn = connect(url)
    try:
        cur = conn.cursor()
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(per_txn):
                write(cur, done)
                done += 1
            conn.commit()
        elapsed = time.perf_counter() - start
        cur.execute(f"DELETE FROM {EVENTS}")
        conn.commit()
        return done / elapsed
    finally:
        conn.close()


def _round(url: str, seconds: float, per_txn: int, write: Callable[[Any, int], None]) -> Callable[[], float]:
    return lambda: _rate(url, seconds, per_txn, write)


def _writers(count: int) -> dict[str, Callable[[Any, int], None]]:
    rows, sql = _prebuilt(count), insert_sql()
    return {"emit": _emit, "insert": lambda cur, n: cur.execute(sql, rows[n % len(rows)])}


def _write_figures(url: str, settings: Settings) -> dict[str, float]:
    writers = _writers(1000)
    seconds, rounds = settings.write_seconds, settings.write_rounds
    log(f"app events: emit() vs plain INSERT, {rounds} rounds of {seconds}s, {PER_TRANSACTION} per txn and 1")
    batched = interleave({m: _round(url, seconds, PER_TRANSACTION, w) for m, w in writers.items()}, rounds)
    single = interleave({m: _round(url, seconds, 1, w) for m, w in writers.items()}, rounds)
    show("emit ÷ insert per round, 1-event txns", ratios(single["emit"], single["insert"]))
    start = time.process_time()
    _prebuilt(2000)
    return {
        "app_emit_us_per_event": 1e6 / median(batched["emit"]),
        "app_insert_us_per_event": 1e6 / median(batched["insert"]),
        "app_emit_ratio": median(ratios(single["emit"], single["insert"])),
        "app_emit_build_us": (time.process_time() - start) * 1e6 / 2000,
    }


def _relay_figure(url: str, settings: Settings) -> dict[str, float]:
    events = settings.drain_events // 2
    conn = connect(url)
    try:
        cur = conn.cursor()
        for start in range(0, events, 1000):
            cur.executemany(insert_sql(), _prebuilt(min(1000, events - start)))
            conn.commit()
    finally:
        conn.close()
    log(f"app events: relay drains {events} emitted events into the null sink, routed by aggregate_type")
    engine = database.engine(url, pool_size=2)
    sink = NullSink()
    try:
        router = Router(Routing(map={"order": ("default",)}), {"default": sink})
        relay = Relay(
            engine, EVENTS, {}, settings.batch_size, max_in_flight=settings.max_in_flight, router=router
        )
        began = time.perf_counter()
        stats = relay.run(once=True)
        elapsed = time.perf_counter() - began
    finally:
        engine.dispose()
    if stats.published != events:
        raise RuntimeError(f"the relay published {stats.published} of {events} emitted events")
    return {"app_relay_events_per_s": events / elapsed}


def run(server: str, settings: Settings) -> dict[str, float]:
    """Every ``app_*`` figure."""
    with captured_database(server, "app") as (url, _):
        figures = _write_figures(url, settings)
        figures.update(_relay_figure(url, settings))
    return figures
