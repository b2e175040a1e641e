"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Written by `outbox-triggers revision`. The SQL below is frozen: upgrading runs
exactly this text, whatever the spec says today. Review it like code.
"""

from __future__ import annotations

from outbox_triggers.ops import CreateSupportTable, CreateEventsTable, DropEventsTable, RecordCaptures, ReplaceTriggers, run

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None

spec_hash = ${repr(spec_hash)}
column_hashes = ${column_hashes}

UPGRADE = ${upgrade_source}

DOWNGRADE = ${downgrade_source}


def upgrade() -> None:
    run(UPGRADE)


def downgrade() -> None:
    run(DOWNGRADE)
