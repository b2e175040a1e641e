"""What every benchmark shares: the server, scratch databases, the workload table, capture, sinks, stats."""

from __future__ import annotations

import io
import math
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pymysql
from sqlalchemy.engine import make_url

from outbox_triggers import commands, database, local_server
from outbox_triggers.publishers import Message, PublishResult
from outbox_triggers.publishers.stub import StubPublisher
from outbox_triggers.render import RenderedTrigger
from outbox_triggers.spec import load

LOCAL_URL = "mysql+pymysql://root@127.0.0.1:3306/"
TABLE = "bench_orders"
EVENTS = "outbox_events"
ROW_COLUMNS = "id, customer_id, status, total, note, updated_at"
NUMBERS = 100_000
SPEC = f"""\
version: 1
events_table: {EVENTS}
tables:
  {TABLE}: {{}}
destinations:
  default:
    type: sqs
    queue_url: https://sqs.us-east-1.amazonaws.com/123456789012/bench-not-contacted
"""
_STARTED = time.monotonic()


def log(message: str) -> None:
    """A progress line on stderr, with the seconds since the suite started."""
    print(f"[bench {time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


@contextmanager
def server_url() -> Iterator[str]:
    """``DATABASE_URL``, else the MariaDB at 127.0.0.1:3306, else a throwaway server."""
    explicit = os.environ.get("DATABASE_URL")
    if explicit:
        yield make_url(explicit).set(database=None).render_as_string(hide_password=False)
    elif local_server.answers("127.0.0.1", 3306):
        yield LOCAL_URL
    else:
        log("no server at 127.0.0.1:3306: starting a throwaway one")
        with local_server.throwaway() as url:
            yield url


@contextmanager
def scratch_database(server: str, label: str) -> Iterator[str]:
    """A database of its own for one benchmark, dropped afterwards; yields its URL."""
    name = f"bench_{label}_{secrets.token_hex(4)}"
    admin = connect(server, autocommit=True)
    try:
        admin.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        admin.ping(reconnect=True)
        admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def connect(url: str, autocommit: bool = False) -> Any:
    """A plain PyMySQL connection (what an application would use) to ``url``."""
    parsed = make_url(url)
    return pymysql.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 3306,
        user=parsed.username or "root",
        password=parsed.password or "",
        database=parsed.database,
        charset="utf8mb4",
        autocommit=autocommit,
    )


def execute(url: str, *statements: str) -> None:
    """Run statements on a short-lived autocommit connection."""
    conn = connect(url, autocommit=True)
    try:
        cur = conn.cursor()
        for statement in statements:
            cur.execute(statement)
    finally:
        conn.close()


def scalar(cur: Any, statement: str, args: Sequence[Any] = ()) -> Any:
    """The first column of the first row."""
    cur.execute(statement, args)
    row = cur.fetchone()
    return row[0] if row else None


def create_work_table(url: str, prefill: int = 0) -> None:
    """The tracked table, a numbers table to generate rows from, and ``prefill`` rows with ids 1..prefill."""
    digits = "(SELECT 0 d UNION ALL " + " UNION ALL ".join(f"SELECT {i}" for i in range(1, 10)) + ")"
    joins = " CROSS JOIN ".join(f"{digits} d{i}" for i in range(5))
    number = " + ".join(f"{10**i} * d{i}.d" for i in range(5))
    execute(
        url,
        f"CREATE TABLE {TABLE} (id BIGINT NOT NULL PRIMARY KEY, customer_id INT NOT NULL, "
        "status VARCHAR(16) NOT NULL, total DECIMAL(10,2) NOT NULL, note VARCHAR(120) NULL, "
        "updated_at DATETIME(6) NOT NULL)",
        "CREATE TABLE bench_numbers (n INT NOT NULL PRIMARY KEY)",
        f"INSERT INTO bench_numbers SELECT {number} FROM {joins}",
    )
    insert_rows(url, first_id=1, count=prefill)


