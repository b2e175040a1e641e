"""Alembic environment of outbox-triggers: frozen revisions, own version table.

The toolkit passes a live connection (or none, for ``--sql``) and the version
table name through ``config.attributes``; this file only wires them in.
"""

from __future__ import annotations

from alembic import context

from outbox_triggers import toimpl
from outbox_triggers.ops import EXECUTOR

config = context.config
config.attributes.setdefault(EXECUTOR, toimpl.run)
version_table = config.attributes.get("version_table", "outbox_triggers_version")

if context.is_offline_mode():
    context.configure(
        dialect_name="mysql",
        version_table=version_table,
        transaction_per_migration=True,
        output_buffer=config.output_buffer,
    )
else:
    context.configure(
        connection=config.attributes["connection"],
        version_table=version_table,
        transaction_per_migration=True,
    )

with context.begin_transaction():
    context.run_migrations()
