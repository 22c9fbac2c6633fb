"""The contract every hostile input must keep, checked on the real engine in this process.

- the check returns (no uncaught exception: the CLI would print a traceback and exit 2), no CL005, and the
  exit code it implies is 0 or 1;
- every report format renders, and its text can be written as UTF-8;
- a checked file that cannot be read (NUL bytes, not UTF-8) or parsed (Python no reader accepts, an OpenAPI
  spec that is not YAML/JSON) gets a CL001 naming it;
- bounded: under `budget` seconds of wall time (an alarm) and `memory_mb` of resident memory for the process;
- nothing opened outside the checked tree (besides canary-lint's own package, the Python installation, the
  cache directory and /dev/null), nothing written but the cache, no socket, no process but git.

`check_input` returns the violations as one-line reasons (empty: the input kept the contract).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import sys
import sysconfig
import time
import resource
from functools import lru_cache
from dataclasses import dataclass, field
from pathlib import Path

import canary_lint

FORMATS = ("text", "concise", "json", "sarif", "github", "gitlab", "junit", "markdown")
NETWORK_EVENTS = ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.bind", "socket.sendto",
                  "urllib.Request", "http.client.connect")
EXEC_EVENTS = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "pty.spawn",
               "os.startfile", "webbrowser.open")


class Overrun(BaseException):
    """The per-input alarm: a BaseException, so no `except Exception` in the engine turns it into a finding."""


@dataclass
class Input:
    front: str
    seed: object  # fuzzkit.seeds.Seed
    data: bytes
    side: str = "head"  # "head": the mutated file is v2's; "base": it is v1's (committed)
    notes: tuple = ()

    def head_files(self) -> dict:
        files = self.seed.head_files()
        if self.side == "head":
            files[self.seed.target] = self.data
        return files

    def base_files(self) -> dict | None:
        if self.seed.base is None:
            return None
        files = self.seed.base_files()
        if self.side == "base":
            files[self.seed.target] = self.data
        return files


# ---- audit ---------------------------------------------------------------------------------------
@dataclass
class Watch:
    tree: str
    read_ok: tuple
    write_ok: tuple
    listing_ok: frozenset
    seen: list = field(default_factory=list)


_WATCH: list = []  # the armed watch (at most one), read by the process-wide audit hook


def _path_of(arg) -> str | None:
    if isinstance(arg, int):
        return None
    try:
        return os.path.abspath(os.fsdecode(arg))
    except (TypeError, ValueError):
        return repr(arg)


def _under(path: str, roots: tuple) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _hook(event: str, args: tuple) -> None:
    if not _WATCH:
        return
    w = _WATCH[0]
    if event == "open":
        path = _path_of(args[0])
        if path is None:
            return
        mode = args[1] if len(args) > 1 and isinstance(args[1], str) else "r"
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        writes = any(c in mode for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND)
        if writes and not _under(path, w.write_ok) and path != "/dev/null":
            w.seen.append(f"wrote {path}")
        elif not writes and not _under(path, w.read_ok + w.write_ok + (w.tree,)) \
                and os.path.dirname(path) not in w.listing_ok:
            w.seen.append(f"opened {path} outside the checked tree")
    elif event in ("os.listdir", "os.scandir"):
        path = _path_of(args[0]) if args and args[0] is not None else os.getcwd()
        if path and path not in w.listing_ok and not _under(path, w.read_ok + (w.tree,)):
            w.seen.append(f"listed {path} outside the checked tree")
    elif event == "urllib.Request" and str(args[0]).startswith("file://"):
        path = _path_of(str(args[0])[len("file://"):])
        if not _under(path, w.read_ok + (w.tree,)):
            w.seen.append(f"opened {path} outside the checked tree (by URL)")
    elif event in NETWORK_EVENTS:
        w.seen.append(f"network: {event} {args[1:2]!r:.80}")
    elif event == "subprocess.Popen":
        exe, argv = args[0], args[1]
        first = os.path.basename(os.fsdecode(exe or (argv[0] if argv else "")))
        if first != "git":
            w.seen.append(f"started a process: {first!r}")
    elif event in EXEC_EVENTS:
        w.seen.append(f"process: {event}")


_HOOKED = False


def _install() -> None:
    global _HOOKED
    if not _HOOKED:
        sys.addaudithook(_hook)
        _HOOKED = True


def _real(p) -> str:
    return os.path.realpath(p)


@lru_cache(maxsize=1)
def _read_roots() -> tuple:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    roots |= {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(canary_lint.__file__)}
    # an editable install's own metadata (entry points read through importlib.metadata) beside the package
    roots.add(os.path.join(os.path.dirname(os.path.dirname(canary_lint.__file__)), "canary_lint.egg-info"))
    roots |= {_real(r) for r in roots}
    return tuple(sorted(roots)) + ("/dev/null", "/dev/urandom", "/etc/localtime", "/usr/share/zoneinfo",
                                  "/etc/mime.types")  # urllib's file:// handler (a validator's own schemas)


@lru_cache(maxsize=1)
def _write_roots() -> tuple:
    from canary_lint.cachedir import cache_root

    root = cache_root()
    return (str(root), _real(root)) if root else ()


@lru_cache(maxsize=4)
def _listing_roots(path: tuple) -> frozenset:
    return frozenset({os.path.abspath(p) for p in path if p} | {_real(p) for p in path if p})


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class Bounds:
    """Arm the audit watch and the alarm around one check, and see whether it took the process's resident
    memory past `memory_mb` (a high-water mark: the input that crosses it is the one blamed)."""

    def __init__(self, tree: Path, budget: float, memory_mb: int):
        self.tree, self.budget, self.memory_mb = tree, budget, memory_mb
        self.watch = Watch(_real(tree), _read_roots(), _write_roots(), _listing_roots(tuple(sys.path)))
        self.elapsed = 0.0
        self.peak_mb = 0.0

    def __enter__(self):
        _install()
        self._rss_before = _rss_mb()
        self._old = signal.signal(signal.SIGALRM, self._alarm)
        signal.setitimer(signal.ITIMER_REAL, self.budget)
        self._start = time.perf_counter()
        _WATCH.append(self.watch)
        return self

    def _alarm(self, _signum, _frame):
        raise Overrun(f"over {self.budget:g}s")

    def __exit__(self, *exc):
        _WATCH.clear()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._old)
        self.elapsed = time.perf_counter() - self._start
        after = _rss_mb()
        self.peak_mb = after if after > self.memory_mb >= self._rss_before else 0.0
        return False


# ---- trees -----------------------------------------------------------------------------------------
def _write(root: Path, files: dict) -> None:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def _clear(root: Path) -> None:
    for entry in root.iterdir():
        if entry.name == ".git":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


class Sandbox:
    """Where inputs are written and checked, one at a time: a fresh directory for a head-only input, a git
    repository per seed (v1 committed once, tagged `base`) for a head input of a seed with a base, a fresh
    repository when v1's file is the mutated one."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._repos: dict = {}
        self._n = 0

    def _repo(self, base: dict, key) -> Path:
        from canary_lint.gitio import git

        where = self._repos.get(key)
        if where is None or not where.is_dir():
            self._n += 1
            where = self.root / f"repo{self._n}"
            if where.exists():
                shutil.rmtree(where)
            where.mkdir()
            git(where, "init", "-q", "-b", "main")
            _write(where, base)
            git(where, "add", "-A")
            git(where, "commit", "-q", "--no-verify", "-m", "v1")
            git(where, "tag", "base")
            if key is not None:
                self._repos[key] = where
        _clear(where)
        return where

    def materialize(self, inp: Input) -> tuple[Path, str | None]:
        base = inp.base_files()
        if base is None:
            where = self.root / "tree"
            if where.exists():
                shutil.rmtree(where)
            where.mkdir()
            _write(where, inp.head_files())
            return where, None
        if inp.side == "base":
            old = self._repos.pop(None, None)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            where = self._repo(base, None)
            self._repos[None] = where
        else:
            where = self._repo(base, inp.seed.name)
        _write(where, inp.head_files())
        return where, "base"

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# ---- oracles -----------------------------------------------------------------------------------
def _undecodable(data: bytes) -> bool:
    if b"\0" in data[:8192]:
        return True
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return True
    return False


