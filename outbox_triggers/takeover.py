"""Take over a Debezium outbox table: an AFTER INSERT trigger turns each outbox row into an application event.

A service that already writes Debezium outbox rows (``id``, ``aggregatetype``,
``aggregateid``, ``type``, ``payload``, plus extra columns) switches relays
with no code change: the table is declared with ``debezium_outbox`` in the
spec, and its trigger writes the row to the events table as an ``op: event``
message, the same shape :func:`outbox_triggers.emit` writes. Only inserts
publish: deleting outbox rows (as the Event Router's users do, often in the
same transaction) publishes nothing, and an insert followed by a delete in one
transaction still publishes the insert.

Options mirror the Event Router's: the column names (``table.field.event.id``,
``.key``, ``.type``, ``.payload`` and ``route.by.field``), and
``additional_placement`` (``table.fields.additional.placement``): entries
``column:header[:alias]`` or ``column:envelope[:alias]``, carried in
``headers`` or as fields of the event itself.

What could fail a write is refused here, before any DDL: a missing column, an
id, type, aggregate or extra column of unbounded size, a payload that is
neither JSON nor text, an alias that clashes with the event's own fields, or
fixed fields that leave no room within ``max_event_bytes``. A payload that
would take the event past ``max_event_bytes`` is left out at run time and
listed under ``omitted`` with its size, as the triggers do with large values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from outbox_triggers import event_size, identifiers

if TYPE_CHECKING:  # the model imports this module to build a takeover: no import back at run time
    from outbox_triggers.model import Column, TableShape, Trigger

OPTION = "debezium_outbox"
DEFAULT_COLUMNS = {
    "id": "id",
    "aggregate_type": "aggregatetype",
    "aggregate_id": "aggregateid",
    "event_type": "type",
    "payload": "payload",
}
PLACEMENTS = ("header", "envelope")
RESERVED = frozenset(
    {
        "id",
        "op",
        "event_type",
        "aggregate_type",
        "aggregate_id",
        "payload",
        "headers",
        "ts",
        "omitted",
        "table",
    }
)
ALLOWED_WITH = frozenset({OPTION, "destination", "max_event_bytes"})
ID_KINDS = frozenset({"string", "integer", "binary", "decimal"})
PAYLOAD_KINDS = frozenset({"json", "string"})
FIXED_BYTES = 512  # field names, punctuation, op, ts and the omitted note


@dataclass(frozen=True)
class Placement:
    """An extra column, carried as a header or as a field of the event (``as``: its name there)."""

    column: Column
    placement: str
    name: str


@dataclass(frozen=True)
class Takeover:
    """Everything needed to render the trigger of one Debezium outbox table."""

    table: str
    id: Column
    aggregate_type: Column
    aggregate_id: Column
    event_type: Column
    payload: Column
    placements: tuple[Placement, ...] = ()
    max_event_bytes: int = event_size.MIB - event_size.ENVELOPE_HEADROOM

    @property
    def trigger(self) -> Trigger:
        """The one trigger: AFTER INSERT."""
        from outbox_triggers.model import Trigger

        return Trigger(identifiers.trigger_name(self.table, "insert"), self.table, "insert")

    @property
    def room(self) -> int:
        """Bytes left for the payload's JSON text once every other field took its most."""
        return self.max_event_bytes - fixed_bytes(self)

    def headers(self) -> tuple[Placement, ...]:
        """Extra columns carried under ``headers``."""
        return tuple(p for p in self.placements if p.placement == "header")

    def envelope(self) -> tuple[Placement, ...]:
        """Extra columns carried as fields of the event."""
        return tuple(p for p in self.placements if p.placement == "envelope")


def columns_of(option: Any) -> dict[str, str]:
    """The column names an option value (``true`` or a mapping) asks for, defaults filled in."""
    given = option if isinstance(option, Mapping) else {}
    return {role: str(given.get(role, default)) for role, default in DEFAULT_COLUMNS.items()}


def placements_of(option: Any) -> list[tuple[str, str, str]]:
    """``additional_placement`` entries as (column, placement, name); ValueError for a malformed one."""
    given = option.get("additional_placement", []) if isinstance(option, Mapping) else []
    parsed = []
    for entry in given:
        parts = str(entry).split(":")
        if len(parts) not in (2, 3) or not parts[0] or parts[1] not in PLACEMENTS or "" in parts:
            raise ValueError(f"{entry!r} is not column:header[:alias] or column:envelope[:alias]")
        parsed.append((parts[0], parts[1], parts[2] if len(parts) == 3 else parts[0]))
    return parsed


