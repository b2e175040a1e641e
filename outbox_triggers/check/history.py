"""The revision history against the database and the spec: pending, unknown and unrevised changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

from alembic.config import Config

from outbox_triggers import migrations, revisions
from outbox_triggers.check.context import Context
from outbox_triggers.check.findings import Finding
from outbox_triggers.check.trigger_text import references
from outbox_triggers.check.triggers import resolved
from outbox_triggers.ops import TriggerSQL
from outbox_triggers.spec import Spec


def modules(cfg: Config, versions_dir: Path) -> list[ModuleType]:
    return migrations.modules(cfg) if versions_dir.is_dir() else []


def revision_states(
    spec: Spec, modules: Sequence[ModuleType], current: str | None
) -> tuple[revisions.State, revisions.State, list[Finding]]:
    """The state at the database's revision, the head state, and what is wrong with the history."""
    head = revisions.head_state(modules)
    head_revision = str(modules[-1].revision) if modules else None
    ids = [str(m.revision) for m in modules]
    if not modules:
        hint = "run `outbox-triggers migrate`: it writes the first revision and applies it"
        where = spec.migrations_dir
        return revisions.State(), head, [Finding("no_revisions", None, f"no revision in {where}", hint)]
    if current is not None and current not in ids:
        detail = f"the database is at revision {current!r}, which is not in {spec.migrations_dir}"
        hint = "deploy the revisions that database was migrated with (pull the latest code), then check again"
        return head, head, [Finding("unknown_revision", None, detail, hint)]
    applied = ids.index(current) + 1 if current else 0
    reference = revisions.head_state(modules[:applied])
    if current == head_revision:
        return reference, head, []
    pending = ids[applied:]
    detail = f"the database is at {current or 'base'}; not applied yet: {', '.join(pending)}"
    return reference, head, [Finding("pending_revisions", None, detail, "run `outbox-triggers migrate`")]


def unrevised_findings(ctx: Context) -> list[Finding]:
    """Spec or schema changes that no revision holds yet."""
    if ctx.head_revision is None:
        return []
    hint = (
        "run `outbox-triggers revision -m '<what changed>'`, review the file, then `outbox-triggers migrate`"
    )
    findings = []
    for name in dict.fromkeys([*ctx.tables, *ctx.head.triggers]):
        detail = _unrevised_detail(ctx, name)
        if detail:
            findings.append(Finding("unrevised_change", name, detail, hint))
    support = [
        (
            f"{table} table",
            (table, ctx.desired.support.get(table, "")),
            (table, ctx.head.support.get(table, "")),
        )
        for table in ctx.desired.support
    ]
    for what, now, then in (("events table", ctx.desired.events_table, ctx.head.events_table), *support):
        if now != then and now is not None:
            detail = f"the {what} definition differs from revision {ctx.head_revision}"
            findings.append(Finding("unrevised_change", now[0], detail, hint))
    return findings


def _unrevised_detail(ctx: Context, name: str) -> str | None:
    old, new = ctx.head.triggers.get(name, {}), ctx.desired.triggers.get(name)
    if new is None:
        if any(t.name == name for t in ctx.spec.tables):
            return None  # missing_table / spec_mismatch already say why
        return f"{name!r} is no longer in the spec, but revision {ctx.head_revision} still tracks it"
    if new == old or _explained_by_uncaptured(ctx, name, old):
        return None
    if not old:
        return f"{name!r} is in the spec, but no revision installs its triggers yet"
    return f"the triggers of {name!r} render differently from revision {ctx.head_revision}"


def _explained_by_uncaptured(ctx: Context, name: str, head: Mapping[str, TriggerSQL]) -> bool:
    """True when the head revision is the spec minus columns already reported as uncaptured."""
    table, reported = ctx.tables[name], ctx.uncaptured.get(name, [])
    head_sql = list(resolved(head, ctx.flavor).values())
    missing = [c for c in reported if not references(head_sql, c)]
    return bool(missing) and table.render(ctx.spec, missing) == head
