"""Backfill: rows/s against a raw ``INSERT INTO events SELECT`` of the same rows, and what writers feel.

The work table is filled with ``backfill_rows`` rows and tracked. The raw
figure is one statement that writes every row's snapshot event (the very
expression a backfill uses, with no chunks, locks or progress); the two run
in turn, three times, each once InnoDB has purged the events the last one
deleted, and the best of each counts. The backfill
then runs as ``outbox-triggers backfill`` would, with no backlog limit (no
relay drains the events here). Writers: two threads of 1-row UPDATEs on random
keys, run for as long as a backfill takes, and for the same time without one
(before and after, averaged); the figures are their throughput ratio and p99,
and the backfill's own rate, beside a backfill at its default pace (which
yields to writers: ``--writer-share 0.9``) and beside one that does not
(``--writer-share 0``).
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from bench.common import EVENTS, TABLE, captured_database, connect, log, percentile
from bench.settings import Settings
from outbox_triggers import backfill, database, snapshot
from outbox_triggers.spec import load

WRITERS = 2
ROUNDS = 3
HISTORY = "SELECT `COUNT` FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'"
UNCAPPED = backfill.Pace(max_backlog=0)


def run(server: str, settings: Settings) -> dict[str, float]:
    """Backfill rows/s, its ratio to the raw INSERT … SELECT, and writer throughput and p99 during one."""
    rows = settings.backfill_rows
    figures: dict[str, float] = {}
    with captured_database(server, "backfill", prefill=rows) as (url, _):
        spec_path = _spec_path(url)
        raws, backfills = [], []
        for _ in range(ROUNDS):  # interleaved, the best of each: the machine is shared
            _settle(url)
            raws.append(_raw_seconds(url, spec_path))
            _settle(url)
            backfills.append(_backfill_seconds(url, spec_path))
        raw_s, took = min(raws), min(backfills)
        log(f"backfill: raw INSERT … SELECT of {rows:,} rows in {raw_s:.2f}s (best of {ROUNDS})")
        figures["backfill_rows_per_s"] = rows / took
        figures["backfill_raw_rows_per_s"] = rows / raw_s
        figures["backfill_raw_ratio"] = raw_s / took
        log(f"backfill: {rows:,} rows in {took:.2f}s ({rows / took:,.0f} rows/s)")
        figures.update(_writers(url, spec_path, rows))
        figures.update(
            _writers(url, spec_path, rows, backfill.Pace(max_backlog=0, writer_share=0), "_unyielding")
        )
    return figures


def _settle(url: str, timeout_s: float = 30.0) -> None:
    """Wait for InnoDB to purge the events the last round deleted, so it does not slow the next."""
    conn = connect(url, autocommit=True)
    cur, deadline, last, still = conn.cursor(), time.monotonic() + timeout_s, -1, 0
    try:
        while time.monotonic() < deadline:
            cur.execute(
                "SELECT `COUNT` FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'"
            )
            found = cur.fetchone()
            length = int(found[0]) if found else 0
            still = still + 1 if length >= last >= 0 else 0
            if length < 1000 or still >= 5:
                return
            last = length
            time.sleep(0.2)
    finally:
        conn.close()


def _spec_path(url: str) -> Any:
    import tempfile
    from pathlib import Path

    from bench.common import SPEC

    path = Path(tempfile.mkdtemp(prefix="outbox-bench-backfill-")) / "outbox.yaml"
    path.write_text(SPEC)
    return path


def _raw_seconds(url: str, spec_path: Any) -> float:
    spec = load(spec_path)
    eng = database.engine(url)
    try:
        with eng.connect() as conn:
            checked = backfill.target(conn, spec, TABLE, None, None)
            s = snapshot.statements(checked.capture, EVENTS, checked.flavor, "0")
    finally:
        eng.dispose()
    conn = connect(url)
    try:
        cur = conn.cursor()
        cur.execute("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'")
        started = time.perf_counter()
        cur.execute(s.insert)
        conn.commit()
        took = time.perf_counter() - started
        cur.execute(f"DELETE FROM {EVENTS}")
        conn.commit()
        return took
    finally:
        conn.close()


def _backfill_seconds(url: str, spec_path: Any, pace: backfill.Pace = UNCAPPED) -> float:
    spec = load(spec_path)
    eng = database.engine(url)
    try:
        with eng.connect() as conn:
            started = time.perf_counter()
            backfill.start(conn, spec, TABLE, force=True, pace=pace)
            took = time.perf_counter() - started
            conn.exec_driver_sql(f"DELETE FROM {EVENTS}")
            conn.commit()
            return took
    finally:
        eng.dispose()


def _writers(
    url: str, spec_path: Any, rows: int, pace: backfill.Pace = UNCAPPED, suffix: str = ""
) -> dict[str, float]:
    """Writers alone, writers beside a backfill, writers alone again: throughput ratio and p99."""
    before = _write_for(url, rows, None)
    during: dict[str, Any] = {}
    done = threading.Event()

    def backfilling() -> None:
        during["seconds"] = _backfill_seconds(url, spec_path, pace)
        done.set()

    thread = threading.Thread(target=backfilling)
    thread.start()
    beside = _write_for(url, rows, done)
    thread.join()
    after = _write_for(url, rows, None, seconds=beside["seconds"])
    alone_rate = (before["rate"] + after["rate"]) / 2
    log(
        f"backfill{suffix}: writers {alone_rate:,.0f} writes/s alone, {beside['rate']:,.0f} beside; "
        f"p99 {max(before['p99_ms'], after['p99_ms']):.2f} ms alone, {beside['p99_ms']:.2f} ms beside"
    )
    return {
        f"backfill_rows_per_s_beside_writers{suffix}": rows / during["seconds"],
        f"backfill_writer_ratio{suffix}": beside["rate"] / alone_rate,
        f"backfill_writer_p99_ms{suffix}": beside["p99_ms"],
        f"backfill_writer_alone_p99_ms{suffix}": max(before["p99_ms"], after["p99_ms"]),
    }


def _write_for(url: str, rows: int, until: threading.Event | None, seconds: float = 2.0) -> dict[str, float]:
    """UPDATEs on random keys from WRITERS threads, until ``until`` is set (else for ``seconds``)."""
    latencies: list[list[float]] = [[] for _ in range(WRITERS)]
    stop = until or threading.Event()
    started = time.perf_counter()

    def write(n: int) -> None:
        conn = connect(url, autocommit=True)
        cur, rng, mine = conn.cursor(), random.Random(n), latencies[n]
        try:
            while not stop.is_set() and time.perf_counter() - started < (seconds if until is None else 3600):
                key = rng.randint(1, rows)
                began = time.perf_counter()
                cur.execute(f"UPDATE {TABLE} SET total = total + 1 WHERE id = %s", (key,))
                mine.append((time.perf_counter() - began) * 1000)
        finally:
            conn.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - started
    everything = [ms for mine in latencies for ms in mine]
    return {"rate": len(everything) / took, "p99_ms": percentile(everything, 99), "seconds": took}
