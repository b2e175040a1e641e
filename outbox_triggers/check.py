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
  revision history and the database or the spec have drifted apart.

The expected trigger bodies always come from revisions or from rendering,
never from text written here, so template changes need no change in this file.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from sqlalchemy.engine import Connection

from outbox_triggers import identifiers, introspect, migrations, model, revisions
from outbox_triggers import render as rendering
from outbox_triggers.errors import MigrationError, SchemaMismatchError
from outbox_triggers.ops import ReplaceTriggers, TriggerSQL, for_flavor
from outbox_triggers.spec import Spec, TableSpec

STANDALONE = "standalone"
EMBEDDED = "embedded"
_CASCADING = ("CASCADE", "SET NULL", "SET DEFAULT")
_TRIGGERS = sa.text(
    "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT "
    "FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY TRIGGER_NAME"
)
_EVENTS_COLUMNS = sa.text(
    "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, CHARACTER_SET_NAME, COLLATION_NAME, EXTRA, COLUMN_DEFAULT "
    "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t "
    "ORDER BY ORDINAL_POSITION"
)
_EVENTS_TABLE = sa.text(
    "SELECT ENGINE, TABLE_COLLATION FROM information_schema.TABLES "
    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"
)
_PRIMARY_KEY = sa.text(
    "SELECT COLUMN_NAME FROM information_schema.STATISTICS "
    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX"
)
_FK_CASCADES = sa.text(
    "SELECT rc.CONSTRAINT_NAME, rc.TABLE_NAME, rc.REFERENCED_TABLE_NAME, rc.DELETE_RULE, rc.UPDATE_RULE, "
    "kcu.COLUMN_NAME, kcu.REFERENCED_COLUMN_NAME "
    "FROM information_schema.REFERENTIAL_CONSTRAINTS rc "
    "JOIN information_schema.KEY_COLUMN_USAGE kcu ON kcu.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA "
    "AND kcu.CONSTRAINT_NAME = rc.CONSTRAINT_NAME AND kcu.TABLE_NAME = rc.TABLE_NAME "
    "WHERE rc.CONSTRAINT_SCHEMA = DATABASE() AND (rc.DELETE_RULE IN :rules OR rc.UPDATE_RULE IN :rules) "
    "ORDER BY rc.TABLE_NAME, rc.CONSTRAINT_NAME, kcu.ORDINAL_POSITION"
).bindparams(sa.bindparam("rules", expanding=True))
_QUOTED = re.compile(r"""'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|`(?:[^`]|``)*`""", re.DOTALL)
_PUNCTUATION_SPACE = re.compile(r"(?<=\() | (?=\))| ?(,) ?| (?=;)")
_ROW_CLAUSE = re.compile(r"\bFOR\s+EACH\s+ROW\s+(?:(?:FOLLOWS|PRECEDES)\s+\S+\s+)?", re.IGNORECASE)
_TIMING_EVENT = re.compile(r"\b(BEFORE|AFTER)\s+(INSERT|UPDATE|DELETE)\s+ON\b", re.IGNORECASE)
_INT_WIDTH = re.compile(r"^(tinyint|smallint|mediumint|int|integer|bigint)\(\d+\)")
_COLUMN_LINE = re.compile(r"^\s*(`(?:[^`]|``)+`)\s+(.*?),?\s*$")
_COLUMN_ATTRIBUTE = re.compile(
    r"\s+(?:CHARACTER\s+SET|CHARSET|COLLATE|NOT\s+NULL|NULL|DEFAULT|AUTO_INCREMENT|COMMENT|GENERATED|"
    r"PRIMARY|UNIQUE|INVISIBLE|ON\s+UPDATE)\b",
    re.IGNORECASE,
)
_ROW_REFERENCE = re.compile(r"\b(?:NEW|OLD)\s*\.\s*(`(?:[^`]|``)+`|[A-Za-z0-9_$]+)", re.IGNORECASE)
_ALL_COLUMNS = sa.text(
    "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
)
_SPEC_FIX = "fix the spec or the table, then run `outbox-triggers revision`"
_CUT_OVER = re.compile(r"^_.*_(old|del|gho|ghc|new)$")


