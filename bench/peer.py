"""Peer: python-mysql-replication tailing the binlog server, into the same null sink, for the same workload.

On the throwaway binlog server (ROW format, ``sync_binlog=1``) the work table
goes through the same row changes as the relay-drain backlog, with no triggers.
Each round then reads those row events from the binlog position noted before
the workload (``BinLogStreamReader``, non-blocking), turns every row into a JSON
message (table, op, key, before, after; ``json.dumps(default=str)``, the least
a binlog reader must do to publish something) and hands them to a
:class:`~bench.common.NullSink` in requests of 10. Events/s runs from opening
the stream to the last row.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy.engine import make_url

from bench.common import TABLE, NullSink, connect, create_work_table, log, median, scratch_database, show
from bench.drain import write_backlog
from bench.settings import Settings
from outbox_triggers.publishers import Message

ROUND_TIMEOUT_S = 120.0


def binlog_position(url: str) -> tuple[str, int]:
    """The binary log's current file and position."""
    conn = connect(url, autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute("SHOW MASTER STATUS")
        row = cur.fetchone()
    finally:
        conn.close()
    if not row:
        raise RuntimeError("the binlog server has no binary log (SHOW MASTER STATUS is empty)")
    return str(row[0]), int(row[1])


def _rows(event: Any, op: str) -> Iterator[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
    for row in event.rows:
        if op == "update":
            yield row["before_values"], row["after_values"]
        elif op == "insert":
            yield None, row["values"]
        else:
            yield row["values"], None


def read_round(url: str, position: tuple[str, int], expected: int, server_id: int) -> float:
    """Stream ``expected`` row events from ``position`` into a null sink; events/s."""
    from pymysqlreplication import BinLogStreamReader  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from pymysqlreplication.row_event import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        DeleteRowsEvent,
        UpdateRowsEvent,
        WriteRowsEvent,
    )

    ops = {WriteRowsEvent: "insert", UpdateRowsEvent: "update", DeleteRowsEvent: "delete"}
    parsed = make_url(url)
    settings = {
        "host": parsed.host,
        "port": parsed.port or 3306,
        "user": parsed.username or "root",
        "passwd": parsed.password or "",
    }
    sink = NullSink()
    start = time.perf_counter()
    stream = BinLogStreamReader(
        connection_settings=settings,
        server_id=server_id,
        log_file=position[0],
        log_pos=position[1],
        resume_stream=True,
        blocking=False,
        only_events=list(ops),
        only_schemas=[parsed.database],
        only_tables=[TABLE],
        use_column_name_cache=True,
        enable_logging=False,
    )
    count, batch = 0, []
    try:
        for event in stream:
            op = ops[type(event)]
            for before, after in _rows(event, op):
                key = {"id": (after or before or {}).get("id")}
                body = {"table": event.table, "op": op, "key": key, "before": before, "after": after}
                batch.append(Message(count, event.table, 0, json.dumps(body, default=str)))
                count += 1
                if len(batch) == sink.max_entries:
                    sink.send(batch)
                    batch = []
            if count >= expected or time.perf_counter() - start > ROUND_TIMEOUT_S:
                break
        if batch:
            sink.send(batch)
    finally:
        stream.close()
    elapsed = time.perf_counter() - start
    if sink.count != expected:
        raise RuntimeError(f"the binlog reader delivered {sink.count} of {expected} row events")
    return expected / elapsed


def run(binlog_server: str, settings: Settings) -> dict[str, float]:
    """``peer_binlog_events_per_s``: median over rounds."""
    events = settings.drain_events
    with scratch_database(binlog_server, "peer") as url:
        create_work_table(url)
        position = binlog_position(url)
        write_backlog(url, events)
        log(f"peer: python-mysql-replication reads {events} row events, {settings.peer_rounds} rounds")
        rates = [read_round(url, position, events, 100 + index) for index in range(settings.peer_rounds)]
        show("binlog tail events/s per round", rates)
    return {"peer_binlog_events_per_s": median(rates)}
