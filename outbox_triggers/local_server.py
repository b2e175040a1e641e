"""A throwaway MariaDB/MySQL server in a temporary directory, for the demo and benchmarks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pymysql

from outbox_triggers.errors import DatabaseError

_SBIN = ("/usr/sbin", "/usr/local/sbin", "/usr/local/mysql/bin")


def find(*names: str) -> str | None:
    """The first of ``names`` found on PATH or in the usual sbin directories."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    return next((found for name in names if (found := shutil.which(name, path=path))), None)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(host: str, port: int, user: str = "root", password: str = "") -> bool:
    """True when a MySQL server at host:port accepts the login."""
    try:
        pymysql.connect(host=host, port=port, user=user, password=password, connect_timeout=2).close()
    except pymysql.err.MySQLError:
        return False
    return True


@contextmanager
def throwaway(extra_args: Sequence[str] = (), ready_timeout: float = 60.0) -> Iterator[str]:
    """Start a private server on a free port; yield its root URL; stop it and delete its files."""
    server = find("mariadbd", "mysqld")
    if server is None:
        raise DatabaseError("no MySQL server answers and neither mariadbd nor mysqld is installed")
    datadir = Path(tempfile.mkdtemp(prefix="outbox-mysql-"))
    port = free_port()
    try:
        _initialize(server, datadir)
        process = subprocess.Popen(
            _server_command(server, datadir, port, extra_args),
            stdout=subprocess.DEVNULL,
            stderr=(datadir / "server.log").open("wb"),
        )
        try:
            _wait_ready(process, port, ready_timeout, datadir)
            yield f"mysql+pymysql://root@127.0.0.1:{port}/"
        finally:
            process.terminate()
            process.wait(timeout=60)
    finally:
        shutil.rmtree(datadir, ignore_errors=True)


def _initialize(server: str, datadir: Path) -> None:
    installer = find("mariadb-install-db", "mysql_install_db")
    user = ["--user=root"] if os.geteuid() == 0 else []
    if "mariadbd" in server and installer:
        command = [
            installer,
            "--no-defaults",
            f"--datadir={datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *user,
        ]
    else:
        command = [server, "--no-defaults", "--initialize-insecure", f"--datadir={datadir}", *user]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DatabaseError(f"could not initialize a throwaway server: {done.stderr.strip()[-300:]}")


def _server_command(server: str, datadir: Path, port: int, extra: Sequence[str]) -> list[str]:
    user = ["--user=root"] if os.geteuid() == 0 else []
    return [
        server,
        "--no-defaults",
        f"--datadir={datadir}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        f"--socket={datadir / 'mysqld.sock'}",
        f"--pid-file={datadir / 'mysqld.pid'}",
        "--innodb-buffer-pool-size=128M",
        *user,
        *extra,
    ]


def _wait_ready(process: subprocess.Popen[bytes], port: int, timeout: float, datadir: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log_tail = (datadir / "server.log").read_text(errors="replace")[-300:]
            raise DatabaseError(f"throwaway server exited at start: {log_tail}")
        if answers("127.0.0.1", port):
            return
        time.sleep(0.2)
    raise DatabaseError(f"throwaway server did not answer within {timeout:.0f}s")