@dataclass(frozen=True)
class Finding:
    """One disagreement between the spec, the revisions and the database."""

    kind: str
    table: str | None
    detail: str
    hint: str
    column: str | None = None
    trigger: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """The finding as a JSON-ready mapping."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Report:
    """The outcome of ``check``: every finding, and where the database stands."""

    database: str
    mode: str
    current: str | None
    head: str | None
    findings: tuple[Finding, ...]
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing disagrees."""
        return not self.findings

    def as_json(self) -> str:
        """The report as one JSON object (``--format json``)."""
        return json.dumps(
            {
                "ok": self.ok,
                "database": self.database,
                "mode": self.mode,
                "revision": {"current": self.current, "head": self.head},
                "findings": [f.as_dict() for f in self.findings],
                "elapsed_ms": round(self.elapsed_ms, 1),
            },
            indent=2,
            ensure_ascii=False,
        )

    def as_text(self) -> str:
        """The report for a person: a summary line, then each finding with its fix."""
        where = f"database {self.database!r}"
        if self.mode == STANDALONE:
            where += f" (revision {self.current or 'base'}, newest {self.head or 'none'})"
        if self.ok:
            return f"check: ok: the spec, the revisions and {where} agree"
        lines = [f"check: {len(self.findings)} finding(s) in {where}"]
        for f in self.findings:
            lines.append(f"- [{f.kind}] {f.detail}")
            lines.append(f"    fix: {f.hint}")
        return "\n".join(lines)


@dataclass(frozen=True)
class LiveTrigger:
    """A trigger as ``information_schema.TRIGGERS`` describes it."""

    name: str
    table: str
    timing: str
    event: str
    body: str

    def statement(self) -> str:
        """The CREATE TRIGGER statement that re-creates this trigger (no DEFINER)."""
        head = f"CREATE TRIGGER {identifiers.quote(self.name)} {self.timing} {self.event} ON "
        return f"{head}{identifiers.quote(self.table)} FOR EACH ROW\n{self.body}"


def live_triggers(conn: Connection) -> dict[str, LiveTrigger]:
    """The toolkit's triggers in the connection's database, by name."""
    found = {}
    for name, table, timing, event, statement in conn.execute(_TRIGGERS):
        if identifiers.is_toolkit_trigger(str(name)):
            found[str(name)] = LiveTrigger(str(name), str(table), str(timing), str(event), str(statement))
    return found


def _segments(sql: str) -> list[tuple[bool, str]]:
    """Split SQL into (quoted, text) runs; quoted runs are literals or quoted identifiers."""
    out: list[tuple[bool, str]] = []
    position = 0
    for match in _QUOTED.finditer(sql):
        out += [(False, sql[position : match.start()]), (True, match.group(0))]
        position = match.end()
    return [*out, (False, sql[position:])]


def normalize(sql: str) -> str:
    """``sql`` with insignificant whitespace outside quotes removed; quoted text is kept exactly.

    Runs become one space, and the space after ``(``, before ``)``, around
    ``,`` and before ``;`` goes. Space before ``(`` stays: without
    IGNORE_SPACE, ``COUNT (x)`` is not the function call ``COUNT(x)``.
    """
    return "".join(text if quoted else _squeeze(text) for quoted, text in _segments(sql)).strip()


def _squeeze(text: str) -> str:
    return _PUNCTUATION_SPACE.sub(r"\1", re.sub(r"\s+", " ", text))


def body(statement: str) -> str:
    """The body of a CREATE TRIGGER statement: what follows ``FOR EACH ROW`` and any order clause."""
    segments = _segments(statement)
    for i, (quoted, text) in enumerate(segments):
        match = None if quoted else _ROW_CLAUSE.search(text)
        if match:
            return text[match.end() :] + "".join(t for _, t in segments[i + 1 :])
    return statement


def same_trigger(live: LiveTrigger, statement: str) -> bool:
    """True when ``live`` is what ``statement`` creates: same timing, event and body (modulo whitespace)."""
    header = statement[: len(statement) - len(body(statement))]
    match = _TIMING_EVENT.search(header)
    if match and (match.group(1).upper(), match.group(2).upper()) != (
        live.timing.upper(),
        live.event.upper(),
    ):
        return False
    return normalize(live.body) == normalize(body(statement))


