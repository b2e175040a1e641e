"""Outage logging an operator can read: one line when it starts, a summary now and then, one when it ends.

The relay retries a database or a destination that is down about once a
second. Logging every attempt would bury everything else, so each outage
logs a warning when it starts, a summary every :data:`SUMMARY_EVERY_S` while
it lasts (how long, how many attempts failed, what waits, the last error),
and an info line when it ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("outbox_triggers.relay")
SUMMARY_EVERY_S = 30.0


class Outage:
    """One thing that can be down, e.g. ``Outage("database", "unreachable", "reachable again")``."""

    def __init__(
        self,
        subject: str,
        down: str,
        up: str,
        every_s: float = SUMMARY_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.subject = subject
        self.down = down
        self.up = up
        self.every_s = every_s
        self.clock = clock
        self.since: float | None = None
        self.attempts = 0
        self._summarized = 0.0

    def failed(self, error: str, attempts: int | None = None, waiting: str = "") -> None:
        """An attempt failed (``attempts``: the count so far, when kept elsewhere); log if it is time to."""
        now = self.clock()
        self.attempts = self.attempts + 1 if attempts is None else attempts
        if self.since is None:
            self.since = self._summarized = now
            log.warning("%s %s: %s; retrying about every second", self.subject, self.down, error)
        elif now - self._summarized >= self.every_s:
            self._summarized = now
            also = f"; {waiting}" if waiting else ""
            log.warning(
                "%s %s for %.0f s (%d failed attempts%s); last error: %s",
                self.subject,
                self.down,
                now - self.since,
                self.attempts,
                also,
                error,
            )

    def ended(self) -> None:
        """The thing works again; log once if it had been down."""
        if self.since is None:
            return
        log.info(
            "%s %s after %.1f s (%d failed attempts)",
            self.subject,
            self.up,
            self.clock() - self.since,
            self.attempts,
        )
        self.since, self.attempts = None, 0

    @property
    def active(self) -> bool:
        """True while the outage lasts."""
        return self.since is not None
