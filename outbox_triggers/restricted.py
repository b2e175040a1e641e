"""Events for one destination only: a backfill's ``--destination`` travels in the event itself.

A snapshot taken for one consumer carries ``"destination": "<name>"`` at the
top level of its native body; the relay sends such an event to that
destination alone, not to every destination its table routes to. Events
without the field (every trigger's) route as their table says.

Only bodies holding the text ``"destination": "`` are parsed: inside a JSON
string every quote is escaped, so the text can only be a key. A column of
that name makes its table's events parsed too, and they still route to all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from outbox_triggers.publishers import Publisher

MARK = '"destination": "'
MARKER = '"op": "snapshot_'
MARKERS = ("snapshot_start", "snapshot_end")


def only_to(body: str) -> str | None:
    """The one destination ``body`` is for, or None (all its table's)."""
    if MARK not in body:
        return None
    try:
        event = json.loads(body)
    except ValueError:
        return None
    found = event.get("destination") if isinstance(event, dict) else None
    return found if isinstance(found, str) else None


def restrict(
    body: str, publishers: Sequence[Publisher], names: frozenset[str]
) -> tuple[Sequence[Publisher], frozenset[str]]:
    """The publishers (and names) an event goes to: all of its table's, or the one it names."""
    only = only_to(body)
    if only is None:
        return publishers, names
    return [p for p in publishers if p.name == only], names & {only}


def is_marker(body: str) -> bool:
    """Whether ``body`` is a backfill's start or end marker, which the relay sends as a fence.

    A fence goes out once every older event of its destination is out, and newer
    ones wait until it is: so a consumer is sent the start marker before the
    snapshot's rows and the end marker after all of them, whatever their keys.
    """
    if MARKER not in body:
        return False
    try:
        event = json.loads(body)
    except ValueError:
        return False
    return isinstance(event, dict) and event.get("op") in MARKERS
