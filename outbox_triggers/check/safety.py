"""Installed triggers that can now fail a write, or build events the relay cannot read.

- ``trigger_context``: a toolkit trigger was not created in the pinned session
  (:mod:`outbox_triggers.trigger_session`), for example by hand or by an older
  version. Its body is then parsed under another sql_mode (``ORACLE`` reads it as
  PL/SQL, ``ANSI_QUOTES`` turns its JSON text into identifiers) or charset.
- ``packet_too_small``: ``max_allowed_packet`` was lowered below what the
  triggers were built for. Writes still succeed, but an event above the new
  limit cannot be built whole and is written with every value left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from outbox_triggers import event_size, trigger_session
from outbox_triggers.check.findings import Finding
from outbox_triggers.check.trigger_text import LiveTrigger

_LIMIT = re.compile(r'"limit": (\d+)')
_REPAIR = "`outbox-triggers repair` reinstalls them in the right session (embedded: re-run the revision)"


def context_findings(live: Iterable[LiveTrigger]) -> list[Finding]:
    """Toolkit triggers whose stored sql_mode, client charset or collation are not the pinned ones."""
    return [_context_finding(t, wrong) for t in live if (wrong := context_problems(t))]


def context_problems(trigger: LiveTrigger) -> list[str]:
    """How the session ``trigger`` was created in differs from the pinned one."""
    expected = (
        ("sql_mode", trigger.sql_mode, trigger_session.SQL_MODE),
        ("character_set_client", trigger.charset, trigger_session.CHARSET),
        ("collation_connection", trigger.collation, trigger_session.COLLATION),
    )
    return [f"{name} {found!r} (expected {want!r})" for name, found, want in expected if found != want]


def _context_finding(trigger: LiveTrigger, wrong: list[str]) -> Finding:
    detail = (
        f"trigger {trigger.name} on {trigger.table!r} was created with {', '.join(wrong)}: its body "
        "is parsed under that context, which can change what it does or make every write fail"
    )
    return Finding("trigger_context", trigger.table, detail, _REPAIR, trigger=trigger.name)


def packet_findings(live: Iterable[LiveTrigger], packet: int) -> list[Finding]:
    """Triggers built for events larger than the server's current ``max_allowed_packet`` allows."""
    allowed = event_size.packet_limit(packet)
    findings = []
    for trigger in live:
        limits = [int(found) for found in _LIMIT.findall(trigger.body)]
        if limits and max(limits) > allowed:
            detail = (
                f"trigger {trigger.name} on {trigger.table!r} builds events up to {max(limits)} bytes, but "
                f"max_allowed_packet is now {packet} (at most {allowed}): larger events lose every value"
            )
            hint = "raise max_allowed_packet again, or run `outbox-triggers revision` and `migrate`"
            findings.append(Finding("packet_too_small", trigger.table, detail, hint, trigger=trigger.name))
    return findings