def spec_problems(where: str, table: Mapping[str, Any]) -> list[str]:
    """What the spec alone shows is wrong with a table's ``debezium_outbox`` option."""
    option = table.get(OPTION)
    if option is None or option is False:
        return []
    problems = [
        f"{where}.{key}: not used with {OPTION} (its trigger writes events of its own shape)"
        for key in table
        if key not in ALLOWED_WITH
    ]
    try:
        placed = placements_of(option)
    except ValueError as exc:
        return [*problems, f"{where}.{OPTION}.additional_placement: {exc}"]
    names = [(p, n) for _, p, n in placed]
    for placement, name in names:
        if placement == "envelope" and name in RESERVED:
            problems.append(
                f"{where}.{OPTION}.additional_placement: {name!r} is a field of every event; "
                "give the column an alias (column:envelope:alias)"
            )
        if names.count((placement, name)) > 1:
            problems.append(f"{where}.{OPTION}.additional_placement: {name!r} is placed twice")
    return sorted(set(problems), key=problems.index)


def build(name: str, option: Any, shape: TableShape, limit: int) -> Takeover | list[str]:
    """The takeover of table ``name`` (shaped ``shape``), or every reason it would be unsafe."""
    where = f"tables.{name}.{OPTION}"
    wanted = columns_of(option)
    placed = placements_of(option)
    missing = [
        f"{where}: table {name!r} has no column {column!r} (the {role} column)"
        for role, column in [*wanted.items(), *(("additional_placement", c) for c, _, _ in placed)]
        if not shape.has(column)
    ]
    if missing:
        return missing
    found = {role: shape.column(column) for role, column in wanted.items()}
    takeover = Takeover(
        table=name,
        placements=tuple(Placement(shape.column(c), p, n) for c, p, n in placed),
        max_event_bytes=limit,
        **found,
    )
    return _column_problems(takeover, where) or _room_problems(takeover, where) or takeover


def _column_problems(takeover: Takeover, where: str) -> list[str]:
    problems = []
    if takeover.id.kind not in ID_KINDS:
        problems.append(
            f"{where}: id column {takeover.id.name!r} ({takeover.id.sql_type}) is not text or a number"
        )
    if takeover.payload.kind not in PAYLOAD_KINDS:
        problems.append(
            f"{where}: payload column {takeover.payload.name!r} ({takeover.payload.sql_type}) is not JSON or "
            "text; binary payloads are not supported"
        )
    bounded = [
        (role, column)
        for role, column in (
            ("id", takeover.id),
            ("aggregate_type", takeover.aggregate_type),
            ("aggregate_id", takeover.aggregate_id),
            ("event_type", takeover.event_type),
            *(("additional_placement", p.column) for p in takeover.placements),
        )
    ]
    problems += [
        f"{where}: {role} column {c.name!r} ({c.sql_type}) can hold values too large for every event to "
        "carry it: make it a bounded type (VARCHAR, CHAR, a number), not TEXT, BLOB or JSON"
        for role, c in bounded
        if c.bound is None or c.bound > event_size.KEY_LIMIT
    ]
    return problems


def _room_problems(takeover: Takeover, where: str) -> list[str]:
    if takeover.room > 0:
        return []
    return [
        f"{where}: the event's fields other than the payload can take {fixed_bytes(takeover)} bytes, more "
        f"than max_event_bytes ({takeover.max_event_bytes}): narrow those columns, or raise max_event_bytes"
    ]


def fixed_bytes(takeover: Takeover) -> int:
    """The most bytes every field but the payload can take: values, names, the envelope."""
    columns = [takeover.id, takeover.aggregate_type, takeover.aggregate_id, takeover.event_type]
    names = sum(len(json.dumps(p.name, ensure_ascii=False).encode()) + 2 for p in takeover.placements)
    values = sum(c.bound or 0 for c in [*columns, *(p.column for p in takeover.placements)])
    # the id may be quoted twice over (a number as a string); the aggregate type also names the table
    return FIXED_BYTES + names + values + (takeover.id.bound or 0) + 64 + len(str(takeover.max_event_bytes))
