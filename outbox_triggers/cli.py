"""The ``outbox-triggers`` command line: a thin shell over :mod:`outbox_triggers.commands`.

Every option has an environment-variable default. Errors print one line,
``FAILED: <what to do>``, and exit with the code documented in
:mod:`outbox_triggers.errors`; ``--debug`` shows the traceback instead.

The shell imports nothing heavy: each command imports what it uses, so
``--help`` and ``--version`` answer at once. A stop signal is handled from the
first line on (:mod:`outbox_triggers.stopping`): while the relay starts, it
exits 0 at once, since nothing has been read yet.
"""

from __future__ import annotations

from outbox_triggers import stopping

stopping.install(stopping.exit_now)

import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402
from functools import wraps  # noqa: E402
from typing import Any, TypeVar  # noqa: E402

import click  # noqa: E402

from outbox_triggers import errors, logs  # noqa: E402
from outbox_triggers.defaults import (  # noqa: E402
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SPEC_PATH,
    FLAVORS,
    Timeouts,
)

F = TypeVar("F", bound=Callable[..., Any])

spec_option = click.option(
    "--spec",
    "spec_path",
    envvar="OUTBOX_SPEC",
    default=DEFAULT_SPEC_PATH,
    show_default=True,
    show_envvar=True,
    help="Path of the YAML spec.",
)
url_option = click.option(
    "--database-url",
    envvar="DATABASE_URL",
    show_envvar=True,
    help="SQLAlchemy URL, e.g. mysql+pymysql://user:pass@host:3306/db (falls back to the spec's url).",
)
flavor_option = click.option(
    "--flavor",
    envvar="OUTBOX_FLAVOR",
    type=click.Choice(FLAVORS),
    show_envvar=True,
    help="Render for this server flavor instead of the one detected.",
)


def reporting(fn: F) -> F:
    """Turn OutboxError into ``FAILED: …`` and its exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except errors.OutboxError as exc:
            if click.get_current_context().find_root().params.get("debug"):
                raise
            click.echo(f"FAILED: {exc}", err=True)
            sys.exit(exc.exit_code)
        except stopping.ColdShutdown:
            click.echo("stopped at once by a second signal; requests in flight were abandoned", err=True)
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(stopping.EXIT_COLD)  # request threads may hang in a read: don't wait for them

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--debug", is_flag=True, envvar="OUTBOX_DEBUG", help="Show tracebacks instead of one-line errors."
)
@click.option(
    "--log-level",
    envvar="OUTBOX_LOG_LEVEL",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option(
    "--log-format",
    envvar="OUTBOX_LOG_FORMAT",
    default="text",
    show_default=True,
    show_envvar=True,
    type=click.Choice(logs.FORMATS),
    help="Log lines as text, or one JSON object per line (ts, level, logger, message, extras).",
)
@click.version_option(package_name="outbox-triggers")
def main(debug: bool, log_level: str, log_format: str) -> None:
    """Transactional outbox for MySQL/MariaDB: triggers capture changes, the relay ships them to AWS."""
    if click.get_current_context().invoked_subcommand != "relay":
        stopping.restore_defaults()
    logs.configure(log_level, log_format, sys.stderr)
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "alembic.runtime"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


@main.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of the spec (for editors and CI)."""
    from outbox_triggers.spec import schema

    click.echo(json.dumps(schema(), indent=2))


@main.command("emit-sql")
@click.option("--events-table", default="outbox_events", show_default=True, help="The events table.")
@click.option(
    "--paramstyle",
    type=click.Choice(["qmark", "format", "numeric"]),
    default="qmark",
    show_default=True,
    help="Placeholders: ? (JDBC, Go, Node mysql2), %s (Python DB-API), $1 (numbered).",
)
@reporting
def emit_sql_cmd(events_table: str, paramstyle: str) -> None:
    """Print the INSERT that writes an application event from any language (see README)."""
    from outbox_triggers import emit_sql

    click.echo(emit_sql.statement(events_table, paramstyle))


@main.command("render")
@spec_option
@url_option
@flavor_option
@click.option(
    "--alembic",
    is_flag=True,
    help="Print op calls for a revision of the service's own Alembic history (embedded mode) instead.",
)
@reporting
def render_cmd(spec_path: str, database_url: str | None, flavor: str | None, alembic: bool) -> None:
    """Print the exact DDL migrate would apply."""
    from outbox_triggers import commands

    if alembic:
        click.echo(commands.render_alembic(spec_path, database_url), nl=False)
        return
    click.echo(commands.render(spec_path, database_url, flavor), nl=False)


