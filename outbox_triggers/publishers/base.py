"""The publisher interface every destination implements.

A publisher sends **one request**: at most ``max_entries`` messages within
``max_request_bytes``. Splitting a batch into requests, running them
concurrently and keeping each key's order is the relay's job
(:mod:`outbox_triggers.dispatch`), the same for every destination.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

# what building a message or a request entry raises for an event that can't be read or re-encoded
UNREADABLE = (ValueError, KeyError, TypeError, AttributeError, RecursionError)
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>]*")


class Message:
    """An event on its way out: order number, source table, key hash, the body to send, and the native event.

    ``body`` is ``event`` itself for native destinations, else the event in
    the destination's envelope; ids and ordering keys are read from ``event``.
    ``size`` is the body's size in bytes, as AWS counts it; a body that can't
    be encoded as UTF-8 raises UnicodeEncodeError here. (A plain slotted class:
    one is made per event and destination, on the relay's hot path.)
    """

    __slots__ = ("body", "event", "key_hash", "seq", "size", "table")

    def __init__(self, seq: int, table: str, key_hash: int, body: str, event: str = "") -> None:
        self.seq = seq
        self.table = table
        self.key_hash = key_hash
        self.body = body
        self.event = event
        self.size = len(body) if body.isascii() else len(body.encode("utf-8"))

    def __repr__(self) -> str:
        return f"Message(seq={self.seq}, table={self.table!r}, key_hash={self.key_hash}, size={self.size})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.seq, self.table, self.key_hash, self.body, self.event) == (
            other.seq,
            other.table,
            other.key_hash,
            other.body,
            other.event,
        )

    __hash__ = None  # type: ignore[assignment]

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


def without_urls(text: str) -> str:
    """``text`` with every URL replaced by ``<endpoint>``."""
    return _URL.sub("<endpoint>", text)


def unreadable(exc: BaseException) -> str:
    """Why a message can't be published, for its dead letter."""
    if isinstance(exc, json.JSONDecodeError):
        return f"the event is not valid JSON ({exc})"
    if isinstance(exc, UnicodeEncodeError):
        return _surrogate(exc)
    if isinstance(exc, KeyError):
        return f"the event has no {exc} field"
    return f"the event can't be published ({type(exc).__name__}: {exc})"


def _surrogate(exc: UnicodeEncodeError) -> str:
    """A byte that is not UTF-8 (read as an escaped surrogate), or an unpaired surrogate (a JSON escape)."""
    char = ord(exc.object[exc.start])
    if 0xDC80 <= char <= 0xDCFF:
        return f"the event is not valid UTF-8 (byte 0x{char - 0xDC00:02X} at character {exc.start})"
    return f"the event holds an unpaired surrogate U+{char:04X} at character {exc.start} (not UTF-8)"
