"""Newer-Python trees, before and after (not run by CI).

    python bench/newpy/run.py [--before REF] [--repeat N] [--extra DIR ...] [--no-check]

On the trees bench/newpy/fetch.py unzips into /tmp/newpy (Home Assistant, zha, Django 6), in one run:
  parse     one plain `ast.parse` pass over the Python files our Python reads (fresh interpreter)
  check     the whole `canary-lint check TREE --format json` process, cold (no cache), with REF's
            `canary_lint` (before, default `main`) and with this tree's (after), alternated, best of N
  fallback  `pysource.parse` alone over the files only a newer Python reads (fresh interpreter each)
  CL001     files reported unreadable, before and after; findings that differ between the two
  fidelity  for those files, every node (type, names, values, positions) against the `ast` of the
            newest Python found (python3.12+ on PATH or in ~/.pyenv), else against before's tree
`--extra DIR` adds the unreadable files of more trees to the fallback and fidelity rows (e.g. the
standard library of a newer Python: its tests use every new construct).
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
import fetch


def _state_bench():
    spec = importlib.util.spec_from_file_location("state_bench", HERE.parent / "state" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STATE = _state_bench()

FALLBACK = """
import sys, time, warnings
from canary_lint.pysource import parse
paths = open(sys.argv[1], encoding="utf-8").read().splitlines()
sources = [open(p, "rb").read().decode("utf-8-sig", "replace") for p in paths]
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for path, source in zip(paths, sources):
        try:
            parse(source, path)
        except Exception:
            pass
