"""The journal: every decision, weight change and measurement in SQLite, written (and synced) before acting.

One runner per service: an exclusive `flock` on `<journal>.<service>.lock`, released by the kernel when the
runner dies, even by SIGKILL.

Fault injection for tests: with CANARY_LINT_KILL_AFTER=<event kind>[:<n>] set, the process SIGKILLs itself
right after the n-th (default first) event of that kind is written, as `kill -9` at that transition would.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

ACTIVE = ("running", "paused")
FINAL = ("promoted", "rolled-back", "refused", "error")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rollouts (
  id INTEGER PRIMARY KEY, service TEXT NOT NULL, plan TEXT NOT NULL, commit_sha TEXT, dry_run INTEGER NOT NULL,
  started REAL NOT NULL, updated REAL NOT NULL, state TEXT NOT NULL, region INTEGER NOT NULL DEFAULT 0,
  stage INTEGER NOT NULL DEFAULT 0, reason TEXT);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY, rollout INTEGER NOT NULL, ts REAL NOT NULL, kind TEXT NOT NULL,
  region INTEGER, stage INTEGER, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS commands (
  id INTEGER PRIMARY KEY, rollout INTEGER NOT NULL, ts REAL NOT NULL, command TEXT NOT NULL,
  done INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS events_rollout ON events (rollout, id);
"""


class JournalError(Exception):
    pass


class Locked(JournalError):
    pass


@dataclass
class Rollout:
    id: int
    service: str
    plan: str
    commit: str | None
    dry_run: bool
    started: float
    updated: float
    state: str
    region: int
    stage: int
    reason: str | None


