"""Engines, connections and server facts, with errors a person can act on."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from outbox_triggers.errors import DatabaseError

_HINTS = {
    1045: "access denied: check the user and password in DATABASE_URL",
    1044: "access denied to the database: grant the account access to it",
    1049: "unknown database: create it, or fix the database name in DATABASE_URL",
    2003: "cannot connect: is the server running, and are host and port in DATABASE_URL right?",
    2005: "unknown host: check the host name in DATABASE_URL",
    2013: "lost connection to the server during the request",
    1142: "the account lacks a privilege the command needs (see README, 'Aurora setup')",
    1419: "binary logging is on and the account lacks SUPER: set log_bin_trust_function_creators=1 "
    "(on Aurora/RDS, in the DB cluster parameter group)",
}


def resolve_url(explicit: str | None, spec_url: str | None = None) -> str:
    """Pick the database URL: flag or DATABASE_URL, then the spec's ``url``."""
    url = explicit or os.environ.get("DATABASE_URL") or spec_url
    if not url:
        raise DatabaseError(
            "no database URL: pass --database-url, set DATABASE_URL, or add 'url' to the spec"
        )
    return url


def redact(url: str | URL) -> str:
    """The URL with its password hidden, safe for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"//[^@/]*@", "//***@", str(url))


def engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` that speaks utf8mb4; raises DatabaseError on a bad URL."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise DatabaseError(f"DATABASE_URL is not an SQLAlchemy URL: {redact(url)}") from None
    if parsed.get_backend_name() not in ("mysql", "mariadb"):
        raise DatabaseError(f"{redact(parsed)} is not a MySQL or MariaDB URL (use mysql+pymysql://...)")
    query = {**dict(parsed.query), "charset": "utf8mb4"}  # whatever the URL says: names are utf8mb4
    try:
        return sa.create_engine(parsed.set(query=query), pool_pre_ping=True, **kwargs)
    except ImportError as exc:
        raise DatabaseError(f"the driver for {parsed.drivername} is not installed: {exc}") from None


@contextmanager
def connect(eng: Engine) -> Iterator[Connection]:
    """Connect, turning driver errors into one-line DatabaseErrors."""
    with translate_errors(eng.url):
        conn = eng.connect()
    try:
        with translate_errors(eng.url):
            yield conn
    finally:
        conn.close()


@contextmanager
def translate_errors(url: URL | str) -> Iterator[None]:
    """Re-raise SQLAlchemy operational errors as :class:`DatabaseError`."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        raise DatabaseError(describe(exc, url)) from exc


def describe(exc: sa.exc.DBAPIError, url: URL | str) -> str:
    """One line for a driver error: what failed, where, and what to do."""
    code = error_code(exc)
    detail = str(exc.orig.args[1]) if exc.orig is not None and len(exc.orig.args) > 1 else str(exc.orig)
    hint = _HINTS.get(code or 0)
    where = redact(url)
    return f"{hint} ({where}: {detail})" if hint else f"database error at {where}: {detail}"


def error_code(exc: BaseException) -> int | None:
    """The MySQL error number behind a driver exception, if any."""
    orig = getattr(exc, "orig", exc)
    args = getattr(orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def flavor(conn: Connection) -> str:
    """``mariadb`` or ``mysql``, from the server version string."""
    version = str(conn.exec_driver_sql("SELECT VERSION()").scalar())
    return "mariadb" if "mariadb" in version.lower() else "mysql"
