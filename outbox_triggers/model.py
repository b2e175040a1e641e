"""The capture model: the spec joined with the live table shapes.

This is the single input of rendering. Building it is where a spec that does
not fit the database is refused, with every problem listed, before any DDL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from outbox_triggers import identifiers
from outbox_triggers.errors import IdentifierError, SchemaMismatchError
from outbox_triggers.spec import Spec, TableSpec


@dataclass(frozen=True)
class Column:
    """A live column and the JSON kind its values are captured as."""

    name: str
    kind: str
    sql_type: str = ""
    fsp: int = 0
    scale: int = 0
    members: tuple[str, ...] = ()
    nullable: bool = True


@dataclass(frozen=True)
class CascadingKey:
    """A foreign key whose ON DELETE/UPDATE action changes this table's rows without firing triggers."""

    name: str
    parent: str
    actions: str


@dataclass(frozen=True)
class TableShape:
    """What the database says a table looks like."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    unique_keys: tuple[tuple[str, ...], ...] = ()
    cascades: tuple[CascadingKey, ...] = ()

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        return next(c for c in self.columns if c.name == name)

    def has(self, name: str) -> bool:
        """True if the table has a column called ``name``."""
        return any(c.name == name for c in self.columns)


@dataclass(frozen=True)
class Trigger:
    """One trigger to install: its name, table and operation."""

    name: str
    table: str
    operation: str


@dataclass(frozen=True)
class Capture:
    """Everything needed to render one table's triggers."""

    table: str
    columns: tuple[Column, ...]
    key: tuple[Column, ...]
    operations: tuple[str, ...]
    ignore_columns: tuple[str, ...] = ()
    skip_noop_updates: bool = True
    before_image: str = "full"
    when: Mapping[str, str] = field(default_factory=dict)
    event_types: Mapping[str, str] = field(default_factory=dict)
    aggregate_type: str = ""
    aggregate_id: Column | None = None

    @property
    def triggers(self) -> tuple[Trigger, ...]:
        """The triggers this capture installs, one per operation."""
        return tuple(
            Trigger(identifiers.trigger_name(self.table, op), self.table, op) for op in self.operations
        )

    @property
    def watched(self) -> tuple[Column, ...]:
        """Captured columns whose change makes an UPDATE worth an event."""
        return tuple(c for c in self.columns if c.name not in self.ignore_columns)

    @property
    def version(self) -> str:
        """A short hash of the column set and options: which capture produced an event."""
        described = (
            [[c.name, c.sql_type] for c in self.columns],
            [c.name for c in self.key],
            sorted((k, str(v)) for k, v in vars(self).items() if k not in ("table", "columns", "key")),
        )
        return hashlib.sha256(json.dumps(described, default=str).encode()).hexdigest()[:10]

    def event_type(self, operation: str) -> str:
        """The event type carried for ``operation``."""
        return self.event_types.get(operation, operation)


@dataclass(frozen=True)
class Model:
    """The whole capture plan: the events table and every tracked table."""

    events_table: str
    captures: tuple[Capture, ...]


def build(spec: Spec, shapes: Mapping[str, TableShape]) -> Model:
    """Join the spec with live shapes, or raise listing every mismatch."""
    identifiers.check(spec.events_table, "events_table")
    problems = [p for t in spec.tables for p in _problems(t, shapes.get(t.name))]
    if problems:
        raise SchemaMismatchError("the spec does not match the database:\n  " + "\n  ".join(problems))
    return Model(spec.events_table, tuple(_capture(t, shapes[t.name]) for t in spec.tables))


def _problems(table: TableSpec, shape: TableShape | None) -> list[str]:
    where = f"tables.{table.name}"
    bad_name = _name_problem(table.name, "table")
    if bad_name or shape is None:
        return [f"{where}: {bad_name or f'table {table.name!r} does not exist in the database'}"]
    problems = _missing_columns(table, shape) + _key_problems(table, shape) + _cascade_problems(table, shape)
    problems += [f"{where}: {p}" for c in shape.columns if (p := _name_problem(c.name, "column"))]
    return problems


def _missing_columns(table: TableSpec, shape: TableShape) -> list[str]:
    listed = {
        "columns": table.columns,
        "exclude_columns": table.exclude_columns,
        "ignore_columns": table.ignore_columns,
        "aggregate_id": (table.aggregate_id,) if table.aggregate_id else (),
    }
    return [
        f"tables.{table.name}.{option}"
        + (f"[{i}]" if option != "aggregate_id" else "")
        + f": table {table.name!r} has no column {name!r}"
        for option, names in listed.items()
        for i, name in enumerate(names)
        if not shape.has(name)
    ]


def _key_problems(table: TableSpec, shape: TableShape) -> list[str]:
    where = f"tables.{table.name}"
    if not table.key_columns:
        if shape.primary_key:
            return []
        return [
            f"{where}: table {table.name!r} has no primary key; name a UNIQUE key whose columns are all "
            "NOT NULL in key_columns, or add a primary key"
        ]
    if not all(shape.has(c) for c in table.key_columns):
        return [f"{where}.key_columns: table {table.name!r} lacks some of {list(table.key_columns)}"]
    unique = set(table.key_columns) in [set(k) for k in (shape.primary_key, *shape.unique_keys) if k]
    nullable = [c for c in table.key_columns if shape.column(c).nullable]
    if unique and not nullable:
        return []
    why = (
        f"columns {nullable} allow NULL" if nullable else "they are not exactly the columns of a UNIQUE index"
    )
    return [f"{where}.key_columns: {list(table.key_columns)} cannot identify a row: {why}"]


def _cascade_problems(table: TableSpec, shape: TableShape) -> list[str]:
    if table.acknowledge_fk_cascades:
        return []
    return [
        f"tables.{table.name}: foreign key {fk.name!r} to {fk.parent!r} ({fk.actions}) changes rows of "
        f"{table.name!r} without firing triggers, so those changes would emit no event. Either change the "
        "key to RESTRICT and delete children explicitly, also track the parent and derive the children's "
        "changes from its events, or accept the gap with acknowledge_fk_cascades: true"
        for fk in shape.cascades
    ]


def _name_problem(name: str, what: str) -> str | None:
    try:
        identifiers.check(name, what)
    except IdentifierError as exc:
        return str(exc)
    return None


def _capture(table: TableSpec, shape: TableShape) -> Capture:
    if table.columns:
        columns = tuple(c for c in shape.columns if c.name in table.columns)
    else:
        columns = tuple(c for c in shape.columns if c.name not in table.exclude_columns)
    key_names = table.key_columns or shape.primary_key
    return Capture(
        table=table.name,
        columns=columns,
        key=tuple(shape.column(name) for name in key_names),
        operations=table.operations,
        ignore_columns=table.ignore_columns,
        skip_noop_updates=table.skip_noop_updates,
        before_image=table.before_image,
        when=table.when,
        event_types=table.event_types,
        aggregate_type=table.aggregate_type or table.name,
        aggregate_id=shape.column(table.aggregate_id) if table.aggregate_id else None,
    )
