"""The error tree, and the exit code each branch maps to.

Every error a user can meet derives from :class:`OutboxError`. The CLI catches
that one class, prints ``FAILED: <message>`` and exits with ``exit_code``.

Exit codes:
    0  success
    1  ``check`` found drift (reserved)
    2  the spec or the command line is invalid; nothing was changed
    3  the database is unreachable, refused the login or the privilege
    4  a destination is unreachable, missing or refused the relay
    5  a migration was refused or failed
    130  the relay was stopped at once by a second stop signal (:mod:`outbox_triggers.stopping`)
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_USAGE = 2
EXIT_DATABASE = 3
EXIT_DESTINATION = 4
EXIT_MIGRATION = 5


class OutboxError(Exception):
    """Base of every error the toolkit reports to a user."""

    exit_code = EXIT_USAGE


class SpecError(OutboxError):
    """The spec file is missing, unreadable or invalid."""

    exit_code = EXIT_USAGE


class IdentifierError(SpecError):
    """A table or column name cannot be used in SQL safely."""


class SchemaMismatchError(SpecError):
    """The spec names a table or column the database does not have."""


class RenderError(OutboxError):
    """A template failed to render."""

    exit_code = EXIT_USAGE


class DatabaseError(OutboxError):
    """The database could not be reached or refused the request."""

    exit_code = EXIT_DATABASE


class MigrationError(OutboxError):
    """A migration was refused or failed part-way."""

    exit_code = EXIT_MIGRATION


class DestinationError(OutboxError):
    """A destination is missing, unreachable or refused the relay."""

    exit_code = EXIT_DESTINATION


class EmitError(OutboxError, ValueError):
    """An application event that can't be written: a value JSON can't hold, a name too long, too large."""

    exit_code = EXIT_USAGE


class BackfillError(OutboxError):
    """A backfill was refused (bad input, or one is already running) before it wrote anything."""

    exit_code = EXIT_USAGE
