"""Capture versions the installed triggers write that the capture registry does not hold.

Formats other than ``native`` encode each value from the column types of the
version that wrote it (:mod:`outbox_triggers.captures`); an event of an
unrecorded version is dead-lettered. A version goes unrecorded when triggers
were installed by a toolkit release without the registry, or by hand. ``repair``
records it: from the revisions when one holds it, else from the live table
when the spec and the live schema still render that very version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy.engine import Connection

from outbox_triggers import captures, identifiers, introspect, model, render
from outbox_triggers.check.findings import Finding
from outbox_triggers.check.trigger_text import LiveTrigger
from outbox_triggers.errors import OutboxError
from outbox_triggers.spec import Spec

_VERSION = re.compile(r'"version": "([0-9a-f]{10})"')


def installed_versions(live: Mapping[str, LiveTrigger]) -> dict[tuple[str, str], str]:
    """(table, version) each live toolkit trigger writes, with the trigger's name."""
    found: dict[tuple[str, str], str] = {}
    for trigger in live.values():
        match = _VERSION.search(trigger.body)
        if match:
            found.setdefault((trigger.table, match.group(1)), trigger.name)
    return found


def unrecorded(conn: Connection, spec: Spec, live: Mapping[str, LiveTrigger]) -> list[tuple[str, str]]:
    """The (table, version) pairs live triggers of tracked tables write that the registry lacks.

    Triggers on untracked tables are ``orphaned_trigger`` findings, not this.
    """
    recorded = captures.load(conn, spec.events_table)
    tracked = {t.name for t in spec.tables}
    return [key for key in installed_versions(live) if key[0] in tracked and key not in recorded]


def unrecorded_findings(conn: Connection, spec: Spec, live: Mapping[str, LiveTrigger]) -> list[Finding]:
    """One finding per unrecorded capture version of an installed trigger."""
    registry = identifiers.captures_table(spec.events_table)
    hint = "run `outbox-triggers repair`: it records the version (or migrate, which records what it installs)"
    return [
        Finding(
            "unrecorded_capture",
            table,
            f"the triggers of {table!r} write capture version {version}, which {registry} does not hold: "
            "destinations with format maxwell or debezium would dead-letter its events",
            hint,
        )
        for table, version in unrecorded(conn, spec, live)
    ]


def repair_records(
    conn: Connection,
    spec: Spec,
    live: Mapping[str, LiveTrigger],
    known: Mapping[str, tuple[str, str, str, str]],
) -> list[str]:
    """Record each unrecorded live version from ``known`` (revision records) or the live table."""
    missing = unrecorded(conn, spec, live)
    if not missing:
        return []
    rows = {(r[1], r[0]): captures.Record(*r) for r in known.values()}
    rows.update({(r.table, r.version): r for r in _live_records(conn, spec, {t for t, _ in missing})})
    registry = identifiers.captures_table(spec.events_table)
    conn.exec_driver_sql(render.captures_table_sql(registry), execution_options={"no_parameters": True})
    done = []
    for table, version in missing:
        row = rows.get((table, version))
        if row is None:
            done.append(
                f"capture version {version} of {table!r} can't be recorded: no revision holds it and the "
                "live table no longer renders it (its events need the native format, or a replay)"
            )
            continue
        captures.write(conn, registry, (row,))
        done.append(f"recorded capture version {version} of {table!r} in {registry}")
    return done


def _live_records(conn: Connection, spec: Spec, tables: set[str]) -> list[captures.Record]:
    """Records for the spec's tables as they render against the live schema now (tables that build)."""
    shapes = introspect.shapes(conn, sorted(tables))
    out: list[captures.Record] = []
    for table in spec.tables:
        if table.name in shapes:
            try:
                built = model.build(
                    Spec(tables=(table,), destinations=spec.destinations, events_table=spec.events_table),
                    {table.name: shapes[table.name]},
                    introspect.max_allowed_packet(conn),
                )
            except OutboxError:  # a table that no longer builds has no live record
                continue
            out += captures.records(built)
    return out
