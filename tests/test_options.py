"""Per-table capture options and the session bypass, on the live MariaDB."""

from __future__ import annotations

import pytest

from outbox_triggers.errors import SchemaMismatchError, SpecError

from .conftest import Project

pytestmark = pytest.mark.integration
DESTINATIONS = "destinations:\n  default: {type: sqs, queue_url: x}\n"

ITEMS = (
    "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20) COLLATE utf8mb4_general_ci NOT NULL, "
    "qty INT NOT NULL DEFAULT 0, price DECIMAL(8,2) NOT NULL DEFAULT 0, "
    "updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), note TEXT NULL)"
)


def track(project: Project, options: str = "{}", table: str = ITEMS, name: str = "items") -> Project:
    project.sql(table)
    project.write_spec(
        f"version: 1\ntables:\n  {name}: {options}\ndestinations:\n  default: {{type: sqs, queue_url: x}}\n"
    )
    project.migrate()
    return project


def test_columns_include_list_keeps_only_those_columns(project: Project) -> None:
    track(project, "{columns: [name, qty]}")
    project.sql("INSERT INTO items (id, name, qty) VALUES (1, 'a', 2)")
    (event,) = project.events()
    assert event["after"] == {"name": "a", "qty": 2} and event["key"] == {"id": 1}


def test_columns_and_exclude_columns_together_are_refused() -> None:
    from outbox_triggers import spec

    with pytest.raises(SpecError, match=r"tables\.items: give either columns or exclude_columns, not both"):
        spec.parse("version: 1\ntables:\n  items: {columns: [a], exclude_columns: [b]}\ndestinations: {}\n")


def test_ignore_columns_alone_changing_emits_nothing(project: Project) -> None:
    track(project, "{ignore_columns: [updated_at]}")
    project.sql("INSERT INTO items (id, name) VALUES (1, 'a')")
    project.sql("UPDATE items SET updated_at = NOW(6) + INTERVAL 1 SECOND")
    project.sql("UPDATE items SET qty = 5, updated_at = NOW(6) + INTERVAL 2 SECOND")
    ops = [(e["op"], (e["after"] or {}).get("qty")) for e in project.events()]
    assert ops == [("insert", 0), ("update", 5)]
    assert "updated_at" in project.events()[1]["after"], "ignored columns are still carried"


def test_noop_updates_are_skipped_by_default(project: Project) -> None:
    track(project)
    project.sql("INSERT INTO items (id, name) VALUES (1, 'a')", "UPDATE items SET name = 'a'")
    project.sql("INSERT INTO items (id, name) VALUES (1, 'a') ON DUPLICATE KEY UPDATE name = 'a'")
    assert [e["op"] for e in project.events()] == ["insert"]


def test_noop_updates_emit_when_asked(project: Project) -> None:
    track(project, "{skip_noop_updates: false}")
    project.sql("INSERT INTO items (id, name) VALUES (1, 'a')", "UPDATE items SET name = 'a'")
    assert [e["op"] for e in project.events()] == ["insert", "update"]


def test_case_and_trailing_space_changes_are_changes(project: Project) -> None:
    track(project)
    project.sql("INSERT INTO items (id, name) VALUES (1, 'abc')")
    project.sql("UPDATE items SET name = 'ABC'")
    project.sql("UPDATE items SET note = ''", "UPDATE items SET note = ' '")
    updates = [e["after"] for e in project.events() if e["op"] == "update"]
    assert [(u["name"], u["note"]) for u in updates] == [("ABC", None), ("ABC", ""), ("ABC", " ")]


def test_before_image_changed_keeps_only_changed_columns(project: Project) -> None:
    track(project, "{before_image: changed}")
    project.sql(
        "INSERT INTO items (id, name, qty) VALUES (1, 'a', 1)", "UPDATE items SET qty = 2, note = 'n'"
    )
    update = project.events()[1]
    assert update["before"] == {"qty": 1, "note": None}
    assert update["after"]["qty"] == 2 and update["after"]["name"] == "a"


def test_before_image_none(project: Project) -> None:
    track(project, "{before_image: none}")
    project.sql(
        "INSERT INTO items (id, name) VALUES (1, 'a')", "UPDATE items SET qty = 2", "DELETE FROM items"
    )
    _, update, delete = project.events()
    assert update["before"] is None and delete["before"]["qty"] == 2, "deletes keep their old row"


def test_when_condition_filters_row_changes(project: Project) -> None:
    track(project, '{when: "NEW.qty > 0", operations: [insert, update]}')
    project.sql(
        "INSERT INTO items (id, name, qty) VALUES (1, 'a', 0), (2, 'b', 3)", "UPDATE items SET qty = 9"
    )
    assert [(e["op"], e["key"]["id"]) for e in project.events()] == [
        ("insert", 2),
        ("update", 1),
        ("update", 2),
    ]


def test_when_per_operation(project: Project) -> None:
    track(project, '{when: {update: "OLD.price <> NEW.price", delete: "OLD.qty = 0"}}')
    project.sql("INSERT INTO items (id, name, qty) VALUES (1, 'a', 0), (2, 'b', 1)")
    project.sql("UPDATE items SET name = 'z'", "UPDATE items SET price = 1 WHERE id = 1", "DELETE FROM items")
    assert [(e["op"], e["key"]["id"]) for e in project.events()] == [
        ("insert", 1),
        ("insert", 2),
        ("update", 1),
        ("delete", 1),
    ]


