"""An in-memory publisher for tests and benchmarks: it keeps what it is sent."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from outbox_triggers.publishers.base import Message, PublishResult


class StubPublisher:
    """Accepts everything (unless ``reject`` says otherwise) and records it in ``sent``."""

    def __init__(self, name: str = "stub", reject: Callable[[Message], str | None] | None = None) -> None:
        self.name = name
        self.sent: list[Message] = []
        self._reject = reject
        self._lock = threading.Lock()

    def check(self) -> None:
        """A stub is always reachable."""

    def publish(self, messages: Sequence[Message]) -> PublishResult:
        """Record accepted messages; fail those ``reject`` names a reason for."""
        result = PublishResult()
        with self._lock:
            for message in messages:
                reason = self._reject(message) if self._reject else None
                if reason:
                    result.failed[message.seq] = reason
                else:
                    self.sent.append(message)
                    result.accepted.append(message.seq)
        return result

    def close(self) -> None:
        """Nothing to release."""
