"""Installed triggers against what the applied revision (or, embedded, the spec) asks for."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import sqlalchemy as sa

from outbox_triggers import identifiers
from outbox_triggers.check.context import Context, Table
from outbox_triggers.check.findings import EMBEDDED, STANDALONE, Finding
from outbox_triggers.check.trigger_text import LiveTrigger, references, row_references, same_trigger
from outbox_triggers.ops import TriggerSQL, for_flavor

ALL_COLUMNS = sa.text(
    "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
)

_CUT_OVER = re.compile(r"^_.*_(old|del|gho|ghc|new)$")


def resolved(triggers: Mapping[str, TriggerSQL], flavor: str) -> dict[str, str]:
    return {name: for_flavor(sql, flavor) for name, sql in triggers.items()}


def trigger_findings(ctx: Context) -> list[Finding]:
    findings: list[Finding] = []
    expected_tables = dict(ctx.reference.triggers)
    for name, table in ctx.tables.items():
        ctx.uncaptured[name] = _uncaptured(ctx, table)
        findings += [_uncaptured_finding(ctx, name, column) for column in ctx.uncaptured[name]]
        if ctx.mode == EMBEDDED and ctx.uncaptured[name]:
            narrowed = table.render(ctx.spec, ctx.uncaptured[name])
            expected_tables[name] = table.desired if narrowed is None else narrowed
    expected: dict[str, tuple[str, str]] = {}
    for table_name, triggers in expected_tables.items():
        for trigger, sql in resolved(triggers, ctx.flavor).items():
            expected[trigger] = (table_name, sql)
            findings += _compare(ctx, trigger, table_name, sql)
    findings += [f for live in ctx.live.values() if (f := _broken(ctx, live))]
    tracked = {t.name for t in ctx.spec.tables} | set(expected_tables)
    for live in ctx.live.values():
        if live.name in expected and expected[live.name][0] == live.table:
            continue
        if live.table in tracked:
            findings.append(_unexpected(ctx, live))
        else:
            findings.append(_orphaned(ctx, live, tracked))
    return findings


def _compare(ctx: Context, trigger: str, table: str, sql: str) -> list[Finding]:
    live = ctx.live.get(trigger)
    source = "the spec" if ctx.mode == EMBEDDED else "the applied revision"
    fix = _reinstall_hint(ctx)
    if live is None:
        detail = f"trigger {trigger} on {table!r} is missing: changes to {table!r} produce no events"
        return [Finding("missing_trigger", table, detail, fix, trigger=trigger)]
    if live.table != table:
        detail = (
            f"trigger {trigger} belongs on {table!r} but is on {live.table!r}: {table!r} has no such trigger"
        )
        return [Finding("missing_trigger", table, detail, fix, trigger=trigger)]
    if not same_trigger(live, sql):
        detail = f"trigger {trigger} on {table!r} differs from what {source} installs (edited by hand?)"
        return [Finding("altered_trigger", table, detail, fix, trigger=trigger)]
    return []


def _broken(ctx: Context, live: LiveTrigger) -> Finding | None:
    """A trigger reading a column its table no longer has fails every write it fires on."""
    columns = ctx.columns.get(live.table, set())
    gone = sorted(c for c in row_references(live.body) if c.lower() not in columns)
    if not gone:
        return None
    detail = (
        f"trigger {live.name} on {live.table!r} reads {', '.join(map(repr, gone))}, which the table "
        f"no longer has: every {live.event.upper()} on {live.table!r} fails (error 1054)"
    )
    fix = "restore the column, or render triggers without it at once: " + (
        "`outbox-triggers revision` then `migrate`" if ctx.mode == STANDALONE else "`render --alembic`"
    )
    return Finding("broken_trigger", live.table, detail, fix, column=gone[0], trigger=live.name)


def _reinstall_hint(ctx: Context) -> str:
    if ctx.mode == EMBEDDED:
        return "refresh the triggers in a service revision (`outbox-triggers render --alembic`)"
    return (
        "reinstall the applied revision's triggers with `outbox-triggers repair` "
        "(same frozen SQL, swapped under LOCK TABLES)"
    )


def _unexpected(ctx: Context, live: LiveTrigger) -> Finding:
    source = "the spec renders" if ctx.mode == EMBEDDED else "the applied revision installs"
    return Finding(
        "unexpected_trigger",
        live.table,
        f"trigger {live.name} on {live.table!r} looks like the toolkit's but is not one {source}",
        _reinstall_hint(ctx) if ctx.mode == STANDALONE else f"DROP TRIGGER {identifiers.quote(live.name)}",
        trigger=live.name,
    )


def _orphaned(ctx: Context, live: LiveTrigger, tracked: Iterable[str]) -> Finding:
    owner = next(
        (t for t in tracked for op in identifiers.OP_CODES if identifiers.trigger_name(t, op) == live.name),
        None,
    )
    detail = f"toolkit trigger {live.name} is on {live.table!r}, which is not tracked"
    if owner:
        detail += f"; it was installed for {owner!r}, so that table was renamed away"
        if _CUT_OVER.match(live.table):
            detail += " (a gh-ost/pt-osc cut-over?)"
    detail += f": writes to {live.table!r} still add events"
    hint = (
        "`outbox-triggers repair` drops it and reinstalls the tracked tables' triggers"
        if ctx.mode == STANDALONE
        else f"DROP TRIGGER {identifiers.quote(live.name)}, then refresh the triggers of the tracked table"
    )
    return Finding("orphaned_trigger", live.table, detail, hint, trigger=live.name)


def _uncaptured(ctx: Context, table: Table) -> list[str]:
    """Columns the spec would capture but the installed triggers do not read."""
    installed = [t.body for t in ctx.live.values() if t.table == table.spec.name]
    if not installed:
        return []
    return [
        column.name
        for column in table.shape.columns
        if column.name not in table.spec.exclude_columns
        and not references(installed, column.name)
        # a column the spec leaves out by other means (a capture option) renders the same without it
        and table.render(ctx.spec, [column.name]) != table.desired
    ]


def _uncaptured_finding(ctx: Context, table: str, column: str) -> Finding:
    head = list(resolved(ctx.head.triggers.get(table, {}), ctx.flavor).values())
    if ctx.mode == EMBEDDED:
        hint = (
            "refresh the triggers in the service revision that added it (`outbox-triggers render --alembic`)"
        )
    elif references(head, column):
        hint = f"revision {ctx.head_revision} captures it: run `outbox-triggers migrate`"
    else:
        hint = (
            f"run `outbox-triggers revision -m 'capture {table}.{column}'`, review the file, "
            "then `outbox-triggers migrate`"
        )
    return Finding(
        "uncaptured_column",
        table,
        f"column {table}.{column} is not captured by the triggers, yet the spec captures it",
        hint + _exclude_hint(ctx, table, column),
        column=column,
    )


def _exclude_hint(ctx: Context, table: str, column: str) -> str:
    listed = ctx.tables[table].spec.columns
    option = (
        f"remove it from tables.{table}.columns" if listed else f"add it to tables.{table}.exclude_columns"
    )
    return f"; or, to keep it out of events, {option}"
