"""The sample service's Alembic environment: an ordinary one, plus one import.

Importing ``outbox_triggers.alembic_ops`` registers ``op.install_outbox_triggers``
and its siblings, so the service's own revisions can hold the outbox triggers.
The version table is Alembic's default, ``alembic_version``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import outbox_triggers.alembic_ops  # noqa: F401  (registers the outbox operations on `op`)

config = context.config


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    section = config.get_section(config.config_ini_section, {})
    connectable = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
