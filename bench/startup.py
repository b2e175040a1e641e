"""Startup: how long ``outbox-triggers --version`` and ``--help`` take, as a user runs them.

Each is run as a fresh process (``python -m outbox_triggers``), several times,
and the figure is the median wall time from spawning it to its exit.
"""

from __future__ import annotations

import subprocess
import sys
import time

from bench.common import log, median, show
from bench.settings import Settings


def timed(*args: str) -> float:
    """Seconds from spawning ``python -m outbox_triggers <args>`` to its exit (which must be 0)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "outbox_triggers", *args], capture_output=True, check=True)
    return time.perf_counter() - start


def run(server: str, settings: Settings) -> dict[str, float]:
    """``startup_version_s`` and ``startup_help_s``: medians of ``settings.startup_runs`` runs each."""
    log(f"startup: --version and --help, {settings.startup_runs} runs each")
    figures = {}
    for flag in ("version", "help"):
        times = [timed(f"--{flag}") for _ in range(settings.startup_runs)]
        show(f"--{flag} seconds per run", times)
        figures[f"startup_{flag}_s"] = median(times)
    return figures
