"""Capture never breaks a write, and every event is publishable: a search of the schema space.

Each example generates a table (column kinds, character sets, collations, names,
generated columns, system versioning, partitioning) in a database with a generated
default charset, capture options, the session ``migrate`` runs in, and the session
the application writes in (sql_mode, time zone, character set). Every write runs on
the tracked table and on a twin without triggers:

- S1: the statement succeeds with the triggers exactly when it does without them,
  with the same error, and both tables end up holding the same rows;
- S2: every event is valid UTF-8 JSON within ``max_event_bytes``, and its images
  carry what a plain SELECT of the twin maps to under the README's type table
  (less the values listed under ``omitted``).

``HYPOTHESIS_PROFILE=deep`` searches much longer than the CI profile.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from typing import Any

import pymysql
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from outbox_triggers import commands, database, introspect, spec, toimpl
from outbox_triggers.identifiers import quote
from outbox_triggers.model import Capture, Column
from outbox_triggers.ops import ReplaceTriggers

from . import oracle
from .schemas import (
    DATABASE_CHARSETS,
    MIGRATING,
    NAMES,
    SESSIONS,
    CaptureOptions,
    Session,
    TableDef,
    Write,
    statements,
    table_def,
)
from .schemas import (
    options as capture_options,
)

pytestmark = pytest.mark.integration
RESERVED = {"id", "k0", "k2"}


class Scratch:
    """A database of its own for one generated example; every connection it opens is closed with it."""

    def __init__(self, server_url: str, charset: str) -> None:
        self.name = f"ot_prop_{secrets.token_hex(5)}"
        self.url = sa.engine.make_url(server_url)
        self.charset = charset
        self.opened: list[pymysql.Connection[Any]] = []

    def __enter__(self) -> Scratch:
        with oracle.connect(self.url, None) as admin, admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {self.name} CHARACTER SET {self.charset}")
        return self

    def __exit__(self, *exc: object) -> None:
        for conn in self.opened:
            with contextlib.suppress(pymysql.err.Error):  # already broken by the failure being reported
                conn.close()
        with oracle.connect(self.url, None) as admin, admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {self.name}")

    def session(self, setup: Session) -> pymysql.Connection[Any]:
        """A connection to the database, set up as ``setup`` says."""
        conn = oracle.connect(self.url, self.name)
        self.opened.append(conn)
        with conn.cursor() as cur:
            for statement in setup.statements():
                cur.execute(statement)
        return conn


UTC = Session("", "+00:00", "utf8mb4")


def install(db: Scratch, document: dict[str, Any], setup: Session) -> Capture:
    """What ``migrate`` installs, from a session set up as ``setup``: the events table and the triggers."""
    eng = database.engine(db.url.set(database=db.name).render_as_string(hide_password=False))
    try:
        with eng.connect() as conn:
            for statement in setup.statements():
                conn.exec_driver_sql(statement.replace("%", "%%"))
            plan = commands.plan(spec.parse(json.dumps(document)), conn)
            conn.exec_driver_sql(plan.rendered.events_table_sql)
            for capture in plan.model.captures:
                create = {t.name: t.sql for t in plan.rendered.for_table(capture.table)}
                toimpl.replace_triggers(conn, ReplaceTriggers(capture.table, (), create), plan.flavor)
            conn.commit()
            return plan.model.captures[0]
    finally:
        eng.dispose()


def outcome(conn: pymysql.Connection[Any], sql: bytes) -> int:
    """0 when ``sql`` succeeds, else its MySQL error code."""
    try:
        conn.query(sql)
        return 0
    except pymysql.err.MySQLError as exc:
        return int(exc.args[0])


def new_events(conn: pymysql.Connection[Any], after: int) -> list[tuple[int, bytes]]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT seq, CAST(payload AS BINARY) FROM outbox_events WHERE seq > %s ORDER BY seq", (after,)
        )
        return [(int(s), bytes(p)) for s, p in cur.fetchall()]


def parse(payload: bytes, limit: int) -> dict[str, Any]:
    """S2: valid UTF-8, strict JSON (no duplicate keys, no NaN), within the limit."""
    assert len(payload) <= limit, f"event of {len(payload)} bytes exceeds max_event_bytes {limit}"
    text = payload.decode("utf-8")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate keys in {text[:300]}"
        return dict(pairs)

    def no_constants(name: str) -> Any:
        raise AssertionError(f"{name} is not JSON")

    event: dict[str, Any] = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    return event


def check_events(
    capture: Capture,
    options: CaptureOptions,
    write: Write,
    events: list[dict[str, Any]],
    pre: dict[tuple[Any, ...], dict[str, Any]],
    post: dict[tuple[Any, ...], dict[str, Any]],
) -> None:
    """The events of one statement tell each key's story: from its row before to its row after."""
    key = [c.name for c in capture.key]
    auto = {c.name for c in capture.columns if c.auto_updated} | set(options.ignore)
    by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for event in events:
        assert event["table"] == capture.table and event["op"] in ("insert", "update", "delete")
        by_key.setdefault(tuple(event["key"][k] for k in key), []).append(event)
    for k in set(pre) | set(post):
        before, after, story = pre.get(k), post.get(k), by_key.get(k, [])
        changed = _differs(before, after, auto)
        if changed and not story:
            raise AssertionError(f"{write.sql[:200]}: key {k} changed {before} -> {after} but has no event")
        if not story:
            continue
        last = story[-1]
        if after is None:
            assert last["op"] == "delete", f"key {k}: row is gone but the last event is {last['op']}"
        else:
            skip = auto if not changed else set()
            expected = {c: v for c, v in after.items() if c not in skip}
            image = {c: v for c, v in (last["after"] or {}).items() if c not in skip}
            problem = oracle.image_matches(image, expected, (last.get("omitted") or {}).get("after"))
            assert problem is None, f"{write.sql[:200]}: key {k} after-image: {problem}"
        _check_before(options, story[0], before, after, k, write)