print(time.perf_counter() - start)
"""


def newer_python() -> str | None:
    found = []
    for minor in range(12, 20):
        path = shutil.which(f"python3.{minor}")
        if path:
            found.append((minor, path))
    for path in glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3")):
        parts = Path(path).parts[-3].split(".")
        if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) >= 12:
            found.append((int(parts[1]), path))
    return max(found)[1] if found else None


def before_tree(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "canary_lint"], capture_output=True,
                             check=True).stdout
    with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tf:
        tf.extractall(into)
    return into


def unreadable(paths: list[Path]) -> list[Path]:
    import ast

    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in paths:
            try:
                ast.parse(p.read_bytes().decode("utf-8-sig", "replace"))
            except SyntaxError:
                out.append(p)
            except ValueError:
                pass
    return out


def write_list(paths, tmp: Path, name: str) -> Path:
    target = tmp / name
    target.write_text("\n".join(str(p) for p in paths), encoding="utf-8")
    return target


def run_env(code_root: Path | None) -> dict:
    env = {**os.environ, "NO_COLOR": "1", "CANARY_LINT_CACHE_DIR": ""}
    if code_root is not None:
        env["PYTHONPATH"] = str(code_root)
    return env


def check(tree: Path, code_root: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "canary_lint", "check", ".", "--format", "json", "--exit-zero"],
                          cwd=tree, capture_output=True, text=True, env=run_env(code_root))
    elapsed = time.perf_counter() - start
    try:
        return elapsed, json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"canary-lint check failed in {tree}:\n{proc.stderr[-2000:]}")


def fallback(listing: Path, code_root: Path) -> float:
    out = subprocess.run([sys.executable, "-c", FALLBACK, str(listing)], capture_output=True, text=True,
                         env=run_env(code_root), cwd=listing.parent, check=True)
    return float(out.stdout.strip())


def dump(listing: Path, target: Path, python: str, how: str, code_root: Path | None) -> dict:
    subprocess.run([python, str(HERE / "dump.py"), str(listing), str(target), how], env=run_env(code_root),
                   cwd=listing.parent, check=True)
    with open(target, "rb") as fh:
        return pickle.load(fh)


def compare(ours: dict, ref: dict) -> dict:
    """Per file: identical node lists, or where they part; position mismatches by tag."""
    stats = {"files": 0, "refused": 0, "ours_refused": 0, "same_nodes": 0, "same_all": 0,
             "nodes": 0, "moved": {"stmt": 0, "call": 0, "part": 0, "expr": 0}, "differ": []}
    for path, want in ref.items():
        got = ours.get(path)
        if isinstance(want, str):
            stats["refused"] += 1
            if not isinstance(got, str):
                stats["differ"].append((path, "accepted what the reference refuses"))
            continue
        stats["files"] += 1
        if isinstance(got, str):
            stats["ours_refused"] += 1
            stats["differ"].append((path, f"refused ({got})"))
            continue
        shape = [(n, s) for n, s, _, _ in got] == [(n, s) for n, s, _, _ in want]
        if not shape:
            first = next((i for i, (a, b) in enumerate(zip(got, want)) if a[:2] != b[:2]), min(len(got), len(want)))
            stats["differ"].append((path, f"nodes part at #{first}: {got[first][:2] if first < len(got) else None}"
                                          f" vs {want[first][:2] if first < len(want) else None}"))
            continue
        stats["same_nodes"] += 1
        stats["nodes"] += len(want)
        moved = False
        for a, b in zip(got, want):
            if a[2] != b[2]:
                stats["moved"][b[3]] += 1
                moved = True
                if b[3] in ("stmt", "call"):
                    stats["differ"].append((path, f"{b[0]} at {b[2]} placed at {a[2]}"))
        stats["same_all"] += not moved
    return stats


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default="main", help="git ref whose canary_lint is `before`")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--extra", action="append", default=[], type=Path)
    ap.add_argument("--no-check", action="store_true", help="skip the whole-check timings")
    args = ap.parse_args()
    trees = fetch.trees()
    tmp = Path(tempfile.mkdtemp(prefix="newpy-"))
    before = before_tree(args.before, tmp / "before")
    print(f"before: {args.before} ({before}); after: {REPO}")
    files = {tree: STATE.python_files(tree) for tree in trees}
    everything = [p for ps in files.values() for p in ps]
    new = unreadable(everything)
    readable = sorted(set(everything) - set(new))
    parse = STATE.plain_parse(readable)
    size = sum(p.stat().st_size for p in new)
    print(f"{len(everything)} Python files, {len(new)} ({size / 1e6:.1f} MB) only a newer Python reads")
    print(f"parse   one plain ast.parse pass over the {len(readable)} files our Python reads: {parse:.2f} s")

    if not args.no_check:
        totals = {"before": [0.0] * args.repeat, "after": [0.0] * args.repeat}
        for tree in trees:
            row = {}
            for r in range(args.repeat):
                for name, root in (("before", before), ("after", REPO)):
                    elapsed, result = check(tree, root)
                    totals[name][r] += elapsed
                    if name not in row or elapsed < row[name][0]:
                        row[name] = (elapsed, result)
            keys = {name: {(f["rule"], f["path"], f["line"], f["column"]) for f in rep["findings"]}
                    for name, (_, rep) in row.items()}
            cl001 = {name: sum(1 for k in keys[name] if k[0] == "CL001") for name in row}
            print(f"check   {tree.name:40} before {row['before'][0]:7.2f} s  after {row['after'][0]:7.2f} s  "
                  f"CL001 {cl001['before']} → {cl001['after']}  findings only before "
                  f"{len(keys['before'] - keys['after'])}, only after {len(keys['after'] - keys['before'])}")
        b, a = min(totals["before"]), min(totals["after"])
        print(f"check   all trees: before {b:.2f} s = {b / parse:.2f}× parse; after {a:.2f} s = {a / parse:.2f}× parse"
              f" (goal ≤ 2.5×)")

    extra = unreadable([p for d in args.extra for p in d.rglob("*.py")])
    for label, paths in (("trees", new), ("extra", extra)):
        if not paths:
            continue
        listing = write_list(paths, tmp, f"{label}.txt")
        tb, ta = fallback(listing, before), fallback(listing, REPO)
        print(f"fallback {label}: {len(paths)} files: before {tb:.2f} s, after {ta:.2f} s ({tb / ta:.0f}× less)")
        got_after = dump(listing, tmp / f"{label}-after.pkl", sys.executable, "pysource", REPO)
        got_before = dump(listing, tmp / f"{label}-before.pkl", sys.executable, "pysource", before)
        newer = newer_python()
        if newer:
            ref = dump(listing, tmp / f"{label}-ref.pkl", newer, "ast", None)
            older = {p: r for p, r in ref.items() if isinstance(r, str)}
            readable_ref = {p: r for p, r in ref.items() if not isinstance(r, str)}
            for name, got in (("before", got_before), ("after", got_after)):
                report(f"{label}: {name} vs {newer}", compare(got, readable_ref))
            report(f"{label}: after vs before, on what {newer} refuses",
                   compare(got_after, {p: got_before[p] for p in older}))
        else:
            report(f"{label}: after vs before", compare(got_after, got_before))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def report(title: str, s: dict):
    moved = ", ".join(f"{k} {v}" for k, v in s["moved"].items())
    print(f"fidelity {title}: {s['files']} files ({s['refused']} refused by the reference); "
          f"refused by us {s['ours_refused']}; same nodes {s['same_nodes']}; same nodes and positions "
          f"{s['same_all']}; {s['nodes']} nodes compared, positions that differ: {moved}")
    for path, why in s["differ"][:12]:
        print(f"    {path}: {why}")
    if len(s["differ"]) > 12:
        print(f"    … {len(s['differ']) - 12} more")


if __name__ == "__main__":
    sys.exit(main())