def row_references(statement: str) -> set[str]:
    """The columns a trigger body reads as ``NEW.col`` / ``OLD.col`` (string literals ignored)."""
    code = "".join("''" if quoted and text[0] in "'\"" else text for quoted, text in _segments(statement))
    return {_unquote(m.group(1)) for m in _ROW_REFERENCE.finditer(code)}


def references(statements: Iterable[str], column: str) -> bool:
    """True when a trigger body reads ``column`` of its row (names compare case-insensitively)."""
    return any(column.lower() in {c.lower() for c in row_references(s)} for s in statements)


# --- the events table's shape, parsed from the SQL that creates it -------------------------------


@dataclass(frozen=True)
class ColumnShape:
    """One column of the events table as its CREATE TABLE declares it."""

    name: str
    type: str
    nullable: bool
    auto_increment: bool
    charset: str | None
    collation: str | None
    definition: str


@dataclass(frozen=True)
class EventsShape:
    """The events table as its CREATE TABLE declares it: the single source of its expected shape."""

    columns: tuple[ColumnShape, ...]
    primary_key: tuple[str, ...]
    engine: str | None


def events_shape(create_sql: str) -> EventsShape:
    """Parse the rendered ``events_table.sql.j2`` into columns, primary key and engine."""
    columns = []
    primary_key: tuple[str, ...] = ()
    for line in create_sql.splitlines():
        pk = re.match(r"^\s*PRIMARY\s+KEY\s*\((.*)\)", line, re.IGNORECASE)
        if pk:
            primary_key = tuple(_unquote(p.strip()) for p in pk.group(1).split(","))
            continue
        match = _COLUMN_LINE.match(line)
        if match:
            columns.append(_column_shape(_unquote(match.group(1)), match.group(2)))
    engine = re.search(r"\bENGINE\s*=\s*(\w+)", create_sql, re.IGNORECASE)
    return EventsShape(tuple(columns), primary_key, engine.group(1) if engine else None)


def _column_shape(name: str, rest: str) -> ColumnShape:
    attribute = _COLUMN_ATTRIBUTE.search(" " + rest)
    sql_type = (" " + rest)[: attribute.start()] if attribute else rest
    charset = re.search(r"\b(?:CHARACTER\s+SET|CHARSET)\s+(\w+)", rest, re.IGNORECASE)
    collation = re.search(r"\bCOLLATE\s+(\w+)", rest, re.IGNORECASE)
    return ColumnShape(
        name=name,
        type=normalize_type(sql_type),
        nullable=re.search(r"\bNOT\s+NULL\b", rest, re.IGNORECASE) is None,
        auto_increment=re.search(r"\bAUTO_INCREMENT\b", rest, re.IGNORECASE) is not None,
        charset=charset.group(1).lower() if charset else None,
        collation=collation.group(1).lower() if collation else None,
        definition=f"{identifiers.quote(name)} {rest}",
    )


def _unquote(name: str) -> str:
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def normalize_type(sql_type: str) -> str:
    """A column type in one spelling: lower case, single spaces, no integer display width."""
    text = re.sub(r"\s+", " ", sql_type.strip().lower())
    return _INT_WIDTH.sub(r"\1", text).replace("integer", "int")


def events_table_findings(conn: Connection, table: str, create_sql: str) -> list[Finding]:
    """How the live events table differs from what ``create_sql`` creates."""
    return table_findings(conn, table, create_sql, "events_table", "the triggers fail every write")


_SUPPORT_ROLES = {
    "dead_letters": ("dead_letters_table", "the relay cannot set aside events no destination accepts"),
    "delivered": ("delivered_table", "relay.retention: keep cannot archive delivered events"),
}


