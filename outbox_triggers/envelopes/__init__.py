"""Message envelopes: the toolkit's own (``native``), Maxwell's, Debezium's and CloudEvents.

The trigger writes the native message; ``native`` destinations get those
bytes untouched. The other formats are built in the relay from the same
event, one module each, with every column value re-encoded as the peer
encodes a value of that MySQL type. The types come from the capture version
that wrote the event (``version``), looked up in the captures registry
(:mod:`outbox_triggers.captures`); an event whose version is not recorded is
dead-lettered with the reason.

:func:`formatter` is the one entry point the relay uses. A formatter returns
the body to send, or None when the format has no message for the event (a
backfill marker for Debezium): the destination counts it as delivered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from outbox_triggers.envelopes import cloudevents as _cloudevents
from outbox_triggers.envelopes import debezium as _debezium
from outbox_triggers.envelopes import maxwell as _maxwell
from outbox_triggers.envelopes import schema as _schema
from outbox_triggers.envelopes.native import APPLICATION, ROW_OPS, change, dumps
from outbox_triggers.envelopes.types import Captures, TableTypes, Unrecorded

FORMATS = ("native", "debezium", "maxwell", "cloudevents")
Formatter = Callable[[str], str | None]

__all__ = [
    "FORMATS",
    "Captures",
    "Formatter",
    "TableTypes",
    "Unrecorded",
    "change",
    "debezium",
    "formatter",
    "maxwell",
]


def formatter(
    name: str, database: str, options: Mapping[str, Any] | None = None, captures: Captures | None = None
) -> Formatter | None:
    """The body transform for format ``name`` (None for ``native``: bytes pass untouched).

    ``options`` are the destination's options for the format; ``captures``
    finds each event's column types (None: values keep their native encoding).
    """
    settings = options or {}
    if name == "maxwell":
        chosen = _maxwell.Options.from_mapping(settings)
        return lambda body: _to_maxwell(change(body), database, captures, chosen)
    if name == "debezium":
        picked = _debezium.Options.from_mapping(settings)
        return lambda body: _to_debezium(change(body), database, captures, picked)
    if name == "cloudevents":
        fixed = _cloudevents.Options.from_mapping(settings)
        return lambda body: _cloudevents.structured_text(body, change(body), database, fixed)
    return None


def debezium(event: dict[str, Any], database: str, types: TableTypes | None = None) -> Any:
    """Debezium's change-event value for ``event`` with the default options."""
    return _debezium.value(event, database, types)


def maxwell(event: dict[str, Any], database: str, types: TableTypes | None = None) -> dict[str, Any]:
    """Maxwell's message for ``event`` with the default options."""
    return _maxwell.message(event, database, types)


def types_of(event: dict[str, Any], captures: Captures | None) -> TableTypes | None:
    """The column types of the capture version that wrote ``event`` (None for events without row values).

    Raises :class:`Unrecorded` when the registry does not know the version.
    """
    if captures is None or event["op"] not in ROW_OPS:
        return None
    version = event.get("version")
    if version is None:
        raise Unrecorded("the event has no capture version ('version'), so its values can't be encoded")
    found = captures.types(event["table"], str(version))
    if found is None:
        raise Unrecorded(
            f"capture version {version!r} of table {event['table']!r} is not recorded in the captures table, "
            "so its values can't be encoded: run `outbox-triggers repair` (or migrate), then replay it"
        )
    return found


def _to_maxwell(
    event: dict[str, Any], database: str, captures: Captures | None, options: _maxwell.Options
) -> str:
    return dumps(_maxwell.message(event, database, types_of(event, captures), options))


def _to_debezium(
    event: dict[str, Any], database: str, captures: Captures | None, options: _debezium.Options
) -> str | None:
    types = types_of(event, captures)
    value = _debezium.value(event, database, types, options)
    if value is None and event["op"] != APPLICATION:
        return None
    if options.schemas_enable and types is not None:
        return dumps({"schema": _schema.envelope(database, types, options), "payload": value})
    return dumps(value)
