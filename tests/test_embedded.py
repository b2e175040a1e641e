"""Embedded mode: outbox triggers inside a service's own Alembic history (tests/sample_service)."""

from __future__ import annotations

import argparse
import io
import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from outbox_triggers import commands

from .conftest import Project

pytestmark = pytest.mark.integration
SAMPLE = Path(__file__).parent / "sample_service"
TABLES = (
    "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES "
    "WHERE TABLE_SCHEMA = DATABASE()"
)
TRIGGERS = "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()"
# Findings that must hold whatever the templates become. The sample's revisions are frozen, so once
# the trigger template changes, `check --embedded` rightly calls their bodies altered.
CAPTURE = {"uncaptured_column", "missing_trigger", "broken_trigger", "orphaned_trigger"}
ANY_TRIGGER = CAPTURE | {"altered_trigger", "unexpected_trigger"}


def service(url: str, root: Path = SAMPLE, output: io.StringIO | None = None) -> Config:
    """The service's own Alembic config (its alembic.ini), pointed at the test database."""
    cfg = Config(str(root / "alembic.ini"), output_buffer=output)
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def after(project: Project) -> dict[str, object]:
    image = project.events()[-1]["after"]
    assert isinstance(image, dict)
    return image


def embedded_check(
    project: Project, spec: Path = SAMPLE / "outbox.yaml", kinds: set[str] = CAPTURE
) -> list[tuple[str, str | None]]:
    report = commands.check(spec, project.url, embedded=True)
    return [(f.kind, f.column) for f in report.findings if f.kind in kinds]


def tables(project: Project) -> set[str]:
    return set(str(project.scalar(TABLES) or "").split(",")) - {""}


def test_service_history_adds_a_column_and_refreshes_triggers_in_one_revision(project: Project) -> None:
    cfg = service(project.url)
    command.upgrade(cfg, "head")
    assert {"alembic_version", "orders", "outbox_events"} <= tables(project)
    assert "outbox_triggers_version" not in tables(project), "the service's history, not the toolkit's"
    assert project.scalar("SELECT version_num FROM alembic_version") == "0002"
    project.sql("INSERT INTO orders (total, discount, secret) VALUES (10, 1.5, 'pw')")
    assert after(project) == {"id": 1, "status": "new", "total": "10.00", "discount": "1.50"}
    assert embedded_check(project) == []

    command.downgrade(cfg, "-1")
    assert project.scalar("SELECT version_num FROM alembic_version") == "0001"
    project.sql("INSERT INTO orders (total) VALUES (20)")
    assert after(project) == {"id": 2, "status": "new", "total": "20.00"}
    assert embedded_check(project) == []

    command.upgrade(cfg, "head")
    project.sql("UPDATE orders SET discount = 2 WHERE id = 2")
    assert after(project)["discount"] == "2.00" and project.events()[-1]["op"] == "update"
    assert embedded_check(project) == []

    project.sql("DELETE FROM outbox_events")  # a relay drained it: downgrading to base may drop it
    command.downgrade(cfg, "base")
    assert tables(project) == {"alembic_version"}
    assert project.scalar(TRIGGERS) == 0


def test_service_history_prints_an_offline_script(project: Project) -> None:
    output = io.StringIO()
    cfg = service(project.url, output=output)
    cfg.cmd_opts = argparse.Namespace(x=["outbox_flavor=mariadb"])
    command.upgrade(cfg, "head", sql=True)
    script = output.getvalue()
    assert "CREATE TABLE IF NOT EXISTS `outbox_events`" in script
    assert "ALTER TABLE orders ADD COLUMN discount" in script
    assert script.count("LOCK TABLES `orders` WRITE;") == 2 and "DELIMITER $$" in script
    assert tables(project) == set(), "offline mode touches nothing"


def test_render_alembic_output_pasted_into_a_service_revision(project: Project, tmp_path: Path) -> None:
    root = tmp_path / "service"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
    cfg, spec = service(project.url, root), root / "outbox.yaml"
    command.upgrade(cfg, "head")
    project.sql("ALTER TABLE orders ADD COLUMN gift_note VARCHAR(100) NULL")
    assert embedded_check(project, spec) == [("uncaptured_column", "gift_note")]

    pasted = commands.render_alembic(spec, project.url)
    assert "op.install_outbox_triggers(" in pasted and "op.create_outbox_events_table" not in pasted
    header = 'revision = "0003"\ndown_revision = "0002"\n\nfrom alembic import op\n\n'
    (root / "versions" / "0003_capture_gift_note.py").write_text(header + pasted)
    command.upgrade(cfg, "head")
    project.sql("INSERT INTO orders (total, gift_note) VALUES (5, 'hi')")
    assert after(project)["gift_note"] == "hi"
    assert embedded_check(project, spec, ANY_TRIGGER) == [], "generated now, so it matches the template"
    assert "nothing to paste" in commands.render_alembic(spec, project.url)

    command.downgrade(cfg, "-1")
    project.sql("INSERT INTO orders (total, gift_note) VALUES (6, 'gone')")
    assert "gift_note" not in after(project)
    assert embedded_check(project, spec) == [("uncaptured_column", "gift_note")]
    command.upgrade(cfg, "head")
    assert embedded_check(project, spec, ANY_TRIGGER) == []


def test_embedded_check_reports_hand_edited_trigger(project: Project) -> None:
    command.upgrade(service(project.url), "head")
    name = project.scalar(
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
        "WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_MANIPULATION = 'DELETE'"
    )
    project.sql(
        f"DROP TRIGGER {name}", f"CREATE TRIGGER {name} AFTER DELETE ON orders FOR EACH ROW SET @x = 1"
    )
    report = commands.check(SAMPLE / "outbox.yaml", project.url, embedded=True)
    edited = next(f for f in report.findings if f.trigger == name)
    assert edited.kind == "altered_trigger" and "render --alembic" in edited.hint
    assert report.mode == "embedded" and not report.ok
