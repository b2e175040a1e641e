"""What ``check`` reports: one :class:`Finding` per disagreement, gathered in a :class:`Report`."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

STANDALONE = "standalone"

EMBEDDED = "embedded"


@dataclass(frozen=True)
class Finding:
    """One disagreement between the spec, the revisions and the database."""

    kind: str
    table: str | None
    detail: str
    hint: str
    column: str | None = None
    trigger: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """The finding as a JSON-ready mapping."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Report:
    """The outcome of ``check``: every finding, and where the database stands."""

    database: str
    mode: str
    current: str | None
    head: str | None
    findings: tuple[Finding, ...]
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing disagrees."""
        return not self.findings

    def as_json(self) -> str:
        """The report as one JSON object (``--format json``)."""
        return json.dumps(
            {
                "ok": self.ok,
                "database": self.database,
                "mode": self.mode,
                "revision": {"current": self.current, "head": self.head},
                "findings": [f.as_dict() for f in self.findings],
                "elapsed_ms": round(self.elapsed_ms, 1),
            },
            indent=2,
            ensure_ascii=False,
        )

    def as_text(self) -> str:
        """The report for a person: a summary line, then each finding with its fix."""
        where = f"database {self.database!r}"
        if self.mode == STANDALONE:
            where += f" (revision {self.current or 'base'}, newest {self.head or 'none'})"
        if self.ok:
            return f"check: ok: the spec, the revisions and {where} agree"
        lines = [f"check: {len(self.findings)} finding(s) in {where}"]
        for f in self.findings:
            lines.append(f"- [{f.kind}] {f.detail}")
            lines.append(f"    fix: {f.hint}")
        return "\n".join(lines)
