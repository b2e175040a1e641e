"""``outbox-triggers doctor``: is this server and this account ready for the outbox?

Each check becomes a :class:`Diagnosis`, ``ok``, ``warn`` or ``fail``, with
what to do about it. ``fail`` means ``migrate`` or the triggers would not
work; ``warn`` means they work but something deserves a decision. The facts
are read once (:func:`gather`); the judgements are plain functions of them.
Nothing here writes.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outbox_triggers import check, database, event_size, identifiers, introspect, lock, model, trigger_session
from outbox_triggers import render as rendering
from outbox_triggers.check import safety
from outbox_triggers.check import trigger_text as check_text
from outbox_triggers.migrations import VERSION_TABLE
from outbox_triggers.spec import Spec

OK, WARN, FAIL = "ok", "warn", "fail"
_FACTS = (
    "SELECT VERSION(), @@log_bin, @@log_bin_trust_function_creators, @@binlog_format, @@sql_mode, "
    "CURRENT_USER(), DATABASE()"
)
_GRANT = re.compile(
    r"^GRANT\s+(?P<privileges>.+?)\s+ON\s+(?P<db>`(?:[^`]|``)*`|\*|[^\s.]+)\.(?P<table>`(?:[^`]|``)*`|\*|\S+)\s+TO\s",
    re.IGNORECASE,
)
_TABLE = sa.text(
    "SELECT ENGINE, TABLE_COLLATION FROM information_schema.TABLES "
    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"
)
_PROCESS = sa.text("SELECT USER, HOST FROM information_schema.PROCESSLIST WHERE ID = :id")
_DEFINERS = sa.text(
    "SELECT TRIGGER_NAME, DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()"
)
_ACCOUNT = sa.text("SELECT 1 FROM mysql.user WHERE User = :user AND Host = :host")
_ROUTINE_GRANT = re.compile(r"\sON\s+(FUNCTION|PROCEDURE|PACKAGE)\s", re.IGNORECASE)
_MIN_MARIADB = (10, 2, 4)  # JSON_OBJECT (10.2.3) and ST_AsGeoJSON (10.2.4)
_MIN_MYSQL = (5, 7, 8)  # JSON_OBJECT, JSON_EXTRACT
_NO_ACCESS = (1044, 1045, 1142, 1227)
_NO_SUCH_GRANT = 1141


@dataclass(frozen=True)
class Diagnosis:
    """One check's outcome, and what to do when it is not ``ok``."""

    topic: str
    status: str
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Report:
    """Every diagnosis, in the order they were made."""

    diagnoses: tuple[Diagnosis, ...]
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing blocks ``migrate`` or the triggers."""
        return all(d.status != FAIL for d in self.diagnoses)

    def as_json(self) -> str:
        """The report as one JSON object."""
        body = {"ok": self.ok, "diagnoses": [asdict(d) for d in self.diagnoses]}
        return json.dumps({**body, "elapsed_ms": round(self.elapsed_ms, 1)}, indent=2, ensure_ascii=False)

    def as_text(self) -> str:
        """The report for a person: one line per check, then its fix."""
        lines = []
        for d in self.diagnoses:
            lines.append(f"[{d.status.upper() if d.status != OK else OK}] {d.topic}: {d.detail}")
            if d.fix:
                lines.append(f"       fix: {d.fix}")
        fails = sum(d.status == FAIL for d in self.diagnoses)
        warns = sum(d.status == WARN for d in self.diagnoses)
        verdict = f"{fails} problem(s) block the outbox" if fails else "nothing blocks the outbox"
        return "\n".join([*lines, f"doctor: {verdict}; {warns} warning(s)"])


@dataclass(frozen=True)
class Grant:
    """One ``GRANT … ON db.table`` line: its table-level privileges and target."""

    privileges: frozenset[str]
    database: str
    table: str

    def covers(self, privilege: str, db: str, table: str | None) -> bool:
        """True when this grant gives ``privilege`` on ``db`` (and ``table``, if named)."""
        if privilege not in self.privileges and "ALL" not in self.privileges:
            return False
        if self.database == "*":
            return True
        if self.table == "*":
            return _pattern_matches(self.database, db)
        return table is not None and self.database == db and self.table == table


@dataclass(frozen=True)
class Facts:
    """What the server says about itself and the connected account."""

    version: str
    flavor: str
    aurora: str | None
    log_bin: bool
    trust_function_creators: bool
    binlog_format: str
    sql_mode: frozenset[str]
    user: str
    database: str
    grants: tuple[Grant, ...]
    roles: tuple[str, ...] = ()

    @property
    def numbers(self) -> tuple[int, int, int]:
        """The version as (major, minor, patch)."""
        match = re.match(r"(\d+)\.(\d+)\.(\d+)", self.version)
        return (int(match[1]), int(match[2]), int(match[3])) if match else (0, 0, 0)

    @property
    def account(self) -> str:
        """The account as ``'name'@'host'``, for GRANT statements."""
        name, _, host = self.user.rpartition("@")
        return f"'{name}'@'{host}'"

    def has(self, privilege: str, table: str | None = None) -> bool:
        """True when the account holds ``privilege`` on this database (and ``table``)."""
        return any(g.covers(privilege, self.database, table) for g in self.grants)

    def has_global(self, privilege: str) -> bool:
        """True when the account holds ``privilege`` ON *.* (SUPER exists nowhere else)."""
        return any(g.database == "*" and g.covers(privilege, "", None) for g in self.grants)


def gather(conn: Connection) -> Facts:
    """Read the server's version, settings and the account's grants."""
    version, log_bin, trust, binlog_format, sql_mode, user, db = tuple(conn.exec_driver_sql(_FACTS).one())
    aurora = conn.exec_driver_sql("SHOW VARIABLES LIKE 'aurora_version'").first()
    grants, roles = parse_grants(str(r[0]) for r in conn.exec_driver_sql("SHOW GRANTS"))
    return Facts(
        version=str(version),
        flavor="mariadb" if "mariadb" in str(version).lower() else "mysql",
        aurora=str(aurora[1]) if aurora else None,
        log_bin=bool(int(log_bin or 0)),
        trust_function_creators=bool(int(trust or 0)),
        binlog_format=str(binlog_format or ""),
        sql_mode=frozenset(m for m in str(sql_mode or "").upper().split(",") if m),
        user=str(user),
        database=str(db or ""),
        grants=tuple(grants),
        roles=tuple(roles),
    )


def parse_grants(lines: Iterable[str]) -> tuple[list[Grant], list[str]]:
    """Table-level grants from ``SHOW GRANTS`` lines, and the roles granted (not expanded)."""
    grants, roles = [], []
    for line in lines:
        if _ROUTINE_GRANT.search(line):
            continue
        match = _GRANT.match(line)
        if match:
            privileges = _privileges(match["privileges"])
            grants.append(Grant(privileges, _unquote(match["db"]), _unquote(match["table"])))
        elif re.match(r"^GRANT\s+\S+\s+TO\s", line, re.IGNORECASE):
            roles.append(line.split()[1])
    return grants, roles


def _privileges(text: str) -> frozenset[str]:
    """``SELECT, INSERT (a, b), ALL PRIVILEGES`` → table-wide privileges only (column grants skipped)."""
    items, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += ch
    items.append(current)
    names = (re.sub(r"\s+", " ", i.strip().upper()) for i in items if "(" not in i)
    return frozenset("ALL" if n in ("ALL", "ALL PRIVILEGES") else n for n in names if n)


def _unquote(name: str) -> str:
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def _pattern_matches(pattern: str, name: str) -> bool:
    """A database-level grant's name is a LIKE pattern: ``%`` and ``_`` are wildcards, ``\\`` escapes."""
    regex, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            regex, i = regex + re.escape(pattern[i + 1]), i + 2
            continue
        regex += ".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
        i += 1
    return re.fullmatch(regex, name) is not None