def _python_unreadable(text: str, path: str) -> bool:
    """No reader accepts it: Python 3's `ast`, canary-lint's reader of newer syntax, nor is it a template."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text, filename="/dev/null/oracle.py")
        return False
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    from canary_lint.pysource import TemplateSource, parse

    try:
        parse(text, path)
        return False
    except TemplateSource:
        return False
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True


def _spec_unreadable(text: str, path: str) -> bool:
    if path.endswith(".json"):
        try:
            json.loads(text)
            return False
        except (ValueError, RecursionError):
            return True
    import yaml

    try:
        for _ in yaml.compose_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            pass
        return False
    except (yaml.YAMLError, RecursionError):
        return True


def expected_unreadable(inp: Input, kinds: set) -> str | None:
    """Why the mutated head file must get a CL001, or None."""
    from canary_lint.analysis import CHECKED_KINDS

    if inp.side != "head" or not kinds & CHECKED_KINDS:
        return None
    if _undecodable(inp.data):
        return "cannot be decoded"
    text = inp.data.decode("utf-8-sig")
    if "\r" in text:  # read as canary-lint reads it (and as Python reads a file): one line ending
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "python" in kinds and _python_unreadable(text, inp.seed.target):
        return "is Python no reader accepts"
    if "openapi" in kinds and _spec_unreadable(text, inp.seed.target):
        return "is a spec that does not load"
    return None


# ---- the check ---------------------------------------------------------------------------------
def _where(exc: BaseException) -> str:
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "canary_lint" in f.filename] or \
        traceback.extract_tb(exc.__traceback__)
    return f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""


def warm_up() -> None:
    """Check the bundled example release once, unbounded: the first use of a parser or validator (imports,
    compiled schemas) is not what an input costs."""
    import tempfile

    from canary_lint.examples import materialize
    from fuzzkit.seeds import seeds

    seed = next(s for s in seeds("openapi") if s.name.startswith("example:"))
    with tempfile.TemporaryDirectory(prefix="canary-lint-warm-") as tmp:
        base = materialize({p: d.decode() for p, d in seed.head}, {p: d.decode() for p, d in seed.base}, Path(tmp))
        run_engine(Path(tmp), base, {})


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "…"


def run_engine(tree: Path, base: str | None, config: dict):
    """What `canary-lint check . [--base base]` computes and writes, in this process: (report, outputs)."""
    from canary_lint import formatters
    from canary_lint.cli import _read_source
    from canary_lint.config import Config
    from canary_lint.engine import run_check

    report = run_check(["."], Config(root=tree, **config), base=base, cwd=tree, record_commit=False)
    outputs = {}
    for name in FORMATS:
        outputs[name] = formatters.get(name)(report, color=False, read_source=lambda p: _read_source(p, tree))
    return report, outputs


def check_input(inp: Input, sandbox: Sandbox, *, budget: float = 5.0, memory_mb: int = 1536) -> list[str]:
    from canary_lint.cli import exit_code
    from canary_lint.config import Config
    from canary_lint.discovery import discover
    from canary_lint.model import Severity

    tree, base = sandbox.materialize(inp)
    config = dict(inp.seed.config)
    kinds = next((f.kinds for f in discover(["."], Config(root=tree, **config), tree).files
                  if f.path == inp.seed.target), set())
    violations: list[str] = []
    report = outputs = None
    bounds = Bounds(tree, budget, memory_mb)
    try:
        with bounds:
            report, outputs = run_engine(tree, base, config)
    except Overrun as exc:
        violations.append(f"timeout: {exc}")
    except MemoryError as exc:
        violations.append(f"memory: MemoryError{_where(exc)}")
    except Exception as exc:  # noqa: BLE001 - the CLI would print this traceback and exit 2
        violations.append(f"uncaught {type(exc).__name__}: {_one_line(exc, 120)}{_where(exc)}")
    violations += sorted(set(bounds.watch.seen))[:5]
    if bounds.peak_mb > memory_mb:
        violations.append(f"memory: the process grew to {bounds.peak_mb:.0f} MB (limit {memory_mb} MB)")
    if report is None:
        return violations
    for f in report.findings:
        if f.rule == "CL005":
            violations.append(f"CL005: {_one_line(f.message)}")
    code = exit_code(report, Severity.ERROR)
    if code not in (0, 1) and not any(v.startswith("CL005") for v in violations):
        violations.append(f"exit code {code}")
    for name, text in outputs.items():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            violations.append(f"{name} report cannot be written as UTF-8: {_one_line(exc, 120)}")
    for name in ("json", "sarif"):
        try:
            json.loads(outputs[name])
        except ValueError as exc:
            violations.append(f"{name} report is not JSON: {_one_line(exc, 120)}")
    why = expected_unreadable(inp, kinds)
    if why and not any(f.rule == "CL001" and f.path == inp.seed.target for f in report.findings):
        violations.append(f"no CL001 for {inp.seed.target}, which {why}")
    return violations


# ---- rollout plans: validated only -------------------------------------------------------------
def check_plan(inp: Input, sandbox: Sandbox, *, budget: float = 5.0, memory_mb: int = 1536) -> list[str]:
    """`canary-lint rollout` reads and validates the plan before anything else: a plan either loads or is
    refused with a PlanError (exit 2, one line); nothing else may escape, nothing is routed or queried."""
    from canary_lint.rollout.plan import PlanError, load

    tree, _ = sandbox.materialize(inp)
    violations: list[str] = []
    bounds = Bounds(tree, budget, memory_mb)
    try:
        with bounds:
            try:
                plan = load(tree / inp.seed.target)
                plan.to_json()
                [s.describe() for s in plan.steps]
            except PlanError as exc:
                str(exc).encode("utf-8")
    except Overrun as exc:
        violations.append(f"timeout: {exc}")
    except MemoryError as exc:
        violations.append(f"memory: MemoryError{_where(exc)}")
    except Exception as exc:  # noqa: BLE001 - `rollout` would print this traceback instead of a plan error
        violations.append(f"uncaught {type(exc).__name__}: {_one_line(exc, 120)}{_where(exc)}")
    violations += sorted(set(bounds.watch.seen))[:5]
    if bounds.peak_mb > memory_mb:
        violations.append(f"memory: the process grew to {bounds.peak_mb:.0f} MB (limit {memory_mb} MB)")
    return violations


def judge(inp: Input, sandbox: Sandbox, **bounds) -> list[str]:
    return (check_plan if inp.front == "rollout" else check_input)(inp, sandbox, **bounds)
