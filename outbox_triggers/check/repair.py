"""``repair``: put back the triggers the applied revision installed, from its frozen SQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

from outbox_triggers import revisions
from outbox_triggers.check import safety
from outbox_triggers.check.trigger_text import LiveTrigger, same_trigger
from outbox_triggers.errors import MigrationError
from outbox_triggers.ops import ReplaceTriggers, for_flavor


def applied_state(modules: Sequence[ModuleType], current: str | None, where: Path) -> revisions.State:
    """The state the database's revision installed; refuses a database with no or an unknown revision."""
    ids = [str(m.revision) for m in modules]
    if current is None:
        raise MigrationError("no revision is applied to this database yet: run `outbox-triggers migrate`")
    if current not in ids:
        raise MigrationError(
            f"the database is at revision {current!r}, which is not in {where}: deploy it first"
        )
    return revisions.head_state(modules[: ids.index(current) + 1])


def repair_ops(
    reference: revisions.State, live: Mapping[str, LiveTrigger], flavor: str
) -> list[ReplaceTriggers]:
    """The swaps that make the live triggers what ``reference`` holds, orphans dropped first.

    Toolkit triggers on a table where ``reference`` does not put them are
    dropped (each table under its own lock) before any trigger is created,
    since trigger names are unique per schema. Then every table whose
    triggers drifted, in text or in the session context they were created
    in, gets the frozen statements again.
    """
    expected = {name: table for table, triggers in reference.triggers.items() for name in triggers}
    strays: dict[str, list[str]] = {}
    for trigger in live.values():
        if expected.get(trigger.name) != trigger.table:
            strays.setdefault(trigger.table, []).append(trigger.name)
    ops = [ReplaceTriggers(table, tuple(names), {}) for table, names in strays.items()]
    for table, triggers in reference.triggers.items():
        if any(_drifted(live.get(name), table, for_flavor(sql, flavor)) for name, sql in triggers.items()):
            ops.append(ReplaceTriggers(table, tuple(triggers), dict(triggers)))
    return ops


def _drifted(live: LiveTrigger | None, table: str, sql: str) -> bool:
    if live is None or live.table != table:
        return True
    return not same_trigger(live, sql) or bool(safety.context_problems(live))
