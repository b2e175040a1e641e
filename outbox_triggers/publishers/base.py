"""The publisher interface every destination implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Message:
    """An event on its way out: its order number, source table and JSON body."""

    seq: int
    table: str
    body: str


@dataclass
class PublishResult:
    """Which messages the destination accepted, and why the others failed."""

    accepted: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)

    def merge(self, other: PublishResult) -> None:
        """Fold another result into this one."""
        self.accepted.extend(other.accepted)
        self.failed.update(other.failed)


class Publisher(Protocol):
    """Sends messages to one destination and reports, per message, whether it was accepted."""

    name: str

    def check(self) -> None:
        """Raise DestinationError if the destination is missing or unreachable."""

    def publish(self, messages: Sequence[Message]) -> PublishResult:
        """Publish ``messages`` (in order) and report per message."""

    def close(self) -> None:
        """Release connections and threads."""
