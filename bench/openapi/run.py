#!/usr/bin/env python3
"""Benchmark `canary-lint openapi-diff` against @useoptic/optic and Atlassian's openapi-diff.

    bench/openapi/install.sh           # anchors + two @octokit/openapi releases into bench/.work/openapi
    python3 bench/openapi/run.py [--timeout 600] [--spec api.github.com.json] [--only canary-lint,...]
    python3 bench/openapi/slice.py OLD NEW bench/.work/openapi/small rulesets code-security/configurations
    python3 bench/openapi/run.py --pair bench/.work/openapi/small     # the small pair

Each tool runs once per pair in a fresh process under `/usr/bin/time` (GNU time) for wall time, CPU time
(user + system: stable when other work shares the machine) and peak RSS;
a tool that exceeds --timeout is stopped (by its process group) and reported as "> TIMEOUT". Prints one
table and the ratios of each anchor to canary-lint, plus the breaking changes each tool reports.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE.parent / ".work" / "openapi"
BIN = WORK / "tools" / "node_modules" / ".bin"


def measure(name: str, argv: list[str], timeout: float, cwd: Path) -> dict:
    stats = Path(tempfile.mkstemp(prefix="bench-time-")[1])
    out = Path(tempfile.mkstemp(prefix=f"bench-{name}-")[1])
    cmd = ["/usr/bin/time", "-f", "%e %M %U %S", "-o", str(stats), *argv]
    start = time.monotonic()
    with open(out, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc, timed_out = None, True
    wall = time.monotonic() - start
    peak_mb = cpu = None
    if not timed_out:
        try:
            fields = stats.read_text().split()
            wall, peak_mb = float(fields[-4]), int(fields[-3]) / 1024
            cpu = float(fields[-2]) + float(fields[-1])
        except (OSError, ValueError, IndexError):
            pass
    text = out.read_text(errors="replace")
    stats.unlink(missing_ok=True)
    out.unlink(missing_ok=True)
    return {"tool": name, "wall": wall, "cpu": cpu, "peak_mb": peak_mb, "rc": rc, "timed_out": timed_out,
            "output": text}


def tools(old: Path, new: Path, cache: Path) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "canary-lint (diff, no validation)": [py, "-m", "canary_lint", "openapi-diff", str(old), str(new),
                                              "--format", "json", "--no-validate"],
        "canary-lint (diff + validation, cold cache)": [py, "-m", "canary_lint", "openapi-diff", str(old), str(new),
                                                        "--format", "json"],
        "canary-lint (diff + validation, warm cache)": [py, "-m", "canary_lint", "openapi-diff", str(old), str(new),
                                                        "--format", "json"],
        "optic diff --check": [str(BIN / "optic"), "diff", str(old), str(new), "--check"],
        "optic diff --check --validation loose": [str(BIN / "optic"), "diff", str(old), str(new), "--check",
                                                  "--validation", "loose"],
        "openapi-diff (Atlassian)": [str(BIN / "openapi-diff"), str(old), str(new)],
    }


def summarize(result: dict) -> str:
    if result["timed_out"]:
        return f"> {result['wall']:.0f} s (stopped)"
    peak = f"{result['peak_mb']:.0f} MB" if result["peak_mb"] is not None else "?"
    cpu = f"{result['cpu']:.2f} s CPU" if result["cpu"] is not None else "? CPU"
    return f"{result['wall']:.2f} s wall, {cpu}, {peak}, exit {result['rc']}"


def breaking_counts(name: str, output: str) -> str:
    if name.startswith("canary-lint"):
        try:
            data = json.loads(output[output.index("{"):output.rindex("}") + 1])
        except ValueError:
            return "unparsed"
        by_rule: dict[str, int] = {}
        for f in data["findings"]:
            by_rule[f["rule"]] = by_rule.get(f["rule"], 0) + 1
        return f"{data['summary']['errors']} errors, {data['summary']['warnings']} warnings " + json.dumps(by_rule)
    if "heap out of memory" in output:
        return "crashed: JavaScript heap out of memory"
    if name.startswith("openapi-diff"):
        try:
            data = json.loads(output[output.index("{"):output.rindex("}") + 1])
        except ValueError:
            return "no report"
        codes: dict[str, int] = {}
        for d in data.get("breakingDifferences") or []:
            codes[d["code"]] = codes.get(d["code"], 0) + 1
        return f"{sum(codes.values())} breaking differences " + json.dumps(codes)
    if "invalid openapi" in output:
        return "refused the spec as invalid OpenAPI; no diff"
    failed = re.findall(r"^\s+x \[([^\]]+)\]", output, re.M)
    rules: dict[str, int] = {}
    for r in failed:
        rules[r] = rules.get(r, 0) + 1
    return f"{len(failed)} failed checks " + json.dumps(rules)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default="api.github.com.json", help="file under @octokit/openapi's generated/")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--only", default="", help="comma-separated tool name prefixes")
    ap.add_argument("--save", default="", help="directory to keep each tool's raw output")
    ap.add_argument("--pair", default="", help="a directory with old.json and new.json (e.g. from slice.py)")
    args = ap.parse_args()
    old = WORK / "old" / "package" / "generated" / args.spec
    new = WORK / "new" / "package" / "generated" / args.spec
    if args.pair:
        old, new = Path(args.pair).resolve() / "old.json", Path(args.pair).resolve() / "new.json"
    if not old.is_file() or not new.is_file() or not shutil.which("/usr/bin/time"):
        print("run bench/openapi/install.sh first (needs npm and GNU time)", file=sys.stderr)
        return 2
    cwd = Path(tempfile.mkdtemp(prefix="bench-openapi-"))  # fresh validation cache for the cold run
    print(f"pair: {old} ({old.stat().st_size / 1e6:.1f} MB) -> {new} ({new.stat().st_size / 1e6:.1f} MB)")
    results = []
    for name, argv in tools(old, new, cwd).items():
        if args.only and not any(name.startswith(p) for p in args.only.split(",")):
            continue
        r = measure(name, argv, args.timeout, cwd)
        results.append(r)
        print(f"{name:<46} {summarize(r)}", flush=True)
        if args.save:
            Path(args.save).mkdir(parents=True, exist_ok=True)
            safe = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            Path(args.save, f"{safe}.out").write_text(r["output"])
    base = next((r for r in results if r["tool"].startswith("canary-lint (diff, no")), None)
    if base:
        print("\nratios (anchor / canary-lint diff):")
        for r in results:
            if r is base:
                continue
            wall = f"{r['wall'] / base['wall']:.1f}x" + ("+" if r["timed_out"] else "")
            cpu = f"{r['cpu'] / base['cpu']:.1f}x" if r["cpu"] and base["cpu"] else "?"
            mem = f"{r['peak_mb'] / base['peak_mb']:.1f}x" if r["peak_mb"] and base["peak_mb"] else "?"
            print(f"  {r['tool']:<46} wall {wall:>7}  cpu {cpu:>6}  peak memory {mem}")
    print("\nwhat each tool reports:")
    for r in results:
        print(f"  {r['tool']:<46} {breaking_counts(r['tool'], r['output'])}")
    shutil.rmtree(cwd, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
