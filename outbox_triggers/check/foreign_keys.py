"""Cascading foreign keys: the changes they make to a tracked child fire no trigger."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outbox_triggers.check.findings import Finding
from outbox_triggers.spec import Spec

_CASCADING = ("CASCADE", "SET NULL", "SET DEFAULT")

_FK_CASCADES = sa.text(
    "SELECT rc.CONSTRAINT_NAME, rc.TABLE_NAME, rc.REFERENCED_TABLE_NAME, rc.DELETE_RULE, rc.UPDATE_RULE, "
    "kcu.COLUMN_NAME, kcu.REFERENCED_COLUMN_NAME "
    "FROM information_schema.REFERENTIAL_CONSTRAINTS rc "
    "JOIN information_schema.KEY_COLUMN_USAGE kcu ON kcu.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA "
    "AND kcu.CONSTRAINT_NAME = rc.CONSTRAINT_NAME AND kcu.TABLE_NAME = rc.TABLE_NAME "
    "WHERE rc.CONSTRAINT_SCHEMA = DATABASE() AND (rc.DELETE_RULE IN :rules OR rc.UPDATE_RULE IN :rules) "
    "ORDER BY rc.TABLE_NAME, rc.CONSTRAINT_NAME, kcu.ORDINAL_POSITION"
).bindparams(sa.bindparam("rules", expanding=True))


def fk_cascade_findings(conn: Connection, spec: Spec) -> list[Finding]:
    """Cascading foreign keys whose child is tracked and not acknowledged in the spec."""
    unacknowledged = {t.name for t in spec.tables if not t.acknowledge_fk_cascades}
    constraints: dict[tuple[str, str], list[Any]] = {}
    for row in conn.execute(_FK_CASCADES, {"rules": list(_CASCADING)}):
        name, child = str(row[0]), str(row[1])
        if child in unacknowledged:
            constraints.setdefault((child, name), []).append(row)
    return [_fk_finding(child, name, rows) for (child, name), rows in constraints.items()]


def _fk_finding(child: str, name: str, rows: Sequence[Any]) -> Finding:
    parent, delete_rule, update_rule = str(rows[0][2]), str(rows[0][3]), str(rows[0][4])
    columns = ", ".join(str(r[5]) for r in rows)
    parent_columns = ", ".join(str(r[6]) for r in rows)
    rules = [f"ON {what} {rule}" for what, rule in (("DELETE", delete_rule), ("UPDATE", update_rule))]
    cascading = " ".join(r for r in rules if r.split(" ", 2)[2] in _CASCADING)
    return Finding(
        "fk_cascade",
        child,
        f"{child}({columns}) references {parent}({parent_columns}) {cascading} (constraint {name!r}): "
        f"rows of {child!r} changed by the cascade fire no trigger, so they produce no events",
        f"change {child!r} with plain statements before touching {parent!r}, or set "
        f"tables.{child}.acknowledge_fk_cascades: true if consumers can live without those events",
    )