def test_bad_when_is_refused_before_any_ddl(project: Project) -> None:
    project.sql(ITEMS)
    project.write_spec('version: 1\ntables:\n  items: {when: "NEW.nope > 1"}\n' + DESTINATIONS)
    with pytest.raises(
        SchemaMismatchError, match=r"tables\.items\.when \(insert\): the server rejects it: .*nope"
    ):
        project.migrate()
    assert (
        project.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()") == 1
    )


def test_when_naming_old_row_on_insert_is_refused(project: Project) -> None:
    project.sql(ITEMS)
    project.write_spec('version: 1\ntables:\n  items: {when: "OLD.qty > 1"}\n' + DESTINATIONS)
    with pytest.raises(SchemaMismatchError, match="an insert trigger has no OLD row"):
        project.migrate()


def test_event_types_and_aggregate_are_carried(project: Project) -> None:
    track(project, "{event_types: {insert: ItemCreated}, aggregate_type: Inventory, aggregate_id: name}")
    project.sql("INSERT INTO items (id, name) VALUES (1, 'widget')", "UPDATE items SET qty = 1")
    insert, update = project.events()
    assert (insert["event_type"], update["event_type"]) == ("ItemCreated", "update")
    assert insert["aggregate_type"] == "Inventory" and insert["aggregate_id"] == "widget"


def test_version_changes_with_the_column_set(project: Project) -> None:
    track(project)
    project.sql("INSERT INTO items (id, name) VALUES (1, 'a')")
    project.sql("ALTER TABLE items ADD COLUMN extra INT NULL")
    from outbox_triggers import commands

    commands.revision(project.spec_path, "capture extra", project.url)
    project.migrate()
    project.sql("INSERT INTO items (id, name) VALUES (2, 'b')")
    first, second = project.events()
    assert first["version"] != second["version"] and "extra" in second["after"]


def test_key_columns_for_a_table_without_primary_key(project: Project) -> None:
    table = (
        "CREATE TABLE legacy (code VARCHAR(10) NOT NULL, region CHAR(2) NOT NULL, v INT, "
        "UNIQUE KEY (code, region))"
    )
    track(project, "{key_columns: [code, region]}", table=table, name="legacy")
    project.sql("INSERT INTO legacy VALUES ('x', 'eu', 1)", "UPDATE legacy SET v = 2")
    insert, update = project.events()
    assert insert["key"] == {"code": "x", "region": "eu"} and update["key"] == insert["key"]
    assert insert["aggregate_id"] == {"code": "x", "region": "eu"}


@pytest.mark.parametrize(
    ("table", "options", "message"),
    [
        ("CREATE TABLE legacy (a INT, b INT)", "{}", "no primary key; name a UNIQUE key"),
        ("CREATE TABLE legacy (a INT NULL, UNIQUE KEY (a))", "{key_columns: [a]}", "allow NULL"),
        (
            "CREATE TABLE legacy (a INT NOT NULL, b INT NOT NULL, UNIQUE KEY (a))",
            "{key_columns: [b]}",
            "not exactly the columns of a UNIQUE index",
        ),
    ],
)
def test_tables_without_a_usable_key_are_refused(
    project: Project, table: str, options: str, message: str
) -> None:
    project.sql(table)
    project.write_spec(
        f"version: 1\ntables:\n  legacy: {options}\ndestinations:\n  default: {{type: sqs, queue_url: x}}\n"
    )
    with pytest.raises(SchemaMismatchError, match=message):
        project.migrate()


def test_session_bypass_suppresses_only_that_session(project: Project) -> None:
    track(project)
    with project.engine.connect() as quiet, project.engine.connect() as loud:
        quiet.exec_driver_sql("SET @outbox_capture = 0")
        quiet.exec_driver_sql("INSERT INTO items (id, name) VALUES (1, 'backfill')")
        loud.exec_driver_sql("INSERT INTO items (id, name) VALUES (2, 'normal')")
        for value in ("'yes'", "1", "NULL", "'0'"):
            quiet.exec_driver_sql(f"SET @outbox_capture = {value}")
            quiet.exec_driver_sql("UPDATE items SET qty = qty + 1 WHERE id = 1")
        quiet.commit()
        loud.commit()
    ids = [(e["op"], e["key"]["id"]) for e in project.events()]
    assert ids == [("insert", 2), ("update", 1), ("update", 1), ("update", 1)], (
        "'0' suppresses, others capture"
    )


def test_cascading_foreign_key_child_is_refused_unless_acknowledged(project: Project) -> None:
    project.sql(
        "CREATE TABLE parent (id INT PRIMARY KEY)",
        "CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, "
        "CONSTRAINT fk_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE)",
    )
    spec = "version: 1\ntables:\n  child: {OPTS}\ndestinations:\n  default: {type: sqs, queue_url: x}\n"
    project.write_spec(spec.replace("OPTS", ""))
    with pytest.raises(
        SchemaMismatchError,
        match=r"foreign key 'fk_parent' to 'parent' \(ON DELETE CASCADE\).*"
        r"acknowledge_fk_cascades: true",
    ):
        project.migrate()
    project.write_spec(spec.replace("OPTS", "acknowledge_fk_cascades: true"))
    project.migrate()
    project.sql("INSERT INTO parent VALUES (1)", "INSERT INTO child VALUES (10, 1)", "DELETE FROM parent")
    assert [e["op"] for e in project.events()] == ["insert"], (
        "the cascade delete emitted nothing, as documented"
    )
