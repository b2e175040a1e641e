"""``check`` and ``repair`` on the live MariaDB: drift between spec, revisions, triggers and tables."""

from __future__ import annotations

import contextlib
import json

import pytest

from outbox_triggers import commands, identifiers, trigger_session
from outbox_triggers.check import Report
from outbox_triggers.errors import EXIT_DRIFT, EXIT_OK

from .conftest import ORDERS, ORDERS_SPEC, Project
from .test_cli import run

pytestmark = pytest.mark.integration
SUPPORT = {
    identifiers.dead_letters_table("outbox_events"),
    identifiers.delivered_table("outbox_events"),
    identifiers.captures_table("outbox_events"),
}


def check(project: Project, embedded: bool = False) -> Report:
    return commands.check(project.spec_path, project.url, embedded=embedded)


def kinds(report: Report) -> list[tuple[str, str | None]]:
    """(kind, table) of each finding, sorted, leaving out those about the relay's support tables."""
    return sorted((f.kind, f.table) for f in report.findings if f.table not in SUPPORT)


def cli_check(project: Project, *args: str) -> tuple[int, str]:
    result = run("check", "--spec", str(project.spec_path), "--database-url", project.url, *args)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout


def test_in_sync_database_passes(orders: Project) -> None:
    report = check(orders)
    assert report.ok, report.as_text()
    assert report.current == report.head is not None
    assert cli_check(orders)[0] == EXIT_OK


def test_added_column_fails_until_revision_and_migrate(orders: Project) -> None:
    orders.sql("ALTER TABLE orders ADD COLUMN discount DECIMAL(5,2) NULL")

    code, out = cli_check(orders)
    assert code == EXIT_DRIFT
    assert "[uncaptured_column] column orders.discount" in out and "outbox-triggers revision" in out
    (finding,) = check(orders).findings
    assert (finding.kind, finding.table, finding.column) == ("uncaptured_column", "orders", "discount")

    assert commands.revision(orders.spec_path, "capture discount", orders.url) is not None
    pending = check(orders)
    assert kinds(pending) == [("pending_revisions", None), ("uncaptured_column", "orders")]
    assert "run `outbox-triggers migrate`" in pending.findings[1].hint

    orders.migrate()
    assert cli_check(orders)[0] == EXIT_OK
    orders.sql("INSERT INTO orders (total, discount) VALUES (1, 0.5)")
    assert orders.events()[0]["after"]["discount"] == "0.50"


def test_excluded_new_column_is_not_a_finding(orders: Project) -> None:
    orders.sql("ALTER TABLE orders ADD COLUMN discount DECIMAL(5,2) NULL")
    orders.write_spec(ORDERS_SPEC.replace("[secret]", "[secret, discount]"))
    assert check(orders).ok


def test_new_column_outside_an_include_list_is_not_a_finding(project: Project) -> None:
    project.sql(ORDERS)
    project.write_spec(ORDERS_SPEC.replace("exclude_columns: [secret]", "columns: [id, total]"))
    project.migrate()
    project.sql("ALTER TABLE orders ADD COLUMN discount DECIMAL(5,2) NULL")
    assert check(project).ok


def test_json_output_lists_findings_with_kind_table_detail(orders: Project) -> None:
    orders.sql("ALTER TABLE orders ADD COLUMN discount DECIMAL(5,2) NULL")
    code, out = cli_check(orders, "--format", "json")
    document = json.loads(out)
    assert code == EXIT_DRIFT and document["ok"] is False and document["mode"] == "standalone"
    (finding,) = document["findings"]
    assert finding["kind"] == "uncaptured_column" and finding["table"] == "orders"
    assert finding["column"] == "discount" and finding["detail"] and finding["hint"]
    assert json.loads(cli_check(orders, "--format", "json")[1])["revision"]["current"]


def test_spec_change_without_revision_is_unrevised(orders: Project) -> None:
    orders.write_spec(ORDERS_SPEC.replace("exclude_columns: [secret]", "exclude_columns: [secret, note]"))
    assert kinds(check(orders)) == [("unrevised_change", "orders")]


def test_no_revision_yet(project: Project) -> None:
    project.sql(ORDERS)
    project.write_spec(ORDERS_SPEC)
    assert kinds(check(project)) == [("events_table_missing", "outbox_events"), ("no_revisions", None)]
    assert not (project.root / "outbox_migrations").exists(), "check writes nothing, not even a directory"


def test_missing_and_altered_triggers_then_repair(orders: Project) -> None:
    names = orders.scalar(
        "SELECT GROUP_CONCAT(TRIGGER_NAME ORDER BY TRIGGER_NAME) FROM information_schema.TRIGGERS "
        "WHERE TRIGGER_SCHEMA = DATABASE()"
    ).split(",")
    delete_trigger, insert_trigger, _ = names  # ad, ai, au
    orders.sql(
        f"DROP TRIGGER {delete_trigger}",
        f"DROP TRIGGER {insert_trigger}",
        f"CREATE TRIGGER {insert_trigger} AFTER INSERT ON orders FOR EACH ROW SET @x = 1",
    )
    report = check(orders)
    assert kinds(report) == [
        ("altered_trigger", "orders"),
        ("missing_trigger", "orders"),
        ("trigger_context", "orders"),
    ]
    assert {f.trigger for f in report.findings} == {delete_trigger, insert_trigger}

    done = commands.repair(orders.spec_path, orders.url)
    assert len(done) == 1 and "reinstalled the triggers of 'orders'" in done[0]
    assert check(orders).ok
    orders.sql("INSERT INTO orders (total) VALUES (1)", "DELETE FROM orders")
    assert [e["op"] for e in orders.events()] == ["insert", "delete"]
    assert commands.repair(orders.spec_path, orders.url) == []