def table_findings(conn: Connection, table: str, create_sql: str, kind: str, missing: str) -> list[Finding]:
    """How a table the toolkit creates differs from ``create_sql``; ``missing``: what its absence breaks."""
    info = conn.execute(_EVENTS_TABLE, {"t": table}).first()
    label = kind.replace("_", " ")
    if info is None:
        return [
            Finding(
                f"{kind}_missing",
                table,
                f"{label} {table!r} does not exist: {missing}",
                "run `outbox-triggers migrate` (or, embedded, the service revision that creates it)",
            )
        ]
    expected = events_shape(create_sql)
    live = {str(r[0]): tuple(r) for r in conn.execute(_EVENTS_COLUMNS, {"t": table})}
    pk = tuple(str(r[0]) for r in conn.execute(_PRIMARY_KEY, {"t": table}))
    problems = [p for c in expected.columns for p in _column_problems(table, c, live.get(c.name))]
    problems += _extra_columns(table, expected, live)
    quoted = identifiers.quote(table)
    if expected.primary_key and pk != expected.primary_key:
        problems.append(
            (
                f"primary key is ({', '.join(pk) or 'none'}), expected ({', '.join(expected.primary_key)})",
                "recreate the table from `outbox-triggers render` once the relay has drained it",
            )
        )
    if expected.engine and str(info[0] or "").lower() != expected.engine.lower():
        problems.append(
            (
                f"engine is {info[0]}, expected {expected.engine}: events of rolled-back transactions "
                "would survive and the relay's ordering would break",
                f"ALTER TABLE {quoted} ENGINE={expected.engine}",
            )
        )
    return [Finding(f"{kind}_shape", table, f"{label} {table!r}: {d}", h) for d, h in problems]


def _column_problems(table: str, want: ColumnShape, row: tuple[Any, ...] | None) -> list[tuple[str, str]]:
    alter = f"ALTER TABLE {identifiers.quote(table)}"
    if row is None:
        return [(f"column {want.name!r} is missing", f"{alter} ADD COLUMN {want.definition}")]
    _, column_type, nullable, charset, collation, extra, _ = row
    fix = f"{alter} MODIFY COLUMN {want.definition}"
    found = []
    if normalize_type(str(column_type)) != want.type:
        found.append(f"column {want.name!r} is {column_type}, expected {want.type}")
    if (str(nullable) == "YES") != want.nullable:
        found.append(f"column {want.name!r} is {'' if want.nullable else 'NOT '}expected to be NULL-able")
    if want.auto_increment and "auto_increment" not in str(extra).lower():
        found.append(f"column {want.name!r} is not AUTO_INCREMENT")
    if want.charset and str(charset or "").lower() != want.charset:
        found.append(f"column {want.name!r} has character set {charset}, expected {want.charset}")
    if want.collation and str(collation or "").lower() != want.collation:
        found.append(f"column {want.name!r} has collation {collation}, expected {want.collation}")
    return [(d, fix) for d in found]


def _extra_columns(
    table: str, expected: EventsShape, live: Mapping[str, tuple[Any, ...]]
) -> list[tuple[str, str]]:
    """Extra columns are harmless unless an INSERT that omits them would fail."""
    known = {c.name for c in expected.columns}
    return [
        (
            f"extra column {name!r} is NOT NULL without a default, so every trigger INSERT fails",
            f"ALTER TABLE {identifiers.quote(table)} DROP COLUMN {identifiers.quote(name)}",
        )
        for name, row in live.items()
        if name not in known and row[2] == "NO" and row[6] is None and "auto_increment" not in str(row[5])
    ]


# --- foreign keys -----------------------------------------------------------------------------------


_TRUNCATES = sa.text(
    "SELECT DIGEST_TEXT, COUNT_STAR, LAST_SEEN FROM performance_schema.events_statements_summary_by_digest "
    "WHERE SCHEMA_NAME = DATABASE() AND DIGEST_TEXT LIKE 'TRUNCATE%'"
)
_TRIGGERS_CREATED = sa.text(
    "SELECT MIN(CREATED) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() "
    "AND EVENT_OBJECT_TABLE = :t"
)
_TRUNCATED_TABLE = re.compile(
    r"TRUNCATE\s+(?:TABLE\s+)?(?:`(?:[^`]|``)*`\s*\.\s*)?`((?:[^`]|``)*)`", re.IGNORECASE
)