@main.command("revision")
@spec_option
@url_option
@flavor_option
@click.option("-m", "--message", required=True, help="What this revision changes.")
@reporting
def revision_cmd(spec_path: str, database_url: str | None, flavor: str | None, message: str) -> None:
    """Write a frozen revision for what changed in the spec or the live schema."""
    from outbox_triggers import commands

    path = commands.revision(spec_path, message, database_url, flavor)
    click.echo(f"wrote {path}" if path else "no changes: the newest revision already matches the spec")


@main.command("migrate")
@spec_option
@url_option
@flavor_option
@click.option("--sql", is_flag=True, help="Print the script for the mysql client instead of running it.")
@reporting
def migrate_cmd(spec_path: str, database_url: str | None, flavor: str | None, sql: bool) -> None:
    """Create the events table and install the triggers (alembic upgrade head)."""
    from outbox_triggers import commands

    report = commands.migrate(spec_path, database_url, sql=sql, flavor=flavor)
    if report.wrote:
        click.echo(f"wrote first revision {report.wrote} (commit it with your spec)", err=sql)
    if not sql:
        state = "already at" if report.before == report.after else f"{report.before or 'base'} ->"
        held = report.max_lock_held_ms
        swapped = "" if held is None else f" (longest table write-lock {held:.1f} ms)"
        click.echo(f"migrate: {state} {report.after}{swapped}")


@main.command("downgrade")
@spec_option
@url_option
@click.argument("target")
@click.option("--force", is_flag=True, help="At base, drop the events table even if it holds events.")
@click.option("--sql", is_flag=True, help="Print the script instead of running it.")
@reporting
def downgrade_cmd(spec_path: str, database_url: str | None, target: str, force: bool, sql: bool) -> None:
    """Go back to revision TARGET ('base' removes everything the toolkit installed)."""
    from outbox_triggers import commands

    commands.downgrade(spec_path, target, database_url, force=force, sql=sql)
    if not sql:
        click.echo(f"downgrade: at {target}")


@main.command("relay")
@spec_option
@url_option
@click.option("--once", is_flag=True, help="Deliver the events present now, then exit.")
@click.option(
    "--batch-size",
    envvar="OUTBOX_BATCH_SIZE",
    type=click.IntRange(1, 10_000),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    show_envvar=True,
    help="Events read per batch.",
)
@click.option(
    "--poll-interval",
    envvar="OUTBOX_POLL_INTERVAL",
    type=click.FloatRange(0.001, 60),
    show_envvar=True,
    default=DEFAULT_POLL_INTERVAL,
    show_default=True,
    help="Longest wait between reads of an idle events table (waits start at 1 ms and double).",
)
@click.option(
    "--max-in-flight",
    envvar="OUTBOX_MAX_IN_FLIGHT",
    type=click.IntRange(1, 256),
    show_envvar=True,
    default=DEFAULT_MAX_IN_FLIGHT,
    show_default=True,
    help="Publish requests sent concurrently.",
)
@click.option(
    "--request-timeout",
    envvar="OUTBOX_REQUEST_TIMEOUT",
    type=click.FloatRange(0.1, 900),
    show_envvar=True,
    default=DEFAULT_REQUEST_TIMEOUT,
    show_default=True,
    help="Seconds an AWS request may wait for its answer, per attempt (botocore's read timeout).",
)
@click.option(
    "--connect-timeout",
    envvar="OUTBOX_CONNECT_TIMEOUT",
    type=click.FloatRange(0.1, 300),
    show_envvar=True,
    default=DEFAULT_CONNECT_TIMEOUT,
    show_default=True,
    help="Seconds to open a connection to AWS, per attempt (botocore's connect timeout).",
)
@click.option(
    "--metrics-port",
    envvar="OUTBOX_METRICS_PORT",
    type=click.IntRange(1, 65535),
    show_envvar=True,
    help="Serve Prometheus /metrics and a liveness /healthz on this port (off by default).",
)
@reporting
def relay_cmd(
    spec_path: str,
    database_url: str | None,
    once: bool,
    batch_size: int,
    poll_interval: float,
    max_in_flight: int,
    request_timeout: float,
    connect_timeout: float,
    metrics_port: int | None,
) -> None:
    """Publish events to their destinations until SIGTERM/SIGINT (or, with --once, until drained)."""
    from outbox_triggers import relaying

    text_logs = click.get_current_context().find_root().params.get("log_format") != "json"
    stats = relaying.relay(
        spec_path,
        database_url,
        once=once,
        batch_size=batch_size,
        poll_interval=poll_interval,
        max_in_flight=max_in_flight,
        timeouts=Timeouts(connect_timeout, request_timeout),
        metrics_port=metrics_port,
        progress=sys.stderr if text_logs and sys.stderr.isatty() else None,
    )
    click.echo(f"relay: {stats.published} event(s) delivered in {stats.batches} batch(es)", err=True)


