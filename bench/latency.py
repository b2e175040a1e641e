"""Latency: commit → publish at a steady 1,000 committed events/s.

A writer thread commits one single-row INSERT every millisecond (on an absolute
schedule, so a slow commit is caught up rather than shifting the rest); the
relay, with its defaults, runs in another thread of the same process and
publishes to the null sink. Latency is the sink's receipt time minus the time
the writer's COMMIT returned, both read from ``time.perf_counter()`` in this
process. The row id in each message body ties it to its commit.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from bench.common import (
    EVENTS,
    ROW_COLUMNS,
    TABLE,
    NullSink,
    captured_database,
    connect,
    log,
    median,
    percentile,
    show,
)
from bench.settings import Settings
from outbox_triggers import database
from outbox_triggers.relay import Relay

DRAIN_TIMEOUT_S = 10.0


@dataclass
class Commits:
    """When each row's transaction committed, as the writer saw it."""

    done: dict[int, float] = field(default_factory=dict)
    behind_max_ms: float = 0.0


def write_steadily(url: str, first_id: int, rate: int, seconds: float) -> Commits:
    """Commit ``rate`` single-row transactions per second for ``seconds``; record each commit's time."""
    conn = connect(url)
    commits = Commits()
    try:
        cur = conn.cursor()
        sql = f"INSERT INTO {TABLE} ({ROW_COLUMNS}) VALUES (%s, %s, 'new', %s, %s, NOW(6))"
        interval = 1.0 / rate
        start = time.perf_counter()
        for index in range(int(rate * seconds)):
            due = start + index * interval
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            else:
                commits.behind_max_ms = max(commits.behind_max_ms, -wait * 1000)
            row_id = first_id + index
            cur.execute(sql, (row_id, row_id % 1000, f"{row_id % 10000}.00", f"order {row_id}"))
            conn.commit()
            commits.done[row_id] = time.perf_counter()
    finally:
        conn.close()
    return commits


def latencies(sink: NullSink, commits: Commits) -> list[float]:
    """Receipt minus commit, in ms, for every event the sink received."""
    found = []
    for received, bodies in sink.receipts:
        for body in bodies:
            committed = commits.done.get(json.loads(body)["key"]["id"])
            if committed is not None:
                found.append((received - committed) * 1000)
    return found


def one_round(engine: sa.Engine, url: str, first_id: int, settings: Settings) -> tuple[list[float], Commits]:
    """Start the relay, write steadily, wait for the last event, stop the relay."""
    sink = NullSink(record=True)
    relay = Relay(
        engine, EVENTS, {TABLE: [sink]}, batch_size=settings.batch_size, max_in_flight=settings.max_in_flight
    )
    thread = threading.Thread(target=relay.run, name="bench-relay")
    thread.start()
    try:
        commits = write_steadily(url, first_id, settings.latency_rate, settings.latency_seconds)
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while sink.count < len(commits.done) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        relay.request_stop()
        thread.join(30)
    if sink.count < len(commits.done):
        raise RuntimeError(f"the relay published {sink.count} of {len(commits.done)} events in time")
    return latencies(sink, commits), commits


def run(server: str, settings: Settings) -> dict[str, float]:
    """``latency_p50_ms`` and ``latency_p99_ms``: medians over rounds of each round's percentiles."""
    log(
        f"latency: {settings.latency_rate} committed events/s for {settings.latency_seconds:.0f} s, "
        f"{settings.latency_rounds} rounds"
    )
    p50s, p99s, maxes, behind = [], [], [], []
    with captured_database(server, "latency") as (url, _):
        engine = database.engine(url, pool_size=2)
        try:
            for index in range(settings.latency_rounds):
                first_id = 1 + index * 10_000_000
                found, commits = one_round(engine, url, first_id, settings)
                p50s.append(percentile(found, 50))
                p99s.append(percentile(found, 99))
                maxes.append(max(found))
                behind.append(commits.behind_max_ms)
        finally:
            engine.dispose()
    show("p50 ms per round", p50s)
    show("p99 ms per round", p99s)
    return {
        "latency_p50_ms": median(p50s),
        "latency_p99_ms": median(p99s),
        "latency_max_ms": median(maxes),
        "latency_writer_behind_max_ms": max(behind),
    }
