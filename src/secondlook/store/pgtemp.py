"""A throwaway PostgreSQL server for tests and benchmarks: initdb into a temporary directory,
listen on 127.0.0.1 on a free port and a unix socket in that directory, remove it all at the end.

PostgreSQL refuses to run as root; when we are root the server runs as the `postgres` system user
(created by the Debian package) via runuser, in a directory that user owns.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from secondlook.settings import settings

ENSURE_HINT = "PostgreSQL server binaries not found: run scripts/ensure-postgres (as root)"


class PostgresUnavailable(RuntimeError):
    pass


def find_bindir() -> Path:
    """The directory holding initdb and pg_ctl: $SECONDLOOK_PG_BINDIR, Debian's layout, or PATH."""
    candidates: list[str] = []
    if (configured := settings().pg_bindir) is not None:  # SECONDLOOK_PG_BINDIR
        candidates.append(str(configured))
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: _major(p), reverse=True
    )
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for candidate in candidates:
        directory = Path(candidate)
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    raise PostgresUnavailable(ENSURE_HINT)


def _major(path: str) -> int:
    try:
        return int(Path(path).parent.name.split(".")[0])
    except ValueError:
        return 0


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _become_subreaper() -> None:
    """Adopt our orphaned descendants (the daemonised postmaster), so that we can reap them.

    A killed postmaster otherwise stays a zombie wherever PID 1 does not reap (containers),
    and PostgreSQL will not start while the PID in its lock file exists."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _reap(pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return  # not our child: its own parent reaps it
        if done:
            return
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TempPostgres:
    """One PostgreSQL cluster in a temporary directory. Use start()/stop() or a with block."""

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="secondlook-pg-"))
        self.datadir = self.root / "data"
        self.socketdir = self.root
        self.logfile = self.root / "server.log"
        self.port = free_port()
        _become_subreaper()
        if self.as_root:
            shutil.chown(self.root, user="postgres", group="postgres")
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bindir / program), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return command

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(  # noqa: S603 - our own fixed argv
            self._command(program, *args), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n"
                + (self.logfile.read_text() if self.logfile.exists() else "")
            )

    def start(self) -> TempPostgres:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socketdir} "
            "-c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-o", options, "-w", "start"
        )
        return self

    def stop(self) -> None:
        pidfile = self.datadir / "postmaster.pid"
        if pidfile.exists():
            pid = int(pidfile.read_text().split()[0])
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop")
            _reap(pid)

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend at once, as a crash of the server would."""
        pid = int((self.datadir / "postmaster.pid").read_text().split()[0])
        victims = [pid, *_children(pid)]
        for victim in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(v) for v in victims):
            time.sleep(0.05)
        for victim in victims:
            _reap(victim)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # name comes from our own code
        return self.url(name)

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
