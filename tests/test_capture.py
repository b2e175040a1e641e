"""Triggers on the live MariaDB: one event per committed row change, none for rollbacks."""

from __future__ import annotations

import uuid

import pytest

from outbox_triggers import commands
from outbox_triggers.errors import MigrationError, SchemaMismatchError

from .conftest import ORDERS, Project

pytestmark = pytest.mark.integration


def test_insert_update_delete_each_emit_exactly_one_event(orders: Project) -> None:
    orders.sql("INSERT INTO orders (total, note, secret) VALUES (12.50, 'first', 'hunter2')")
    orders.sql("UPDATE orders SET status = 'paid' WHERE id = 1")
    orders.sql("DELETE FROM orders WHERE id = 1")

    insert, update, delete = orders.events()
    row = {"id": 1, "status": "new", "total": "12.50", "note": "first"}
    assert (insert["op"], insert["table"], insert["key"]) == ("insert", "orders", {"id": 1})
    assert insert["before"] is None and insert["after"] == row
    assert update["op"] == "update" and update["key"] == {"id": 1}
    assert update["before"] == row and update["after"] == {**row, "status": "paid"}
    assert delete["op"] == "delete" and delete["key"] == {"id": 1}
    assert delete["before"] == {**row, "status": "paid"} and delete["after"] is None


def test_event_envelope_fields(orders: Project) -> None:
    orders.sql("INSERT INTO orders (total) VALUES (1), (2)")
    first, second = orders.events()
    assert set(first) == {
        "id",
        "table",
        "op",
        "event_type",
        "aggregate_type",
        "aggregate_id",
        "key",
        "before",
        "after",
        "ts",
        "version",
    }
    assert (first["event_type"], first["aggregate_type"], first["aggregate_id"]) == ("insert", "orders", 1)
    assert uuid.UUID(first["id"]) != uuid.UUID(second["id"])
    assert first["ts"].endswith("Z") and len(first["ts"]) == len("2024-01-02T03:04:05.123456Z")


def test_rolled_back_transaction_leaves_no_event(orders: Project) -> None:
    orders.sql("INSERT INTO orders (total) VALUES (1)")
    orders.sql(
        "INSERT INTO orders (total) VALUES (2)",
        "UPDATE orders SET total = 3 WHERE id = 1",
        "DELETE FROM orders WHERE id = 1",
        commit=False,
    )
    assert [e["op"] for e in orders.events()] == ["insert"]


def test_multi_row_statement_emits_one_event_per_row(orders: Project) -> None:
    orders.sql("INSERT INTO orders (total) VALUES (1), (2), (3)", "UPDATE orders SET status = 'x'")
    ops = [(e["op"], e["key"]["id"]) for e in orders.events()]
    assert ops == [("insert", 1), ("insert", 2), ("insert", 3), ("update", 1), ("update", 2), ("update", 3)]


def test_excluded_column_never_appears(orders: Project) -> None:
    orders.sql("INSERT INTO orders (total, secret) VALUES (1, 'pw')", "UPDATE orders SET secret = 'pw2'")
    for event in orders.events():
        for image in (event["before"], event["after"]):
            assert image is None or "secret" not in image


def test_operations_subset(project: Project) -> None:
    project.sql(ORDERS)
    project.write_spec(
        """\
        version: 1
        tables:
          orders: {operations: [insert, delete]}
        destinations:
          default: {type: sqs, queue_url: x}
        """
    )
    project.migrate()
    project.sql("INSERT INTO orders (total) VALUES (1)", "UPDATE orders SET total = 2", "DELETE FROM orders")
    assert [e["op"] for e in project.events()] == ["insert", "delete"]


def test_migrate_twice_is_a_no_op(orders: Project) -> None:
    created = (
        "SELECT GROUP_CONCAT(CONCAT(TRIGGER_NAME, '@', CREATED)) FROM information_schema.TRIGGERS "
        "WHERE TRIGGER_SCHEMA = DATABASE()"
    )
    before = orders.scalar(created)
    report = orders.migrate()
    assert report.before == report.after and report.wrote is None
    assert orders.scalar(created) == before


def test_missing_table_is_reported_before_any_ddl(project: Project) -> None:
    project.write_spec(
        "version: 1\ntables:\n  nope: {}\ndestinations:\n  default: {type: sqs, queue_url: x}\n"
    )
    with pytest.raises(SchemaMismatchError, match=r"tables\.nope: table 'nope' does not exist"):
        project.migrate()
    assert (
        project.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()") == 0
    )
    assert not (project.root / "outbox_migrations").exists() or not any(
        (project.root / "outbox_migrations").iterdir()
    )


