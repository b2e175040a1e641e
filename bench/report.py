"""Figures → ``bench/results/*.json``, a Markdown table, and the README's Performance section."""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


@dataclass(frozen=True)
class Figure:
    """One row of the table: the key in latest.json, what it is, its target and how to print it."""

    key: str
    label: str
    target: str = "—"
    meets: Callable[[float], bool] | None = None
    digits: int = 3


def at_least(limit: float) -> Callable[[float], bool]:
    return lambda value: value >= limit


def at_most(limit: float) -> Callable[[float], bool]:
    return lambda value: value <= limit


def below(limit: float) -> Callable[[float], bool]:
    return lambda value: value < limit


FIGURES = (
    Figure("startup_version_s", "`outbox-triggers --version`, median wall time, s", "< 0.5", below(0.5), 2),
    Figure("startup_help_s", "`outbox-triggers --help`, median wall time, s", "< 0.5", below(0.5), 2),
    Figure(
        "write_single_ratio", "Write, 1-row txns: rows/s with triggers ÷ no capture", "≥ 0.97", at_least(0.97)
    ),
    Figure("write_single_binlog_ratio", "Write, 1-row txns: rows/s with binlog on ÷ off (no triggers)"),
    Figure(
        "write_batch_ratio",
        "Write, 100-row txns: rows/s with triggers ÷ no capture",
        "≥ 0.80",
        at_least(0.80),
    ),
    Figure("write_batch_binlog_ratio", "Write, 100-row txns: rows/s with binlog on ÷ off (no triggers)"),
    Figure("write_app_outbox_ratio", "Write, 1-row txns: app writes its own outbox row ÷ no capture"),
    Figure(
        "large_text_ms_per_mib", "Large TEXT captured whole: ms the trigger adds per MiB (1 MiB)", digits=1
    ),
    Figure("large_text_linearity", "… per MiB, 8 MiB ÷ 4 MiB", "≤ 1.5", at_most(1.5), 2),
    Figure("large_text_ms_per_mib_largest", "… ms per MiB at the largest size (8 MiB)", digits=1),
    Figure("large_text_time_factor", "… UPDATE of the largest TEXT with triggers ÷ without", digits=2),
    Figure(
        "large_blob_ms_per_mib", "Large BLOB captured whole: ms the trigger adds per MiB (1 MiB)", digits=1
    ),
    Figure("large_blob_linearity", "… per MiB, 8 MiB ÷ 4 MiB", "≤ 1.5", at_most(1.5), 2),
    Figure("large_blob_ms_per_mib_largest", "… ms per MiB at the largest size (8 MiB)", digits=1),
    Figure("large_blob_time_factor", "… UPDATE of the largest BLOB with triggers ÷ without", digits=2),
    Figure("relay_drain_ratio", "Relay drain ÷ raw SELECT/DELETE loop, same backlog", "≥ 0.8", at_least(0.8)),
    Figure("relay_drain_events_per_s", "Relay drain into the null sink, events/s", digits=0),
    Figure("raw_drain_events_per_s", "… the raw SELECT/DELETE loop, events/s", digits=0),
    Figure("relay_drain_us_per_event", "… relay, µs per event (diagnostic)", digits=1),
    Figure("raw_drain_us_per_event", "… raw loop, µs per event (diagnostic)", digits=1),
    Figure(
        "dispatch_cpu_us_per_event", "Dispatcher alone, no database: CPU µs per event (diagnostic)", digits=1
    ),
    Figure(
        "envelope_maxwell_us_per_event", "Re-encoding for maxwell: CPU µs per event (native: 0)", digits=1
    ),
    Figure("envelope_debezium_us_per_event", "… for debezium, CPU µs per event", digits=1),
    Figure("envelope_cloudevents_us_per_event", "… for cloudevents, CPU µs per event", digits=1),
    Figure("relay_drain_ratio_native", "Relay drain ÷ raw loop, native destination (envelopes group)"),
    Figure("relay_drain_ratio_maxwell", "… with a maxwell destination"),
    Figure("relay_drain_ratio_debezium", "… with a debezium destination"),
    Figure(
        "relay_pipeline_ratio",
        "Relay, 15 ms sink: events/s ÷ (10 x in flight ÷ 15 ms)",
        "≥ 0.8",
        at_least(0.8),
    ),
    Figure("latency_p50_ms", "Commit → publish p50 at 1,000 events/s, ms", "≤ 2", at_most(2), 2),
    Figure("latency_p99_ms", "Commit → publish p99 at 1,000 events/s, ms", "≤ 10", at_most(10), 2),
    Figure("peer_binlog_events_per_s", "python-mysql-replication binlog tail, events/s", digits=0),
    Figure("peer_ratio", "Relay drain ÷ binlog tail, events/s", "≥ 2.0", at_least(2.0)),
    Figure("backlog_drain_events_per_s", "1,000,000-event backlog drain, events/s", digits=0),
    Figure("claim_p99_ms", "Batch claim p99 (server), worse of start/end, ms", "≤ 1", at_most(1.0), 2),
    Figure("claim_p99_ms_start", "… with the full backlog, ms", "≤ 1", at_most(1.0), 2),
    Figure("claim_p99_ms_end", "… with 5% left, purge running, ms", "≤ 1", at_most(1.0), 2),
    Figure("claim_p99_ms_end_settled", "… with 5% left, once purge caught up (diagnostic), ms", digits=2),
    Figure(
        "claim_floor_p99_ms",
        "Floor: plain SELECT of the same rows, p99 (server), worse of start/end, ms",
        digits=2,
    ),
    Figure("claim_floor_p99_ms_end_settled", "… floor once purge caught up, ms", digits=2),
    Figure("relay_max_rss_mb", "Relay peak RSS during the backlog drain, MB", "< 200", below(200), 1),
    Figure("history_list_len_start", "InnoDB history list length before the drain", digits=0),
    Figure("history_list_len_max", "InnoDB history list length, max during the drain", digits=0),
    Figure("history_list_len_end", "InnoDB history list length after the drain", digits=0),
    Figure("app_emit_us_per_event", "`emit()` in a transaction of 100 events, µs per event", digits=1),
    Figure("app_insert_us_per_event", "… a plain INSERT of the same row, µs per event", digits=1),
    Figure("app_emit_ratio", "1-event txns/s with `emit()` ÷ with a plain INSERT of the same row"),
    Figure("app_emit_build_us", "… building the row alone, CPU µs (diagnostic)", digits=1),
    Figure(
        "app_relay_events_per_s",
        "Relay drain of `emit()` events, routed by aggregate type, events/s",
        digits=0,
    ),
    Figure("backfill_rows_per_s", "Backfill of the whole table, rows/s", digits=0),
    Figure("backfill_raw_rows_per_s", "… one raw INSERT INTO events SELECT, same rows, rows/s", digits=0),
    Figure("backfill_raw_ratio", "Backfill rows/s ÷ the raw INSERT … SELECT", "≥ 0.8", at_least(0.8), 2),
    Figure(
        "backfill_writer_ratio",
        "Writers beside a backfill (default pace) ÷ alone, writes/s",
        "≥ 0.9",
        at_least(0.9),
        2,
    ),
    Figure("backfill_writer_p99_ms", "… writer p99 beside a backfill, ms", digits=2),
    Figure("backfill_writer_alone_p99_ms", "… writer p99 alone, ms", digits=2),
    Figure(
        "backfill_rows_per_s_beside_writers", "… the backfill's own rate beside the writers, rows/s", digits=0
    ),
    Figure(
        "backfill_writer_ratio_unyielding",
        "… writers beside one that does not yield (--writer-share 0)",
        digits=2,
    ),
    Figure("backfill_writer_p99_ms_unyielding", "… writer p99 beside it, ms", digits=2),
    Figure(
        "backfill_rows_per_s_beside_writers_unyielding", "… its own rate beside the writers, rows/s", digits=0
    ),
)


