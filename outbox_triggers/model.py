"""The capture model: the spec joined with the live table shapes.

This is the single input of rendering. Building it is where a spec that does
not fit the database is refused, with every problem listed, before any DDL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from outbox_triggers import event_size, identifiers
from outbox_triggers.errors import IdentifierError, SchemaMismatchError
from outbox_triggers.event_size import Sizing, Value
from outbox_triggers.spec import Spec, TableSpec

if TYPE_CHECKING:
    from outbox_triggers.takeover import Takeover

DEFAULT_PACKET = 16 * 1024 * 1024
"""MariaDB's default ``max_allowed_packet``, assumed where no server was asked."""


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
    charset: str | None = None
    char_bytes: int = 1
    max_chars: int | None = None
    max_bytes: int | None = None
    precision: int = 0
    zerofill: bool = False
    auto_updated: bool = False

    @property
    def bound(self) -> int | None:
        """The most bytes of JSON text one value can become (None: unbounded)."""
        return event_size.value_bound(self.kind, self.precision, self.members, self.max_chars, self.max_bytes)


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
    engine: str = "InnoDB"

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
    max_event_bytes: int = event_size.MIB - event_size.ENVELOPE_HEADROOM
    row_columns: tuple[Column, ...] = ()
    """Every column of the table, captured or not (default: the captured ones)."""

    @property
    def triggers(self) -> tuple[Trigger, ...]:
        """The triggers this capture installs, one per operation."""
        return tuple(
            Trigger(identifiers.trigger_name(self.table, op), self.table, op) for op in self.operations
        )

    @property
    def watched(self) -> tuple[Column, ...]:
        """Captured columns whose change makes an UPDATE worth an event.

        Not ``ignore_columns``, and not ON UPDATE CURRENT_TIMESTAMP columns: the
        server sets those on every matched row, even when the UPDATE changes
        nothing else (0 rows affected), so a change to them alone is no change.
        """
        return tuple(c for c in self.columns if c.name not in self.ignore_columns and not c.auto_updated)

    @property
    def version(self) -> str:
        """A short hash of the column set and options: which capture produced an event."""
        described = (
            [[c.name, c.sql_type] for c in self.columns],
            [c.name for c in self.key],
            sorted(
                (k, str(v))
                for k, v in vars(self).items()
                if k not in ("table", "columns", "key", "row_columns")
            ),
        )
        return hashlib.sha256(json.dumps(described, default=str).encode()).hexdigest()[:10]

    @property
    def stored_columns(self) -> tuple[Column, ...]:
        """The columns whose change changes the row: all but ON UPDATE CURRENT_TIMESTAMP ones.

        When none of them changed, the server stored nothing, though the trigger
        sees a fresh time in the auto-updated columns (an UPDATE of 0 rows).
        """
        return tuple(c for c in self.row_columns or self.columns if not c.auto_updated)

    def column(self, name: str) -> Column:
        """The captured column called ``name``."""
        return next(c for c in self.columns if c.name == name)

    def event_type(self, operation: str) -> str:
        """The event type carried for ``operation``."""
        return self.event_types.get(operation, operation)

    def images(self, operation: str) -> tuple[tuple[str, str], ...]:
        """The (image, row) pairs an event of ``operation`` carries values for, new row first."""
        after = () if operation == "delete" else (("after", "NEW"),)
        has_before = operation == "delete" or (operation == "update" and self.before_image != "none")
        return after + ((("before", "OLD"),) if has_before else ())

    def sizing(self, operation: str) -> Sizing:
        """Which values the ``operation`` trigger measures per row to keep its event within the limit."""
        values = [
            Value(image, row, c.name, c.kind, c.bound)
            for image, row in self.images(operation)
            for c in self.columns
        ]
        fixed = self._fixed_bytes(operation, values)
        return event_size.plan(self.max_event_bytes, fixed, values, [c.name for c in self.key])

    def _fixed_bytes(self, operation: str, values: list[Value]) -> int:
        """Everything in an event but the image values: envelope, key, aggregate id, names, ``omitted``."""
        head = {"table": self.table, "op": operation, "event_type": self.event_type(operation)}
        key = event_size.object_bytes([c.name for c in self.key], [c.bound or 0 for c in self.key])
        aggregate = self.aggregate_id or (self.key[0] if len(self.key) == 1 else None)
        images = [[c.name for c in self.columns] for _ in self.images(operation)]
        return event_size.envelope_bytes(
            {**head, "aggregate_type": self.aggregate_type},
            key + ((aggregate.bound or 0) if aggregate else key),
            images,
            [v.column for v in values],
        )


@dataclass(frozen=True)
class Model:
    """The whole capture plan: the events table and every tracked table."""

    events_table: str
    captures: tuple[Capture, ...]
    takeovers: tuple[Takeover, ...] = ()
    """Debezium outbox tables taken over (see :mod:`outbox_triggers.takeover`)."""


