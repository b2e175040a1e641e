"""Backlog: a million events written by the triggers, drained by the relay in a process of its own.

The parent builds the backlog (single-statement INSERTs of 100,000 rows each,
through the triggers) and starts ``python -m bench.backlog`` so the relay's
memory is measured alone. The child:

1. times the relay's batch-claim query on the full backlog as a draining relay
   runs it (:meth:`EventsTable.fetch` past a pipeline holding the oldest
   batch: ``SELECT (SELECT COUNT(*) … WHERE seq <= :hi), … WHERE seq > :hi
   ORDER BY seq LIMIT n``): the server's own time for the statement
   (``SHOW PROFILES``) and the round trip as the relay sees it;
2. drains with :class:`~outbox_triggers.relay.Relay` (defaults, null sink) until
   95% is gone, times the claim again on what is left (purge still running),
   once more when purge has caught up (a diagnostic, at most 10 s later), then
   drains the rest;
3. samples InnoDB's history list length (``trx_rseg_history_len``) and its own
   RSS every 250 ms, and reports its peak RSS (``VmHWM``: ``ru_maxrss`` would count the parent's).
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import pymysql.cursors
import sqlalchemy as sa

from bench.common import (
    EVENTS,
    TABLE,
    NullSink,
    captured_database,
    connect,
    insert_rows,
    log,
    percentile,
)
from bench.settings import Settings
from outbox_triggers import database
from outbox_triggers.events import EventsTable
from outbox_triggers.relay import Relay

STOP_FRACTION = 0.95
SAMPLE_EVERY_S = 0.25
PROFILE_CHUNK = 40
SETTLE_S = 10.0


@dataclass(frozen=True)
class ChildArgs:
    """What the parent tells the drain process."""

    url: str
    expected: int
    batch_size: int
    max_in_flight: int
    claim_samples: int
    timeout_s: float


def run(server: str, settings: Settings) -> dict[str, Any]:
    """Build the backlog, drain it in a child process, and return the backlog figures."""
    events = settings.backlog_events
    with captured_database(server, "backlog") as (url, _):
        log(f"backlog: writing {events:,} events through the triggers")
        start = time.perf_counter()
        insert_rows(url, first_id=1, count=events)
        build_s = time.perf_counter() - start
        log(f"backlog: built in {build_s:.1f} s; draining it in a separate relay process")
        args = ChildArgs(
            url,
            events,
            settings.batch_size,
            settings.max_in_flight,
            settings.claim_samples,
            settings.backlog_timeout_s,
        )
        figures = _child(args)
    figures["backlog_build_events_per_s"] = events / build_s
    return figures


def _child(args: ChildArgs) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.backlog", json.dumps(asdict(args))],
        capture_output=True,
        text=True,
        timeout=args.timeout_s + 120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the backlog drain process failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


class Sampler(threading.Thread):
    """Every 250 ms: InnoDB's history list length and this process's RSS."""

    def __init__(self, url: str) -> None:
        super().__init__(name="bench-sampler", daemon=True)
        self._conn = connect(url, autocommit=True)
        self.enabled = self._metric_enabled()
        self.history: list[int] = []
        self.rss_mb: list[float] = []
        self._halt = threading.Event()

    def _metric_enabled(self) -> bool:
        cur = self._conn.cursor(pymysql.cursors.DictCursor)
        cur.execute("SELECT * FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'")
        row = cur.fetchone() or {}
        return bool(row.get("ENABLED") == 1 or str(row.get("STATUS", "")).lower() == "enabled")

    def history_len(self) -> int:
        cur = self._conn.cursor()
        cur.execute(
            "SELECT `COUNT` FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'"
        )
        row = cur.fetchone()
        return int(row[0]) if row else -1

    def run(self) -> None:
        deadline = time.monotonic() + 3600
        while not self._halt.wait(SAMPLE_EVERY_S) and time.monotonic() < deadline:
            self.sample()

    def sample(self) -> None:
        self.history.append(self.history_len())
        self.rss_mb.append(_rss_mb())

    def stop(self) -> None:
        self._halt.set()
        self.join(5)
        self._conn.close()


def _peak_rss_mb() -> float:
    """This process's peak RSS: ``VmHWM``, which starts afresh at exec.

    (``ru_maxrss`` does not: a child forked from a large parent reports the
    parent's size as its own peak.)
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 1_048_576


def measure_claims(
    engine: sa.Engine, batch_size: int, samples: int
) -> tuple[list[float], list[float], list[float]]:
    """The relay's claim, ``samples`` times: server time (SHOW PROFILES) and client round trip, in ms.

    Interleaved with it, the floor: the same rows read by the plainest statement,
    ``SELECT seq, table_name, key_hash, payload … WHERE seq > :hi ORDER BY seq LIMIT n``
    (no count of held rows, no write time); its server times are the third list.
    """
    events = EventsTable(EVENTS, lag=False)
    server: list[float] = []
    client: list[float] = []
    floor: list[float] = []
    last_id = 0
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="READ COMMITTED")
        oldest = conn.exec_driver_sql(f"SELECT seq FROM {EVENTS} ORDER BY seq LIMIT {int(batch_size)}").all()
        pipeline = HeldBatch({int(seq) for (seq,) in oldest})
        conn.commit()
        conn.exec_driver_sql("SET SESSION profiling_history_size = 100")
        conn.exec_driver_sql("SET SESSION profiling = 1")
        plain = (
            f"SELECT seq, table_name, key_hash, payload FROM {EVENTS} "
            f"WHERE seq > {pipeline.highest()} ORDER BY seq LIMIT {int(batch_size)}"
        )
        for _ in range(math.ceil(samples / PROFILE_CHUNK)):
            for _ in range(PROFILE_CHUNK // 2):
                start = time.perf_counter()
                events.fetch(conn, batch_size, pipeline=pipeline)
                client.append((time.perf_counter() - start) * 1000)
                conn.exec_driver_sql(plain).all()
                conn.commit()
            for query_id, duration, query in conn.exec_driver_sql("SHOW PROFILES").all():
                text = str(query).lstrip().upper()
                if query_id > last_id and text.startswith("SELECT"):
                    (server if "COUNT(*)" in text else floor).append(float(duration) * 1000)
                    last_id = query_id
        conn.exec_driver_sql("SET SESSION profiling = 0")
        conn.commit()
    return server, client, floor


@dataclass
class HeldBatch:
    """A relay pipeline holding the oldest batch, as while draining a backlog."""

    seqs: set[int]

    def holding(self) -> int:
        """How many events it holds."""
        return len(self.seqs)

    def highest(self) -> int:
        """The newest it holds."""
        return max(self.seqs, default=0)

    def holds(self, seq: int) -> bool:
        """True if it holds ``seq``."""
        return seq in self.seqs


@dataclass
class Drain:
    """Counts across the two relay runs of the drain."""

    published: int = 0
    seconds: float = 0.0
    batches: int = 0
    claims: dict[str, float] = field(default_factory=dict)


def drain_once(engine: sa.Engine, args: ChildArgs, stop_at: int | None, drain: Drain) -> None:
    """One relay run (``once``) that stops when the sink has ``stop_at`` events, or at the time limit."""
    holder: list[Relay] = []

    def check(total: int) -> None:
        if stop_at is not None and total >= stop_at and holder:
            holder[0].request_stop()

    relay = Relay(
        engine, EVENTS, {TABLE: [NullSink(on_count=check)]}, args.batch_size, max_in_flight=args.max_in_flight
    )
    holder.append(relay)
    watchdog = threading.Timer(args.timeout_s, relay.request_stop)
    watchdog.start()
    start = time.perf_counter()
    try:
        stats = relay.run(once=True)
    finally:
        watchdog.cancel()
    drain.seconds += time.perf_counter() - start
    drain.published += stats.published
    drain.batches += stats.batches


def _settle(sampler: Sampler, baseline: int) -> int:
    """Wait (at most 10 s) for purge to bring the history list back to where it started; return its length."""
    deadline = time.monotonic() + SETTLE_S
    length = sampler.history_len()
    while length > max(baseline, 5) and time.monotonic() < deadline:
        time.sleep(0.2)
        length = sampler.history_len()
    return length


def _claim_figures(
    tag: str, server: list[float], client: list[float], floor: list[float]
) -> dict[str, float]:
    return {
        f"claim_p99_ms_{tag}": percentile(server, 99),
        f"claim_p50_ms_{tag}": percentile(server, 50),
        f"claim_client_p99_ms_{tag}": percentile(client, 99),
        f"claim_floor_p99_ms_{tag}": percentile(floor, 99),
    }


def child_main(args: ChildArgs) -> dict[str, Any]:
    """The drain process: claims, drain to 95%, claims, drain the rest; figures as a dict."""
    engine = database.engine(args.url, pool_size=2)
    sampler = Sampler(args.url)
    figures: dict[str, Any] = {"history_list_len_metric_enabled": sampler.enabled}
    drain = Drain()
    try:
        figures.update(_claim_figures("start", *measure_claims(engine, args.batch_size, args.claim_samples)))
        sampler.sample()
        figures["relay_rss_start_mb"] = _rss_mb()
        sampler.start()
        drain_once(engine, args, int(args.expected * STOP_FRACTION), drain)
        figures["history_list_len_at_95pct"] = sampler.history_len()
        figures.update(_claim_figures("end", *measure_claims(engine, args.batch_size, args.claim_samples)))
        figures["history_list_len_settled"] = _settle(sampler, sampler.history[0])
        settled = measure_claims(engine, args.batch_size, args.claim_samples)
        figures["claim_p99_ms_end_settled"] = percentile(settled[0], 99)
        figures["claim_floor_p99_ms_end_settled"] = percentile(settled[2], 99)
        drain_once(engine, args, None, drain)
        sampler.sample()
    finally:
        sampler.stop()
        engine.dispose()
    if drain.published != args.expected:
        raise RuntimeError(f"the relay published {drain.published} of {args.expected} events")
    figures.update(_drain_figures(drain, sampler))
    return figures


def _drain_figures(drain: Drain, sampler: Sampler) -> dict[str, Any]:
    history = sampler.history
    return {
        "backlog_events": drain.published,
        "backlog_drain_events_per_s": drain.published / drain.seconds,
        "backlog_drain_s": drain.seconds,
        "history_list_len_start": history[0],
        "history_list_len_max": max(history),
        "history_list_len_end": history[-1],
        "relay_max_rss_mb": _peak_rss_mb(),
        "relay_rss_sampled_max_mb": max(sampler.rss_mb),
    }


def finish(figures: dict[str, Any]) -> dict[str, Any]:
    """Add the worse of the two claim p99s as ``claim_p99_ms``."""
    figures["claim_p99_ms"] = max(figures["claim_p99_ms_start"], figures["claim_p99_ms_end"])
    figures["claim_floor_p99_ms"] = max(
        figures["claim_floor_p99_ms_start"], figures["claim_floor_p99_ms_end"]
    )
    return figures


if __name__ == "__main__":
    result = finish(child_main(ChildArgs(**json.loads(sys.argv[1]))))
    print(json.dumps(result))
