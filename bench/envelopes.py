"""Envelopes: what re-encoding each event for ``maxwell``, ``debezium`` and ``cloudevents`` costs the relay.

The backlog is the drain group's (trigger-written inserts, updates and
deletes of the work table, its capture version recorded by ``migrate``).

- ``envelope_<format>_us_per_event``: CPU µs per event of the format's
  formatter alone (parse the native JSON, re-encode every value with the
  recorded column types, write the envelope), from memory. ``native`` is a
  byte pass-through: 0 by construction.
- ``relay_drain_ratio_<format>``: events/s of the relay into the null sink
  with one destination of that format ÷ events/s of the raw SELECT/DELETE
  loop, rounds interleaved with ``native`` and the raw loop, median ratio.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import sqlalchemy as sa

from bench.common import EVENTS, NullSink, connect, interleave, log, median, ratios, show
from bench.drain import SNAPSHOT, backlog_database, raw_round, relay_round
from bench.settings import Settings
from outbox_triggers import captures, database, envelopes

FORMATS = ("maxwell", "debezium", "cloudevents")
MAX_EVENTS = 20_000
"""Events per round: four modes drain this many each round, so the full suite stays within its minutes."""


def run(server: str, settings: Settings) -> dict[str, float]:
    """Per-event re-encoding cost per format, and the relay's drain ratio with each against native."""
    events = min(settings.drain_events, MAX_EVENTS)
    figures: dict[str, float] = {}
    with backlog_database(server, "envelopes", events) as url:
        engine = database.engine(url, pool_size=2)
        try:
            bodies = _bodies(url, events)
            registry = captures.Registry(engine, EVENTS)
            for name in FORMATS:
                cost = _encode_cost(name, bodies, registry)
                show(f"{name} formatter, CPU µs per event", [cost])
                figures[f"envelope_{name}_us_per_event"] = cost
            figures["envelope_native_us_per_event"] = 0.0
            log(f"relay drain per format: {events} events, {settings.drain_rounds} rounds")
            modes: dict[str, Callable[[], float]] = {
                "raw": lambda: raw_round(url, events, settings.batch_size)
            }
            for name in ("native", "maxwell", "debezium"):
                modes[name] = partial(_relay, engine, url, events, settings, name)
            rates = interleave(modes, settings.drain_rounds)
            for name in ("native", "maxwell", "debezium"):
                figures[f"relay_drain_ratio_{name}"] = median(ratios(rates[name], rates["raw"]))
        finally:
            engine.dispose()
    return figures


def _relay(engine: sa.Engine, url: str, events: int, settings: Settings, name: str) -> float:
    """One relay round into a null sink of format ``name``; events/s."""
    sink = NullSink()
    sink.format = name
    return relay_round(engine, url, events, settings, sink)


def _bodies(url: str, limit: int) -> list[str]:
    conn = connect(url, autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute(f"SELECT payload FROM {SNAPSHOT} ORDER BY seq LIMIT %s", (limit,))
        return [str(row[0]) for row in cur.fetchall()]
    finally:
        conn.close()


def _encode_cost(name: str, bodies: list[str], registry: captures.Registry, rounds: int = 3) -> float:
    shape = envelopes.formatter(name, "bench", {}, registry)
    assert shape is not None
    shape(bodies[0])  # the registry loads once, outside the timing
    costs = []
    for _ in range(rounds):
        started = time.process_time()
        for body in bodies:
            shape(body)
        costs.append((time.process_time() - started) * 1e6 / len(bodies))
    return median(costs)