@main.command("status")
@spec_option
@url_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output."
)
@reporting
def status_cmd(spec_path: str, database_url: str | None, fmt: str) -> None:
    """Show the backlog per table and destination, its age, dead letters, and who holds the relay lock."""
    from outbox_triggers import commands

    report = commands.status(spec_path, database_url)
    click.echo(report.as_json() if fmt == "json" else report.as_text())


@main.command("backfill")
@spec_option
@url_option
@click.argument("table", required=False)
@click.option("--where", help="Only rows matching this SQL expression (trusted input, run as written).")
@click.option("--destination", help="Send the snapshot to this destination only.")
@click.option(
    "--max-rows-per-second",
    envvar="OUTBOX_BACKFILL_MAX_ROWS_PER_SECOND",
    show_envvar=True,
    type=click.FloatRange(min=1),
    help="Rate ceiling.",
)
@click.option(
    "--max-backlog",
    envvar="OUTBOX_BACKFILL_MAX_BACKLOG",
    show_envvar=True,
    type=click.IntRange(min=0),
    default=1_000_000,
    show_default=True,
    help="Pause while the events table holds more events than this (0: never).",
)
@click.option(
    "--writer-share",
    envvar="OUTBOX_BACKFILL_WRITER_SHARE",
    show_envvar=True,
    type=click.FloatRange(0, 0.99),
    default=0.9,
    show_default=True,
    help="Pause between chunks so the server's writers keep this share of their pace (0: never pause).",
)
@click.option("--force", is_flag=True, help="Run even while another backfill of the table runs.")
@click.option("--resume", is_flag=True, help="Carry on every unfinished backfill no process runs.")
@reporting
def backfill_cmd(
    spec_path: str,
    database_url: str | None,
    table: str | None,
    where: str | None,
    destination: str | None,
    max_rows_per_second: float | None,
    max_backlog: int,
    writer_share: float,
    force: bool,
    resume: bool,
) -> None:
    """Send every existing row of TABLE as a snapshot-read event, online, in key order; resumable.

    SIGTERM or Ctrl-C stops after the chunk under way; --resume carries on from there.
    """
    import threading

    from outbox_triggers import backfill_progress, commands
    from outbox_triggers.backfill import Pace

    stop = threading.Event()
    stopping.install(lambda signum, frame: stop.set())
    display = backfill_progress.Display(sys.stderr.isatty())
    try:
        done = commands.backfill(
            spec_path,
            table,
            database_url,
            where,
            destination,
            force,
            resume,
            Pace(max_rows_per_second, max_backlog, writer_share=writer_share),
            stop,
            display,
        )
    finally:
        display.close()
    for running in done:
        click.echo(backfill_progress.summary(running), err=True)
    if resume and not done:
        click.echo("backfill: nothing to resume", err=True)


@main.command("check")
@spec_option
@url_option
@flavor_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output."
)
@click.option(
    "--embedded",
    is_flag=True,
    help="Triggers live in the service's own Alembic history: compare with the spec.",
)
@reporting
def check_cmd(spec_path: str, database_url: str | None, flavor: str | None, fmt: str, embedded: bool) -> None:
    """Exit 0 if the spec, the revisions and the live triggers agree; 1, listing each finding, if not."""
    from outbox_triggers import commands

    report = commands.check(spec_path, database_url, flavor, embedded=embedded)
    click.echo(report.as_json() if fmt == "json" else report.as_text())
    sys.exit(errors.EXIT_OK if report.ok else errors.EXIT_DRIFT)


@main.command("repair")
@spec_option
@url_option
@reporting
def repair_cmd(spec_path: str, database_url: str | None) -> None:
    """Reinstall the applied revision's triggers where check found them missing, altered or orphaned."""
    from outbox_triggers import commands

    done = commands.repair(spec_path, database_url)
    for line in done or ["nothing to repair: the live triggers match the applied revision"]:
        click.echo(f"repair: {line}")


@main.command("doctor")
@spec_option
@url_option
@click.option(
    "--relay-user", metavar="NAME[@HOST]", help="Also check this account's grants on the events table."
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output."
)
@reporting
def doctor_cmd(spec_path: str, database_url: str | None, relay_user: str | None, fmt: str) -> None:
    """Check the server and account; exit 3 if something blocks migrate or the triggers."""
    from outbox_triggers import commands

    report = commands.doctor(spec_path, database_url, relay_user)
    click.echo(report.as_json() if fmt == "json" else report.as_text())
    sys.exit(errors.EXIT_OK if report.ok else errors.EXIT_DATABASE)


