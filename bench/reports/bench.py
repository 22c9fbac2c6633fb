#!/usr/bin/env python3
"""Cost of the report formats, next to ruff's (the anchor: one Rust linter with the same output formats).

For each machine format F, the ratio t(check --format F) / t(check --format json) says what F costs on top of
the plain JSON report, for N findings; the same ratio is measured for `ruff check --output-format F` on N
unused imports. Also: in-process render time per format, and the six reports of one run vs JSON alone.
Installs ruff into bench/.work/ (git-ignored). Not run by CI.

    python3 bench/reports/bench.py [N]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE.parent / ".work" / "reports"
RUFF_VERSION = "0.14.0"
FORMATS = ("sarif", "github", "gitlab", "junit")
REPEAT = 5


def best(cmd: list[str], cwd: Path) -> float:
    times = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return min(times)


def install_ruff() -> Path:
    target = WORK / "ruff"
    binary = target / "bin" / "ruff"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(target), f"ruff=={RUFF_VERSION}"],
                       check=True)
    return binary


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    ruff = install_ruff()
    ours = WORK / "canary"
    (ours / "migrations").mkdir(parents=True, exist_ok=True)
    stmts = ["BEGIN;", *[f"CREATE INDEX CONCURRENTLY ix_{i} ON users (c{i});" for i in range(n)], "COMMIT;"]
    (ours / "migrations" / "V2__many.sql").write_text("\n".join(stmts) + "\n")
    theirs = WORK / "ruffproj"
    theirs.mkdir(parents=True, exist_ok=True)
    (theirs / "many.py").write_text("".join(f"import mod{i}\n" for i in range(n)))

    cl = [sys.executable, "-m", "canary_lint", "check"]
    rf = [str(ruff), "check", "--no-cache", "--select", "F401", "--isolated"]
    base_ours = best([*cl, "--format", "json"], ours)
    base_ruff = best([*rf, "--output-format", "json"], theirs)
    print(f"N = {n} findings; best of {REPEAT} wall times")
    print(f"{'format':<8} {'canary-lint/json':>17} {'ruff/json':>10}")
    for fmt in FORMATS:
        o = best([*cl, "--format", fmt], ours) / base_ours
        r = best([*rf, "--output-format", fmt], theirs) / base_ruff
        print(f"{fmt:<8} {o:>17.2f} {r:>10.2f}")
    everything = [*cl, *[a for f in ("json", "sarif", "github", "gitlab", "junit", "markdown")
                         for a in ("--format", f"{f}:{WORK / ('out.' + f)}")]]
    print(f"all six reports in one run / json alone: {best(everything, ours) / base_ours:.2f}")

    sys.path.insert(0, str(HERE.parent.parent))
    from canary_lint.formatters import get
    from canary_lint.model import Finding, Report, Severity

    findings = tuple(Finding("CLM202", "concurrent-index-in-transaction-fails", "migration", Severity.ERROR,
                             "migrations/V2__many.sql", i + 2, 1, i + 2, 50, f"CREATE INDEX CONCURRENTLY ix_{i} cannot "
                             "run inside a transaction block", fix="run it without a transaction", subject=f"ix_{i}")
                     for i in range(n))
    report = Report(findings=findings, files=1, tool_version="0.1.0")
    print("in-process render, ms:", ", ".join(
        f"{fmt} {min(_timed(get(fmt), report) for _ in range(REPEAT)) * 1000:.1f}"
        for fmt in ("json", "sarif", "github", "gitlab", "junit", "markdown")))
    return 0


def _timed(render, report) -> float:
    t0 = time.perf_counter()
    render(report)
    return time.perf_counter() - t0


if __name__ == "__main__":
    os.environ.pop("GITHUB_REPOSITORY", None)
    sys.exit(main())