def build(spec: Spec, shapes: Mapping[str, TableShape], packet: int = DEFAULT_PACKET) -> Model:
    """Join the spec with live shapes, or raise listing every mismatch and every table unsafe to capture.

    ``packet`` is the server's ``max_allowed_packet``: no event may outgrow what it can build.
    """
    identifiers.check(spec.events_table, "events_table")
    problems: list[str] = []
    captures = []
    takeovers: list[Takeover] = []
    for table in spec.tables:
        if table.debezium_outbox is not None:
            problems += _take_over(spec, table, shapes.get(table.name), packet, takeovers)
            continue
        found = _problems(table, shapes.get(table.name))
        if not found:
            captures.append(_capture(table, shapes[table.name], _limit(spec, table, packet)))
            found = _safety_problems(captures[-1], packet)
        problems += found
    _raise(problems)
    return Model(spec.events_table, tuple(captures), tuple(takeovers))


def _take_over(
    spec: Spec, table: TableSpec, shape: TableShape | None, packet: int, takeovers: list[Takeover]
) -> list[str]:
    """Add the takeover of a Debezium outbox table to ``takeovers``, or return why it would be unsafe."""
    from outbox_triggers import takeover

    where = f"tables.{table.name}"
    bad_name = _name_problem(table.name, "table")
    if bad_name or shape is None:
        return [f"{where}: {bad_name or f'table {table.name!r} does not exist in the database'}"]
    problems = _engine_problems(table, shape)
    limit = _limit(spec, table, packet)
    if limit > event_size.packet_limit(packet):
        problems.append(
            f"{where}.max_event_bytes: {limit} bytes is more than this server can build "
            f"(max_allowed_packet is {packet}, so at most {event_size.packet_limit(packet)})"
        )
    built = takeover.build(table.name, table.debezium_outbox, shape, limit)
    if isinstance(built, list):
        return problems + built
    if not problems:
        takeovers.append(built)
    return problems


def _raise(problems: list[str]) -> None:
    if problems:
        raise SchemaMismatchError("the spec does not match the database:\n  " + "\n  ".join(problems))


def _limit(spec: Spec, table: TableSpec, packet: int) -> int:
    if table.max_event_bytes is not None:
        return table.max_event_bytes
    destinations = [spec.destinations[d] for d in table.destinations if d in spec.destinations]
    return event_size.default_limit([(d.type, d.options) for d in destinations], packet)


def _safety_problems(capture: Capture, packet: int) -> list[str]:
    """Why a trigger for this capture could fail a write or write an event no one can publish."""
    where = f"tables.{capture.table}"
    problems = [
        f"{where}: {role} column {c.name!r} ({c.sql_type}) can hold values too large for every event to "
        f"carry it: choose {fix}"
        for role, fix, columns in (
            ("key", "key_columns of bounded size (not TEXT, BLOB or JSON)", capture.key),
            (
                "aggregate_id",
                "a bounded aggregate_id column",
                (capture.aggregate_id,) if capture.aggregate_id else (),
            ),
        )
        for c in columns
        if c.bound is None or c.bound > event_size.KEY_LIMIT
    ]
    if capture.max_event_bytes > event_size.packet_limit(packet):
        problems.append(
            f"{where}.max_event_bytes: {capture.max_event_bytes} bytes is more than this server can build "
            f"(max_allowed_packet is {packet}, so at most {event_size.packet_limit(packet)}): lower it, "
            "or raise max_allowed_packet"
        )
    return problems or _sizing_problems(capture, where)


def _sizing_problems(capture: Capture, where: str) -> list[str]:
    for operation in capture.operations:
        try:
            capture.sizing(operation)
        except event_size.TooLarge as exc:
            return [
                f"{where}: an {operation} event {exc} even with every large value left out, more than "
                f"max_event_bytes ({capture.max_event_bytes}): exclude columns, or raise max_event_bytes"
            ]
    return []


def _problems(table: TableSpec, shape: TableShape | None) -> list[str]:
    where = f"tables.{table.name}"
    bad_name = _name_problem(table.name, "table")
    if bad_name or shape is None:
        return [f"{where}: {bad_name or f'table {table.name!r} does not exist in the database'}"]
    problems = _missing_columns(table, shape) + _key_problems(table, shape) + _cascade_problems(table, shape)
    problems += _engine_problems(table, shape)
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


TRANSACTIONAL_ENGINES = frozenset({"innodb", "rocksdb", "tokudb"})


def _engine_problems(table: TableSpec, shape: TableShape) -> list[str]:
    """A non-transactional table cannot change in the same transaction as its events."""
    if shape.engine.lower() in TRANSACTIONAL_ENGINES:
        return []
    return [
        f"tables.{table.name}: table {table.name!r} uses the {shape.engine} engine, which is not "
        "transactional: a rolled-back write would keep its change but lose its event, and with "
        "enforce_gtid_consistency (Aurora, MySQL 8 with GTIDs) every write would fail. Convert it with "
        f"ALTER TABLE ... ENGINE=InnoDB, or stop tracking it"
    ]


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


def _capture(table: TableSpec, shape: TableShape, limit: int) -> Capture:
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
        max_event_bytes=limit,
        row_columns=shape.columns,
    )