# --- judgements on the facts --------------------------------------------------------------------------


def server(facts: Facts) -> Diagnosis:
    """The flavor and version, against what the generated SQL needs."""
    numbers, label = facts.numbers, f"{'MariaDB' if facts.flavor == 'mariadb' else 'MySQL'} {facts.version}"
    if facts.aurora:
        label += f" (Aurora MySQL {facts.aurora})"
    if facts.flavor == "mariadb":
        if numbers < _MIN_MARIADB:
            return Diagnosis(
                "server", FAIL, f"{label} lacks JSON_OBJECT or ST_AsGeoJSON", "upgrade to 10.2.4+"
            )
        return Diagnosis("server", OK, f"{label}; the mariadb flavor is tested live on 10.11")
    if numbers < _MIN_MYSQL:
        return Diagnosis(
            "server", FAIL, f"{label} lacks the JSON functions the triggers use", "upgrade to 8.0+"
        )
    if numbers < (8, 0, 0):
        return Diagnosis(
            "server",
            WARN,
            f"{label}: MySQL 5.7 / Aurora MySQL 2 are past end of life, and the mysql flavor is "
            "written and golden-tested for MySQL 8 / Aurora MySQL 3",
            "upgrade to MySQL 8 / Aurora MySQL 3; until then, test the rendered triggers on a copy",
        )
    return Diagnosis("server", OK, f"{label}; the mysql flavor targets MySQL 8 / Aurora MySQL 3")