def truncate_findings(conn: Connection, tables: Sequence[str]) -> list[Finding]:
    """TRUNCATEs of tracked tables since their triggers went in, from performance_schema when it is on.

    TRUNCATE fires no trigger and leaves no other trace a trigger-based tool can
    read; the statement digest summary is the one place it shows.
    """
    if not conn.exec_driver_sql("SELECT @@performance_schema").scalar():
        return []
    findings = []
    for digest, count, last_seen in conn.execute(_TRUNCATES):
        match = _TRUNCATED_TABLE.search(str(digest))
        table = match.group(1).replace("``", "`") if match else None
        installed = conn.execute(_TRIGGERS_CREATED, {"t": table}).scalar() if table in tables else None
        if installed is not None and last_seen is not None and last_seen >= installed.replace(microsecond=0):
            detail = (
                f"TRUNCATE ran on {table!r} {count} time(s), last at {last_seen}, after its triggers were "
                "installed; TRUNCATE fires no trigger, so consumers never saw those rows go"
            )
            hint = (
                "re-sync consumers of this table; to prevent it, don't grant DROP on tracked tables to the "
                "application account (TRUNCATE needs DROP)"
            )
            findings.append(Finding("truncated", table, detail, hint))
    return findings


def fk_cascade_findings(conn: Connection, spec: Spec) -> list[Finding]:
    """Cascading foreign keys whose child is tracked and not acknowledged in the spec."""
    unacknowledged = {t.name for t in spec.tables if not t.acknowledge_fk_cascades}
    constraints: dict[tuple[str, str], list[Any]] = {}
    for row in conn.execute(_FK_CASCADES, {"rules": list(_CASCADING)}):
        name, child = str(row[0]), str(row[1])
        if child in unacknowledged:
            constraints.setdefault((child, name), []).append(row)
    return [_fk_finding(child, name, rows) for (child, name), rows in constraints.items()]


def _fk_finding(child: str, name: str, rows: Sequence[Any]) -> Finding:
    parent, delete_rule, update_rule = str(rows[0][2]), str(rows[0][3]), str(rows[0][4])
    columns = ", ".join(str(r[5]) for r in rows)
    parent_columns = ", ".join(str(r[6]) for r in rows)
    rules = [f"ON {what} {rule}" for what, rule in (("DELETE", delete_rule), ("UPDATE", update_rule))]
    cascading = " ".join(r for r in rules if r.split(" ", 2)[2] in _CASCADING)
    return Finding(
        "fk_cascade",
        child,
        f"{child}({columns}) references {parent}({parent_columns}) {cascading} (constraint {name!r}): "
        f"rows of {child!r} changed by the cascade fire no trigger, so they produce no events",
        f"change {child!r} with plain statements before touching {parent!r}, or set "
        f"tables.{child}.acknowledge_fk_cascades: true if consumers can live without those events",
    )


# --- the whole check ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    """A tracked table that exists and fits the spec: its spec, live shape and desired triggers."""

    spec: TableSpec
    shape: model.TableShape
    desired: Mapping[str, TriggerSQL]


@dataclass
class _Context:
    """Everything the trigger and revision comparisons share."""

    spec: Spec
    flavor: str
    mode: str
    tables: dict[str, _Table]
    desired: revisions.State
    reference: revisions.State = dataclasses.field(default_factory=revisions.State)
    head: revisions.State = dataclasses.field(default_factory=revisions.State)
    head_revision: str | None = None
    live: dict[str, LiveTrigger] = dataclasses.field(default_factory=dict)
    columns: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    uncaptured: dict[str, list[str]] = dataclasses.field(default_factory=dict)


