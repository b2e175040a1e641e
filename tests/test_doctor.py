"""``doctor`` on the live MariaDB, as least-privilege accounts created (and dropped) by the tests."""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.engine import make_url

from outbox_triggers import commands, lock
from outbox_triggers.doctor import Report
from outbox_triggers.errors import EXIT_DATABASE, EXIT_OK
from outbox_triggers.identifiers import quote

from .conftest import ORDERS, ORDERS_SPEC, Project
from .test_cli import run

pytestmark = pytest.mark.integration
MIGRATOR_GRANTS = "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, TRIGGER, LOCK TABLES"

Account = Callable[[str, str], tuple[str, str]]


@pytest.fixture
def account(project: Project) -> Iterator[Account]:
    """Create accounts holding ``privileges`` on ``target`` (in the test database); drop them afterwards."""
    made: list[str] = []
    database = make_url(project.url).database or ""

    def create(privileges: str, target: str = "*") -> tuple[str, str]:
        name, password = f"ot_doc_{secrets.token_hex(4)}", secrets.token_hex(12)
        on = f"{quote(database)}.{'*' if target == '*' else quote(target)}"
        with project.engine.connect() as conn:
            conn.exec_driver_sql("CREATE USER %s@'%%' IDENTIFIED BY %s", (name, password))
            made.append(name)
            conn.exec_driver_sql(f"GRANT {privileges} ON {on} TO %s@'%%'", (name,))
        url = make_url(project.url).set(username=name, password=password)
        return name, url.render_as_string(hide_password=False)

    yield create
    with project.engine.connect() as conn:
        for name in made:
            conn.exec_driver_sql("DROP USER IF EXISTS %s@'%%'", (name,))


@pytest.fixture
def tracked(project: Project) -> Project:
    project.sql(ORDERS)
    project.write_spec(ORDERS_SPEC)
    return project


def statuses(report: Report) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for d in report.diagnoses:
        found.setdefault(d.topic, []).append(d.status)
    return found


def test_least_privilege_account_is_told_exactly_what_to_grant(tracked: Project, account: Account) -> None:
    name, url = account("SELECT")
    result = run("doctor", "--spec", str(tracked.spec_path), "--database-url", url)
    assert result.returncode == EXIT_DATABASE, result.stdout + result.stderr
    assert "[FAIL] privileges:" in result.stdout and "TRIGGER on 'orders'" in result.stdout
    assert "LOCK TABLES on the database" in result.stdout and f"TO '{name}'@'%'" in result.stdout
    assert "doctor: 1 problem(s) block the outbox" in result.stdout
    assert "Traceback" not in result.stderr

    name, url = account(MIGRATOR_GRANTS)
    report = commands.doctor(tracked.spec_path, url)
    assert report.ok and statuses(report)["privileges"] == ["ok"], report.as_text()
    commands.migrate(tracked.spec_path, url, output=io.StringIO())  # what doctor approved works
    tracked.sql("INSERT INTO orders (total) VALUES (1)")
    assert len(tracked.events()) == 1


def test_missing_optional_privileges_warn_without_blocking(tracked: Project, account: Account) -> None:
    _, url = account("SELECT, INSERT, UPDATE, DELETE, CREATE, TRIGGER, LOCK TABLES")
    report = commands.doctor(tracked.spec_path, url)
    assert report.ok and statuses(report)["privileges"] == ["ok", "warn"]
    assert "DROP on 'outbox_events'" in report.as_text()
    result = run("doctor", "--spec", str(tracked.spec_path), "--database-url", url, "--format", "json")
    assert result.returncode == EXIT_OK and json.loads(result.stdout)["ok"] is True


def test_relay_account_grants(tracked: Project, account: Account) -> None:
    tracked.migrate()
    relay, _ = account("SELECT, DELETE", "outbox_events")
    weak, _ = account("SELECT", "outbox_events")
    assert statuses(commands.doctor(tracked.spec_path, tracked.url, relay))["relay_account"] == ["ok"]
    report = commands.doctor(tracked.spec_path, tracked.url, f"{weak}@%")
    assert statuses(report)["relay_account"] == ["fail"] and "DELETE on 'outbox_events'" in report.as_text()
    missing = commands.doctor(tracked.spec_path, tracked.url, "ot_doc_nobody")
    assert "does not exist" in missing.as_text() and not missing.ok

    _, migrator = account(MIGRATOR_GRANTS)
    unreadable = commands.doctor(tracked.spec_path, migrator, relay)
    assert (
        statuses(unreadable)["relay_account"] == ["warn"] and "cannot read the grants" in unreadable.as_text()
    )


