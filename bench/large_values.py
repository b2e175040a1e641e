"""Large values: what capturing a big TEXT or BLOB adds to an UPDATE, and whether it grows linearly.

A table with a LONGTEXT and a LONGBLOB is tracked with ``max_event_bytes``
just under the server's packet, so every value is really encoded (a value over
the limit would be left out after one length check, which costs nothing). Each
round UPDATEs one row to a new value of each size, with the triggers and, on a
twin table without them, without; rounds interleave. The figures are the
server-side cost the trigger adds per MiB at 1 MiB and at the largest size, and
the ratio of the per-MiB cost at the two largest sizes: 1.0 means linear. (A
value whose worst-case JSON may not fit the event goes the value-by-value path,
which costs more per MiB: the step between 1 and 4 MiB of TEXT is that switch,
not growth.)
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import connect, log, median, scratch_database, show
from bench.settings import Settings
from outbox_triggers import commands

MIB = 1024 * 1024
KINDS = {"text": ("LONGTEXT", "REPEAT('a\"', {n} DIV 2)"), "blob": ("LONGBLOB", "REPEAT(x'00ff', {n} DIV 2)")}


def run(server: str, settings: Settings) -> dict[str, float]:
    """Per-MiB capture cost of TEXT and BLOB values of several sizes, and how linear it is."""
    sizes = (MIB // 4, MIB, 4 * MIB) if settings.quick else (MIB // 4, MIB, 4 * MIB, 8 * MIB)
    figures: dict[str, float] = {}
    with scratch_database(server, "large") as url:
        _setup(url)
        conn = connect(url, autocommit=True)
        cur = conn.cursor()
        try:
            for kind, (_, value) in KINDS.items():
                _empty(cur)  # the other column's last value would be captured in every image too
                timings = {n: _timings(cur, kind, value.format(n=n), settings.write_rounds) for n in sizes}
                figures.update(_figures(kind, timings))
        finally:
            conn.close()
    return figures


def _setup(url: str) -> None:
    conn = connect(url, autocommit=True)
    cur = conn.cursor()
    columns = ", ".join(f"`{kind}` {sql}" for kind, (sql, _) in KINDS.items())
    for table in ("tracked", "twin"):
        cur.execute(f"CREATE TABLE {table} (id INT PRIMARY KEY, {columns})")
        cur.execute(f"INSERT INTO {table} (id) VALUES (1)")
    cur.execute("SELECT @@GLOBAL.max_allowed_packet")
    limit = int(cur.fetchone()[0]) - 64 * 1024
    conn.close()
    with tempfile.TemporaryDirectory() as directory:
        spec = Path(directory) / "outbox.yaml"
        spec.write_text(
            f"version: 1\ntables:\n  tracked: {{max_event_bytes: {limit}}}\ndestinations:\n"
            "  default: {type: kinesis, stream_name: bench-not-contacted}\n"
        )
        commands.migrate(spec, url, output=io.StringIO())


def _empty(cur: Any) -> None:
    for table in ("tracked", "twin"):
        cur.execute(f"UPDATE {table} SET " + ", ".join(f"`{kind}` = ''" for kind in KINDS) + " WHERE id = 1")


def _timings(cur: Any, kind: str, value: str, rounds: int) -> tuple[float, float]:
    """Medians over rounds of (UPDATE with triggers - UPDATE without) and of the UPDATE without, in ms."""

    def timed(table: str) -> float:
        cur.execute(f"UPDATE {table} SET `{kind}` = '' WHERE id = 1")
        started = time.perf_counter()
        cur.execute(f"UPDATE {table} SET `{kind}` = {value} WHERE id = 1")
        return (time.perf_counter() - started) * 1000

    added, plain = [], []
    for index in range(max(rounds, 3)):
        order = ("twin", "tracked") if index % 2 == 0 else ("tracked", "twin")
        took = {table: timed(table) for table in order}
        added.append(took["tracked"] - took["twin"])
        plain.append(took["twin"])
    cur.execute("DELETE FROM outbox_events")
    return median(added), median(plain)


def _figures(kind: str, timings: dict[int, tuple[float, float]]) -> dict[str, float]:
    added = {n: took for n, (took, _) in timings.items()}
    per_mib = {n: ms / (n / MIB) for n, ms in added.items()}
    show(
        f"large {kind}: ms added per MiB at " + ", ".join(f"{n // 1024} KiB" for n in per_mib),
        list(per_mib.values()),
    )
    sizes = sorted(per_mib)
    log(f"large {kind}: the trigger adds {added[sizes[-1]]:.1f} ms to an UPDATE of {sizes[-1] // MIB} MiB")
    return {
        f"large_{kind}_ms_per_mib": per_mib[MIB],
        f"large_{kind}_ms_per_mib_largest": per_mib[sizes[-1]],
        # per MiB at the largest size ÷ at the size before it: 1.0 when doubling the value doubles the cost
        f"large_{kind}_linearity": per_mib[sizes[-1]] / per_mib[sizes[-2]],
        # how many times longer the largest UPDATE takes with the triggers: the max_statement_time factor
        f"large_{kind}_time_factor": (added[sizes[-1]] + timings[sizes[-1]][1]) / timings[sizes[-1]][1],
    }