def run(spec: Spec, conn: Connection, cfg: Config, flavor: str, embedded: bool = False) -> Report:
    """Compare ``spec``, the revisions under ``cfg`` and the database behind ``conn``."""
    started = time.monotonic()
    database = str(conn.exec_driver_sql("SELECT DATABASE()").scalar())
    findings, tables = _tables(spec, conn)
    desired = _desired_state(spec, tables)
    ctx = _Context(spec, flavor, EMBEDDED if embedded else STANDALONE, tables, desired, desired, desired)
    current = None
    if not embedded:
        modules = _modules(cfg, spec.migrations_dir)
        current = migrations.current(conn)
        ctx.head_revision = str(modules[-1].revision) if modules else None
        ctx.reference, ctx.head, revision_findings = _revision_states(spec, modules, current)
        findings += revision_findings
    ctx.live = live_triggers(conn)
    for table, column in conn.execute(_ALL_COLUMNS):
        ctx.columns.setdefault(str(table), set()).add(str(column).lower())
    findings += _trigger_findings(ctx)
    events_table, events_sql = ctx.reference.events_table or _events_table(desired)
    findings += events_table_findings(conn, events_table, events_sql)
    support = ctx.reference.support if ctx.reference.events_table else desired.support
    for table, sql in support.items():
        kind, missing = _SUPPORT_ROLES["dead_letters" if table.endswith("dead_letters") else "delivered"]
        findings += table_findings(conn, table, sql, kind, missing)
    findings += fk_cascade_findings(conn, spec)
    findings += truncate_findings(conn, [t.name for t in spec.tables])
    if not embedded:
        findings += _unrevised_findings(ctx)
    conn.commit()
    elapsed = (time.monotonic() - started) * 1000
    return Report(database, ctx.mode, current, ctx.head_revision, tuple(findings), elapsed)


def _events_table(state: revisions.State) -> tuple[str, str]:
    assert state.events_table is not None, "a desired state always has an events table"
    return state.events_table


def _modules(cfg: Config, versions_dir: Path) -> list[ModuleType]:
    return migrations.modules(cfg) if versions_dir.is_dir() else []


def _tables(spec: Spec, conn: Connection) -> tuple[list[Finding], dict[str, _Table]]:
    """Build each tracked table on its own, so one bad table does not hide the others."""
    shapes = introspect.shapes(conn, [t.name for t in spec.tables])
    findings: list[Finding] = []
    tables: dict[str, _Table] = {}
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
            desired = _render_table(spec, lenient, shapes[table.name])
        except SchemaMismatchError as exc:
            detail = str(exc).split("\n", 1)[-1].strip().replace("\n  ", "; ")
            findings.append(Finding("spec_mismatch", table.name, detail, _SPEC_FIX))
            continue
        findings += _condition_findings(conn, table)
        tables[table.name] = _Table(lenient, shapes[table.name], desired or {})
    return findings, tables


def _condition_findings(conn: Connection, table: TableSpec) -> list[Finding]:
    """``when`` conditions the server no longer accepts (a column they name was dropped, say)."""
    return [
        Finding("spec_mismatch", table.name, f"tables.{table.name}.when ({op}): {problem}", _SPEC_FIX)
        for op, condition in table.when.items()
        if op in table.operations
        and (problem := introspect.condition_problem(conn, table.name, op, condition))
    ]


def _render_table(
    spec: Spec, table: TableSpec, shape: model.TableShape, without: Sequence[str] = ()
) -> Mapping[str, TriggerSQL] | None:
    """The triggers ``table`` renders to for every flavor, leaving out the columns ``without``.

    None when leaving them out is impossible: they are all the columns ``tables.<t>.columns`` lists.
    """
    narrowed = _without(table, without)
    if narrowed is None:
        return None
    capture = model.build(dataclasses.replace(spec, tables=(narrowed,)), {table.name: shape})
    state = revisions.desired({f: rendering.render(capture, f) for f in rendering.FLAVORS})
    return state.triggers.get(table.name, {})


def _without(table: TableSpec, columns: Sequence[str]) -> TableSpec | None:
    if not columns:
        return table
    if not table.columns:
        return dataclasses.replace(table, exclude_columns=(*table.exclude_columns, *columns))
    kept = tuple(c for c in table.columns if c not in columns)
    return dataclasses.replace(table, columns=kept) if kept else None


def _desired_state(spec: Spec, tables: Mapping[str, _Table]) -> revisions.State:
    """The tables the toolkit creates, as rendered now, and each buildable table's triggers."""
    no_captures = model.Model(spec.events_table, ())
    tables_only = revisions.desired({f: rendering.render(no_captures, f) for f in rendering.FLAVORS})
    return dataclasses.replace(tables_only, triggers={name: t.desired for name, t in tables.items()})