def machine(facts: Mapping[str, Any], binlog_facts: Mapping[str, Any] | None) -> dict[str, Any]:
    """Flat facts about where the suite ran."""
    info: dict[str, Any] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine_cpu": _cpu_model(),
        "machine_cores": os.cpu_count(),
        "machine_ram_gb": round(_ram_bytes() / 2**30, 1),
        "machine_os": platform.platform(),
        "python": platform.python_version(),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }
    info.update({f"server_{k}": v for k, v in facts.items()})
    info.update({f"binlog_server_{k}": v for k, v in (binlog_facts or {}).items()})
    return info


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else platform.processor() or "unknown"


def _ram_bytes() -> int:
    try:
        found = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)
    except OSError:
        return 0
    return int(found.group(1)) * 1024 if found else 0


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return done.stdout.strip()


def clean(figures: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-safe: NaN and infinities become null; floats get sensible precision."""
    out: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, float):
            value = None if not math.isfinite(value) else round(value, 4)
        out[key] = value
    return out


def _value(figure: Figure, figures: Mapping[str, Any]) -> tuple[str, str]:
    value = figures.get(figure.key)
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return "n/a", "**not measured**" if figure.meets else "—"
    text = f"{value:,.{figure.digits}f}"
    if figure.meets is None:
        return text, "—"
    return text, "pass" if figure.meets(float(value)) else "**miss**"


def table(figures: Mapping[str, Any]) -> str:
    """The figures against their targets, as a Markdown table."""
    lines = ["| figure | key | value | target | result |", "|---|---|---:|---|---|"]
    for figure in FIGURES:
        value, result = _value(figure, figures)
        lines.append(f"| {figure.label} | `{figure.key}` | {value} | {figure.target} | {result} |")
    return "\n".join(lines)


def machine_line(figures: Mapping[str, Any]) -> str:
    """One paragraph: the machine, the servers and their durability settings, the code."""
    binlog = ""
    if figures.get("binlog_server_version"):
        binlog = (
            f"; binlog figures and the peer ran on a throwaway {figures['binlog_server_version']} with "
            f"`log_bin={figures.get('binlog_server_log_bin')}`, "
            f"`binlog_format={figures.get('binlog_server_binlog_format')}`, "
            f"`sync_binlog={figures.get('binlog_server_sync_binlog')}`, "
            f"`innodb_flush_log_at_trx_commit={figures.get('binlog_server_innodb_flush_log_at_trx_commit')}`"
        )
    dirty = " (with uncommitted changes)" if figures.get("git_dirty") else ""
    server = (
        f"MariaDB {figures.get('server_version')} with "
        f"`innodb_flush_log_at_trx_commit={figures.get('server_innodb_flush_log_at_trx_commit')}`, "
        f"`log_bin={figures.get('server_log_bin')}`, "
        f"`innodb_buffer_pool_size={figures.get('server_innodb_buffer_pool_size')}`, "
        f"`innodb_doublewrite={figures.get('server_innodb_doublewrite')}`"
    )
    host = (
        f"{figures.get('machine_cpu')}, {figures.get('machine_cores')} cores, "
        f"{figures.get('machine_ram_gb')} GB RAM, {figures.get('machine_os')}, Python {figures.get('python')}"
    )
    duration = figures.get("bench_duration_s") or 0
    return (
        f"Measured {figures.get('date')} on {host}; {server}{binlog}. "
        f"Code at `{figures.get('git_commit')}`{dirty}; the run took {duration:.0f} s."
    )


def write_results(figures: Mapping[str, Any]) -> Path:
    """Write ``latest.json`` and the dated copy; return the dated path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(clean(figures), indent=2, sort_keys=True) + "\n"
    dated = RESULTS / f"{str(figures['date'])[:10]}.json"
    for path in (RESULTS / "latest.json", dated):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return dated


def update_readme(figures: Mapping[str, Any], readme: Path = README) -> None:
    """Rewrite the README between the bench markers with the machine and the table."""
    text = readme.read_text()
    if START not in text or END not in text:
        raise RuntimeError(f"{readme} has no {START} … {END} markers for the Performance section")
    body = f"{START}\n{machine_line(figures)}\n\n{table(figures)}\n{END}"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + body + tail)