def test_whitespace_outside_quotes_is_not_drift_but_inside_literals_is(orders: Project) -> None:
    name, statement = _trigger(orders, "INSERT")
    spaced = statement.replace("\n", "\n   ").replace("COALESCE(", "COALESCE(  \n")
    _replace_trigger(orders, name, spaced)
    assert check(orders).ok, check(orders).as_text()
    _replace_trigger(orders, name, statement.replace('"op": "insert"', '"op": "insert "', 1))
    assert kinds(check(orders)) == [("altered_trigger", "orders")]


def test_rename_cut_over_orphans_triggers_and_repair_moves_them(orders: Project) -> None:
    orders.sql(
        "CREATE TABLE _orders_new LIKE orders",
        "RENAME TABLE orders TO _orders_old, _orders_new TO orders",
    )
    code, out = cli_check(orders)
    assert code == EXIT_DRIFT
    report = check(orders)
    assert kinds(report) == [("missing_trigger", "orders")] * 3 + [("orphaned_trigger", "_orders_old")] * 3
    orphan = next(f for f in report.findings if f.kind == "orphaned_trigger")
    assert "installed for 'orders'" in orphan.detail and "cut-over" in orphan.detail
    assert "_orders_old" in out and "renamed away" in out

    done = commands.repair(orders.spec_path, orders.url)
    assert [d.split(" (")[0] for d in done][1] == "reinstalled the triggers of 'orders'"
    assert check(orders).ok
    orders.sql("INSERT INTO orders (total) VALUES (1)", "INSERT INTO _orders_old (total) VALUES (2)")
    assert [e["table"] for e in orders.events()] == ["orders"]


def test_cascading_foreign_key_is_reported_unless_acknowledged(orders: Project) -> None:
    orders.sql(
        "CREATE TABLE customers (id INT PRIMARY KEY)",
        "ALTER TABLE orders ADD COLUMN customer_id INT NULL, ADD CONSTRAINT fk_customer "
        "FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE SET NULL ON UPDATE CASCADE",
    )
    orders.write_spec(ORDERS_SPEC.replace("[secret]", "[secret, customer_id]"))
    (finding,) = check(orders).findings
    assert finding.kind == "fk_cascade" and finding.table == "orders"
    assert "customers(id)" in finding.detail and "ON DELETE SET NULL ON UPDATE CASCADE" in finding.detail
    assert "'fk_customer'" in finding.detail and "acknowledge_fk_cascades" in finding.hint

    orders.write_spec(
        ORDERS_SPEC.replace("[secret]", "[secret, customer_id]\n    acknowledge_fk_cascades: true")
    )
    assert check(orders).ok, check(orders).as_text()


def test_restricting_foreign_key_is_fine(orders: Project) -> None:
    orders.sql(
        "CREATE TABLE customers (id INT PRIMARY KEY)",
        "ALTER TABLE orders ADD COLUMN customer_id INT NULL, ADD FOREIGN KEY (customer_id) "
        "REFERENCES customers (id) ON DELETE RESTRICT",
    )
    orders.write_spec(ORDERS_SPEC.replace("[secret]", "[secret, customer_id]"))
    assert check(orders).ok


def test_events_table_of_the_wrong_shape(orders: Project) -> None:
    orders.sql("ALTER TABLE outbox_events MODIFY payload MEDIUMTEXT NOT NULL, ENGINE=MyISAM")
    findings = check(orders).findings
    assert {f.kind for f in findings} == {"events_table_shape"}
    details = " | ".join(f.detail for f in findings)
    assert "'payload' is mediumtext, expected longtext" in details and "engine is MyISAM" in details
    assert any("MODIFY COLUMN `payload` LONGTEXT" in f.hint for f in findings)

    orders.sql(
        "ALTER TABLE outbox_events ENGINE=InnoDB, MODIFY payload LONGTEXT COLLATE utf8mb4_bin NOT NULL"
    )
    assert check(orders).ok, check(orders).as_text()
    orders.sql(
        "ALTER TABLE outbox_events ADD COLUMN tenant INT NOT NULL, "
        "DROP PRIMARY KEY, ADD PRIMARY KEY (seq, tenant)"
    )
    details = " | ".join(f.detail for f in check(orders).findings)
    assert "extra column 'tenant' is NOT NULL without a default" in details
    assert "primary key is (seq, tenant), expected (seq)" in details


def test_missing_events_table(orders: Project) -> None:
    orders.sql("DROP TABLE outbox_events")
    assert kinds(check(orders)) == [("events_table_missing", "outbox_events")]


