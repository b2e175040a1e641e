"""Frozen revisions on paper: diff, fold and the source written into revision files."""

from __future__ import annotations

from outbox_triggers.ops import (
    CreateEventsTable,
    CreateSupportTable,
    DropEventsTable,
    RecordCaptures,
    ReplaceTriggers,
)
from outbox_triggers.revisions import State, desired, diff, fold, revision_id, source

EVENTS = ("outbox_events", "CREATE TABLE IF NOT EXISTS `outbox_events` (...)")
V1 = State(
    EVENTS, {"orders": {"outbox_ai_orders_1": "CREATE TRIGGER a", "outbox_ad_orders_1": "CREATE TRIGGER d"}}
)
V2 = State(
    EVENTS,
    {"orders": {"outbox_ai_orders_1": "CREATE TRIGGER a2"}, "items": {"outbox_ai_items_2": "CREATE X"}},
)


def test_first_revision_creates_events_table_then_triggers_and_downgrade_drops_both() -> None:
    up, down = diff(State(), V1)
    assert up == [CreateEventsTable(*EVENTS), ReplaceTriggers("orders", (), V1.triggers["orders"])]
    assert down == [
        ReplaceTriggers("orders", tuple(V1.triggers["orders"]), {}),
        DropEventsTable("outbox_events"),
    ]


def test_fold_of_upgrade_reaches_the_target_and_downgrade_returns() -> None:
    up, down = diff(V1, V2)
    assert fold(V1, up) == V2
    assert fold(V2, down) == V1


def test_unchanged_state_needs_no_revision() -> None:
    assert diff(V2, V2) == ([], [])


def test_replacement_drops_exactly_the_previous_triggers() -> None:
    up, _ = diff(V1, V2)
    orders = next(op for op in up if isinstance(op, ReplaceTriggers) and op.table == "orders")
    assert set(orders.drop) == {"outbox_ai_orders_1", "outbox_ad_orders_1"}
    assert dict(orders.create) == {"outbox_ai_orders_1": "CREATE TRIGGER a2"}


def test_source_reads_back_exactly_even_with_quotes_and_backslashes() -> None:
    tricky = 'CREATE TRIGGER `t` ... \'it\'\'s\' """ \\ "end"'
    ops = [
        CreateEventsTable("outbox_events", "CREATE TABLE x (\n  a INT\n)"),
        ReplaceTriggers("weird `name`", ("old",), {"new": tricky, "plain": "CREATE TRIGGER p\nFOR EACH ROW"}),
        DropEventsTable("outbox_events"),
    ]
    namespace = {
        "CreateEventsTable": CreateEventsTable,
        "ReplaceTriggers": ReplaceTriggers,
        "DropEventsTable": DropEventsTable,
    }
    assert eval(source(ops), namespace) == ops
    assert "CREATE TRIGGER p\nFOR EACH ROW" in source(ops), "plain SQL stays readable in the file"


def test_revision_ids_are_content_derived() -> None:
    up, _ = diff(State(), V1)
    assert revision_id(None, up) == revision_id(None, up)
    assert revision_id(None, up) != revision_id("abc", up)
    assert len(revision_id(None, up)) == 12


def test_flavors_share_one_statement_unless_they_differ() -> None:
    from outbox_triggers.model import Capture, Column, Model
    from outbox_triggers.render import FLAVORS, render

    plain = Capture("orders", (Column("id", "integer"),), (Column("id", "integer"),), ("insert",))
    with_json = Capture(
        "docs", (Column("id", "integer"), Column("doc", "json")), (Column("id", "integer"),), ("insert",)
    )
    model = Model("outbox_events", (plain, with_json))
    state = desired({f: render(model, f) for f in FLAVORS})
    (orders_sql,) = state.triggers["orders"].values()
    (docs_sql,) = state.triggers["docs"].values()
    assert isinstance(orders_sql, str)
    assert isinstance(docs_sql, dict) and set(docs_sql) == {"mariadb", "mysql"}
    up, _ = diff(State(), state)
    namespace = {
        "CreateEventsTable": CreateEventsTable,
        "CreateSupportTable": CreateSupportTable,
        "ReplaceTriggers": ReplaceTriggers,
        "RecordCaptures": RecordCaptures,
    }
    assert eval(source(up), namespace) == up
    assert CreateSupportTable("outbox_events_dead_letters", state.support["outbox_events_dead_letters"]) in up
    assert "outbox_events_delivered" in state.support


def test_capture_records_come_before_the_triggers_that_write_their_version_and_fold_per_table() -> None:
    from outbox_triggers.model import Capture, Column, Model
    from outbox_triggers.render import FLAVORS, render

    orders = Capture(
        "orders", (Column("id", "integer", "int(11)"),), (Column("id", "integer", "int(11)"),), ("insert",)
    )
    wider = Capture(
        "orders",
        (Column("id", "integer", "bigint(20)"),),
        (Column("id", "integer", "bigint(20)"),),
        ("insert",),
    )
    first = desired({f: render(Model("outbox_events", (orders,)), f) for f in FLAVORS})
    up, down = diff(State(), first)
    kinds = [type(op).__name__ for op in up]
    assert kinds.index("RecordCaptures") < kinds.index("ReplaceTriggers")
    (recorded,) = [op for op in up if isinstance(op, RecordCaptures)]
    assert recorded.table == "outbox_events_captures" and recorded.records[0][:2] == (
        orders.version,
        "orders",
    )
    assert not any(isinstance(op, RecordCaptures) for op in down), "a downgrade keeps the records"
    assert fold(State(), up) == first
    second = desired({f: render(Model("outbox_events", (wider,)), f) for f in FLAVORS})
    again, _ = diff(first, second)
    (newer,) = [op for op in again if isinstance(op, RecordCaptures)]
    assert newer.records[0][0] == wider.version != orders.version
    assert diff(second, second) == ([], [])