def test_relay_lock_and_waiting_events(tracked: Project) -> None:
    tracked.migrate()
    assert "no relay holds lock" in commands.doctor(tracked.spec_path, tracked.url).as_text()
    tracked.sql("INSERT INTO orders (total) VALUES (1)")
    report = commands.doctor(tracked.spec_path, tracked.url)
    assert statuses(report)["relay_lock"] == ["warn"] and "1 event(s) wait" in report.as_text()

    database = make_url(tracked.url).database or ""
    with tracked.engine.connect() as holder:
        assert holder.exec_driver_sql(
            "SELECT GET_LOCK(%s, 0)", (lock.lock_name(database, "outbox_events"),)
        ).scalar()
        text = commands.doctor(tracked.spec_path, tracked.url).as_text()
    assert "a relay is running: connection" in text


def test_events_table_engine_and_shape(tracked: Project) -> None:
    tracked.migrate()
    assert statuses(commands.doctor(tracked.spec_path, tracked.url))["events_table"] == ["ok"]
    tracked.sql("ALTER TABLE outbox_events ENGINE=MyISAM")
    report = commands.doctor(tracked.spec_path, tracked.url)
    assert not report.ok and "engine is MyISAM" in report.as_text()
    assert "ALTER TABLE `outbox_events` ENGINE=InnoDB" in report.as_text()


def test_server_facts_of_this_mariadb(tracked: Project) -> None:
    report = commands.doctor(tracked.spec_path, tracked.url)
    text = report.as_text()
    assert report.ok, text
    assert "[ok] server: MariaDB 10." in text and "persisted across restarts" in text
    assert {
        "server",
        "privileges",
        "binlog",
        "sql_mode",
        "max_allowed_packet",
        "auto_increment",
        "events_table",
        "relay_lock",
    } <= set(statuses(report))


def test_triggers_whose_definer_was_dropped_are_a_blocker(tracked: Project) -> None:
    tracked.migrate()
    assert statuses(commands.doctor(tracked.spec_path, tracked.url))["trigger_definer"] == ["ok"]
    ghost = f"ghost_{secrets.token_hex(4)}"
    tracked.sql(
        "DROP TRIGGER IF EXISTS outbox_ad_orders_0000000000",
        f"CREATE DEFINER = '{ghost}'@'localhost' TRIGGER outbox_ad_orders_0000000000 "
        "AFTER DELETE ON orders FOR EACH ROW SET @ignored = 1",
    )
    try:
        report = commands.doctor(tracked.spec_path, tracked.url)
    finally:
        tracked.sql("DROP TRIGGER outbox_ad_orders_0000000000")
    assert not report.ok and statuses(report)["trigger_definer"] == ["fail", "ok"]
    assert f"run as {ghost}@localhost, which does not exist" in report.as_text()
    assert "error 1449" in report.as_text()


def test_max_event_bytes_beyond_the_packet_and_triggers_outside_the_pinned_session(tracked: Project) -> None:
    tracked.migrate()
    report = commands.doctor(tracked.spec_path, tracked.url)
    assert statuses(report)["max_allowed_packet"] == ["ok"] and statuses(report)["trigger_safety"] == ["ok"]
    spec = tracked.spec_path.read_text()
    tracked.write_spec(
        spec.replace("exclude_columns: [secret]", "exclude_columns: [secret]\n    max_event_bytes: 64MiB")
    )
    triggers = "FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()"
    name = tracked.scalar(f"SELECT MIN(TRIGGER_NAME) {triggers}")
    body, event = (
        tracked.scalar(f"SELECT {c} {triggers} AND TRIGGER_NAME = '{name}'")
        for c in ("ACTION_STATEMENT", "EVENT_MANIPULATION")
    )
    with tracked.engine.connect() as conn:
        conn.exec_driver_sql("SET SESSION sql_mode = 'ANSI_QUOTES'")
        conn.exec_driver_sql(f"DROP TRIGGER {name}")
        statement = f"CREATE TRIGGER {name} AFTER {event} ON orders FOR EACH ROW {body}"
        conn.exec_driver_sql(statement, execution_options={"no_parameters": True})
    report = commands.doctor(tracked.spec_path, tracked.url)
    found = statuses(report)
    assert found["max_allowed_packet"] == ["fail"] and found["trigger_safety"] == ["fail"], report.as_text()
    assert (
        "tables.orders.max_event_bytes asks 67108864" in report.as_text()
        and "ANSI_QUOTES" in report.as_text()
    )
