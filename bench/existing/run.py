#!/usr/bin/env python3
"""What telling existing findings from new ones costs: `check --base` against `check` alone, on real releases.

    python3 bench/existing/run.py                      # clone the repositories below into bench/.work/existing/
    python3 bench/existing/run.py --mirror DIR         # clone from DIR/<owner>+<name>/repo instead of GitHub
    python3 bench/existing/run.py --runs 5

For each release pair (v1 = the previous release tag, v2 = the release) the release is checked out and
canary-lint runs as a user runs it, whole process, three ways:

    head    `check` (no --base: nothing is compared, v1's tree is never read)
    cold    `check --base v1` with an empty cache: v2 analysed, then v1's tree analysed (read through git)
    warm    `check --base v1` again: v1's findings come from the cache (`~/.cache/canary-lint/existing`)

`--base` also runs the comparisons (migrations judged against v1, the API diff), which `head` does not, so
`cold - warm` is what the v1 run costs (the same command, v1's findings computed or read back) and
`warm - head` what the comparisons and the cache lookup cost. Reported: the median wall time of `--runs` runs each, the ratios cold/head and
warm/head, and the findings: new and existing (from the JSON report) of `--base` against all of `head`.
Results go to stdout and to bench/existing/results.md. Only the scripts and figures are committed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORK = ROOT / "bench" / ".work" / "existing"
# (owner/name, [(v1, v2), ...]): Python web applications with release tags, Alembic or Django migrations
PAIRS = {
    "mealie-recipes/mealie": [("v1.11.0", "v1.12.0"), ("v1.12.0", "v2.0.0")],
    "fastapi/full-stack-fastapi-template": [("0.11.0", "0.12.0")],
    "netbox-community/netbox": [("v4.6.7", "v4.6.8")],
    "saleor/saleor": [("3.23.27", "3.23.28")],
}
# extra `check` arguments: the mirror this was measured on lacks the blob of netbox's 3 MB contrib/openapi.json,
# which the API analyzer would read from v1 (a crash, exit 2); the API family is left out there
EXTRA = {"netbox-community/netbox": ["--ignore", "CLA"]}


def sh(cmd, cwd=None, env=None, check=True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          check=check)


def clone(repo: str, mirror: Path | None) -> Path:
    target = WORK / repo.replace("/", "+")
    if not (target / ".git").is_dir():
        source = str(mirror / repo.replace("/", "+") / "repo") if mirror else f"https://github.com/{repo}.git"
        target.parent.mkdir(parents=True, exist_ok=True)
        sh(["git", "clone", "-q", "--no-checkout", source, str(target)])
    return target


def timed(cwd: Path, args: list[str], cache: Path) -> tuple[float, dict]:
    env = {"CANARY_LINT_CACHE_DIR": str(cache), "NO_COLOR": "1",  # this tree's canary-lint, not an installed one
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    proc = sh([sys.executable, "-m", "canary_lint", "check", *args, "--format", "json", "--exit-zero"], cwd=cwd,
              env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"canary-lint failed in {cwd} ({' '.join(args)}): {proc.stderr[-2000:]}")
    return elapsed, json.loads(proc.stdout)["summary"]


# In one process, so start-up and the comparisons drop out: the head run's analysis, then v1's findings
# computed (cold, cache off) and read back (warm), each timed alone.
INPROCESS = """
import json, sys, tempfile, time, os
from pathlib import Path
from canary_lint import existing
from canary_lint.config import load
from canary_lint.context import ReleaseContext
from canary_lint.discovery import discover
from canary_lint.engine import analyze
from canary_lint.registry import registry
cwd, v1 = Path.cwd().resolve(), sys.argv[1]
ignore = tuple(sys.argv[2:])
config = load(None, ".")
config = config.merged(ignore=config.ignore + ignore) if ignore else config
start = time.perf_counter()
ctx = ReleaseContext(config, discover(["."], config, cwd).files, registry(), base_ref=v1, cwd=cwd)
analyze(ctx)
head = time.perf_counter() - start
os.environ["CANARY_LINT_CACHE_DIR"] = ""
start = time.perf_counter()
alone = existing.v1_counts(["."], config, ctx.base, cwd)
v1_alone = time.perf_counter() - start
start = time.perf_counter()
cold = existing.v1_counts(["."], config, ctx.base, cwd, shared=ctx)
v1_cold = time.perf_counter() - start
assert cold == alone
with tempfile.TemporaryDirectory() as tmp:
    os.environ["CANARY_LINT_CACHE_DIR"] = tmp
    existing.v1_counts(["."], config, ctx.base, cwd, shared=ctx)
    start = time.perf_counter()
    warm = existing.v1_counts(["."], config, ctx.base, cwd, shared=ctx)
    v1_warm = time.perf_counter() - start