@main.group("dead-letters")
def dead_letters_group() -> None:
    """Events no destination will accept: list them, retry them, or purge them."""


@dead_letters_group.command("list")
@spec_option
@url_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@reporting
def dead_letters_list(spec_path: str, database_url: str | None, fmt: str) -> None:
    """Show dead letters with their destination and error."""
    from outbox_triggers import commands

    rows = commands.dead_letters(spec_path, "list", database_url=database_url)
    assert isinstance(rows, list)
    if fmt == "json":
        click.echo(json.dumps([vars(r) for r in rows], indent=2))
        return
    for r in rows:
        click.echo(f"{r.seq}\t{r.table}\t{r.destination}\t{r.failed_at}\t{r.size} B\t{r.error}")
    click.echo(f"{len(rows)} dead letter(s)", err=True)


@dead_letters_group.command("retry")
@spec_option
@url_option
@click.argument("seqs", nargs=-1, type=int)
@reporting
def dead_letters_retry(spec_path: str, database_url: str | None, seqs: tuple[int, ...]) -> None:
    """Move dead letters SEQS (all when none are given) back to the events table for the relay."""
    from outbox_triggers import commands

    count = commands.dead_letters(spec_path, "retry", seqs, database_url)
    click.echo(f"dead-letters: {count} event(s) back in the events table")


@dead_letters_group.command("purge")
@spec_option
@url_option
@click.argument("seqs", nargs=-1, type=int)
@click.option("--all", "everything", is_flag=True, help="Purge every dead letter (required when no SEQS).")
@reporting
def dead_letters_purge(
    spec_path: str, database_url: str | None, seqs: tuple[int, ...], everything: bool
) -> None:
    """Delete dead letters SEQS for good (or --all)."""
    from outbox_triggers import commands

    if not seqs and not everything:
        raise errors.SpecError("name the dead letters to purge, or pass --all")
    count = commands.dead_letters(spec_path, "purge", seqs, database_url)
    click.echo(f"dead-letters: {count} event(s) purged")


@main.group("inbox")
def inbox_group() -> None:
    """The consumer's inbox: processed event ids, for deduplication (see README, 'Application events')."""


inbox_table_option = click.option(
    "--table", default="outbox_inbox", show_default=True, help="The inbox table."
)


@inbox_group.command("create")
@url_option
@inbox_table_option
@reporting
def inbox_create(database_url: str | None, table: str) -> None:
    """Create the inbox table in the consumer's database (if it is missing)."""
    from outbox_triggers import database, inbox

    inbox.create(database.resolve_url(database_url), table)
    click.echo(f"inbox: table {table!r} ready")


@inbox_group.command("purge")
@url_option
@inbox_table_option
@click.option("--older-than", required=True, help="Age of the records to delete, e.g. 14d or 36h.")
@reporting
def inbox_purge(database_url: str | None, table: str, older_than: str) -> None:
    """Delete records older than --older-than; keep them longer than any redelivery can come."""
    from outbox_triggers import database, inbox
    from outbox_triggers.spec import _keep_seconds

    try:
        seconds = _keep_seconds({"keep": older_than})
    except (KeyError, ValueError):
        raise errors.SpecError(
            f"--older-than {older_than!r} is not a duration like 90m, 36h or 14d"
        ) from None
    gone = inbox.purge_database(database.resolve_url(database_url), int(seconds or 0), table)
    click.echo(f"inbox: {gone} record(s) purged")


@main.command("replay")
@spec_option
@url_option
@click.option(
    "--since", required=True, help="UTC time (2026-11-23T10:00:00) or a duration ago (90m, 36h, 7d)."
)
@reporting
def replay_cmd(spec_path: str, database_url: str | None, since: str) -> None:
    """Publish again the kept events delivered since --since (needs relay.retention: {keep: ...})."""
    from outbox_triggers import commands

    count = commands.replay(spec_path, _moment(since), database_url)
    click.echo(f"replay: {count} kept event(s) back in the events table; the relay will publish them")


def _moment(text: str) -> datetime:
    """An absolute UTC time, or now minus a duration like ``90m``."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[:-1].isdigit() and text[-1:] in units:
        return datetime.now(timezone.utc) - timedelta(seconds=int(text[:-1]) * units[text[-1]])
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise errors.SpecError(
            f"--since {text!r} is neither a time (2026-11-23T10:00:00) nor a duration (36h)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@main.command("demo")
@reporting
def demo_cmd() -> None:
    """Run the whole pipeline on a throwaway database and an in-process SQS (moto)."""
    from outbox_triggers import demo

    demo.run()
