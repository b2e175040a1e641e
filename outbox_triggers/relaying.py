"""The ``relay`` command: a relay built from the spec, with its destinations checked and observers attached.

It lives apart from :mod:`outbox_triggers.commands` so that starting a relay
(or a Lambda invocation) imports neither Alembic nor the migration and check
machinery.

The relay's database connections time out: :data:`DB_CONNECT_TIMEOUT_S` to
connect and :data:`DB_READ_TIMEOUT_S` for a statement's answer, so a stalled
server can't hang the relay (or its stop) for good.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TextIO

import sqlalchemy as sa

from outbox_triggers import database, identifiers, introspect, metrics, publishers
from outbox_triggers.defaults import (
    AWS_TIMEOUTS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_STALL_AFTER,
    Timeouts,
)
from outbox_triggers.errors import DatabaseError
from outbox_triggers.publishers import Publisher
from outbox_triggers.relay import Relay, RelayObserver, RelayStats
from outbox_triggers.routing import Router
from outbox_triggers.spec import DEFAULT_DESTINATION, Destination, Spec, load

DB_CONNECT_TIMEOUT_S = 5
DB_READ_TIMEOUT_S = 60


def relay(
    spec_path: str | Path,
    database_url: str | None = None,
    once: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    overrides: Mapping[str, Publisher] | None = None,
    observers: Sequence[RelayObserver] = (),
    metrics_port: int | None = None,
    progress: TextIO | None = None,
    timeouts: Timeouts = AWS_TIMEOUTS,
) -> RelayStats:
    """Publish events until stopped (or, with ``once``, until the current backlog is delivered).

    ``metrics_port`` serves ``/metrics`` and ``/healthz``; ``progress`` gets a progress line for long drains;
    ``timeouts`` bound each AWS request.
    """
    with relay_session(
        spec_path,
        database_url,
        batch_size,
        poll_interval,
        max_in_flight,
        overrides,
        observers,
        metrics_port,
        progress,
        timeouts,
    ) as worker:
        return worker.run(once=once)


@contextmanager
def relay_session(
    spec_path: str | Path,
    database_url: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    overrides: Mapping[str, Publisher] | None = None,
    observers: Sequence[RelayObserver] = (),
    metrics_port: int | None = None,
    progress: TextIO | None = None,
    timeouts: Timeouts = AWS_TIMEOUTS,
    stall_after_s: float = DEFAULT_STALL_AFTER,
) -> Iterator[Relay]:
    """A relay ready to run (destinations checked, observers attached); everything is closed on exit."""
    spec = load(spec_path)
    eng = relay_engine(database.resolve_url(database_url, spec.url))
    with ExitStack() as stack:
        stack.callback(eng.dispose)
        extra = metrics.observers_for(eng, spec, stack, metrics_port, progress, poll_interval, stall_after_s)
        _require_events_table(eng, spec.events_table)
        _require_registry(eng, spec)
        built: dict[str, Publisher] = {}
        routes = _routes(spec, stack, overrides or {}, max_in_flight, timeouts, built)
        yield Relay(
            eng,
            spec.events_table,
            routes,
            batch_size,
            poll_interval,
            max_in_flight,
            observers=[*observers, *extra],
            partitions=spec.partitions,
            keep_delivered_s=spec.keep_delivered_s,
            stall_after_s=stall_after_s,
            finish_s=timeouts.read,
            router=_router(spec, stack, built, max_in_flight, timeouts),
            format_options={name: d.format_options for name, d in spec.destinations.items()},
        )


def relay_engine(url: str) -> sa.Engine:
    """The relay's engine: two pooled connections, each statement bounded in time."""
    timeouts = {"connect_timeout": DB_CONNECT_TIMEOUT_S, "read_timeout": DB_READ_TIMEOUT_S}
    return database.engine(url, pool_size=2, connect_args={**timeouts, "write_timeout": DB_READ_TIMEOUT_S})


def _require_events_table(eng: sa.Engine, events_table: str) -> None:
    with database.connect(eng) as conn:
        if events_table not in introspect.existing_tables(conn):
            raise DatabaseError(
                f"events table {events_table!r} does not exist in the database: run migrate first"
            )


def _require_registry(eng: sa.Engine, spec: Spec) -> None:
    """Maxwell and Debezium need the capture registry: refuse to start without it, rather than
    dead-letter every event (a toolkit upgrade whose revision is not migrated yet)."""
    formats = ", ".join(sorted({d.format for d in spec.destinations.values()} & {"maxwell", "debezium"}))
    registry = identifiers.captures_table(spec.events_table)
    if not formats:
        return
    with database.connect(eng) as conn:
        missing = registry not in introspect.existing_tables(conn)
    if missing:
        raise DatabaseError(
            f"the capture registry {registry!r} does not exist, and format {formats} needs each event's "
            "column types from it: run `outbox-triggers revision` and `migrate` first"
        )


def _routes(
    spec: Spec,
    stack: ExitStack,
    overrides: Mapping[str, Publisher],
    max_in_flight: int,
    timeouts: Timeouts,
    built: dict[str, Publisher],
) -> dict[str, list[Publisher]]:
    for name, destination in spec.destinations.items():
        publisher = overrides.get(name) or publishers.create(destination, max_in_flight, timeouts)
        stack.callback(publisher.close)
        publisher.check()
        built[name] = publisher
    routes = {t.name: [built[d] for d in t.destinations if d in built] for t in spec.tables}
    if DEFAULT_DESTINATION in built:
        routes["*"] = [built[DEFAULT_DESTINATION]]
    return routes


def _router(
    spec: Spec, stack: ExitStack, built: Mapping[str, Publisher], max_in_flight: int, timeouts: Timeouts
) -> Router | None:
    """The spec's ``routing`` over the publishers ``built``; templated ones are made, checked, closed here."""
    if spec.routing is None:
        return None

    def create(destination: Destination) -> Publisher:
        publisher = publishers.create(destination, max_in_flight, timeouts)
        stack.callback(publisher.close)
        publisher.check()
        return publisher

    return Router(spec.routing, built, create)
