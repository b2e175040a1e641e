"""Migration operations as data.

Revision files list these; :mod:`outbox_triggers.toimpl` executes them (the
migration environment hands it to :func:`run`), and
:mod:`outbox_triggers.revisions` folds them into the installed state. Each op
carries the literal SQL it runs, so a revision never re-renders the spec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

TriggerSQL = str | Mapping[str, str]
"""One statement for every flavor, or ``{"mariadb": ..., "mysql": ...}`` where they differ."""


def for_flavor(sql: TriggerSQL, flavor: str) -> str:
    """The statement to run on a server of ``flavor``."""
    return sql if isinstance(sql, str) else sql[flavor]


@dataclass(frozen=True)
class CreateEventsTable:
    """Create the events table (``CREATE TABLE IF NOT EXISTS``)."""

    table: str
    sql: str


@dataclass(frozen=True)
class CreateSupportTable:
    """Create a table the relay keeps beside the events table: dead letters, delivered events."""

    table: str
    sql: str


@dataclass(frozen=True)
class DropEventsTable:
    """Drop the events (or dead-letter) table; refused while it holds events unless forced."""

    table: str


@dataclass(frozen=True)
class ReplaceTriggers:
    """Swap one table's toolkit triggers in a single ``LOCK TABLES … WRITE`` section.

    ``drop`` names the triggers installed before; ``create`` maps each new
    trigger's name to its ``CREATE TRIGGER`` statement (per flavor where
    MariaDB and MySQL differ). No committed change can fall between the drop
    and the create.
    """

    table: str
    drop: Sequence[str] = ()
    create: Mapping[str, TriggerSQL] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordCaptures:
    """Record capture versions in the registry ``table`` with ``INSERT IGNORE`` (see ``captures.py``).

    Each record is (version, tracked table, columns JSON, key columns JSON),
    frozen in the revision like the trigger SQL it describes.
    """

    table: str
    records: tuple[tuple[str, str, str, str], ...] = ()


Op = CreateEventsTable | CreateSupportTable | DropEventsTable | ReplaceTriggers | RecordCaptures


EXECUTOR = "outbox_apply_ops"
"""The ``config.attributes`` key under which the migration environment puts the function that runs ops."""


def run(ops: Sequence[Op]) -> None:
    """Execute ``ops`` in the current Alembic migration (online or ``--sql``).

    Revision files call this. The implementation comes from the migration
    environment (:mod:`outbox_triggers.toimpl`, wired in by ``env.py``), so
    ops stay data and this module imports no executor.
    """
    from alembic import op as alembic_op

    context = alembic_op.get_context()
    assert context.config is not None, "ops run inside an outbox-triggers migration environment"
    context.config.attributes[EXECUTOR](context, ops)