def _revision_states(
    spec: Spec, modules: Sequence[ModuleType], current: str | None
) -> tuple[revisions.State, revisions.State, list[Finding]]:
    """The state at the database's revision, the head state, and what is wrong with the history."""
    head = revisions.head_state(modules)
    head_revision = str(modules[-1].revision) if modules else None
    ids = [str(m.revision) for m in modules]
    if not modules:
        hint = "run `outbox-triggers migrate`: it writes the first revision and applies it"
        where = spec.migrations_dir
        return revisions.State(), head, [Finding("no_revisions", None, f"no revision in {where}", hint)]
    if current is not None and current not in ids:
        detail = f"the database is at revision {current!r}, which is not in {spec.migrations_dir}"
        hint = "deploy the revisions that database was migrated with (pull the latest code), then check again"
        return head, head, [Finding("unknown_revision", None, detail, hint)]
    applied = ids.index(current) + 1 if current else 0
    reference = revisions.head_state(modules[:applied])
    if current == head_revision:
        return reference, head, []
    pending = ids[applied:]
    detail = f"the database is at {current or 'base'}; not applied yet: {', '.join(pending)}"
    return reference, head, [Finding("pending_revisions", None, detail, "run `outbox-triggers migrate`")]


def _resolved(triggers: Mapping[str, TriggerSQL], flavor: str) -> dict[str, str]:
    return {name: for_flavor(sql, flavor) for name, sql in triggers.items()}


def _trigger_findings(ctx: _Context) -> list[Finding]:
    findings: list[Finding] = []
    expected_tables = dict(ctx.reference.triggers)
    for name, table in ctx.tables.items():
        ctx.uncaptured[name] = _uncaptured(ctx, table)
        findings += [_uncaptured_finding(ctx, name, column) for column in ctx.uncaptured[name]]
        if ctx.mode == EMBEDDED and ctx.uncaptured[name]:
            narrowed = _render_table(ctx.spec, table.spec, table.shape, ctx.uncaptured[name])
            expected_tables[name] = table.desired if narrowed is None else narrowed
    expected: dict[str, tuple[str, str]] = {}
    for table_name, triggers in expected_tables.items():
        for trigger, sql in _resolved(triggers, ctx.flavor).items():
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


def _compare(ctx: _Context, trigger: str, table: str, sql: str) -> list[Finding]:
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


def _broken(ctx: _Context, live: LiveTrigger) -> Finding | None:
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


def _reinstall_hint(ctx: _Context) -> str:
    if ctx.mode == EMBEDDED:
        return "refresh the triggers in a service revision (`outbox-triggers render --alembic`)"
    return (
        "reinstall the applied revision's triggers with `outbox-triggers repair` "
        "(same frozen SQL, swapped under LOCK TABLES)"
    )


def _unexpected(ctx: _Context, live: LiveTrigger) -> Finding:
    source = "the spec renders" if ctx.mode == EMBEDDED else "the applied revision installs"
    return Finding(
        "unexpected_trigger",
        live.table,
        f"trigger {live.name} on {live.table!r} looks like the toolkit's but is not one {source}",
        _reinstall_hint(ctx) if ctx.mode == STANDALONE else f"DROP TRIGGER {identifiers.quote(live.name)}",
        trigger=live.name,
    )


def _orphaned(ctx: _Context, live: LiveTrigger, tracked: Iterable[str]) -> Finding:
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


def _uncaptured(ctx: _Context, table: _Table) -> list[str]:
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
        and _render_table(ctx.spec, table.spec, table.shape, [column.name]) != table.desired
    ]


def _uncaptured_finding(ctx: _Context, table: str, column: str) -> Finding:
    head = list(_resolved(ctx.head.triggers.get(table, {}), ctx.flavor).values())
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


def _exclude_hint(ctx: _Context, table: str, column: str) -> str:
    listed = ctx.tables[table].spec.columns
    option = (
        f"remove it from tables.{table}.columns" if listed else f"add it to tables.{table}.exclude_columns"
    )
    return f"; or, to keep it out of events, {option}"


