"""The parts of check, repair, render --alembic and doctor that need no database."""

from __future__ import annotations

import pytest

from outbox_triggers import alembic_ops, doctor
from outbox_triggers.check.repair import repair_ops
from outbox_triggers.check.tables import events_shape, normalize_type
from outbox_triggers.check.trigger_text import (
    LiveTrigger,
    body,
    normalize,
    references,
    row_references,
    same_trigger,
)
from outbox_triggers.model import Capture, Column, Model
from outbox_triggers.ops import ReplaceTriggers
from outbox_triggers.render import FLAVORS, render
from outbox_triggers.revisions import State, desired

ID = Column("id", "integer", "int(11)")
NOTE = Column("note", "string", "text")
MODEL = Model("outbox_events", (Capture("orders", (ID, NOTE), (ID,), ("insert", "delete")),))


def state() -> State:
    return desired({f: render(MODEL, f) for f in FLAVORS})


def live_of(current: State, flavor: str = "mariadb", table: str | None = None) -> dict[str, LiveTrigger]:
    """What information_schema would report after installing ``current``."""
    out = {}
    for owner, triggers in current.triggers.items():
        for name, sql in triggers.items():
            text = sql if isinstance(sql, str) else sql[flavor]
            event = "INSERT" if "AFTER INSERT" in text else "DELETE"
            out[name] = LiveTrigger(name, table or owner, "AFTER", event, body(text))
    return out


def test_normalize_keeps_quoted_text_and_significant_space() -> None:
    assert normalize("  JSON_OBJECT(\n  'a  b' ,\tNEW.`c  d`  )  ;") == "JSON_OBJECT('a  b',NEW.`c  d`);"
    assert normalize("COUNT (x)") != normalize("COUNT(x)"), "space before ( changes the parse"
    assert normalize("'it''s  here'") == "'it''s  here'"
    assert normalize("SET @a = 'x'  --  y") == "SET @a = 'x' -- y"


def test_body_is_what_follows_for_each_row_outside_quotes() -> None:
    statement = (
        "CREATE TRIGGER `FOR EACH ROW` AFTER INSERT ON `t` FOR EACH ROW\n"
        "INSERT INTO x VALUES ('FOR EACH ROW')"
    )
    assert body(statement) == "INSERT INTO x VALUES ('FOR EACH ROW')"
    assert body("CREATE TRIGGER a AFTER INSERT ON t FOR EACH ROW FOLLOWS b SET @x = 1") == "SET @x = 1"


def test_rendered_triggers_compare_equal_to_their_stored_body() -> None:
    for trigger in render(MODEL, "mariadb").triggers:
        stored = body(trigger.sql)  # what MariaDB 10.11 stores in ACTION_STATEMENT, verified live
        event = trigger.operation.upper()
        assert same_trigger(LiveTrigger(trigger.name, "orders", "AFTER", event, stored), trigger.sql)
        assert not same_trigger(LiveTrigger(trigger.name, "orders", "BEFORE", event, stored), trigger.sql)


def test_references_and_row_references() -> None:
    text = "IF NEW.`note` <=> OLD.id AND 'NEW.`secret`' = NEW . `it``s` THEN SET @x = 1; END IF"
    assert row_references(text) == {"note", "id", "it`s"}
    assert references([text], "NOTE") and references([text], "it`s") and not references([text], "secret")


def test_events_shape_is_parsed_from_the_template() -> None:
    shape = events_shape(render(Model("outbox_events", ()), "mariadb").events_table_sql)
    seq = shape.columns[0]
    assert (seq.name, seq.type, seq.auto_increment, seq.nullable) == ("seq", "bigint unsigned", True, False)
    assert shape.primary_key == ("seq",) and shape.engine == "InnoDB"
    payload = next(c for c in shape.columns if c.name == "payload")
    assert (payload.type, payload.charset, payload.collation) == ("longtext", "utf8mb4", "utf8mb4_bin")
    assert normalize_type("BIGINT(20) UNSIGNED") == normalize_type("bigint unsigned")
    assert normalize_type("INTEGER") == "int" and normalize_type("varchar(64)") == "varchar(64)"