def test_missing_excluded_column_is_reported(project: Project) -> None:
    project.sql(ORDERS)
    project.write_spec(
        "version: 1\ntables:\n  orders: {exclude_columns: [secret, pasword]}\n"
        "destinations:\n  default: {type: sqs, queue_url: x}\n"
    )
    with pytest.raises(
        SchemaMismatchError, match=r"tables\.orders\.exclude_columns\[1\]: .* no column 'pasword'"
    ):
        project.migrate()
    assert (
        project.scalar("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()")
        == 0
    )


def test_table_without_primary_key_is_refused(project: Project) -> None:
    project.sql("CREATE TABLE logs (msg TEXT)")
    project.write_spec(
        "version: 1\ntables:\n  logs: {}\ndestinations:\n  default: {type: sqs, queue_url: x}\n"
    )
    with pytest.raises(SchemaMismatchError, match="no primary key"):
        project.migrate()


def test_user_triggers_are_left_alone(project: Project) -> None:
    project.sql(
        ORDERS,
        "CREATE TABLE audit (n INT)",
        "CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW INSERT INTO audit VALUES (NEW.id)",
    )
    project.write_spec(ORDERS_SPEC_PLAIN)
    project.migrate()
    commands.downgrade(project.spec_path, "base", project.url)
    project.migrate()
    project.sql("INSERT INTO orders (total) VALUES (5)")
    assert project.scalar("SELECT COUNT(*) FROM audit") == 1
    assert len(project.events()) == 1


def test_spec_change_without_revision_is_refused_before_ddl(orders: Project) -> None:
    orders.write_spec(ORDERS_SPEC_PLAIN)
    with pytest.raises(MigrationError, match="outbox-triggers revision"):
        orders.migrate()
    orders.sql("INSERT INTO orders (total, secret) VALUES (1, 'pw')")
    assert "secret" not in orders.events()[0]["after"]


def test_revision_then_migrate_applies_the_change(orders: Project) -> None:
    orders.write_spec(ORDERS_SPEC_PLAIN)
    path = commands.revision(orders.spec_path, "capture secret too", orders.url)
    assert path is not None and path.exists()
    assert commands.revision(orders.spec_path, "again", orders.url) is None
    orders.migrate()
    orders.sql("INSERT INTO orders (total, secret) VALUES (1, 'pw')")
    assert orders.events()[0]["after"]["secret"] == "pw"


def test_downgrade_to_base_removes_triggers_and_empty_events_table(orders: Project) -> None:
    commands.downgrade(orders.spec_path, "base", orders.url)
    tables = orders.scalar(
        "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE()"
    )
    assert tables == "orders,outbox_triggers_version"
    assert (
        orders.scalar("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()")
        == 0
    )


def test_downgrade_refuses_to_drop_undelivered_events(orders: Project) -> None:
    orders.sql("INSERT INTO orders (total) VALUES (1)")
    with pytest.raises(MigrationError, match=r"'outbox_events' still holds 1 event.*nothing was changed"):
        commands.downgrade(orders.spec_path, "base", orders.url)
    orders.sql("INSERT INTO orders (total) VALUES (2)")
    assert len(orders.events()) == 2, "a refused downgrade leaves the triggers in place"
    commands.downgrade(orders.spec_path, "base", orders.url, force=True)
    assert (
        orders.scalar(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = 'outbox_events' "
            "AND TABLE_SCHEMA = DATABASE()"
        )
        == 0
    )


def test_awkward_names_are_quoted(project: Project) -> None:
    project.sql(
        "CREATE TABLE `order` (`key` INT PRIMARY KEY, `group` VARCHAR(10), "
        '`it\'s "odd"` INT, `back``tick` INT, `naïve col` INT)'
    )
    project.write_spec(
        "version: 1\ntables:\n  order: {}\ndestinations:\n  default: {type: sqs, queue_url: x}\n"
    )
    project.migrate()
    project.sql("INSERT INTO `order` VALUES (1, 'g', 2, 3, 4)")
    (event,) = project.events()
    assert event["table"] == "order" and event["key"] == {"key": 1}
    assert event["after"] == {"key": 1, "group": "g", 'it\'s "odd"': 2, "back`tick": 3, "naïve col": 4}


def test_render_prints_the_ddl_without_definer(orders: Project) -> None:
    ddl = commands.render(orders.spec_path, orders.url)
    assert "CREATE TABLE IF NOT EXISTS `outbox_events`" in ddl
    assert ddl.count("CREATE TRIGGER") == 3 and "DELIMITER $$" in ddl
    assert "DEFINER" not in ddl.upper()


ORDERS_SPEC_PLAIN = "version: 1\ntables:\n  orders: {}\ndestinations:\n  default: {type: sqs, queue_url: x}\n"