def _unrevised_findings(ctx: _Context) -> list[Finding]:
    """Spec or schema changes that no revision holds yet."""
    if ctx.head_revision is None:
        return []
    hint = (
        "run `outbox-triggers revision -m '<what changed>'`, review the file, then `outbox-triggers migrate`"
    )
    findings = []
    for name in dict.fromkeys([*ctx.tables, *ctx.head.triggers]):
        detail = _unrevised_detail(ctx, name)
        if detail:
            findings.append(Finding("unrevised_change", name, detail, hint))
    support = [
        (
            f"{table} table",
            (table, ctx.desired.support.get(table, "")),
            (table, ctx.head.support.get(table, "")),
        )
        for table in ctx.desired.support
    ]
    for what, now, then in (("events table", ctx.desired.events_table, ctx.head.events_table), *support):
        if now != then and now is not None:
            detail = f"the {what} definition differs from revision {ctx.head_revision}"
            findings.append(Finding("unrevised_change", now[0], detail, hint))
    return findings


def _unrevised_detail(ctx: _Context, name: str) -> str | None:
    old, new = ctx.head.triggers.get(name, {}), ctx.desired.triggers.get(name)
    if new is None:
        if any(t.name == name for t in ctx.spec.tables):
            return None  # missing_table / spec_mismatch already say why
        return f"{name!r} is no longer in the spec, but revision {ctx.head_revision} still tracks it"
    if new == old or _explained_by_uncaptured(ctx, name, old):
        return None
    if not old:
        return f"{name!r} is in the spec, but no revision installs its triggers yet"
    return f"the triggers of {name!r} render differently from revision {ctx.head_revision}"


def _explained_by_uncaptured(ctx: _Context, name: str, head: Mapping[str, TriggerSQL]) -> bool:
    """True when the head revision is the spec minus columns already reported as uncaptured."""
    table, reported = ctx.tables[name], ctx.uncaptured.get(name, [])
    head_sql = list(_resolved(head, ctx.flavor).values())
    missing = [c for c in reported if not references(head_sql, c)]
    return bool(missing) and _render_table(ctx.spec, table.spec, table.shape, missing) == head


# --- repair: reinstall the applied revision's frozen triggers --------------------------------------


def applied_state(modules: Sequence[ModuleType], current: str | None, where: Path) -> revisions.State:
    """The state the database's revision installed; refuses a database with no or an unknown revision."""
    ids = [str(m.revision) for m in modules]
    if current is None:
        raise MigrationError("no revision is applied to this database yet: run `outbox-triggers migrate`")
    if current not in ids:
        raise MigrationError(
            f"the database is at revision {current!r}, which is not in {where}: deploy it first"
        )
    return revisions.head_state(modules[: ids.index(current) + 1])


def repair_ops(
    reference: revisions.State, live: Mapping[str, LiveTrigger], flavor: str
) -> list[ReplaceTriggers]:
    """The swaps that make the live triggers what ``reference`` holds, orphans dropped first.

    Toolkit triggers on a table where ``reference`` does not put them are
    dropped (each table under its own lock) before any trigger is created,
    since trigger names are unique per schema. Then every table whose
    triggers drifted gets the frozen statements again.
    """
    expected = {name: table for table, triggers in reference.triggers.items() for name in triggers}
    strays: dict[str, list[str]] = {}
    for trigger in live.values():
        if expected.get(trigger.name) != trigger.table:
            strays.setdefault(trigger.table, []).append(trigger.name)
    ops = [ReplaceTriggers(table, tuple(names), {}) for table, names in strays.items()]
    for table, triggers in reference.triggers.items():
        if any(_drifted(live.get(name), table, for_flavor(sql, flavor)) for name, sql in triggers.items()):
            ops.append(ReplaceTriggers(table, tuple(triggers), dict(triggers)))
    return ops


def _drifted(live: LiveTrigger | None, table: str, sql: str) -> bool:
    return live is None or live.table != table or not same_trigger(live, sql)