def test_missing_support_table(orders: Project) -> None:
    dead_letters = identifiers.dead_letters_table("outbox_events")
    orders.sql(f"DROP TABLE {identifiers.quote(dead_letters)}")
    (finding,) = check(orders).findings
    assert finding.table == dead_letters and finding.kind.endswith("_missing")
    assert "does not exist" in finding.detail


def test_dropped_column_breaks_the_triggers(orders: Project) -> None:
    orders.sql("ALTER TABLE orders DROP COLUMN note")
    report = check(orders)
    broken = [f for f in report.findings if f.kind == "broken_trigger"]
    assert len(broken) == 3 and {f.column for f in broken} == {"note"}
    assert kinds(report).count(("unrevised_change", "orders")) == 1
    with pytest.raises(Exception, match="Unknown column 'note'"):
        orders.sql("INSERT INTO orders (total) VALUES (1)")


def test_missing_tracked_table(orders: Project) -> None:
    orders.sql("RENAME TABLE orders TO orders_archive")
    found = kinds(check(orders))
    assert ("missing_table", "orders") in found and ("orphaned_trigger", "orders_archive") in found


def test_round_trips_base_head_base_head_and_one_step_back(orders: Project) -> None:
    first = check(orders).head
    commands.downgrade(orders.spec_path, "base", orders.url)
    assert kinds(check(orders)) == [("events_table_missing", "outbox_events"), ("pending_revisions", None)]
    orders.migrate()
    assert check(orders).ok
    commands.downgrade(orders.spec_path, "base", orders.url)
    orders.migrate()
    assert check(orders).ok and check(orders).current == first

    orders.sql("ALTER TABLE orders ADD COLUMN discount DECIMAL(5,2) NULL")
    second = commands.revision(orders.spec_path, "capture discount", orders.url)
    assert second is not None
    orders.migrate()
    assert check(orders).ok
    commands.downgrade(orders.spec_path, "-1", orders.url)
    report = check(orders)
    assert report.current == first and kinds(report) == [
        ("pending_revisions", None),
        ("uncaptured_column", "orders"),
    ]
    orders.sql("INSERT INTO orders (total, discount) VALUES (1, 2)")
    assert "discount" not in orders.events()[-1]["after"]
    orders.migrate()
    assert check(orders).ok
    orders.sql("INSERT INTO orders (total, discount) VALUES (1, 2)")
    assert orders.events()[-1]["after"]["discount"] == "2.00"


def test_cli_exit_codes(orders: Project) -> None:
    assert cli_check(orders)[0] == EXIT_OK
    orders.sql("ALTER TABLE orders ADD COLUMN discount INT NULL")
    assert cli_check(orders)[0] == EXIT_DRIFT
    missing = run("check", "--spec", str(orders.root / "nope.yaml"), "--database-url", orders.url)
    assert missing.returncode == 2 and "FAILED: spec file" in missing.stderr
    result = run("repair", "--spec", str(orders.spec_path), "--database-url", orders.url)
    assert result.returncode == 0 and "nothing to repair" in result.stdout


def _trigger(project: Project, event: str) -> tuple[str, str]:
    from outbox_triggers.check import live_triggers

    with project.engine.connect() as conn:
        live = next(t for t in live_triggers(conn).values() if t.event == event)
    return live.name, live.statement()


def _replace_trigger(project: Project, name: str, statement: str, pinned: bool = True) -> None:
    with (
        project.engine.connect() as conn,
        trigger_session.pinned(conn) if pinned else contextlib.nullcontext(),
    ):
        conn.exec_driver_sql(f"DROP TRIGGER {name}")
        conn.exec_driver_sql(statement, execution_options={"no_parameters": True})


def test_trigger_created_outside_the_pinned_session_is_found_and_repaired(orders: Project) -> None:
    name, statement = _trigger(orders, "INSERT")
    with orders.engine.connect() as conn:
        conn.exec_driver_sql("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES,PAD_CHAR_TO_FULL_LENGTH'")
        conn.exec_driver_sql("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci")
        conn.exec_driver_sql(f"DROP TRIGGER {name}")
        conn.exec_driver_sql(statement, execution_options={"no_parameters": True})
    (finding,) = check(orders).findings
    assert (finding.kind, finding.trigger) == ("trigger_context", name)
    assert "NO_BACKSLASH_ESCAPES" in finding.detail and "utf8mb4_unicode_ci" in finding.detail
    assert "repair" in finding.hint
    assert commands.repair(orders.spec_path, orders.url) and check(orders).ok


def test_lowered_max_allowed_packet_is_found(orders: Project) -> None:
    from outbox_triggers.check import safety
    from outbox_triggers.check.trigger_text import live_triggers

    with orders.engine.connect() as conn:
        live = live_triggers(conn).values()
    assert safety.packet_findings(live, 16 * 1024 * 1024) == []
    (finding, *_) = safety.packet_findings(live, 512 * 1024)
    assert finding.kind == "packet_too_small" and "1044480" in finding.detail and "524288" in finding.detail