def test_repair_drops_orphans_before_reinstalling() -> None:
    reference = state()
    moved = live_of(reference, table="_orders_old")
    ops = repair_ops(reference, moved, "mariadb")
    assert [(op.table, bool(op.create)) for op in ops] == [("_orders_old", False), ("orders", True)]
    assert set(ops[0].drop) == set(moved) and ops[1].create == reference.triggers["orders"]
    assert repair_ops(reference, live_of(reference), "mariadb") == []


def test_alembic_source_is_python_that_holds_the_frozen_sql() -> None:
    wanted = state()
    code = alembic_ops.source(wanted, {}, existing=(), flavor="mariadb")
    calls: list[tuple[str, tuple[object, ...], dict[str, object]]] = []

    class Recorder:
        def __getattr__(self, name: str) -> object:
            return lambda *args, **kwargs: calls.append((name, args, kwargs))

    namespace: dict[str, object] = {"op": Recorder()}
    exec(compile(code, "<render --alembic>", "exec"), namespace)
    namespace["upgrade"]()  # type: ignore[operator]
    support = ["create_outbox_support_table"] * len(wanted.support)
    expected = ["create_outbox_events_table", *support, "record_outbox_captures", "install_outbox_triggers"]
    assert [c[0] for c in calls] == expected
    assert calls[-1][1] == ("orders", dict(wanted.triggers["orders"]))
    assert {c[1] for c in calls[1:-2]} == set(wanted.support.items())
    registry, records = calls[-2][1]
    assert registry == "outbox_events_captures" and records == [tuple(r) for r in wanted.captures.values()]
    calls.clear()
    namespace["downgrade"]()  # type: ignore[operator]
    drops = ["drop_outbox_support_table"] * len(wanted.support)
    assert [c[0] for c in calls] == ["drop_outbox_triggers", *drops, "drop_outbox_events_table"]
    assert set(calls[0][1][1]) == set(wanted.triggers["orders"])  # type: ignore[arg-type]


def test_alembic_source_restores_live_triggers_and_skips_matching_tables() -> None:
    wanted = state()
    existing = {"outbox_events", *wanted.support}
    assert "nothing to paste" in alembic_ops.source(wanted, live_of(wanted), existing, "mariadb")
    stale = {
        n: LiveTrigger(n, t.table, t.timing, t.event, "SET @old = 1") for n, t in live_of(wanted).items()
    }
    code = alembic_ops.source(wanted, stale, existing, "mariadb")
    assert code.count("op.install_outbox_triggers(") == 2 and "SET @old = 1" in code.split("def downgrade")[1]
    op = alembic_ops.InstallOutboxTriggersOp("orders", {"a": "CREATE TRIGGER a"}, replaces=("b",))
    assert op.to_op() == ReplaceTriggers("orders", ("b", "a"), {"a": "CREATE TRIGGER a"})


# --- doctor's judgements ---------------------------------------------------------------------------


def facts(**changes: object) -> doctor.Facts:
    grants, _ = doctor.parse_grants(["GRANT ALL PRIVILEGES ON `shop`.* TO `m`@`%`"])
    base = doctor.Facts(
        version="8.0.36",
        flavor="mysql",
        aurora=None,
        log_bin=False,
        trust_function_creators=False,
        binlog_format="ROW",
        sql_mode=frozenset({"STRICT_TRANS_TABLES", "NO_ZERO_DATE"}),
        user="m@%",
        database="shop",
        grants=tuple(grants),
    )
    import dataclasses

    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_parse_grants_handles_patterns_columns_roles_and_routines() -> None:
    grants, roles = doctor.parse_grants(
        [
            "GRANT USAGE ON *.* TO `m`@`%` IDENTIFIED BY PASSWORD '*ABC'",
            "GRANT SELECT, TRIGGER ON `shop\\_eu%`.* TO `m`@`%`",
            "GRANT SELECT (`a`, `b`), INSERT, DELETE ON `shop_eu1`.`outbox_events` TO `m`@`%`",
            "GRANT EXECUTE ON PROCEDURE `shop_eu1`.`p` TO `m`@`%`",
            "GRANT BACKUP_ADMIN,SUPER ON *.* TO `m`@`%`",
            "GRANT `app_rw`@`%` TO `m`@`%`",
        ]
    )
    eu1 = facts(grants=tuple(grants), roles=tuple(roles), database="shop_eu1")
    assert eu1.has("TRIGGER", "orders") and eu1.has("TRIGGER") and eu1.has("SELECT", "anything")
    assert facts(grants=tuple(grants), database="shop_eu_west").has("TRIGGER"), "% is a wildcard"
    assert not facts(grants=tuple(grants), database="shopXeu1").has("TRIGGER"), "\\_ is a literal _"
    assert eu1.has("INSERT", "outbox_events") and not eu1.has("INSERT", "orders")
    assert not eu1.has("UPDATE", "outbox_events"), "a column-level grant is not table-wide"
    assert eu1.has_global("SUPER") and not facts().has_global("SUPER"), "ALL ON shop.* is not SUPER"
    assert roles == ["`app_rw`@`%`"]
    assert not any("EXECUTE" in g.privileges for g in grants)


