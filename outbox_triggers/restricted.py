"""What a backfill's events tell the relay: the one destination they are for, and which are fences.

A snapshot taken for one consumer carries ``"destination": "<name>"`` at the
top level of its native body; the relay sends such an event to that
destination alone, not to every destination its table routes to. Events
without the field (every trigger's) route as their table says.

A backfill's start and end markers (``"op": "snapshot_start"`` and
``"snapshot_end"``) are fences: a destination sends one once every older
event of its own is out, and holds newer ones until it is, so a consumer is
sent the start marker before the snapshot's rows and the end marker after all
of them, whatever their keys.

Only bodies holding the text ``"destination": "`` or ``"op": "snapshot_`` are
parsed, once: inside a JSON string every quote is escaped, so the text can
only be a key. A column of either name makes its table's events parsed too,
and they still route to all and fence nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import NamedTuple

from outbox_triggers.envelopes.native import MARKERS
from outbox_triggers.publishers import Publisher

MARK = '"destination": "'
MARKER = '"op": "snapshot_'


class Backfilled(NamedTuple):
    """What an event's body says to the relay: the one destination it is for (None: all), and if a fence."""

    only_to: str | None = None
    fence: bool = False


PLAIN = Backfilled()


def read(body: str) -> Backfilled:
    """The destination ``body`` is for and whether it is a fence, parsing it only when it may say either."""
    if MARK not in body and MARKER not in body:
        return PLAIN
    try:
        event = json.loads(body)
    except ValueError:
        return PLAIN
    if not isinstance(event, dict):
        return PLAIN
    found = event.get("destination")
    return Backfilled(found if isinstance(found, str) else None, event.get("op") in MARKERS)


def only_to(body: str) -> str | None:
    """The one destination ``body`` is for, or None (all its table's)."""
    return read(body).only_to


def restrict(
    only: str | None, publishers: Sequence[Publisher], names: frozenset[str]
) -> tuple[Sequence[Publisher], frozenset[str]]:
    """The publishers (and names) an event goes to: all of its table's, or the ``only`` one it names."""
    if only is None:
        return publishers, names
    return [p for p in publishers if p.name == only], names & {only}