def binlog(facts: Facts) -> list[Diagnosis]:
    """Binary logging, ``log_bin_trust_function_creators`` and ``binlog_format``."""
    parameter_fix = (
        "set log_bin_trust_function_creators = 1: on Aurora in the DB cluster parameter group, on RDS for "
        "MySQL/MariaDB in the DB parameter group (RDS gives no SUPER; the parameter is dynamic, no reboot); "
        "self-managed: SET GLOBAL log_bin_trust_function_creators = 1 and put it in my.cnf"
    )
    if not facts.log_bin:
        detail = (
            "binary logging is off, so CREATE TRIGGER needs no extra setting; before turning it on "
            "(replica, CDC), set log_bin_trust_function_creators = 1"
        )
        return [Diagnosis("binlog", OK, detail)]
    found = [_binlog_format(facts)] if facts.binlog_format.upper() == "STATEMENT" else []
    if facts.trust_function_creators:
        return [
            Diagnosis("binlog", OK, "binary logging is on and log_bin_trust_function_creators = 1"),
            *found,
        ]
    if facts.has_global("SUPER"):
        detail = (
            "binary logging is on and log_bin_trust_function_creators = 0: CREATE TRIGGER works for this "
            "account only because it has SUPER; any other account gets error 1419"
        )
        return [Diagnosis("binlog", WARN, detail, parameter_fix), *found]
    detail = (
        "binary logging is on, log_bin_trust_function_creators = 0 and the account has no SUPER: "
        "CREATE TRIGGER fails with error 1419"
    )
    return [Diagnosis("binlog", FAIL, detail, parameter_fix), *found]


def _binlog_format(facts: Facts) -> Diagnosis:
    return Diagnosis(
        "binlog_format",
        WARN,
        "binlog_format = STATEMENT: the triggers call UUID(), so every tracked write is logged as unsafe "
        "and a replica would generate different event ids",
        "use binlog_format = ROW (the default since MySQL 5.7.7) or MIXED",
    )


def sql_mode(facts: Facts) -> list[Diagnosis]:
    """What this session's sql_mode means for capture: nothing for the triggers, which are pinned."""
    modes = facts.sql_mode
    notes = [
        f"triggers are created under sql_mode '{trigger_session.SQL_MODE}' and utf8mb4 whatever this "
        "session uses, so ORACLE, ANSI_QUOTES or NO_BACKSLASH_ESCAPES here change nothing in them"
    ]
    if not modes & {"NO_ZERO_DATE", "NO_ZERO_IN_DATE"}:
        notes.append("zero dates can be stored here and are captured as null")
    summary = f"{','.join(sorted(modes)) or '(empty)'}; " + "; ".join(notes)
    return [Diagnosis("sql_mode", OK, summary)]


def packet(conn: Connection, spec: Spec) -> Diagnosis:
    """Whether the server's max_allowed_packet holds the events the spec's tables may write."""
    size = introspect.max_allowed_packet(conn)
    limit = event_size.packet_limit(size)
    asked = {t.name: t.max_event_bytes for t in spec.tables if (t.max_event_bytes or 0) > limit}
    if asked:
        detail = f"max_allowed_packet is {size}, so events can take at most {limit} bytes, but " + ", ".join(
            f"tables.{name}.max_event_bytes asks {value}" for name, value in sorted(asked.items())
        )
        return Diagnosis(
            "max_allowed_packet", FAIL, detail, "lower max_event_bytes or raise max_allowed_packet"
        )
    detail = f"{size} bytes: events up to {limit} bytes can be built and read whole"
    if limit < event_size.MIB:
        return Diagnosis(
            "max_allowed_packet",
            WARN,
            detail + "; that is below what SQS and Kinesis accept, so large rows lose more values",
            "raise max_allowed_packet (the DB parameter group on RDS/Aurora)",
        )
    return Diagnosis("max_allowed_packet", OK, detail)


