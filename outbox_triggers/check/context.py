"""What the drift checks share: each tracked table built against the live schema, and the states compared."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from outbox_triggers import introspect, model, revisions
from outbox_triggers import render as rendering
from outbox_triggers.check.findings import Finding
from outbox_triggers.check.trigger_text import LiveTrigger
from outbox_triggers.errors import SchemaMismatchError
from outbox_triggers.ops import TriggerSQL
from outbox_triggers.spec import Spec, TableSpec

_SPEC_FIX = "fix the spec or the table, then run `outbox-triggers revision`"


@dataclass(frozen=True)
class Table:
    """A tracked table that exists and fits the spec: its spec, live shape and desired triggers."""

    spec: TableSpec
    shape: model.TableShape
    desired: Mapping[str, TriggerSQL]
    packet: int = model.DEFAULT_PACKET

    def render(self, spec: Spec, without: Sequence[str] = ()) -> Mapping[str, TriggerSQL] | None:
        """The triggers this table renders to, leaving out the columns ``without``."""
        return render_table(spec, self.spec, self.shape, without, self.packet)


@dataclass
class Context:
    """Everything the trigger and revision comparisons share."""

    spec: Spec
    flavor: str
    mode: str
    tables: dict[str, Table]
    desired: revisions.State
    reference: revisions.State = dataclasses.field(default_factory=revisions.State)
    head: revisions.State = dataclasses.field(default_factory=revisions.State)
    head_revision: str | None = None
    live: dict[str, LiveTrigger] = dataclasses.field(default_factory=dict)
    columns: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    uncaptured: dict[str, list[str]] = dataclasses.field(default_factory=dict)


def build_tables(spec: Spec, conn: Connection) -> tuple[list[Finding], dict[str, Table]]:
    """Build each tracked table on its own, so one bad table does not hide the others."""
    shapes = introspect.shapes(conn, [t.name for t in spec.tables])
    packet = introspect.max_allowed_packet(conn)
    findings: list[Finding] = []
    tables: dict[str, Table] = {}
    for table in spec.tables:
        if table.name not in shapes:
            findings.append(
                Finding(
                    "missing_table",
                    table.name,
                    f"tracked table {table.name!r} does not exist (renamed or dropped?)",
                    f"restore the table, or remove tables.{table.name} from the spec and run `revision`",
                )
            )
            continue
        # cascading foreign keys are reported as fk_cascade findings, so they must not stop the build
        lenient = dataclasses.replace(table, acknowledge_fk_cascades=True)
        try:
            desired = render_table(spec, lenient, shapes[table.name], packet=packet)
        except SchemaMismatchError as exc:
            detail = str(exc).split("\n", 1)[-1].strip().replace("\n  ", "; ")
            findings.append(Finding("spec_mismatch", table.name, detail, _SPEC_FIX))
            continue
        findings += _condition_findings(conn, table)
        tables[table.name] = Table(lenient, shapes[table.name], desired or {}, packet)
    return findings, tables


def _condition_findings(conn: Connection, table: TableSpec) -> list[Finding]:
    """``when`` conditions the server no longer accepts (a column they name was dropped, say)."""
    return [
        Finding("spec_mismatch", table.name, f"tables.{table.name}.when ({op}): {problem}", _SPEC_FIX)
        for op, condition in table.when.items()
        if op in table.operations
        and (problem := introspect.condition_problem(conn, table.name, op, condition))
    ]


def render_table(
    spec: Spec,
    table: TableSpec,
    shape: model.TableShape,
    without: Sequence[str] = (),
    packet: int = model.DEFAULT_PACKET,
) -> Mapping[str, TriggerSQL] | None:
    """The triggers ``table`` renders to for every flavor, leaving out the columns ``without``.

    None when leaving them out is impossible: they are all the columns ``tables.<t>.columns`` lists.
    """
    narrowed = _without(table, without)
    if narrowed is None:
        return None
    capture = model.build(dataclasses.replace(spec, tables=(narrowed,)), {table.name: shape}, packet)
    state = revisions.desired({f: rendering.render(capture, f) for f in rendering.FLAVORS})
    return state.triggers.get(table.name, {})


def _without(table: TableSpec, columns: Sequence[str]) -> TableSpec | None:
    if not columns:
        return table
    if not table.columns:
        return dataclasses.replace(table, exclude_columns=(*table.exclude_columns, *columns))
    kept = tuple(c for c in table.columns if c not in columns)
    return dataclasses.replace(table, columns=kept) if kept else None


def desired_state(spec: Spec, tables: Mapping[str, Table]) -> revisions.State:
    """The tables the toolkit creates, as rendered now, and each buildable table's triggers."""
    no_captures = model.Model(spec.events_table, ())
    tables_only = revisions.desired({f: rendering.render(no_captures, f) for f in rendering.FLAVORS})
    return dataclasses.replace(tables_only, triggers={name: t.desired for name, t in tables.items()})
