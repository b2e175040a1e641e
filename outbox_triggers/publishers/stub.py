"""An in-memory publisher for tests and benchmarks: it keeps what it is sent."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from outbox_triggers.publishers.base import Message, PublishResult


class StubPublisher:
    """Accepts everything unless ``reject`` names a reason; records what it accepted in ``sent``.

    ``latency`` makes each request take that many seconds (sleeping, so the
    GIL is free), to stand in for a network destination.
    """

    def __init__(
        self,
        name: str = "stub",
        reject: Callable[[Message], str | None] | None = None,
        latency: float = 0.0,
        max_entries: int = 10,
        max_bytes: int = 1_048_576,
        on_send: Callable[[Sequence[Message]], None] | None = None,
    ) -> None:
        self.name = name
        self.format = "native"
        self.max_entries = max_entries
        self.max_request_bytes = self.max_message_bytes = max_bytes
        self.sent: list[Message] = []
        self.requests = 0
        self._reject = reject
        self._latency = latency
        self._on_send = on_send
        self._lock = threading.Lock()

    def check(self) -> None:
        """A stub is always reachable."""

    def send(self, messages: Sequence[Message]) -> PublishResult:
        """Record accepted messages; fail those ``reject`` names a reason for."""
        if self._latency:
            time.sleep(self._latency)
        if self._on_send:
            self._on_send(messages)
        result = PublishResult()
        with self._lock:
            self.requests += 1
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
