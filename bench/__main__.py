"""``python -m bench [--quick]``: run the suite, print the table, write the results and the README section.

The full run writes ``bench/results/latest.json``, a dated copy and the
README's Performance section; ``--quick`` (CI smoke) runs everything small and
writes nothing unless given ``--output``. Neither asserts a figure: a miss is
reported in the table, and the exit code is non-zero only when a benchmark
could not run.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

from bench import (
    app_events,
    backfill,
    backlog,
    drain,
    envelopes,
    large_values,
    latency,
    peer,
    report,
    startup,
    write_path,
)
from bench.common import log, server_facts, server_url
from bench.settings import FULL, QUICK, Settings
from outbox_triggers import local_server

BINLOG_ARGS = ("--log-bin", "--binlog-format=ROW", "--sync-binlog=1", "--server-id=1")
GROUPS = (
    "startup",
    "write",
    "large",
    "drain",
    "envelopes",
    "latency",
    "backlog",
    "backfill",
    "binlog",
    "peer",
    "app",
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = QUICK if args.quick else FULL
    groups = tuple(args.only.split(",")) if args.only else GROUPS
    logging.getLogger("pymysqlreplication").setLevel(logging.ERROR)
    started = time.monotonic()
    figures, failed = run(settings, groups)
    figures["bench_duration_s"] = time.monotonic() - started
    figures["bench_quick"] = settings.quick
    _finish(derive(figures), failed, args.output, write=not settings.quick and not args.only)
    return 1 if failed else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a CI smoke run; writes nothing")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(GROUPS)}; writes nothing")
    parser.add_argument("--output", type=Path, help="also write the figures as JSON here")
    return parser


def run(settings: Settings, groups: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """Run the selected benchmark groups; return the figures and the groups that failed."""
    figures: dict[str, Any] = {}
    failed: list[str] = []
    with ExitStack() as stack:
        server = stack.enter_context(server_url())
        binlog_facts = None
        for group, bench in (
            ("startup", startup.run),
            ("write", write_path.run),
            ("large", large_values.run),
            ("drain", drain.run),
            ("envelopes", envelopes.run),
            ("latency", latency.run),
            ("backlog", backlog.run),
            ("app", app_events.run),
            ("backfill", backfill.run),
        ):
            if group in groups:
                _attempt(group, partial(bench, server, settings), figures, failed)
        if {"binlog", "peer"} & set(groups):
            binlog_facts = _on_binlog_server(settings, groups, figures, failed)
        figures.update(report.machine(server_facts(server), binlog_facts))
    return figures, failed


def _on_binlog_server(
    settings: Settings, groups: Sequence[str], figures: dict[str, Any], failed: list[str]
) -> dict[str, Any] | None:
    log(f"starting a throwaway binlog server ({' '.join(BINLOG_ARGS)})")
    try:
        with local_server.throwaway(extra_args=BINLOG_ARGS) as binlog_server:
            facts = server_facts(binlog_server)
            if "binlog" in groups:
                _attempt("binlog", lambda: write_path.run_binlog(binlog_server, settings), figures, failed)
            if "peer" in groups:
                _attempt("peer", lambda: peer.run(binlog_server, settings), figures, failed)
            return facts
    except Exception:
        log(f"the throwaway binlog server failed:\n{traceback.format_exc()}")
        failed.append("binlog server")
        return None
    finally:
        log("throwaway binlog server stopped")


def _attempt(
    group: str, bench: Callable[[], dict[str, Any]], figures: dict[str, Any], failed: list[str]
) -> None:
    try:
        figures.update(bench())
    except Exception:
        log(f"{group} failed:\n{traceback.format_exc()}")
        failed.append(group)


def derive(figures: dict[str, Any]) -> dict[str, Any]:
    """Figures computed from others: ``peer_ratio``."""
    ours, theirs = figures.get("relay_drain_events_per_s"), figures.get("peer_binlog_events_per_s")
    if ours and theirs:
        figures["peer_ratio"] = ours / theirs
    return figures


def _finish(figures: dict[str, Any], failed: list[str], output: Path | None, write: bool) -> None:
    print(report.table(figures))
    print()
    print(report.machine_line(figures))
    if output:
        output.write_text(json.dumps(report.clean(figures), indent=2, sort_keys=True) + "\n")
    if failed:
        log(f"not writing results: {', '.join(failed)} failed")
        return
    if write:
        dated = report.write_results(figures)
        report.update_readme(figures)
        log(f"wrote {report.RESULTS / 'latest.json'}, {dated} and the README's Performance section")


if __name__ == "__main__":
    raise SystemExit(main())