def trigger_safety(conn: Connection) -> list[Diagnosis]:
    """Installed toolkit triggers created outside the pinned session, or built for a larger packet."""
    live = list(check_text.live_triggers(conn).values())
    found = safety.context_findings(live) + safety.packet_findings(live, introspect.max_allowed_packet(conn))
    if not found:
        return [
            Diagnosis("trigger_safety", OK, f"{len(live)} installed trigger(s) were created as migrate does")
        ]
    return [
        Diagnosis("trigger_safety", FAIL if f.kind == "trigger_context" else WARN, f.detail, f.hint)
        for f in found
    ]


def auto_increment(facts: Facts) -> Diagnosis:
    """Whether the events table's AUTO_INCREMENT (``seq``) survives a restart."""
    if facts.flavor == "mariadb" or facts.numbers >= (8, 0, 0):
        return Diagnosis("auto_increment", OK, "persisted across restarts (MySQL 8.0+, MariaDB 10.2.4+)")
    return Diagnosis(
        "auto_increment",
        WARN,
        "MySQL 5.7 / Aurora MySQL 2 re-seed AUTO_INCREMENT from MAX(seq)+1 at restart, so after a restart "
        "with a drained events table, seq values repeat. Harmless for delivery: event ids are UUIDs "
        "and seq only orders events still in the table",
        "deduplicate on the event id, never on seq",
    )


def privileges(facts: Facts, tables: Sequence[str], events_table: str) -> list[Diagnosis]:
    """The privileges ``migrate`` needs, and the ones ``downgrade`` and repairs need."""
    need = [("LOCK TABLES", None), *[(p, t) for t in tables for p in ("SELECT", "TRIGGER")]]
    need += [(p, events_table) for p in ("CREATE", "INSERT", "SELECT")]
    need += [(p, VERSION_TABLE) for p in ("CREATE", "SELECT", "INSERT", "UPDATE", "DELETE")]
    want = [(p, events_table) for p in ("DROP", "ALTER")]
    where = f"{identifiers.quote(facts.database)}.*"
    roles = f" (privileges of roles {', '.join(facts.roles)} were not expanded)" if facts.roles else ""
    missing = _missing(facts, need)
    found = []
    if missing:
        detail = f"{facts.account} lacks {_describe(missing)}{roles}: migrate would fail"
        grant = f"GRANT {', '.join(dict.fromkeys(p for p, _ in missing))} ON {where} TO {facts.account}"
        found.append(Diagnosis("privileges", FAIL, detail, grant))
    else:
        found.append(Diagnosis("privileges", OK, f"{facts.account} can create, lock and swap triggers"))
    optional = _missing(facts, want)
    if optional:
        detail = (
            f"{facts.account} lacks {_describe(optional)}: downgrade to base and events-table fixes need them"
        )
        grant = f"GRANT {', '.join(p for p, _ in optional)} ON {where} TO {facts.account}"
        found.append(Diagnosis("privileges", WARN, detail, grant))
    return found


