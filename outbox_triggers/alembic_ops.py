"""Embedded mode: outbox operations inside a service's own Alembic history.

Importing this module (in the service's ``env.py``, or at the top of a
revision) registers these operations on Alembic's ``op``:

- ``op.create_outbox_events_table(table, sql)`` / ``op.drop_outbox_events_table(table, force=False)``;
- ``op.create_outbox_support_table(table, sql)`` / ``op.drop_outbox_support_table(table, force=False)``
  for the tables the relay keeps beside it (dead letters, delivered events);
- ``op.install_outbox_triggers(table, triggers, replaces=())``: swap a table's triggers in one
  ``LOCK TABLES … WRITE`` section, exactly like a standalone revision;
- ``op.drop_outbox_triggers(table, names)``;
- ``op.record_outbox_captures(table, records)``: record capture versions (the column types each
  version of the triggers writes) in the registry the relay's envelopes read.

Their arguments carry literal SQL, produced once by ``outbox-triggers render
--alembic`` and pasted into the revision; upgrading never re-renders the spec.
The service's ``alembic_version`` table records them like any other
operation, so a revision that adds a column can refresh the triggers too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from alembic.operations import MigrateOperation, Operations
from alembic.runtime.migration import MigrationContext

from outbox_triggers import database, identifiers, toimpl
from outbox_triggers.check.trigger_text import LiveTrigger, same_trigger
from outbox_triggers.ops import (
    CreateEventsTable,
    CreateSupportTable,
    DropEventsTable,
    Op,
    RecordCaptures,
    ReplaceTriggers,
    TriggerSQL,
    for_flavor,
)
from outbox_triggers.revisions import State

_PAD = "    "
FLAVOR_ARGUMENT = "outbox_flavor"
"""``alembic -x outbox_flavor=mariadb upgrade head --sql`` picks the flavor of an offline script."""


@Operations.register_operation("create_outbox_events_table")
class CreateOutboxEventsTableOp(MigrateOperation):
    """Create the outbox events table from its frozen ``CREATE TABLE IF NOT EXISTS``."""

    def __init__(self, table: str, sql: str) -> None:
        self.table = table
        self.sql = sql

    @classmethod
    def create_outbox_events_table(cls, operations: Operations, table: str, sql: str) -> None:
        """Create the events table ``table`` with ``sql``."""
        operations.invoke(cls(table, sql))

    def reverse(self) -> DropOutboxEventsTableOp:
        """The operation that undoes this one."""
        return DropOutboxEventsTableOp(self.table)


@Operations.register_operation("drop_outbox_events_table")
class DropOutboxEventsTableOp(MigrateOperation):
    """Drop the events table; refused while it holds undelivered events unless ``force``."""

    def __init__(self, table: str, force: bool = False) -> None:
        self.table = table
        self.force = force

    @classmethod
    def drop_outbox_events_table(cls, operations: Operations, table: str, force: bool = False) -> None:
        """Drop the events table ``table`` (only when empty, unless ``force``)."""
        operations.invoke(cls(table, force))


@Operations.register_operation("create_outbox_support_table")
class CreateOutboxSupportTableOp(MigrateOperation):
    """Create a table the relay keeps beside the events table (dead letters, delivered events)."""

    def __init__(self, table: str, sql: str) -> None:
        self.table = table
        self.sql = sql

    @classmethod
    def create_outbox_support_table(cls, operations: Operations, table: str, sql: str) -> None:
        """Create the support table ``table`` with ``sql``."""
        operations.invoke(cls(table, sql))


@Operations.register_operation("drop_outbox_support_table")
class DropOutboxSupportTableOp(DropOutboxEventsTableOp):
    """Drop a support table; refused while it holds rows unless ``force``."""

    @classmethod
    def drop_outbox_support_table(cls, operations: Operations, table: str, force: bool = False) -> None:
        """Drop the support table ``table`` (only when empty, unless ``force``)."""
        operations.invoke(cls(table, force))


@Operations.register_operation("install_outbox_triggers")
class InstallOutboxTriggersOp(MigrateOperation):
    """Install or refresh one table's outbox triggers under ``LOCK TABLES … WRITE``.

    ``triggers`` maps each trigger name to its CREATE TRIGGER statement (or to
    ``{"mariadb": …, "mysql": …}`` where the flavors differ). Triggers of the
    same names are dropped first, as are the ones named in ``replaces``, all
    while the table is locked, so no committed write goes uncaptured.
    """

    def __init__(self, table: str, triggers: Mapping[str, TriggerSQL], replaces: Sequence[str] = ()) -> None:
        self.table = table
        self.triggers = dict(triggers)
        self.replaces = tuple(replaces)

    @classmethod
    def install_outbox_triggers(
        cls,
        operations: Operations,
        table: str,
        triggers: Mapping[str, TriggerSQL],
        replaces: Sequence[str] = (),
    ) -> None:
        """Swap ``table``'s outbox triggers for ``triggers``."""
        operations.invoke(cls(table, triggers, replaces))

    def to_op(self) -> ReplaceTriggers:
        """The toolkit op this runs."""
        drop = tuple(dict.fromkeys([*self.replaces, *self.triggers]))
        return ReplaceTriggers(self.table, drop, self.triggers)