def _differs(before: dict[str, Any] | None, after: dict[str, Any] | None, auto: set[str]) -> bool:
    if before is None or after is None:
        return before is not after
    return any(before[c] != after[c] for c in before if c not in auto)


def _check_before(
    options: CaptureOptions,
    first: dict[str, Any],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    k: Any,
    write: Write,
) -> None:
    if first["op"] == "insert" or before is None:
        return
    omitted = (first.get("omitted") or {}).get("before")
    if first["op"] == "delete" or options.before_image == "full":
        problem = oracle.image_matches(first["before"], before, omitted)
    elif options.before_image == "changed" and after is not None:
        changed = {c: v for c, v in before.items() if after.get(c) != v}
        problem = oracle.image_matches(first["before"], changed, omitted)
    else:
        problem = None if first["before"] is None else "before_image none carries a before image"
    assert problem is None, f"{write.sql[:200]}: key {k} before-image: {problem}"


def run_example(
    server_url: str,
    table: TableDef,
    name: str,
    options: CaptureOptions,
    migrating: Session,
    writing: Session,
    charset: str,
    writes: list[Write],
) -> None:
    with Scratch(server_url, charset) as db:
        twin = "twin " + secrets.token_hex(2)
        with db.session(UTC).cursor() as cur:
            try:
                cur.execute(table.ddl(name))
            except pymysql.err.MySQLError:
                reject()  # a table the server refuses (duplicate ENUM members under its collation, say)
            cur.execute(f"CREATE TABLE {quote(twin)} LIKE {quote(name)}")
        destinations = {"default": {"type": "sqs", "queue_url": "x"}}
        capture = install(
            db, {"version": 1, "tables": options.spec(name), "destinations": destinations}, migrating
        )
        writer, reader = db.session(writing), db.session(UTC)
        seen = 0
        for write in writes:
            seen = run_write(capture, options, write, (writer, reader), (name, twin), seen, writing)


def run_write(
    capture: Capture,
    options: CaptureOptions,
    write: Write,
    sessions: tuple[Any, Any],
    tables: tuple[str, str],
    seen: int,
    writing: Session,
) -> int:
    """Run one write on the twin and on the tracked table, check S1 and S2; return the last seq seen."""
    (writer, reader), (name, twin) = sessions, tables
    columns: list[Column] = list(capture.columns)
    key = [c.name for c in capture.key]
    on_twin, on_table = (writing.encode(write.sql.replace("{t}", quote(t))) for t in (twin, name))
    if on_twin is None or on_table is None:
        return seen  # the application could not write this statement in its session's charset either
    pre = oracle.rows(reader, name, columns, key)
    without, with_triggers = outcome(writer, on_twin), outcome(writer, on_table)
    assert with_triggers == without, (
        f"S1: {write.sql[:300]} gave error {with_triggers} with triggers, {without} without"
    )
    post = oracle.rows(reader, name, columns, key)
    steady = [c for c in columns if not c.auto_updated]  # not set from the clock a moment apart
    same = oracle.rows(reader, twin, steady, key) == oracle.rows(reader, name, steady, key)
    assert same, f"S1: {write.sql[:300]} left the tables different"
    raw = new_events(reader, seen)
    events = [parse(payload, capture.max_event_bytes) for _, payload in raw]
    check_events(capture, options, write, events, pre, post)
    return raw[-1][0] if raw else seen


@st.composite
def examples(draw: st.DrawFn) -> tuple[Any, ...]:
    table = draw(table_def())
    name = draw(NAMES.filter(lambda n: n.lower() not in RESERVED and not n.lower().startswith("twin")))
    charset = draw(st.sampled_from(DATABASE_CHARSETS))
    return (
        table,
        name,
        draw(capture_options(table)),
        draw(MIGRATING),
        draw(SESSIONS),
        charset,
        draw(statements(table)),
    )


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(example=examples())
def test_no_write_fails_and_every_event_is_publishable(server_url: str, example: tuple[Any, ...]) -> None:
    run_example(server_url, *example)


def test_introspection_reads_what_the_generator_makes(server_url: str) -> None:
    """The generator and the model agree: a guard against a search that silently tests less."""
    with Scratch(server_url, "utf8mb4") as db:
        with db.session(UTC).cursor() as cur:
            cur.execute(
                "CREATE TABLE k (id INT PRIMARY KEY, a INET6, b UUID, "
                "c SET('x\\\\y', 'z''w'), d INT(4) ZEROFILL)"
            )
        eng = database.engine(db.url.set(database=db.name).render_as_string(hide_password=False))
        with eng.connect() as conn:
            shape = introspect.shape(conn, "k")
        eng.dispose()
    kinds = {c.name: (c.kind, c.members, c.zerofill, c.max_chars) for c in shape.columns}
    assert kinds["a"] == ("string", (), False, 39) and kinds["b"] == ("string", (), False, 36)
    assert kinds["c"][1] == ("x\\y", "z'w") and kinds["d"][2] is True
