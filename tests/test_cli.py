"""The command line: one-line errors with documented exit codes, env-var defaults."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from outbox_triggers import local_server

from .conftest import ORDERS, ORDERS_SPEC, Project

SPEC = "version: 1\ntables:\n  orders: {}\ndestinations:\n  default: {type: sqs, queue_url: http://x}\n"


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OUTBOX_SPEC")}
    return subprocess.run(
        [sys.executable, "-m", "outbox_triggers", *args],
        env={**full_env, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_one_line_failure(result: subprocess.CompletedProcess[str], code: int, fragment: str) -> None:
    assert result.returncode == code, result.stderr
    failed = [line for line in result.stderr.splitlines() if line.startswith("FAILED: ")]
    assert failed and fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_every_subcommand() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("render", "migrate", "revision", "downgrade", "relay", "demo", "schema"):
        assert command in result.stdout


def test_missing_spec_exits_2(tmp_path: Path) -> None:
    assert_one_line_failure(run("render", cwd=tmp_path), 2, "spec file outbox.yaml not found")


def test_spec_from_env_var(tmp_path: Path) -> None:
    result = run("migrate", env={"OUTBOX_SPEC": str(tmp_path / "elsewhere.yaml")})
    assert_one_line_failure(result, 2, "elsewhere.yaml not found")


def test_schema_prints_json_schema() -> None:
    result = run("schema")
    assert result.returncode == 0 and '"$schema"' in result.stdout


def test_database_unreachable_exits_3(tmp_path: Path) -> None:
    (tmp_path / "outbox.yaml").write_text(SPEC)
    port = local_server.free_port()
    result = run(
        "migrate", env={"DATABASE_URL": f"mysql+pymysql://u:topsecret@127.0.0.1:{port}/db"}, cwd=tmp_path
    )
    assert_one_line_failure(result, 3, "cannot connect")
    assert "topsecret" not in result.stderr, "passwords never reach the output"


def test_no_database_url_exits_3(tmp_path: Path) -> None:
    (tmp_path / "outbox.yaml").write_text(SPEC)
    assert_one_line_failure(run("render", cwd=tmp_path), 3, "no database URL")


@pytest.mark.integration
def test_bad_spec_exits_2_and_changes_nothing(project: Project) -> None:
    project.sql(ORDERS)
    project.write_spec(SPEC.replace("tables:\n  orders: {}", "tables:\n  orders: {operations: [upsert]}"))
    result = run("migrate", "--spec", str(project.spec_path), env={"DATABASE_URL": project.url})
    assert_one_line_failure(
        result, 2, "tables.orders.operations[0]: 'upsert' is not one of insert, update, delete"
    )
    assert (
        project.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()") == 1
    )


@pytest.mark.integration
def test_access_denied_exits_3(project: Project, server_url: str) -> None:
    project.write_spec(SPEC)
    url = project.url.replace("root@", "root:wrong-password@", 1)
    result = run("render", "--spec", str(project.spec_path), "--database-url", url)
    assert_one_line_failure(result, 3, "access denied")
    assert "wrong-password" not in result.stderr


@pytest.mark.integration
def test_missing_queue_exits_4(project: Project, moto_endpoint: str) -> None:
    project.sql(ORDERS)
    project.write_spec(ORDERS_SPEC)
    env = {"DATABASE_URL": project.url, "QUEUE_URL": f"{moto_endpoint}/123456789012/no-such-queue"}
    assert run("migrate", "--spec", str(project.spec_path), env=env).returncode == 0
    result = run("relay", "--once", "--spec", str(project.spec_path), env=env)
    assert_one_line_failure(result, 4, "SQS queue is not usable")


@pytest.mark.integration
def test_migrate_cli_reports_revision_and_is_idempotent(project: Project) -> None:
    project.sql(ORDERS)
    project.write_spec(SPEC)
    env = {"DATABASE_URL": project.url, "OUTBOX_SPEC": str(project.spec_path)}
    first = run("migrate", env=env)
    assert first.returncode == 0 and "wrote first revision" in first.stdout and "base ->" in first.stdout
    second = run("migrate", env=env)
    assert second.returncode == 0 and "already at" in second.stdout


@pytest.mark.integration
def test_migrate_sql_prints_a_mysql_client_script(project: Project) -> None:
    project.sql(ORDERS)
    project.write_spec(SPEC)
    result = run("migrate", "--sql", "--spec", str(project.spec_path), env={"DATABASE_URL": project.url})
    assert result.returncode == 0, result.stderr
    assert "DELIMITER $$" in result.stdout and "LOCK TABLES `orders` WRITE;" in result.stdout
    assert "outbox_triggers_version" in result.stdout
    assert (
        project.scalar("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()")
        == 0
    )


@pytest.mark.integration
def test_demo_runs(server_url: str) -> None:
    result = run("demo", env={"DATABASE_URL": server_url})
    assert result.returncode == 0, result.stderr
    assert "rolled-back changes emitted none; 0 left in outbox_events" in result.stdout
    assert result.stdout.count('"op": ') == 7
    assert result.stdout.index('"status": "shipped"') < result.stdout.index('"op": "event"')


@pytest.mark.integration
@pytest.mark.skipif(local_server.find("mariadbd", "mysqld") is None, reason="no server binary installed")
def test_throwaway_server_starts_answers_and_leaves_nothing() -> None:
    with local_server.throwaway() as url:
        port = int(url.rsplit(":", 1)[1].strip("/"))
        assert local_server.answers("127.0.0.1", port)
        datadirs = [p for p in Path(tempfile.gettempdir()).glob("outbox-mysql-*") if p.is_dir()]
        assert datadirs
    assert not local_server.answers("127.0.0.1", port)
    assert not any(p.exists() for p in datadirs)
