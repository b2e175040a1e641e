"""The publisher interface every destination implements.

A publisher sends **one request**: at most ``max_entries`` messages within
``max_request_bytes``. Splitting a batch into requests, running them
concurrently and keeping each key's order is the relay's job
(:mod:`outbox_triggers.dispatch`), the same for every destination.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(slots=True)
class Message:
    """An event on its way out: order number, source table, key hash, the body to send, and the native event.

    ``body`` is ``event`` itself for native destinations, else the event in
    the destination's envelope; ids and ordering keys are read from ``event``.
    ``size`` is the body's size in bytes, as AWS counts it.
    """

    seq: int
    table: str
    key_hash: int
    body: str
    event: str = ""
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = len(self.body.encode("utf-8"))

    @property
    def native(self) -> str:
        """The native event JSON, as the trigger wrote it."""
        return self.event or self.body


@dataclass
class PublishResult:
    """Per message: accepted, failed for now (retry), or rejected for good (dead letter)."""

    accepted: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    rejected: dict[int, str] = field(default_factory=dict)

    def merge(self, other: PublishResult) -> None:
        """Fold another result into this one."""
        self.accepted.extend(other.accepted)
        self.failed.update(other.failed)
        self.rejected.update(other.rejected)


class Publisher(Protocol):
    """Sends one request of messages to one destination and reports per message."""

    name: str
    format: str
    max_entries: int
    max_request_bytes: int
    max_message_bytes: int

    def check(self) -> None:
        """Raise DestinationError if the destination is missing or unreachable."""

    def send(self, messages: Sequence[Message]) -> PublishResult:
        """Send one request (``messages`` fit the limits above) and report per message."""

    def close(self) -> None:
        """Release connections."""