@Operations.register_operation("drop_outbox_triggers")
class DropOutboxTriggersOp(MigrateOperation):
    """Drop outbox triggers from one table under ``LOCK TABLES … WRITE``."""

    def __init__(self, table: str, names: Sequence[str]) -> None:
        self.table = table
        self.names = tuple(names)

    @classmethod
    def drop_outbox_triggers(cls, operations: Operations, table: str, names: Sequence[str]) -> None:
        """Drop the triggers ``names`` from ``table``."""
        operations.invoke(cls(table, names))


@Operations.register_operation("record_outbox_captures")
class RecordOutboxCapturesOp(MigrateOperation):
    """Record capture versions in the registry ``table`` (``INSERT IGNORE``: a version is recorded once)."""

    def __init__(self, table: str, records: Sequence[Sequence[str]]) -> None:
        self.table = table
        self.records = tuple((r[0], r[1], r[2], r[3]) for r in records)

    @classmethod
    def record_outbox_captures(
        cls, operations: Operations, table: str, records: Sequence[Sequence[str]]
    ) -> None:
        """Record each (version, table, columns JSON, key JSON) of ``records``."""
        operations.invoke(cls(table, records))


@Operations.implementation_for(RecordOutboxCapturesOp)
def _record_captures(operations: Operations, operation: RecordOutboxCapturesOp) -> None:
    _run(operations.get_context(), RecordCaptures(operation.table, operation.records))


@Operations.implementation_for(CreateOutboxEventsTableOp)
def _create_events_table(operations: Operations, operation: CreateOutboxEventsTableOp) -> None:
    _run(operations.get_context(), CreateEventsTable(operation.table, operation.sql))


@Operations.implementation_for(DropOutboxEventsTableOp)
def _drop_events_table(operations: Operations, operation: DropOutboxEventsTableOp) -> None:
    _run(operations.get_context(), DropEventsTable(operation.table), force=operation.force)


@Operations.implementation_for(CreateOutboxSupportTableOp)
def _create_support_table(operations: Operations, operation: CreateOutboxSupportTableOp) -> None:
    _run(operations.get_context(), CreateSupportTable(operation.table, operation.sql))


@Operations.implementation_for(DropOutboxSupportTableOp)
def _drop_support_table(operations: Operations, operation: DropOutboxSupportTableOp) -> None:
    _run(operations.get_context(), DropEventsTable(operation.table), force=operation.force)


@Operations.implementation_for(InstallOutboxTriggersOp)
def _install_triggers(operations: Operations, operation: InstallOutboxTriggersOp) -> None:
    _run(operations.get_context(), operation.to_op())


@Operations.implementation_for(DropOutboxTriggersOp)
def _drop_triggers(operations: Operations, operation: DropOutboxTriggersOp) -> None:
    _run(operations.get_context(), ReplaceTriggers(operation.table, operation.names, {}))


def _run(context: MigrationContext, op: Op, force: bool = False) -> None:
    """Execute ``op`` on the migration's connection, or print it in ``--sql`` mode."""
    if context.as_sql:
        for statement in toimpl.script([op], _offline_flavor(context)):
            context.impl.static_output(statement)
        return
    conn = context.connection
    assert conn is not None
    toimpl.apply(conn, op, database.flavor(conn), force=force)


def _offline_flavor(context: MigrationContext) -> str:
    config = context.config
    if config is not None and config.cmd_opts is not None:
        for argument in getattr(config.cmd_opts, "x", None) or ():
            key, _, value = str(argument).partition("=")
            if key == FLAVOR_ARGUMENT and value:
                return value
    return "mysql"


# --- `outbox-triggers render --alembic`: the op calls for a service revision ----------------------


