"""Alembic wiring: the toolkit's environment, version table and revision files.

The environment (``env.py``, ``script.py.mako``) ships inside the package; the
revision files live in the spec's ``migrations_dir``. The version table is
``outbox_triggers_version``, so a service's own ``alembic_version`` is never
touched.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from outbox_triggers.errors import MigrationError
from outbox_triggers.ops import Op
from outbox_triggers.revisions import revision_id, source

VERSION_TABLE = "outbox_triggers_version"


def environment_dir() -> Path:
    """The Alembic environment: inside the installed package, else the source checkout."""
    packaged = Path(str(resources.files("outbox_triggers"))) / "_migrations"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "migrations"


def config(
    versions_dir: Path,
    connection: Connection | None = None,
    output: TextIO | None = None,
    **attributes: Any,
) -> Config:
    """An Alembic Config over the toolkit environment and ``versions_dir``."""
    cfg = Config(output_buffer=output or io.StringIO(), cmd_opts=argparse.Namespace(quiet=True))
    cfg.set_main_option("script_location", _escape(environment_dir()))
    cfg.set_main_option("version_locations", _escape(versions_dir))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.attributes.update(connection=connection, version_table=VERSION_TABLE, **attributes)
    return cfg


def _escape(path: Path) -> str:
    return str(path).replace("%", "%%")


def scripts(cfg: Config) -> ScriptDirectory:
    """The revision files of ``cfg``."""
    Path(cfg.get_main_option("version_locations") or ".").mkdir(parents=True, exist_ok=True)
    return ScriptDirectory.from_config(cfg)


def modules(cfg: Config) -> list[ModuleType]:
    """Revision modules ordered base → head; refuses branched histories."""
    directory = scripts(cfg)
    heads = directory.get_heads()
    if len(heads) > 1:
        raise MigrationError(f"revisions branch into several heads ({', '.join(heads)}); merge or remove one")
    return [script.module for script in reversed(list(directory.walk_revisions()))]


def current(conn: Connection) -> str | None:
    """The revision the database is at, from the toolkit's version table."""
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def write_revision(cfg: Config, message: str, up: list[Op], down: list[Op], meta: Mapping[str, Any]) -> Path:
    """Write a revision file holding ``up``/``down`` as literal ops; return its path."""
    directory = scripts(cfg)
    head = directory.get_current_head()
    rev = revision_id(head, up)
    script = directory.generate_revision(
        rev,
        message,
        head=head or "base",
        upgrade_source=source(up),
        downgrade_source=source(down),
        **meta,
    )
    assert script is not None
    return Path(script.path)


def upgrade(cfg: Config, target: str = "head", sql: bool = False) -> None:
    """``alembic upgrade`` on the toolkit environment."""
    _alembic(command.upgrade, cfg, target, sql=sql)


def downgrade(cfg: Config, target: str, sql: bool = False) -> None:
    """``alembic downgrade`` on the toolkit environment."""
    if sql and ":" not in target:
        target = f"{current_head_or_base(cfg)}:{target}"
    _alembic(command.downgrade, cfg, target, sql=sql)


def current_head_or_base(cfg: Config) -> str:
    """The newest revision id, or ``base`` when there is none."""
    return scripts(cfg).get_current_head() or "base"


def _alembic(fn: Any, cfg: Config, target: str, sql: bool) -> None:
    """Run an Alembic command outside any open transaction, so its version-table write commits."""
    conn: Connection | None = cfg.attributes.get("connection")
    if conn is not None and conn.in_transaction():
        conn.commit()
    try:
        fn(cfg, target, sql=sql)
    except CommandError as exc:
        raise MigrationError(str(exc)) from None
    if conn is not None and conn.in_transaction():
        conn.commit()
