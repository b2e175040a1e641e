"""One updating line for long drains, shown when the relay runs on a terminal.

``relayed 12,400 events, backlog 3,100, 2,950 ev/s``: the line appears once
the relay has been busy for a second without an empty read, is redrawn a few
times a second, and ends with a newline when the backlog is drained (or the
relay stops). A trickle of events never shows it. Log records written to the
same stream first erase the line, so the two never mix.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

from outbox_triggers.events import Event
from outbox_triggers.publishers import PublishResult

SHOW_AFTER_S = 1.0
REDRAW_EVERY_S = 0.25
BACKLOG_EVERY_S = 0.5
RATE_WINDOW_S = 5.0
ERASE = "\r\x1b[K"


class Progress:
    """``relayed N events, backlog M, X ev/s`` on one line of ``stream``; a RelayObserver.

    ``backlog(max_age_s)`` returns the backlog, read at most ``max_age_s`` ago (None if unknown).
    """

    def __init__(
        self,
        stream: TextIO,
        backlog: Callable[[float], int | None] = lambda max_age_s: None,
        clock: Callable[[], float] = time.monotonic,
        show_after_s: float = SHOW_AFTER_S,
    ) -> None:
        self.relayed = 0
        self._stream = stream
        self._backlog = backlog
        self._clock = clock
        self._show_after_s = show_after_s
        self._busy_since: float | None = None
        self._drawn_at = -math.inf
        self._shown = False
        self._samples: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def lock_changed(self, held: bool, name: str) -> None:
        """Losing or releasing the lock ends the line."""
        if not held:
            self.finish()

    def batch_done(self, events: Sequence[Event], result: PublishResult, seconds: float) -> None:
        """Count what was delivered; redraw when the drain is long enough to show."""
        now = self._clock()
        self.relayed += len(result.accepted)
        self._sample(now)
        if self._busy_since is None:
            self._busy_since = now - seconds
        if now - self._busy_since >= self._show_after_s and now - self._drawn_at >= REDRAW_EVERY_S:
            self._draw(now)

    def idle(self) -> None:
        """The backlog is drained: leave the last line on screen."""
        self.finish()

    def requests_waiting(self, oldest: Mapping[str, float]) -> None:
        """The line doesn't show requests in flight."""

    def finish(self) -> None:
        """Draw the final figures and end the line, if one is showing."""
        if self._shown:
            self._draw(self._clock(), end="\n", backlog_age_s=0.0)
        self._busy_since = None

    def rate(self, now: float) -> float:
        """Events per second over the last few seconds."""
        if len(self._samples) < 2:
            return 0.0
        (first_t, first_n), last_n = self._samples[0], self._samples[-1][1]
        return (last_n - first_n) / (now - first_t) if now > first_t else 0.0

    def line(self, now: float, backlog_age_s: float = BACKLOG_EVERY_S) -> str:
        """The text of the progress line."""
        backlog = self._backlog(backlog_age_s)
        waiting = "?" if backlog is None else f"{backlog:,}"
        return f"relayed {self.relayed:,} events, backlog {waiting}, {self.rate(now):,.0f} ev/s"

    def attach(self, logger: logging.Logger | None = None) -> Callable[[], None]:
        """Erase the line before records that go to the same stream; return the undo."""
        handlers = [
            h for h in (logger or logging.getLogger()).handlers if getattr(h, "stream", None) is self._stream
        ]
        for handler in handlers:
            handler.addFilter(self._before_log)

        def detach() -> None:
            for handler in handlers:
                handler.removeFilter(self._before_log)

        return detach

    def _before_log(self, record: logging.LogRecord) -> bool:
        with self._lock:
            if self._shown:
                self._stream.write(ERASE)
                self._stream.flush()
                self._shown = False
        return True

    def _sample(self, now: float) -> None:
        self._samples.append((now, self.relayed))
        while len(self._samples) > 2 and now - self._samples[1][0] > RATE_WINDOW_S:
            self._samples.popleft()

    def _draw(self, now: float, end: str = "", backlog_age_s: float = BACKLOG_EVERY_S) -> None:
        text = self.line(now, backlog_age_s)
        with self._lock:
            self._stream.write(ERASE + text + end)
            self._stream.flush()
            self._shown = not end
        self._drawn_at = now
