"""Frozen trigger revisions: the installed state, diffs, and revision files.

A revision file holds ``UPGRADE`` and ``DOWNGRADE`` lists of ops with literal
SQL. Folding every revision's ``UPGRADE`` from base to head gives the state
the newest revision installs; diffing that against a fresh render gives the
next revision. Revision ids are derived from their content, so generating the
same change twice yields the same file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType

from outbox_triggers import identifiers
from outbox_triggers.model import Model
from outbox_triggers.ops import (
    CreateEventsTable,
    CreateSupportTable,
    DropEventsTable,
    Op,
    RecordCaptures,
    ReplaceTriggers,
    TriggerSQL,
)
from outbox_triggers.render import Rendered


@dataclass(frozen=True)
class State:
    """What a revision leaves installed: the events table and each table's triggers."""

    events_table: tuple[str, str] | None = None
    triggers: Mapping[str, Mapping[str, TriggerSQL]] = field(default_factory=dict)
    support: Mapping[str, str] = field(default_factory=dict)
    captures: Mapping[str, tuple[str, str, str, str]] = field(default_factory=dict)
    """Per tracked table, the capture record of its installed version (see ``captures.py``)."""


def desired(by_flavor: Mapping[str, Rendered]) -> State:
    """The state a spec rendered for every flavor asks for.

    A trigger whose SQL is the same for every flavor is stored once; one that
    differs keeps a statement per flavor, so one revision serves a MariaDB
    laptop and an Aurora MySQL production alike.
    """
    first = next(iter(by_flavor.values()))
    triggers = {
        table: {
            trig.name: _merge({f: r.trigger(trig.name).sql for f, r in by_flavor.items()})
            for trig in first.for_table(table)
        }
        for table in first.tables
    }
    records = {r[1]: r for r in first.captures}
    return State((first.events_table, first.events_table_sql), triggers, dict(first.support), records)


def _merge(variants: Mapping[str, str]) -> TriggerSQL:
    distinct = set(variants.values())
    return distinct.pop() if len(distinct) == 1 else dict(variants)


def fold(state: State, ops: Iterable[Op]) -> State:
    """Apply ``ops`` to ``state`` on paper."""
    events, triggers, support = state.events_table, dict(state.triggers), dict(state.support)
    records = dict(state.captures)
    for op in ops:
        if isinstance(op, RecordCaptures):
            records.update((r[1], r) for r in op.records)
        elif isinstance(op, CreateEventsTable):
            events = (op.table, op.sql)
        elif isinstance(op, CreateSupportTable):
            support[op.table] = op.sql
        elif isinstance(op, DropEventsTable):
            events = None if events and events[0] == op.table else events
            support.pop(op.table, None)
        elif op.create:
            triggers[op.table] = dict(op.create)
        else:
            triggers.pop(op.table, None)
    return State(events, triggers, support, records)


def head_state(modules: Sequence[ModuleType]) -> State:
    """Fold the ``UPGRADE`` ops of revision modules ordered base → head."""
    state = State()
    for module in modules:
        state = fold(state, module.UPGRADE)
    return state


def diff(old: State, new: State) -> tuple[list[Op], list[Op]]:
    """The (upgrade, downgrade) ops that move ``old`` to ``new`` and back."""
    up: list[Op] = []
    down: list[Op] = []
    if new.events_table and new.events_table != old.events_table:
        up.append(CreateEventsTable(*new.events_table))
    up += [CreateSupportTable(t, sql) for t, sql in new.support.items() if old.support.get(t) != sql]
    recorded = tuple(r for t, r in new.captures.items() if old.captures.get(t) != r)
    if recorded and new.events_table:  # recorded before the triggers that write the version
        up.append(RecordCaptures(identifiers.captures_table(new.events_table[0]), recorded))
    for table in dict.fromkeys([*old.triggers, *new.triggers]):
        before, after = old.triggers.get(table, {}), new.triggers.get(table, {})
        if before != after:
            up.append(ReplaceTriggers(table, tuple(before), dict(after)))
            down.append(ReplaceTriggers(table, tuple(after), dict(before)))
    down += [DropEventsTable(t) for t in new.support if t not in old.support]
    if old.events_table is None and new.events_table:
        down.append(DropEventsTable(new.events_table[0]))
    return up, down


def spec_hash(source: Mapping[str, object]) -> str:
    """A short, stable hash of the spec document."""
    return _hash(json.dumps(source, sort_keys=True, default=str))


def column_hashes(model: Model) -> dict[str, str]:
    """Per tracked table, a hash of the captured columns and their types."""
    return {
        c.table: _hash(json.dumps([[col.name, col.sql_type] for col in c.columns])) for c in model.captures
    }


def revision_id(down_revision: str | None, upgrade: Sequence[Op]) -> str:
    """A content-derived revision id: the same change always gets the same id."""
    return _hash(repr((down_revision, source(upgrade))))[:12]


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def source(ops: Sequence[Op]) -> str:
    """Python source for a list of ops, each SQL statement a flush-left literal that reads back exactly."""
    if not ops:
        return "[]"
    return "[\n" + "".join(_op_source(op) + ",\n" for op in ops) + "]"


def _op_source(op: Op) -> str:
    if isinstance(op, CreateEventsTable | CreateSupportTable):
        kind = type(op).__name__
        return f"    {kind}(\n        {op.table!r},\n        {_sql(op.sql)},\n    )"
    if isinstance(op, DropEventsTable):
        return f"    DropEventsTable({op.table!r})"
    if isinstance(op, RecordCaptures):
        rows = "".join(f"            {tuple(r)!r},\n" for r in op.records)
        return f"    RecordCaptures(\n        {op.table!r},\n        (\n{rows}        ),\n    )"
    creates = "".join(f"            {name!r}: {_sql(sql)},\n" for name, sql in op.create.items())
    create = "{\n" + creates + "        }" if creates else "{}"
    head = f"    ReplaceTriggers(\n        {op.table!r},\n        drop={tuple(op.drop)!r},\n"
    return head + f"        create={create},\n    )"


def _sql(sql: TriggerSQL) -> str:
    """A flush-left triple-quoted literal when that reads back exactly, else ``repr``."""
    if not isinstance(sql, str):
        inner = "".join(f"                {flavor!r}: {_sql(text)},\n" for flavor, text in sql.items())
        return "{\n" + inner + "            }"
    if '"""' in sql or "\\" in sql or sql.endswith('"'):
        return repr(sql)
    return '"""\\\n' + sql + '"""'
