"""A real PostgreSQL server on a free loopback port, for tests and benchmarks (Debian ``postgresql``).

``initdb`` + ``pg_ctl`` in a fresh temp folder; trust auth on 127.0.0.1 only, no Unix socket
outside that folder. PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` system user (created by the Debian package). Always stopped at the end.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def pg_bindir() -> Path | None:
    """Newest ``/usr/lib/postgresql/<N>/bin`` holding initdb (or the folder of initdb on PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One PostgreSQL cluster; :meth:`new_database` hands out empty databases by URL."""

    def __init__(self, bindir: Path, fsync: bool = False) -> None:
        self.bindir = bindir
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="edgepose-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.fsync = fsync
        self._user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._user = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no 'postgres' user to run PostgreSQL as") from None
            os.chown(self.dir, self._user.pw_uid, self._user.pw_gid)
        self.superuser = "edgepose"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self._user is not None:
            cmd = ["setpriv", f"--reuid={self._user.pw_uid}", f"--regid={self._user.pw_gid}", "--init-groups", *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {(r.stderr or r.stdout)[-2000:]}")
        return r

    def start(self) -> PgServer:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.superuser,
                  "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions")
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir} "
                f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=60")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", opts,
                  "-w", "-t", "60", "start")
        return self

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://{self.superuser}@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """Create an empty database and return its ``postgresql://`` URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def running_server(fsync: bool = False) -> PgServer:
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries not found (Debian package 'postgresql')")
    return PgServer(bindir, fsync=fsync).start()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for the whole test session; skipped (with the reason) when not installed."""
    if pg_bindir() is None:
        pytest.skip("PostgreSQL binaries not found (Debian package 'postgresql'; tools/quickstart.sh installs it)")
    srv = PgServer(pg_bindir()).start()  # type: ignore[arg-type]
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    return pg_server.new_database()


if __name__ == "__main__":  # a server for benchmarks: prints its URL, runs until SIGTERM / Ctrl-C
    import signal
    import sys

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    srv = running_server(fsync="--fsync" in sys.argv)
    try:
        print(srv.new_database(), flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    finally:
        srv.stop()
