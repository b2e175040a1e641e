"""How a running backfill shows itself: a progress bar on a terminal, else a log line every 10 s.

The bar is click's (rows done of the estimated total, rate and ETA in its
label); the estimate comes from the table statistics, so the bar may end
short of, or past, its total.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import click

from outbox_triggers.backfill import Running

log = logging.getLogger("outbox_triggers.backfill")
LOG_EVERY_S = 10.0


def describe(running: Running) -> str:
    """``1,200 of ~40,000 rows, 8,100 rows/s, ETA 4s`` (and why it pauses, if it does)."""
    eta = running.eta_s
    text = f"{running.done:,} of ~{max(running.estimated, running.done):,} rows, {running.rate:,.0f} rows/s"
    text += f", ETA {eta:.0f}s" if eta is not None else ""
    return text + (f" (paused: {running.paused})" if running.paused else "")


class Display:
    """A progress callback for :func:`~outbox_triggers.backfill.start`; close it when done."""

    def __init__(self, tty: bool) -> None:
        self._tty = tty
        self._bar: Any = None
        self._bar_id = -1
        self._shown = 0
        self._logged = 0.0

    def __call__(self, running: Running) -> None:
        """Show ``running``'s progress."""
        if not self._tty:
            self._log(running)
            return
        if self._bar is None or self._bar_id != running.id:
            self.close()
            total = max(running.estimated, running.done, 1)
            self._bar = click.progressbar(
                length=total, label=f"backfill {running.id} of {running.table}", file=None
            )
            self._bar.__enter__()
            self._bar_id, self._shown = running.id, 0
        self._bar.length = max(self._bar.length, running.done)
        self._bar.label = f"backfill {running.id} of {running.table}: {describe(running)}"
        self._bar.update(running.done - self._shown)
        self._shown = running.done

    def _log(self, running: Running) -> None:
        now = time.monotonic()
        if now - self._logged >= LOG_EVERY_S:
            self._logged = now
            log.info("backfill %d of %s: %s", running.id, running.table, describe(running))

    def close(self) -> None:
        """End the bar, if one is drawn."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def summary(running: Running) -> str:
    """The last line: how many rows were sent, in how long, and how it ended."""
    how = {"done": "done", "stopped": "stopped (resume with backfill --resume)"}.get(
        running.state, running.state
    )
    yielded = f" ({running.yielded_s:.1f}s of it yielded to writers)" if running.yielded_s >= 0.05 else ""
    return (
        f"backfill {running.id} of {running.table}: {running.sent_now:,} row(s) sent in "
        f"{running.elapsed_s:.1f}s{yielded}, {running.done:,} in all; {how}"
    )


Callback = Callable[[Running], None]