def source(desired: State, live: Mapping[str, LiveTrigger], existing: Collection[str], flavor: str) -> str:
    """Python for a service revision moving the live database to ``desired``, and back.

    Only what differs is emitted: a table whose live triggers already match
    (for ``flavor``) is left out, and so is a table in ``existing``. The
    downgrade restores the triggers the database holds now, read back from
    ``information_schema``.
    """
    up: list[str] = []
    down: list[str] = []
    tables = [("events", *desired.events_table)] if desired.events_table else []
    for kind, table, sql in [*tables, *(("support", t, sql) for t, sql in desired.support.items())]:
        if table not in existing:
            args = f"{_PAD * 2}{_string(table)},\n{_PAD * 2}{_literal(sql, 2)},\n"
            up.append(f"{_PAD}op.create_outbox_{kind}_table(\n{args}{_PAD})")
            down.append(f"{_PAD}op.drop_outbox_{kind}_table({_string(table)})")
    changed = len(up)
    for table in dict.fromkeys([*desired.triggers, *(t.table for t in live.values())]):
        _table_calls(table, desired.triggers.get(table, {}), live, flavor, up, down)
    registry = identifiers.captures_table(desired.events_table[0]) if desired.events_table else ""
    if desired.captures and registry and (len(up) > changed or registry not in existing):
        up.insert(changed, _record_call(registry, desired))
    return _layout(up, list(reversed(down)))


def _record_call(registry: str, desired: State) -> str:
    """The ``record_outbox_captures`` call for every tracked table's version (before their triggers)."""
    rows = "".join(f"{_PAD * 3}({', '.join(map(_string, r))}),\n" for r in desired.captures.values())
    head = f"{_PAD}op.record_outbox_captures(\n{_PAD * 2}{_string(registry)},\n"
    return f"{head}{_PAD * 2}[\n{rows}{_PAD * 2}],\n{_PAD})"


def _table_calls(
    table: str,
    wanted: Mapping[str, TriggerSQL],
    live: Mapping[str, LiveTrigger],
    flavor: str,
    up: list[str],
    down: list[str],
) -> None:
    present = {name: t for name, t in live.items() if t.table == table}
    if set(present) == set(wanted) and all(
        same_trigger(present[name], for_flavor(sql, flavor)) for name, sql in wanted.items()
    ):
        return
    before = {name: t.statement() for name, t in present.items()}
    up.append(_install_or_drop(table, wanted, [n for n in present if n not in wanted]))
    down.append(_install_or_drop(table, before, [n for n in wanted if n not in before]))


def _install_or_drop(table: str, triggers: Mapping[str, TriggerSQL], extra: Sequence[str]) -> str:
    """One op call, indented for a function body; SQL literals stay flush-left."""
    if not triggers:
        return f"{_PAD}op.drop_outbox_triggers({_string(table)}, [{', '.join(map(_string, extra))}])"
    entries = "".join(f"{_PAD * 3}{_string(name)}: {_literal(sql, 3)},\n" for name, sql in triggers.items())
    replaces = f"{_PAD * 2}replaces=({''.join(_string(n) + ', ' for n in extra)}),\n" if extra else ""
    head = f"{_PAD}op.install_outbox_triggers(\n{_PAD * 2}{_string(table)},\n"
    return f"{head}{_PAD * 2}{{\n{entries}{_PAD * 2}}},\n{replaces}{_PAD})"


def _literal(sql: TriggerSQL, level: int) -> str:
    """A flush-left triple-quoted literal when that reads back exactly, else ``repr``."""
    if not isinstance(sql, str):
        inner = "".join(
            f"{_PAD * (level + 1)}{_string(f)}: {_literal(text, level + 1)},\n" for f, text in sql.items()
        )
        return "{\n" + inner + _PAD * level + "}"
    if '"""' in sql or "\\" in sql or sql.endswith('"'):
        return repr(sql)
    return '"""\\\n' + sql + '"""'


def _string(text: str) -> str:
    """A Python string literal, double-quoted when that needs no escape (as black and ruff write it)."""
    return f'"{text}"' if text.isprintable() and '"' not in text and "\\" not in text else repr(text)


def _layout(up: Sequence[str], down: Sequence[str]) -> str:
    if not up:
        return "# outbox-triggers: the live triggers already match the spec; nothing to paste.\n"
    header = (
        "# outbox-triggers render --alembic: paste into a revision of the service's own history.\n"
        "# The SQL below is frozen: upgrading runs exactly this text. The service's env.py (or this\n"
        "# revision) must `import outbox_triggers.alembic_ops` so that `op` knows these operations.\n"
    )
    return (
        f"{header}def upgrade() -> None:\n"
        + "\n".join(up)
        + "\n\n\ndef downgrade() -> None:\n"
        + "\n".join(down)
        + "\n"
    )