def insert_rows_sql(first_id: int, count: int) -> str:
    """One INSERT … SELECT of ``count`` (≤ 100,000) generated rows with ids from ``first_id``."""
    return (
        f"INSERT INTO {TABLE} ({ROW_COLUMNS}) SELECT {first_id} + n, n % 1000, "
        "ELT(1 + n % 3, 'new', 'paid', 'shipped'), (n % 100000) / 100, "
        f"CONCAT('order ', {first_id} + n, ' for customer ', n % 1000), NOW(6) "
        f"FROM bench_numbers WHERE n < {count}"
    )


def insert_rows(url: str, first_id: int, count: int, chunk: int = NUMBERS) -> None:
    """Insert ``count`` generated rows, ``chunk`` rows per transaction."""
    conn = connect(url)
    try:
        cur = conn.cursor()
        for start in range(0, count, chunk):
            cur.execute(insert_rows_sql(first_id + start, min(chunk, count - start)))
            conn.commit()
    finally:
        conn.close()


def install_capture(url: str, workdir: Path) -> tuple[RenderedTrigger, ...]:
    """Install the events table and triggers through ``migrate``; return the triggers it installed."""
    spec_path = workdir / "outbox.yaml"
    spec_path.write_text(SPEC)
    commands.migrate(spec_path, url, output=io.StringIO())
    eng = database.engine(url)
    try:
        with database.connect(eng) as conn:
            return commands.plan(load(spec_path), conn).rendered.for_table(TABLE)
    finally:
        eng.dispose()


@contextmanager
def captured_database(
    server: str, label: str, prefill: int = 0
) -> Iterator[tuple[str, tuple[RenderedTrigger, ...]]]:
    """A scratch database with the work table (``prefill`` rows) and capture installed by ``migrate``."""
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database(server, label))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="outbox-bench-")))
        create_work_table(url, prefill)
        yield url, install_capture(url, workdir)


class NullSink(StubPublisher):
    """The in-memory null sink: a :class:`StubPublisher` that counts what it accepts and keeps nothing.

    ``record`` keeps ``(receipt time, bodies)`` per request for latency;
    ``on_count`` is called with the running total after each request.
    """

    def __init__(
        self,
        latency: float = 0.0,
        max_entries: int = 10,
        record: bool = False,
        on_count: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__("default", latency=latency, max_entries=max_entries)
        self.count = 0
        self.receipts: list[tuple[float, list[str]]] = []
        self._record = record
        self._on_count = on_count
        self._tally = threading.Lock()

    def send(self, messages: Sequence[Message]) -> PublishResult:
        """Accept the request like the stub does, then drop the messages."""
        result = super().send(messages)
        now = time.perf_counter()
        with self._tally:
            self.sent.clear()
            self.count += len(result.accepted)
            total = self.count
            if self._record:
                self.receipts.append((now, [m.body for m in messages]))
        if self._on_count:
            self._on_count(total)
        return result


def median(values: Sequence[float]) -> float:
    """The median, or NaN when there is nothing to take it of."""
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0 to 100), linearly interpolated; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Round-by-round ratios of two interleaved series."""
    return [n / d for n, d in zip(numerators, denominators, strict=True) if d > 0]


def show(label: str, values: Sequence[float]) -> None:
    """Log every round's value, so the spread behind a median is on record."""
    log(f"  {label}: " + " ".join(f"{v:.3g}" for v in values))


def interleave(modes: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Run every mode once per round, rotating the order each round so drift hits all modes alike."""
    names = list(modes)
    results: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        order = names[shift:] + names[:shift]
        if index % 2:
            order.reverse()
        for name in order:
            results[name].append(modes[name]())
    return results


def server_facts(url: str) -> dict[str, Any]:
    """Version and durability settings of the server at ``url``."""
    conn = connect(url, autocommit=True)
    try:
        cur = conn.cursor()
        names = (
            "innodb_flush_log_at_trx_commit",
            "sync_binlog",
            "log_bin",
            "binlog_format",
            "innodb_buffer_pool_size",
            "innodb_doublewrite",
            "innodb_flush_method",
        )
        cur.execute(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN (" + ", ".join(["%s"] * len(names)) + ")", names
        )
        facts: dict[str, Any] = {str(k): str(v) for k, v in cur.fetchall()}
        facts["version"] = str(scalar(cur, "SELECT VERSION()"))
        return facts
    finally:
        conn.close()