def test_privileges_lists_what_is_missing_with_the_grant() -> None:
    grants, _ = doctor.parse_grants(["GRANT SELECT ON `shop`.* TO `m`@`%`"])
    found = doctor.privileges(facts(grants=tuple(grants)), ["orders"], "outbox_events")
    assert [d.status for d in found] == ["fail", "warn"]
    assert "TRIGGER on 'orders'" in found[0].detail and "LOCK TABLES on the database" in found[0].detail
    assert (
        found[0].fix.startswith("GRANT LOCK TABLES, TRIGGER, CREATE, INSERT") and "TO 'm'@'%'" in found[0].fix
    )
    assert [d.status for d in doctor.privileges(facts(), ["orders"], "outbox_events")] == ["ok"]


@pytest.mark.parametrize(
    ("changes", "statuses"),
    [
        ({}, ["ok"]),
        ({"log_bin": True, "trust_function_creators": True}, ["ok"]),
        ({"log_bin": True}, ["fail"]),
        ({"log_bin": True, "binlog_format": "STATEMENT", "trust_function_creators": True}, ["ok", "warn"]),
    ],
)
def test_binlog(changes: dict[str, object], statuses: list[str]) -> None:
    found = doctor.binlog(facts(**changes))
    assert [d.status for d in found] == statuses
    if "fail" in statuses:
        assert "error 1419" in found[0].detail and "DB cluster parameter group" in found[0].fix


def test_binlog_with_super_works_but_warns() -> None:
    grants, _ = doctor.parse_grants(["GRANT SUPER ON *.* TO `m`@`%`"])
    (found,) = doctor.binlog(facts(log_bin=True, grants=tuple(grants)))
    assert found.status == "warn" and "only because it has SUPER" in found.detail


def test_versions_and_auto_increment() -> None:
    assert doctor.server(facts()).status == "ok"
    assert doctor.server(facts(version="5.7.12", aurora="2.11.2")).status == "warn"
    assert doctor.server(facts(version="5.6.40")).status == "fail"
    assert doctor.server(facts(version="10.2.3-MariaDB", flavor="mariadb")).status == "fail"
    assert doctor.auto_increment(facts()).status == "ok"
    assert doctor.auto_increment(facts(version="10.3.0-MariaDB", flavor="mariadb")).status == "ok"
    aurora2 = doctor.auto_increment(facts(version="5.7.12", aurora="2.11.2"))
    assert aurora2.status == "warn" and "UUID" in aurora2.detail and "never on seq" in aurora2.fix


def test_sql_mode_of_the_migrating_session_changes_nothing() -> None:
    for modes in ({"ORACLE", "STRICT_ALL_TABLES"}, {"PAD_CHAR_TO_FULL_LENGTH"}, {"ANSI_QUOTES"}, set()):
        (diagnosis,) = doctor.sql_mode(facts(sql_mode=frozenset(modes)))
        assert diagnosis.status == "ok" and "NO_ENGINE_SUBSTITUTION" in diagnosis.detail
    assert "zero dates" in doctor.sql_mode(facts(sql_mode=frozenset({"ANSI_QUOTES"})))[0].detail
