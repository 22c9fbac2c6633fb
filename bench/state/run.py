"""State analyzer benchmark on real applications (not run by CI).

    python bench/state/run.py [NAME ...] [--findings]

For each application tree fetched by bench/pyapps/fetch.py (weblate, prefect, chainlit, langflow,
dagster-webserver) it measures, in one run:
  parse   one plain `ast.parse` pass over the same Python files (read + parse, in a fresh interpreter)
  check   the whole `canary-lint check TREE --format json` process, wall time (best of --repeat), canary-lint
          installed by pip into bench/.work/state/ours (bench/installed.py); with --compare OTHER, another
          checkout's check in the same turns (parse, check, other check), each also as the median of its
          ratios to the parse pass of its turn (this machine's speed drifts between turns)
  state   the state analyzer alone, in this process, on a fresh context whose files are already parsed
  start   one `canary-lint check` on an empty tree (interpreter and imports), to show the fixed part
and prints check/parse (the goal is <= 2.5x), the same without the fixed start-up, state/parse, and the
state findings per rule; `--findings` lists every state finding so each can be read and judged.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "pyapps"))
sys.path.insert(0, str(HERE.parent))

import fetch  # noqa: E402
from installed import install_ours  # noqa: E402

CANARY: list[str] = []  # the console script of canary-lint as pip installs it (bench/installed.py)
OTHER: list[str] = []  # --compare: another checkout's, timed in the same turns


def python_files(tree: Path) -> list[Path]:
    from canary_lint.config import Config
    from canary_lint.discovery import discover

    found = discover([str(tree)], Config(root=tree), tree)
    return [f.abspath for f in found.files if "python" in f.kinds]


PARSE_PASS = """
import ast, sys, time, warnings
paths = open(sys.argv[1], encoding="utf-8").read().splitlines()
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for path in paths:
        try:
            ast.parse(open(path, "rb").read().decode("utf-8-sig"), filename=path)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            pass
print(time.perf_counter() - start)
"""


def plain_parse(files: list[Path]) -> float:
    """Read + `ast.parse` every file once, in a fresh interpreter (so this process's heap does not slow the
    garbage collector), timed inside that process."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as fh:
        fh.write("\n".join(str(p) for p in files))
    try:
        out = subprocess.run([sys.executable, "-c", PARSE_PASS, fh.name], capture_output=True, text=True, check=True)
        return float(out.stdout.strip())
    finally:
        os.unlink(fh.name)


def whole_check(tree: Path, command: list[str] | None = None) -> tuple[float, dict]:
    start = time.perf_counter()
    proc = subprocess.run([*(command or CANARY), "check", ".", "--format", "json", "--exit-zero"], cwd=tree,
                          capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    elapsed = time.perf_counter() - start
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"canary-lint check failed in {tree}:\n{proc.stderr[-2000:]}")
    return elapsed, report


def startup() -> float:
    """The fixed cost of one `canary-lint check` process (interpreter, imports) on an empty tree."""
    import tempfile

    with tempfile.TemporaryDirectory() as empty:
        start = time.perf_counter()
        subprocess.run([*CANARY, "check", ".", "--format", "json", "--exit-zero"], cwd=empty, capture_output=True)
        return time.perf_counter() - start


def state_only(tree: Path) -> float:
    from canary_lint.config import Config
    from canary_lint.context import ReleaseContext
    from canary_lint.discovery import discover
    from canary_lint.registry import registry
    from canary_lint.state import analyzer

    found = discover(["."], Config(root=tree), tree)
    ctx = ReleaseContext(Config(root=tree), found.files, registry(), cwd=tree)
    for f in ctx.files_of("python"):
        ctx.python_ast(f)  # the engine parses every file anyway; time the analysis on top of it
    start = time.perf_counter()
    list(analyzer.analyze(ctx))
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*")
    ap.add_argument("--findings", action="store_true", help="print every state finding")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tree", type=Path, default=HERE.parent.parent,
                    help="the canary-lint checkout whose whole check is timed (default: this one)")
    ap.add_argument("--compare", type=Path, help="another checkout (e.g. before a change), timed in the same turns")
    ap.add_argument("--no-state", action="store_true", help="skip the in-process state analyzer timing")
    args = ap.parse_args()
    names = args.names or list(fetch.APPS)
    rows = []
    CANARY[:] = [str(install_ours(HERE.parent / ".work" / "state" / "ours", args.tree.resolve()))]
    if args.compare:
        OTHER[:] = [str(install_ours(HERE.parent / ".work" / "state" / "other", args.compare.resolve()))]
    fixed = min(startup() for _ in range(args.repeat))
    for name in names:
        tree = fetch.fetch(name)
        files = python_files(tree)
        parses, runs, others = [], [], []
        for _ in range(args.repeat):  # in turns, so a slow spell of the machine falls on all alike
            parses.append(plain_parse(files))
            runs.append(whole_check(tree))
            if OTHER:
                others.append(whole_check(tree, OTHER)[0])
        parse = min(parses)
        check = min(t for t, _ in runs)
        report = runs[0][1]
        paired = statistics.median(t / p for (t, _), p in zip(runs, parses))
        if OTHER:
            print(f"{name}: check/parse {check / parse:.2f}x (paired median {paired:.2f}x); --compare tree "
                  f"{min(others) / parse:.2f}x (paired median "
                  f"{statistics.median(t / p for t, p in zip(others, parses)):.2f}x)", flush=True)
        state = min(state_only(tree) for _ in range(args.repeat)) if not args.no_state else float("nan")
        findings = [f for f in report["findings"] if f["family"] == "state"]
        by_rule: dict[str, int] = {}
        for f in findings:
            by_rule[f["rule"]] = by_rule.get(f["rule"], 0) + 1
        crashes = [f for f in report["findings"] if f["rule"] == "CL005" and "state" in f["message"]]
        rows.append((name, len(files), parse, check, state, by_rule, len(crashes)))
        if args.findings:
            for f in findings:
                print(f"  {name}: {f['rule']} {f['path']}:{f['line']}  {f['message']}")
    print(f"process start-up on an empty tree: {fixed:.3f} s (included in every `check s`)")
    print(f"{'tree':20} {'files':>6} {'parse s':>8} {'check s':>8} {'check/parse':>11} {'minus start-up':>14} "
          f"{'state s':>8} {'state/parse':>11}  findings")
    for name, n, parse, check, state, by_rule, crashes in rows:
        rules = ", ".join(f"{k}×{v}" for k, v in sorted(by_rule.items())) or "none"
        crash = f"  STATE CRASHES: {crashes}" if crashes else ""
        print(f"{name:20} {n:6} {parse:8.3f} {check:8.3f} {check / parse:10.2f}x {(check - fixed) / parse:13.2f}x "
              f"{state:8.3f} {state / parse:10.2f}x  {rules}{crash}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
