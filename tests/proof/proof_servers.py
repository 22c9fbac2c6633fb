"""Throwaway database servers for the proof harness: PostgreSQL (initdb + pg_ctl) and MariaDB
(mariadb-install-db + mariadbd), each in its own temporary directory, listening on 127.0.0.1 on a free port
and a socket in that directory, stopped by PID. SQLite needs no server. Never a system service.

A server that cannot start raises ServerError with the command, its exit and the end of its log."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

START_TIMEOUT = 60.0


class ServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def _service_user(name: str) -> pwd.struct_passwd | None:
    """As root, the servers run as their Debian system user (neither initdb nor mariadbd runs as root)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise ServerError(f"running as root but there is no '{name}' user to run the server as "
                          f"(the Debian package creates it: apt-get install {'postgresql' if name == 'postgres' else 'mariadb-server'})")


def _run(argv: list[str], user, log: Path, timeout: float = START_TIMEOUT, also: Path | None = None) -> None:
    def demote():
        if user is not None:
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
    with open(log, "ab") as f:
        proc = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, preexec_fn=demote, timeout=timeout,
                              cwd="/", env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"})
    if proc.returncode != 0:
        raise ServerError(f"{' '.join(argv)} exited {proc.returncode}:\n{_tail(log)}{_tail(also) if also else ''}")


def _own(path: Path, user) -> None:
    if user is not None:
        for p in [path, *path.rglob("*")]:
            os.chown(p, user.pw_uid, user.pw_gid)


def _wait_gone(pid: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def _server_dir(kind: str) -> Path:
    """A fresh directory in the system temporary directory (a server user must reach it; a test's own tmp
    directory is private to the test user). The directory itself is created by start()."""
    parent = Path(tempfile.mkdtemp(prefix=f"canary-lint-proof-{kind}-"))
    parent.chmod(0o755)
    return parent / kind


def postgres_bindir() -> Path:
    """The newest /usr/lib/postgresql/N/bin (Debian), else the directory of `pg_ctl` on PATH."""
    root = Path("/usr/lib/postgresql")
    found = sorted((p for p in root.glob("*/bin") if (p / "pg_ctl").exists()),
                   key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0) if root.is_dir() else []
    if found:
        return found[-1]
    which = shutil.which("pg_ctl")
    if which:
        return Path(which).resolve().parent
    raise ServerError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl, no pg_ctl on PATH): "
                      "apt-get install postgresql, or run python3 scripts/dev.py test")


class Postgres:
    dialect = "postgresql"

    def __init__(self):
        self.bindir = postgres_bindir()
        self.dir = _server_dir("pg")
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = free_port()
        self.pid: int | None = None
        self.user = _service_user("postgres")
        self.role = "postgres"

    def start(self) -> "Postgres":
        self.dir.mkdir(parents=True)
        _own(self.dir, self.user)
        _run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.role, "--auth=trust", "-E", "UTF8",
              "--no-sync", "--no-instructions"], self.user, self.dir / "initdb.log")
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
                " -c full_page_writes=off -c shared_buffers=64MB -c max_connections=40")
        _run([str(self.bindir / "pg_ctl"), "start", "-w", "-t", str(int(START_TIMEOUT)), "-D", str(self.data),
              "-l", str(self.log), "-o", opts], self.user, self.dir / "pg_ctl.log", also=self.log)
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
        return self

    @property
    def version(self) -> str:
        return (self.data / "PG_VERSION").read_text().strip()

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.role}@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGINT)  # fast shutdown
            except ProcessLookupError:
                pass
            _wait_gone(self.pid)
            self.pid = None
        shutil.rmtree(self.dir.parent, ignore_errors=True)


class MariaDB:
    dialect = "mysql"

    def __init__(self):
        self.server = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        self.install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if not Path(self.server).exists() or not self.install:
            raise ServerError("MariaDB is not installed (no mariadbd / mariadb-install-db): apt-get install "
                              "mariadb-server, or run python3 scripts/dev.py test")
        self.dir = _server_dir("mariadb")
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.sock = self.dir / "mysqld.sock"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.user = _service_user("mysql")

    def _opts(self) -> list[str]:
        user = ["--user=" + self.user.pw_name] if self.user else []
        return ["--no-defaults", f"--datadir={self.data}", *user, "--skip-log-bin",
                "--innodb-buffer-pool-size=128M", "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0",
                "--skip-name-resolve"]

    def start(self) -> "MariaDB":
        self.dir.mkdir(parents=True)
        _own(self.dir, self.user)
        _run([self.install, *self._opts(), "--auth-root-authentication-method=normal", "--skip-test-db"],
             None, self.dir / "install.log")
        _own(self.dir, self.user)
        with open(self.log, "ab") as f:
            self.proc = subprocess.Popen(
                [self.server, *self._opts(), f"--port={self.port}", "--bind-address=127.0.0.1",
                 f"--socket={self.sock}", f"--pid-file={self.dir / 'mysqld.pid'}", f"--log-error={self.log}"],
                stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"mariadbd exited {self.proc.returncode}:\n{_tail(self.log)}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise ServerError(f"mariadbd did not listen on 127.0.0.1:{self.port} in {START_TIMEOUT:.0f}s:\n{_tail(self.log)}")

    @property
    def version(self) -> str:
        out = subprocess.run([self.server, "--version"], capture_output=True, text=True).stdout
        words = out.split()
        return next((w.split("-")[0] for w in words if w[:1].isdigit()), out.strip())

    def url(self, db: str = "mysql") -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None
        shutil.rmtree(self.dir.parent, ignore_errors=True)


class SQLite:
    dialect = "sqlite"

    def __init__(self):
        self.dir = _server_dir("sqlite")

    def start(self) -> "SQLite":
        self.dir.mkdir(parents=True)
        return self

    @property
    def version(self) -> str:
        import sqlite3
        return sqlite3.sqlite_version

    def url(self, db: str = "main") -> str:
        return f"sqlite:///{self.dir / (db + '.db')}"

    def stop(self) -> None:
        shutil.rmtree(self.dir.parent, ignore_errors=True)


SERVERS = {"postgresql": Postgres, "mysql": MariaDB, "sqlite": SQLite}
