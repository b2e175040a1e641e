"""The capture model: the spec joined with the live table shapes.

This is the single input of rendering. Building it is where a spec that does
not fit the database is refused, before any DDL runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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


@dataclass(frozen=True)
class TableShape:
    """What the database says a table looks like."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        return next(c for c in self.columns if c.name == name)


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

    @property
    def triggers(self) -> tuple[Trigger, ...]:
        """The triggers this capture installs, one per operation."""
        return tuple(
            Trigger(identifiers.trigger_name(self.table, op), self.table, op) for op in self.operations
        )


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
    names = {c.name for c in shape.columns}
    problems = [
        f"{where}.exclude_columns[{i}]: table {table.name!r} has no column {col!r}"
        for i, col in enumerate(table.exclude_columns)
        if col not in names
    ]
    if not shape.primary_key:
        problems.append(f"{where}: table {table.name!r} has no primary key, so events would have no 'key'")
    problems += [f"{where}: {p}" for c in shape.columns if (p := _name_problem(c.name, "column"))]
    return problems


def _name_problem(name: str, what: str) -> str | None:
    try:
        identifiers.check(name, what)
    except IdentifierError as exc:
        return str(exc)
    return None


def _capture(table: TableSpec, shape: TableShape) -> Capture:
    columns = tuple(c for c in shape.columns if c.name not in table.exclude_columns)
    key = tuple(shape.column(name) for name in shape.primary_key)
    return Capture(table=table.name, columns=columns, key=key, operations=table.operations)
