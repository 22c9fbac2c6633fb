#!/usr/bin/env python3
"""Whole-process wall time of canary-lint against alembic-guard 0.1.1 and squawk-cli 2.70.0.

    python3 bench/startup/run.py [--runs 21]

Installs the anchors into bench/.work/anchors (a venv) on first use. Prints medians and ratios measured in
this one run (ratio < 1: canary-lint is faster).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from installed import install_ours  # noqa: E402

HERE = Path(__file__).resolve().parent
WORK = HERE.parent / ".work"
ANCHORS = WORK / "anchors" / "bin"


def ensure_anchors() -> None:
    if (ANCHORS / "squawk").exists() and (ANCHORS / "alembic-guard").exists():
        return
    subprocess.run([sys.executable, "-m", "venv", str(WORK / "anchors")], check=True)
    subprocess.run([str(ANCHORS / "pip"), "install", "-q", "alembic-guard==0.1.1", "squawk-cli==2.70.0"], check=True)


def wall(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, cwd=HERE, capture_output=True)  # warm the page cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=HERE, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()
    ensure_anchors()
    ours = str(install_ours(WORK / "ours"))
    rows = [
        ("--version", [ours, "--version"], [str(ANCHORS / "alembic-guard"), "--version"], [str(ANCHORS / "squawk"), "--version"]),
        ("one small SQL file", [ours, "check", "small.sql"], None, [str(ANCHORS / "squawk"), "small.sql"]),
        ("one Alembic revision", [ours, "check", "versions/0002_small.py"],
         [str(ANCHORS / "alembic-guard"), "versions/0002_small.py"], None),
    ]
    print(f"{'case':<22} {'canary-lint':>12} {'alembic-guard':>14} {'squawk':>10} {'vs guard':>9} {'vs squawk':>10}")
    for name, mine, guard, squawk in rows:
        t = wall(mine, args.runs)
        g = wall(guard, args.runs) if guard else None
        s = wall(squawk, args.runs) if squawk else None
        fmt = lambda x: f"{x * 1000:.0f} ms" if x is not None else "-"
        ratio = lambda x: f"{t / x:.2f}x" if x else "-"
        print(f"{name:<22} {fmt(t):>12} {fmt(g):>14} {fmt(s):>10} {ratio(g):>9} {ratio(s):>10}")


if __name__ == "__main__":
    main()
