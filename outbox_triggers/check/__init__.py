"""``outbox-triggers check``: compare the spec, the revisions and the live database.

Nothing here writes. Each disagreement becomes a :class:`Finding` with a
``kind``, the table it concerns, a one-line ``detail`` and a ``hint`` saying
what to do:

- ``missing_table`` / ``spec_mismatch``: the spec names a table or column the database lacks;
- ``uncaptured_column``: a tracked table has a column the triggers do not capture and the spec
  does not exclude (typically ``ALTER TABLE … ADD COLUMN`` after the last revision);
- ``missing_trigger`` / ``altered_trigger`` / ``unexpected_trigger``: the installed triggers are
  not the ones the applied revision (or, embedded, the spec) asks for;
- ``orphaned_trigger``: a toolkit trigger on a table that is not tracked, e.g. left on
  ``_orders_old`` by a gh-ost/pt-osc ``RENAME TABLE`` cut-over;
- ``events_table_missing`` / ``events_table_shape``: the events table is not what
  ``templates/events_table.sql.j2`` creates (likewise ``dead_letters_table_*`` and ``delivered_table_*``);
- ``fk_cascade``: a tracked table is the child of a cascading foreign key the spec does not
  acknowledge (cascaded changes fire no trigger);
- ``no_revisions`` / ``unknown_revision`` / ``pending_revisions`` / ``unrevised_change``: the
  revision history and the database or the spec have drifted apart;
- ``trigger_context`` / ``packet_too_small``: installed triggers that can now fail a write or
  build an event the relay cannot read;
- ``unrecorded_capture``: installed triggers write a capture version the registry does not hold
  (``repair`` records it; see ``captures.py``).

One module per kind of finding: ``triggers`` (installed triggers), ``history`` (revisions),
``tables`` (the toolkit's tables), ``foreign_keys``, ``truncates`` and ``safety``; ``context``
builds what they share, and ``repair`` puts frozen triggers back.

The expected trigger bodies always come from revisions or from rendering,
never from text written here, so template changes need no change in this file.
"""

from __future__ import annotations

import time

from alembic.config import Config
from sqlalchemy.engine import Connection

from outbox_triggers import identifiers, introspect, migrations, revisions
from outbox_triggers.check import history, safety
from outbox_triggers.check.captures import unrecorded_findings
from outbox_triggers.check.context import Context, build_tables, desired_state
from outbox_triggers.check.findings import EMBEDDED, STANDALONE, Finding, Report
from outbox_triggers.check.foreign_keys import fk_cascade_findings
from outbox_triggers.check.repair import applied_state, repair_ops
from outbox_triggers.check.tables import SUPPORT_ROLES, events_table_findings, table_findings
from outbox_triggers.check.trigger_text import LiveTrigger, live_triggers, normalize, same_trigger
from outbox_triggers.check.triggers import ALL_COLUMNS, trigger_findings
from outbox_triggers.check.truncates import truncate_findings
from outbox_triggers.spec import Spec

__all__ = [
    "EMBEDDED",
    "STANDALONE",
    "Finding",
    "LiveTrigger",
    "Report",
    "applied_state",
    "events_table_findings",
    "live_triggers",
    "normalize",
    "repair_ops",
    "run",
    "same_trigger",
]


def run(spec: Spec, conn: Connection, cfg: Config, flavor: str, embedded: bool = False) -> Report:
    """Compare ``spec``, the revisions under ``cfg`` and the database behind ``conn``."""
    started = time.monotonic()
    database = str(conn.exec_driver_sql("SELECT DATABASE()").scalar())
    findings, tables = build_tables(spec, conn)
    desired = desired_state(spec, tables)
    ctx = Context(spec, flavor, EMBEDDED if embedded else STANDALONE, tables, desired, desired, desired)
    current = None
    if not embedded:
        modules = history.modules(cfg, spec.migrations_dir)
        current = migrations.current(conn)
        ctx.head_revision = str(modules[-1].revision) if modules else None
        ctx.reference, ctx.head, revision_findings = history.revision_states(spec, modules, current)
        findings += revision_findings
    ctx.live = live_triggers(conn)
    for table, column in conn.execute(ALL_COLUMNS):
        ctx.columns.setdefault(str(table), set()).add(str(column).lower())
    findings += trigger_findings(ctx)
    findings += safety.context_findings(ctx.live.values())
    findings += safety.packet_findings(ctx.live.values(), introspect.max_allowed_packet(conn))
    events_table, events_sql = ctx.reference.events_table or _events_table(desired)
    findings += events_table_findings(conn, events_table, events_sql)
    support = ctx.reference.support if ctx.reference.events_table else desired.support
    for table, sql in support.items():
        kind, missing = SUPPORT_ROLES[_role(table)]
        findings += table_findings(conn, table, sql, kind, missing)
    findings += fk_cascade_findings(conn, spec)
    findings += truncate_findings(conn, [t.name for t in spec.tables])
    findings += unrecorded_findings(conn, spec, ctx.live)
    if not embedded:
        findings += history.unrevised_findings(ctx)
    conn.commit()
    elapsed = (time.monotonic() - started) * 1000
    return Report(database, ctx.mode, current, ctx.head_revision, tuple(findings), elapsed)


def _role(table: str) -> str:
    if identifiers.is_captures_table(table):
        return "captures"
    return "dead_letters" if table.endswith("dead_letters") else "delivered"


def _events_table(state: revisions.State) -> tuple[str, str]:
    assert state.events_table is not None, "a desired state always has an events table"
    return state.events_table