assert warm == cold
print(json.dumps({"head_analysis": head, "v1_unshared": v1_alone, "v1_cold": v1_cold, "v1_warm": v1_warm}))
"""


def inprocess(path: Path, v1: str, extra: list[str]) -> dict:
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    ignored = extra[1::2] if extra[:1] == ["--ignore"] else []
    proc = sh([sys.executable, "-c", INPROCESS, v1, *ignored], cwd=path, env=env)
    return json.loads(proc.stdout)


def measure(path: Path, v1: str, v2: str, runs: int, extra: list[str]) -> dict:
    sh(["git", "checkout", "-q", "-f", v2], cwd=path, check=False)  # a mirror may lack some large blobs
    sh(["git", "clean", "-qfdx"], cwd=path)
    files = int(sh(["git", "ls-files"], cwd=path).stdout.count("\n"))
    heads, colds, warms = [], [], []
    summary_head = summary_base = None
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="canary-lint-bench-") as tmp:
            cache = Path(tmp)
            t, summary_head = timed(path, extra, cache)
            heads.append(t)
            shutil.rmtree(cache / "existing", ignore_errors=True)
            t, summary_base = timed(path, ["--base", v1, *extra], cache)
            colds.append(t)
            t, again = timed(path, ["--base", v1, *extra], cache)
            warms.append(t)
            assert again == summary_base, "a cache hit must give the answer of a miss"
    head, cold, warm = (statistics.median(x) for x in (heads, colds, warms))
    inside = [inprocess(path, v1, extra) for _ in range(runs)]
    part = {k: statistics.median(r[k] for r in inside) for k in inside[0]}
    return {"pair": f"{v1} → {v2}", "files": files, "head": head, "cold": cold, "warm": warm,
            "cold_ratio": cold / head, "warm_ratio": warm / head, "v1_ratio": (cold - warm) / head,
            **part, "v1_cold_ratio": part["v1_cold"] / part["head_analysis"],
            "v1_unshared_ratio": part["v1_unshared"] / part["head_analysis"],
            "v1_warm_ratio": part["v1_warm"] / part["head_analysis"],
            "head_findings": summary_head["errors"] + summary_head["warnings"] + summary_head["infos"],
            "new": summary_base["new"], "existing": summary_base["existing"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, help="directory of bare mirrors named <owner>+<name>/repo")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for repo, pairs in PAIRS.items():
        path = clone(repo, args.mirror)
        for v1, v2 in pairs:
            row = {"repo": repo, **measure(path, v1, v2, args.runs, EXTRA.get(repo, []))}
            rows.append(row)
            print(json.dumps(row), flush=True)
    lines = ["| repository | release | files | head s | cold s | warm s | cold / head | warm / head | "
             "(cold − warm) / head | findings without --base | new | existing |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['repo']} | {r['pair']} | {r['files']} | {r['head']:.2f} | {r['cold']:.2f} | "
                     f"{r['warm']:.2f} | {r['cold_ratio']:.2f} | {r['warm_ratio']:.2f} | {r['v1_ratio']:.2f} | "
                     f"{r['head_findings']} | {r['new']} | {r['existing']} |")
    inner = ["| repository | release | head analysis s | v1 cold s | v1 cold, parses not shared s | v1 warm s | "
             "v1 cold / head | not shared / head | v1 warm / head |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        inner.append(f"| {r['repo']} | {r['pair']} | {r['head_analysis']:.2f} | {r['v1_cold']:.2f} | "
                     f"{r['v1_unshared']:.2f} | {r['v1_warm']:.3f} | {r['v1_cold_ratio']:.2f} | "
                     f"{r['v1_unshared_ratio']:.2f} | {r['v1_warm_ratio']:.3f} |")
    table, inner_table = "\n".join(lines), "\n".join(inner)
    print(table + "\n\n" + inner_table)
    (HERE / "results.md").write_text(
        "# Existing findings: cost of the v1 run\n\n"
        f"`python3 bench/existing/run.py --runs {args.runs}`: medians of {args.runs} runs each, Python "
        f"{sys.version.split()[0]}, {os.cpu_count()} CPUs shared with other work (whole-process times are noisy; "
        "the in-process table times each part alone).\n\n"
        f"## Whole process, as a user runs it\n\n{table}\n\n## In one process\n\n"
        "head analysis = discovery + every analyzer on v2; v1 cold = v1's findings computed (cache off), reusing "
        "the head run's parse of every file whose text did not change; not shared = the same without that "
        f"reuse; v1 warm = read back from the cache.\n\n{inner_table}\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