def _missing(facts: Facts, need: Iterable[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    return [(p, t) for p, t in need if not facts.has(p, t)]


def _describe(missing: Sequence[tuple[str, str | None]]) -> str:
    return ", ".join(f"{p} on {t!r}" if t else f"{p} on the database" for p, t in missing)


# --- checks that read the database --------------------------------------------------------------------


def events_table(conn: Connection, spec: Spec, flavor: str) -> list[Diagnosis]:
    """The events table's engine, character sets and shape, against what migrate creates."""
    expected = rendering.render(model.Model(spec.events_table, ()), flavor).events_table_sql
    findings = check.events_table_findings(conn, spec.events_table, expected)
    if findings and findings[0].kind == "events_table_missing":
        return [
            Diagnosis("events_table", OK, f"{spec.events_table!r} does not exist yet; migrate creates it")
        ]
    if findings:
        return [Diagnosis("events_table", FAIL, f.detail, f.hint) for f in findings]
    engine, collation = conn.execute(_TABLE, {"t": spec.events_table}).one()
    detail = f"{spec.events_table!r}: {engine}, {collation}, the shape migrate creates"
    return [Diagnosis("events_table", OK, detail)]


def relay_account(conn: Connection, facts: Facts, relay_user: str, events_table: str) -> Diagnosis:
    """Whether ``relay_user`` (``name[@host]``) may read and delete events."""
    name, _, host = relay_user.partition("@")
    account = f"'{name}'@'{host or '%'}'"
    try:
        lines = [str(r[0]) for r in conn.exec_driver_sql("SHOW GRANTS FOR %s@%s", (name, host or "%"))]
    except sa.exc.DBAPIError as exc:
        code = database.error_code(exc)
        if code == _NO_SUCH_GRANT:
            fix = _relay_grant(facts, account, events_table)
            return Diagnosis("relay_account", FAIL, f"account {account} does not exist", fix)
        if code in _NO_ACCESS:
            detail = f"cannot read the grants of {account} (needs SELECT on the mysql schema)"
            return Diagnosis(
                "relay_account", WARN, detail, "run doctor as an administrator, or as the relay itself"
            )
        raise
    grants, _ = parse_grants(lines)
    relay = dataclasses.replace(facts, user=f"{name}@{host or '%'}", grants=tuple(grants), roles=())
    missing = _missing(relay, [("SELECT", events_table), ("DELETE", events_table)])
    if missing:
        fix = _relay_grant(facts, account, events_table)
        return Diagnosis("relay_account", FAIL, f"{account} lacks {_describe(missing)}", fix)
    return Diagnosis("relay_account", OK, f"{account} can read and delete events in {events_table!r}")


def _relay_grant(facts: Facts, account: str, events_table: str) -> str:
    target = f"{identifiers.quote(facts.database)}.{identifiers.quote(events_table)}"
    return f"GRANT SELECT, DELETE ON {target} TO {account} (create the account first if it is missing)"


def relay_lock(conn: Connection, facts: Facts, events_table: str) -> Diagnosis:
    """Whether a relay holds the named lock now, and whether events wait without one."""
    name = lock.lock_name(facts.database, events_table)
    holder = conn.exec_driver_sql("SELECT IS_USED_LOCK(%s)", (name,)).scalar()
    if holder is not None:
        who = conn.execute(_PROCESS, {"id": int(holder)}).first()
        seen = f" ({who[0]} from {who[1]})" if who else ""
        return Diagnosis(
            "relay_lock", OK, f"a relay is running: connection {holder}{seen} holds lock {name!r}"
        )
    waiting = _backlog(conn, events_table)
    if waiting:
        detail = f"{waiting} event(s) wait in {events_table!r} and no relay holds lock {name!r}"
        return Diagnosis("relay_lock", WARN, detail, "start one: `outbox-triggers relay`")
    return Diagnosis("relay_lock", OK, f"no relay holds lock {name!r} right now, and no event is waiting")


def trigger_definers(conn: Connection) -> list[Diagnosis]:
    """Whether the account each installed trigger runs as still exists (a dropped one fails every write)."""
    definers: dict[str, list[str]] = {}
    for name, definer in conn.execute(_DEFINERS):
        if identifiers.is_toolkit_trigger(name):
            definers.setdefault(str(definer), []).append(name)
    return [_definer(conn, definer, names) for definer, names in sorted(definers.items())]


def _definer(conn: Connection, definer: str, triggers: list[str]) -> Diagnosis:
    user, _, host = definer.rpartition("@")
    try:
        exists = conn.execute(_ACCOUNT, {"user": user, "host": host}).first() is not None
    except sa.exc.DBAPIError as exc:
        if database.error_code(exc) not in _NO_ACCESS:
            raise
        conn.rollback()
        return Diagnosis("trigger_definer", WARN, f"cannot read mysql.user to check that {definer} exists")
    if exists:
        return Diagnosis("trigger_definer", OK, f"{len(triggers)} trigger(s) run as {definer}, which exists")
    return Diagnosis(
        "trigger_definer",
        FAIL,
        f"{len(triggers)} trigger(s) run as {definer}, which does not exist: every write to their tables "
        f"fails with error 1449 (e.g. {triggers[0]})",
        f"create the account {definer} again, or run `outbox-triggers render`'s DDL as an existing account",
    )


def _backlog(conn: Connection, events_table: str) -> int:
    if conn.execute(_TABLE, {"t": events_table}).first() is None:
        return 0
    return int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {identifiers.quote(events_table)}").scalar() or 0)  # noqa: S608


def run(conn: Connection, spec: Spec, relay_user: str | None = None) -> Report:
    """Every check, against the server behind ``conn`` and the tables ``spec`` names."""
    started = time.monotonic()
    facts = gather(conn)
    found = [server(facts), *privileges(facts, [t.name for t in spec.tables], spec.events_table)]
    found += [*binlog(facts), *sql_mode(facts), packet(conn, spec), auto_increment(facts)]
    found += events_table(conn, spec, facts.flavor)
    found += [*trigger_definers(conn), *trigger_safety(conn)]
    if relay_user:
        found.append(relay_account(conn, facts, relay_user, spec.events_table))
    found.append(relay_lock(conn, facts, spec.events_table))
    conn.commit()
    return Report(tuple(found), (time.monotonic() - started) * 1000)
