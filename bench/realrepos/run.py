"""Run one canary-lint tree over the corpus: one JSON report per release pair, timed.

    python bench/realrepos/run.py TREE OUT [--corpus release|migrations|all] [REPO ...]

For every pair of corpus.py, on a work tree of the head tag, as a user would run it in CI:
`python -m canary_lint check --base <base tag> --format json` with PYTHONPATH=TREE (so TREE's canary_lint is
the one imported) and the migration rules only for the migrations corpus. Writes OUT/<repo>/<base>..<head>.json,
the stderr beside it (.err), and OUT/timings.csv (repo, base, head, exit code, wall seconds, findings).
Each run gets a fresh, empty cache directory under OUT, so every figure is a cold run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402


def run_pair(pair: corpus.Pair, tree: Path, out: Path, python: str) -> dict:
    work = corpus.checkout(pair.repo, pair.head)
    corpus.checkout(pair.repo, pair.base)  # the tag must exist in the clone; a checkout also proves it reads
    target = out / pair.repo / f"{pair.key}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    cache = out / ".cache" / pair.repo / pair.key
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(tree), "CANARY_LINT_CACHE_DIR": str(cache), "XDG_CACHE_HOME": str(cache),
           "NO_COLOR": "1"}
    cmd = [python, "-m", "canary_lint", "check", "--base", pair.base, "--format", "json", "--exit-zero"]
    if pair.select:
        cmd += ["--select", pair.select]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    target.write_text(proc.stdout)
    target.with_suffix(".err").write_text(proc.stderr)
    try:
        findings = len(json.loads(proc.stdout)["findings"])
    except (ValueError, KeyError):
        findings = -1
    return {"repo": pair.repo, "base": pair.base, "head": pair.head, "corpus": pair.corpus, "exit": proc.returncode,
            "wall_s": f"{wall:.2f}", "findings": findings}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", type=Path, help="a canary-lint source tree (the directory holding canary_lint/)")
    parser.add_argument("out", type=Path, help="directory for the reports")
    parser.add_argument("repos", nargs="*", help="only these repositories")
    parser.add_argument("--corpus", choices=["release", "migrations", "all"], default="all")
    parser.add_argument("--python", default=sys.executable, help="interpreter with canary-lint's dependencies")
    args = parser.parse_args(argv)
    tree = args.tree.resolve()
    if not (tree / "canary_lint" / "__init__.py").is_file():
        parser.error(f"{tree} holds no canary_lint package")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    timings = out / "timings.csv"
    rows = []
    if timings.is_file():
        with timings.open() as fh:
            rows = list(csv.DictReader(fh))
    for pair in corpus.pairs(args.corpus, args.repos):
        row = run_pair(pair, tree, out, args.python)
        print(f"{row['repo']:13} {row['base']:>12} -> {row['head']:<12} exit {row['exit']}  "
              f"{row['wall_s']:>7} s  {row['findings']:5} findings", flush=True)
        rows = [r for r in rows if (r["repo"], r["base"], r["head"]) != (row["repo"], row["base"], row["head"])]
        rows.append(row)
        with timings.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            writer.writeheader()
            writer.writerows(rows)
    shutil.rmtree(out / ".cache", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
