"""Relay drain and pipelining: the relay against a raw claim/delete loop, and against the network ceiling.

The backlog is written by the triggers (inserts, then updates, then deletes of
the work table), then copied aside; every round refills the events table with
that same copy (same ``seq`` values, same bodies) and drains it.

- ``relay_drain_ratio``: events/s of :class:`~outbox_triggers.relay.Relay` with
  its defaults into the null sink ÷ events/s of a raw PyMySQL loop doing
  ``SELECT … ORDER BY seq LIMIT n`` then ``DELETE … WHERE seq IN (…)`` with the
  same ``n``, at the same isolation level; rounds interleaved, median ratio.
- ``relay_pipeline_ratio``: events/s into a sink that takes 15 ms per request of
  at most 10 entries ÷ the ceiling ``10 x max_in_flight ÷ 0.015 s``.
- ``dispatch_cpu_us_per_event`` (diagnostic): CPU time per event of the
  dispatcher alone, with no database: the same events fed from memory to the
  null sink, as the relay feeds them. Set beside ``raw_drain_us_per_event``, it
  shows how much of the relay's time per event the pipeline's own Python takes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from bench.common import (
    EVENTS,
    TABLE,
    NullSink,
    captured_database,
    connect,
    execute,
    insert_rows,
    interleave,
    log,
    median,
    ratios,
    scalar,
    show,
)
from bench.settings import Settings
from outbox_triggers import database
from outbox_triggers.dispatch import Dispatcher
from outbox_triggers.events import Event, EventsTable
from outbox_triggers.relay import Relay

SNAPSHOT = "bench_backlog"


def write_backlog(url: str, events: int) -> None:
    """Make the work table produce ``events`` row changes: half inserts, a third updates, the rest deletes."""
    inserts, updates = events // 2, events // 3
    deletes = events - inserts - updates
    insert_rows(url, first_id=1, count=inserts, chunk=20_000)
    conn = connect(url)
    try:
        cur = conn.cursor()
        for first in range(1, updates + 1, 20_000):
            last = min(updates, first + 19_999)
            cur.execute(
                f"UPDATE {TABLE} SET status = 'paid', total = total + 1, updated_at = NOW(6) "
                "WHERE id BETWEEN %s AND %s",
                (first, last),
            )
            conn.commit()
        for first in range(1, deletes + 1, 20_000):
            cur.execute(
                f"DELETE FROM {TABLE} WHERE id BETWEEN %s AND %s", (first, min(deletes, first + 19_999))
            )
            conn.commit()
    finally:
        conn.close()


@contextmanager
def backlog_database(server: str, label: str, events: int) -> Iterator[str]:
    """A database whose ``bench_backlog`` holds ``events`` trigger-written events; no events pending."""
    with captured_database(server, label) as (url, _):
        write_backlog(url, events)
        execute(
            url,
            f"CREATE TABLE {SNAPSHOT} LIKE {EVENTS}",
            f"INSERT INTO {SNAPSHOT} SELECT * FROM {EVENTS}",
            f"DELETE FROM {EVENTS}",
        )
        yield url


def refill(url: str, limit: int) -> int:
    """Put the first ``limit`` snapshot events back into the (empty) events table; return how many."""
    conn = connect(url, autocommit=True)
    try:
        cur = conn.cursor()
        left = scalar(cur, f"SELECT COUNT(*) FROM {EVENTS}")
        if left:
            raise RuntimeError(f"the events table should be empty before a refill, found {left} rows")
        cur.execute(f"INSERT INTO {EVENTS} SELECT * FROM {SNAPSHOT} ORDER BY seq LIMIT %s", (limit,))
        return int(cur.rowcount)
    finally:
        conn.close()


def relay_round(engine: sa.Engine, url: str, events: int, settings: Settings, sink: NullSink) -> float:
    """Refill, then drain with the relay (``run(once=True)``); events/s."""
    expected = refill(url, events)
    relay = Relay(
        engine, EVENTS, {TABLE: [sink]}, batch_size=settings.batch_size, max_in_flight=settings.max_in_flight
    )
    start = time.perf_counter()
    stats = relay.run(once=True)
    elapsed = time.perf_counter() - start
    if stats.published != expected:
        raise RuntimeError(f"the relay published {stats.published} of {expected} events")
    return expected / elapsed


def raw_round(url: str, events: int, batch_size: int) -> float:
    """Refill, then drain with the plainest loop: SELECT … ORDER BY seq LIMIT n; DELETE … IN (…); events/s.

    Like the relay's round, the time includes connecting.
    """
    expected = refill(url, events)
    select = f"SELECT seq, table_name, key_hash, payload FROM {EVENTS} ORDER BY seq LIMIT %s"
    drained = 0
    start = time.perf_counter()
    conn = connect(url, autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        for _ in range(expected // batch_size + 2):
            cur.execute(select, (batch_size,))
            rows = cur.fetchall()
            if not rows:
                break
            cur.execute(f"DELETE FROM {EVENTS} WHERE seq IN ({','.join(str(r[0]) for r in rows)})")
            drained += len(rows)
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
    if drained != expected:
        raise RuntimeError(f"the raw loop drained {drained} of {expected} events")
    return expected / elapsed


def run(server: str, settings: Settings) -> dict[str, float]:
    """``relay_drain_ratio``, ``relay_drain_events_per_s`` and ``relay_pipeline_ratio``."""
    events = settings.drain_events
    with backlog_database(server, "drain", max(events, settings.pipeline_events)) as url:
        engine = database.engine(url, pool_size=2)
        try:
            log(f"relay drain: {events} events, relay vs raw SELECT/DELETE, {settings.drain_rounds} rounds")
            rates = interleave(
                {
                    "relay": lambda: relay_round(engine, url, events, settings, NullSink()),
                    "raw": lambda: raw_round(url, events, settings.batch_size),
                },
                settings.drain_rounds,
            )
            show("relay ÷ raw per round", ratios(rates["relay"], rates["raw"]))
            figures = {
                "relay_drain_ratio": median(ratios(rates["relay"], rates["raw"])),
                "relay_drain_events_per_s": median(rates["relay"]),
                "raw_drain_events_per_s": median(rates["raw"]),
            }
            figures["raw_drain_us_per_event"] = 1e6 / figures["raw_drain_events_per_s"]
            figures["relay_drain_us_per_event"] = 1e6 / figures["relay_drain_events_per_s"]
            figures["dispatch_cpu_us_per_event"] = _dispatch_only(url, events, settings)
            figures.update(_pipeline(engine, url, settings))
        finally:
            engine.dispose()
    return figures


def _pipeline(engine: sa.Engine, url: str, settings: Settings) -> dict[str, float]:
    ceiling = settings.request_entries * settings.max_in_flight / settings.request_latency_s
    log(
        f"relay pipelining: {settings.pipeline_events} events, {settings.request_latency_s * 1000:.0f} ms "
        f"per request of {settings.request_entries}, {settings.max_in_flight} in flight "
        f"(ceiling {ceiling:,.0f} events/s)"
    )
    rates = [
        relay_round(
            engine,
            url,
            settings.pipeline_events,
            settings,
            NullSink(latency=settings.request_latency_s, max_entries=settings.request_entries),
        )
        for _ in range(settings.pipeline_rounds)
    ]
    show("pipeline events/s per round", rates)
    return {
        "relay_pipeline_ratio": median(rates) / ceiling,
        "relay_pipeline_events_per_s": median(rates),
        "relay_pipeline_ceiling_events_per_s": ceiling,
    }


def _dispatch_only(url: str, events: int, settings: Settings, rounds: int = 3) -> float:
    """CPU µs per event of :class:`Dispatcher` alone: the backlog's events, from memory, to the null sink."""
    refill(url, events)
    engine = database.engine(url)
    try:
        with engine.connect() as conn:
            backlog = EventsTable(EVENTS, lag=False).fetch(conn, events)
            conn.exec_driver_sql(f"DELETE FROM {EVENTS}")
            conn.commit()
    finally:
        engine.dispose()
    costs = [_dispatch_round(backlog, settings) for _ in range(rounds)]
    show("dispatcher alone, CPU µs per event", costs)
    return median(costs)


def _dispatch_round(backlog: list[Event], settings: Settings) -> float:
    dispatcher = Dispatcher({TABLE: [NullSink()]}, settings.max_in_flight)
    cpu, done, index = time.process_time(), 0, 0
    try:
        while done < len(backlog):
            if dispatcher.holding() <= settings.batch_size and index < len(backlog):
                dispatcher.add(backlog[index : index + settings.batch_size])
                index += settings.batch_size
            done += len(
                dispatcher.collect(0.0 if dispatcher.holding() <= settings.batch_size else 0.2).events
            )
    finally:
        dispatcher.close()
    return (time.process_time() - cpu) * 1e6 / len(backlog)