class Journal:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), timeout=10, isolation_level=None, check_same_thread=False)
        self._wal()
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)
        self._lock_fd: int | None = None
        kind, _, nth = os.environ.get("CANARY_LINT_KILL_AFTER", "").partition(":")
        self._kill_after = (kind, int(nth or 1)) if kind else None
        self._written: dict[str, int] = {}

    def _wal(self) -> None:
        """WAL mode, persistent in the file once set. Switching a new journal to it needs the file to itself, and
        SQLite answers "database is locked" at once, without its busy wait, while another process opens the
        same new journal (the runner starting while `status` reads it): retried for the connect timeout."""
        deadline = time.monotonic() + 10
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.02)

    @contextlib.contextmanager
    def atomic(self):
        """Events written inside land together or not at all (a decision and its record)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        self._maybe_die(None)

    def close(self) -> None:
        self.unlock()
        self.db.close()

    # --- lock ------------------------------------------------------------------------------------------
    def lock_path(self, service: str) -> Path:
        return self.path.with_name(f"{self.path.name}.{service}.lock")

    def lock(self, service: str) -> None:
        import fcntl

        fd = os.open(self.lock_path(service), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise Locked(
                f"another rollout runner for {service} is running (pid {holder}); "
                f"use `canary-lint rollout status/abort/promote`"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def holder(self, service: str) -> int | None:
        """The pid of the live runner holding the service lock, else None."""
        import fcntl

        path = self.lock_path(service)
        if not path.exists():
            return None
        fd = os.open(path, os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                text = os.pread(fd, 64, 0).decode(errors="replace").strip()
                return int(text) if text.isdigit() else -1
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    # --- rollouts --------------------------------------------------------------------------------------
    def start(self, service: str, plan_json: str, commit: str | None, dry_run: bool, state: str = "running") -> int:
        now = time.time()
        cur = self.db.execute(
            "INSERT INTO rollouts (service, plan, commit_sha, dry_run, started, updated, state) VALUES (?,?,?,?,?,?,?)",
            (service, plan_json, commit, int(dry_run), now, now, state),
        )
        return int(cur.lastrowid)

    def update(self, rollout: int, **fields) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(
            f"UPDATE rollouts SET {cols}, updated = ? WHERE id = ?", (*fields.values(), time.time(), rollout)
        )

    def get(self, rollout: int) -> Rollout:
        row = self.db.execute(
            "SELECT id, service, plan, commit_sha, dry_run, started, updated, state, region, stage, "
            "reason FROM rollouts WHERE id = ?",
            (rollout,),
        ).fetchone()
        if row is None:
            raise JournalError(f"no rollout {rollout} in {self.path}")
        return Rollout(*row[:4], bool(row[4]), *row[5:])

    def active(self, service: str) -> list[Rollout]:
        rows = self.db.execute(
            "SELECT id FROM rollouts WHERE service = ? AND state IN ('running', 'paused') ORDER BY id", (service,)
        ).fetchall()
        return [self.get(r[0]) for r in rows]

    def latest(self, service: str | None = None, active_only: bool = False) -> Rollout | None:
        q = "SELECT id FROM rollouts"
        cond, args = [], []
        if service:
            cond.append("service = ?")
            args.append(service)
        if active_only:
            cond.append("state IN ('running', 'paused')")
        if cond:
            q += " WHERE " + " AND ".join(cond)
        row = self.db.execute(q + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return self.get(row[0]) if row else None

    # --- events ----------------------------------------------------------------------------------------
    def event(
        self, rollout: int, kind: str, data: dict | None = None, *, region: int | None = None, stage: int | None = None
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO events (rollout, ts, kind, region, stage, data) VALUES (?,?,?,?,?,?)",
            (rollout, time.time(), kind, region, stage, json.dumps(data or {}, sort_keys=True)),
        )
        self._written[kind] = self._written.get(kind, 0) + 1
        self._maybe_die(kind)
        return int(cur.lastrowid)

    def _maybe_die(self, kind: str | None) -> None:
        if self._kill_after is None or self.db.in_transaction:
            return  # inside atomic(): after the commit
        want, nth = self._kill_after
        if self._written.get(want, 0) >= nth and (kind is None or kind == want):
            os.kill(os.getpid(), signal.SIGKILL)

    def pending_rollback(self, rollout: int) -> dict | None:
        """The rollback-intent that no rollback-done or rollback-failed followed: decided, never applied."""
        last = self.last_event(rollout, "rollback-intent", "rollback-done", "rollback-failed")
        return last if last and last["kind"] == "rollback-intent" else None

    def events(self, rollout: int, kind: str | None = None) -> list[dict]:
        q = "SELECT id, ts, kind, region, stage, data FROM events WHERE rollout = ?"
        args: list = [rollout]
        if kind:
            q += " AND kind = ?"
            args.append(kind)
        return [
            {"id": r[0], "ts": r[1], "kind": r[2], "region": r[3], "stage": r[4], "data": json.loads(r[5])}
            for r in self.db.execute(q + " ORDER BY id", args)
        ]

    def last_event(self, rollout: int, *kinds: str) -> dict | None:
        marks = ",".join("?" * len(kinds))
        r = self.db.execute(
            f"SELECT id, ts, kind, region, stage, data FROM events WHERE rollout = ? AND kind IN ({marks}) "
            "ORDER BY id DESC LIMIT 1",
            (rollout, *kinds),
        ).fetchone()
        return (
            None
            if r is None
            else {"id": r[0], "ts": r[1], "kind": r[2], "region": r[3], "stage": r[4], "data": json.loads(r[5])}
        )

    # --- commands from other processes (abort, promote) -----------------------------------------------
    def command(self, rollout: int, command: str) -> None:
        self.db.execute("INSERT INTO commands (rollout, ts, command) VALUES (?,?,?)", (rollout, time.time(), command))

    def take_commands(self, rollout: int) -> list[str]:
        rows = self.db.execute(
            "SELECT id, command FROM commands WHERE rollout = ? AND done = 0 ORDER BY id", (rollout,)
        ).fetchall()
        for rid, _ in rows:
            self.db.execute("UPDATE commands SET done = 1 WHERE id = ?", (rid,))
        return [c for _, c in rows]
