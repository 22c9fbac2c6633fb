#!/usr/bin/env python3
"""A long fuzz campaign: many hostile inputs per front through the same strategies and contract as
tests/fuzz/, each failing input saved with a one-line reason, a summary per front.

    python3 bench/fuzz/campaign.py --front sql --front openapi --inputs 100000 --out bench/.work/fuzz
    python3 bench/fuzz/campaign.py --front all --minutes 8 --inputs 100000 --out DIR --jobs 2
    python3 bench/fuzz/campaign.py --front openapi --seed 7 --start 80932 --out DIR   # resume a stopped front
    python3 bench/fuzz/campaign.py --replay DIR/sql/fail-000123     # check one saved input again
    python3 bench/fuzz/campaign.py --replay DIR                     # ... or every one the campaign saved

Input N of a front is made from `random.Random(f"{seed}:{front}:{N}")`, so any input is made again from its
number. Each front runs in its own worker process, limited in address space (RLIMIT_AS) and watched from
here: an input that stops the worker or outlives `--kill-after` seconds is recorded and the worker restarts
after it. Writes DIR/<front>/fail-NNNNNN/{head,base}/…, DIR/<front>/failures.tsv, DIR/summary.json and
DIR/summary.md.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests" / "fuzz"), str(ROOT)]

FRONTS = ("sql", "alembic", "django", "openapi", "python", "deploy", "rollout")


def reason_class(reason: str) -> str:
    """The failure class of a reason: what broke and where, without the input's own values."""
    import re

    r = re.sub(r"\b\d+(\.\d+)?\b", "N", reason)
    r = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", r)
    if r.startswith("CL005"):
        m = re.search(r"the (\S+) analyzer crashed on this file: (\w+).*? at (\S+:N)", r)
        return f"CL005 {m.group(1)} {m.group(2)} at {m.group(3)}" if m else r[:100]
    if r.startswith("uncaught"):
        m = re.match(r"uncaught (\w+).*? at (\S+:N)$", r)
        return f"uncaught {m.group(1)} at {m.group(2)}" if m else r[:100]
    if r.startswith(("opened", "listed", "wrote")):
        return r.split(" ")[0] + " outside the tree"
    return r[:100]


# ---- worker ----------------------------------------------------------------------------------------
def worker(front: str, seed: int, start: int, stop: int, budget: float, memory_mb: int) -> None:
    from fuzzkit.contract import Sandbox, judge, warm_up
    from fuzzkit.inputs import campaign_input

    warm_up()
    box = Sandbox(Path(tempfile.mkdtemp(prefix=f"canary-lint-fuzz-{front}-")))
    out = sys.stdout
    try:
        for i in range(start, stop):
            try:
                inp = campaign_input(front, seed, i)
            except Exception as exc:  # noqa: BLE001 - the generator's own bug: not an input, counted apart
                print(json.dumps({"i": i, "skipped": f"{type(exc).__name__}: {exc}"[:200]}), file=out, flush=True)
                continue
            print(json.dumps({"start": i}), file=out, flush=True)
            t = time.perf_counter()
            reasons = judge(inp, box, budget=budget, memory_mb=memory_mb)
            print(json.dumps({"i": i, "ms": round((time.perf_counter() - t) * 1000, 1), "reasons": reasons,
                              "bytes": len(inp.data)}), file=out, flush=True)
    finally:
        box.close()


# ---- driver ------------------------------------------------------------------------------------------
def save_failure(out: Path, front: str, seed: int, i: int, reasons: list[str]) -> None:
    from fuzzkit.inputs import campaign_input, describe

    inp = campaign_input(front, seed, i)
    where = out / front / f"fail-{i:06d}"
    for side, files in (("head", inp.head_files()), ("base", inp.base_files() or {})):
        for rel, data in files.items():
            p = where / side / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
    meta = {"front": front, "seed": seed, "index": i, "reasons": reasons, "input": describe(inp),
            "target": inp.seed.target, "side": inp.side, "config": dict(inp.seed.config)}
    (where / "input.json").write_text(json.dumps(meta, indent=1, ensure_ascii=True) + "\n")
    with open(out / front / "failures.tsv", "a", encoding="utf-8", errors="backslashreplace") as fh:
        fh.write(f"{i}\t{reason_class(reasons[0])}\t{' | '.join(reasons)[:400]}\n")


def _limit(memory_mb: int):
    def apply():
        limit = (memory_mb + 1024) * 1024 * 1024  # address space: resident memory and the libraries' reservations
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def run_front(front: str, args, stats: dict) -> None:
    out = Path(args.out)
    (out / front).mkdir(parents=True, exist_ok=True)
    st = stats[front] = {"inputs": 0, "failures": 0, "classes": Counter(), "examples": {}, "seconds": 0.0,
                         "slowest_ms": 0.0, "over_1s": 0, "bytes": 0, "restarts": 0, "skipped": 0}
    deadline = time.monotonic() + args.minutes * 60 if args.minutes else None
    t0 = time.monotonic()
    i = args.start  # resume a front where an earlier run of the same seed stopped
    while i < args.inputs and (deadline is None or time.monotonic() < deadline):
        cmd = [sys.executable, __file__, "--worker", front, "--seed", str(args.seed), "--start", str(i),
               "--stop", str(min(args.inputs, i + args.recycle)), "--budget", str(args.budget),
               "--memory-mb", str(args.memory_mb)]
        env = {**os.environ, "CANARY_LINT_CACHE_DIR": "", "PYTHONHASHSEED": "0"}
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                                preexec_fn=_limit(args.memory_mb))
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout] + [lines.put(None)], daemon=True).start()
        current, line = None, ""
        while True:
            if deadline is not None and time.monotonic() > deadline:
                proc.kill()
                break
            try:
                line = lines.get(timeout=args.kill_after if current is not None else 600)
            except queue.Empty:
                proc.kill()
                reasons = [f"hang: no answer in {args.kill_after:g}s (worker killed)"]
                line = None  # between inputs: making the input hung, skipped below
                break
            if line is None:
                if current is None and proc.wait() == 0:
                    line = ""  # done with its share (--recycle): a fresh worker takes the next inputs
                reasons = [f"worker died (exit {proc.wait()}) on this input"]
                break
            msg = json.loads(line)
            if "start" in msg:
                current = msg["start"]
                continue
            current = None
            i = msg["i"] + 1
            if "skipped" in msg:
                st["skipped"] += 1
                continue
            st["inputs"] += 1
            st["bytes"] += msg["bytes"]
            st["slowest_ms"] = max(st["slowest_ms"], msg["ms"])
            st["over_1s"] += msg["ms"] > 1000
            if msg["reasons"]:
                record(out, front, args.seed, msg["i"], msg["reasons"], st)
            if st["inputs"] % 1000 == 0:
                print(f"[{front}] {st['inputs']} inputs, {st['failures']} failing, "
                      f"{st['inputs'] / (time.monotonic() - t0):.1f}/s", file=sys.stderr, flush=True)
        proc.wait()
        if current is None and line is None:
            st["skipped"] += 1  # died making input i, not checking it: go on after it
            i += 1
        if current is not None and not (deadline is not None and time.monotonic() > deadline):
            st["inputs"] += 1
            record(out, front, args.seed, current, reasons, st)
            st["restarts"] += 1
            i = current + 1
        elif current is not None:
            break
    st["seconds"] = round(time.monotonic() - t0, 1)


def record(out: Path, front: str, seed: int, i: int, reasons: list[str], st: dict) -> None:
    with LOCK:
        _record(out, front, seed, i, reasons, st)


def _record(out: Path, front: str, seed: int, i: int, reasons: list[str], st: dict) -> None:
    st["failures"] += 1
    for r in dict.fromkeys(reason_class(r) for r in reasons):
        st["classes"][r] += 1
        st["examples"].setdefault(r, i)
    save_failure(out, front, seed, i, reasons)


LOCK = threading.Lock()


def _classes(classes: dict) -> str:
    return "; ".join(f"{c} ×{v['count']} (#{v['first']})" for c, v in classes.items()) or "—"


def write_summary(out: Path, args, stats: dict) -> None:
    with LOCK:
        _write_summary(out, args, stats)


def _write_summary(out: Path, args, stats: dict) -> None:
    data = {"seed": args.seed, "budget_s": args.budget, "memory_mb": args.memory_mb, "fronts": {}}
    lines = ["# Fuzz campaign", "", f"seed {args.seed}, per-input budget {args.budget:g} s, "
             f"resident memory limit {args.memory_mb} MB", "",
             "| front | inputs | failing | inputs/s | slowest (ms) | over 1 s | classes |", "|---|---|---|---|---|---|---|"]
    for front, st in stats.items():
        rate = st["inputs"] / st["seconds"] if st["seconds"] else 0.0
        classes = {c: {"count": n, "first": st["examples"][c]} for c, n in st["classes"].most_common()}
        data["fronts"][front] = {"inputs": st["inputs"], "failures": st["failures"], "seconds": st["seconds"],
                                 "rate": round(rate, 1), "slowest_ms": st["slowest_ms"], "over_1s": st["over_1s"],
                                 "restarts": st["restarts"], "generator_errors": st["skipped"], "mean_bytes": round(st["bytes"] / max(1, st["inputs"])),
                                 "classes": classes}
        lines.append(f"| {front} | {st['inputs']} | {st['failures']} | {rate:.1f} | {st['slowest_ms']:.0f} | "
                     f"{st['over_1s']} | {_classes(classes)} |")
    (out / "summary.json").write_text(json.dumps(data, indent=1) + "\n")
    (out / "summary.md").write_text("\n".join(lines) + "\n")


def saved_input(where: Path, meta: dict):
    """The input as saved (not made again: the generator may have changed since)."""
    from fuzzkit.contract import Input
    from fuzzkit.seeds import Seed

    def tree(side: str) -> tuple:
        root = where / side
        return tuple(sorted((p.relative_to(root).as_posix(), p.read_bytes()) for p in root.rglob("*") if p.is_file()))

    head, base = tree("head"), tree("base") if (where / "base").is_dir() else None
    seed = Seed(meta["front"], f"saved:{where.name}", meta["target"], head, base, tuple(sorted(meta["config"].items())))
    data = dict(head if meta["side"] == "head" else base)[meta["target"]]
    return Input(meta["front"], seed, data, meta["side"])


def replay(where: Path) -> int:
    """Check saved failing inputs again: one fail-NNNNNN directory, or every one under a campaign's DIR
    (a line each: index, the class it failed with, what it does now)."""
    from fuzzkit.contract import Sandbox, judge, warm_up
    from fuzzkit.inputs import describe

    dirs = [where] if (where / "input.json").is_file() else sorted(where.glob("*/fail-*"))
    warm_up()
    box = Sandbox(Path(tempfile.mkdtemp(prefix="canary-lint-replay-")))
    failing = 0
    try:
        for d in dirs:
            meta = json.loads((d / "input.json").read_text())
            inp = saved_input(d, meta)
            reasons = judge(inp, box)
            failing += bool(reasons)
            if len(dirs) == 1:
                print(describe(inp)[:600])
            now = reason_class(reasons[0]) if reasons else "keeps the contract now"
            print(f"{meta['front']}\t{meta['index']}\t{reason_class(meta['reasons'][0])}\t{now}", flush=True)
    finally:
        box.close()
    return 1 if failing else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--front", action="append", default=[], help=f"one of {', '.join(FRONTS)}, or all (repeatable)")
    ap.add_argument("--inputs", type=int, default=100_000, help="inputs per front (default 100000)")
    ap.add_argument("--minutes", type=float, default=0, help="stop each front after this long (0: no limit)")
    ap.add_argument("--out", default=str(ROOT / "bench" / ".work" / "fuzz"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1, help="fronts run at once")
    ap.add_argument("--budget", type=float, default=5.0, help="seconds an input may take (default 5)")
    ap.add_argument("--memory-mb", type=int, default=1536, help="resident memory the worker may reach")
    ap.add_argument("--kill-after", type=float, default=60.0, help="a worker silent this long is killed")
    ap.add_argument("--recycle", type=int, default=2000, help="inputs a worker checks before a fresh one takes "
                    "over (the resident-memory bound is the worker's high-water mark)")
    ap.add_argument("--replay", metavar="DIR", help="check saved failing inputs again (a fail-NNNNNN directory or "
                    "a campaign's --out)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--start", type=int, default=0, help="the first input number (resume a stopped front)")
    ap.add_argument("--stop", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.seed, args.start, args.stop, args.budget, args.memory_mb)
        return 0
    if args.replay:
        return replay(Path(args.replay))
    fronts = [f for name in args.front or ["all"] for f in (FRONTS if name == "all" else [name])]
    unknown = [f for f in fronts if f not in FRONTS]
    if unknown:
        ap.error(f"unknown front {unknown[0]!r}")
    out = Path(args.out)
    for f in fronts:
        shutil.rmtree(out / f, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    stats: dict = {}
    pending = list(fronts)
    threads: list[threading.Thread] = []
    while pending or threads:
        threads = [t for t in threads if t.is_alive()]
        while pending and len(threads) < args.jobs:
            t = threading.Thread(target=run_front, args=(pending.pop(0), args, stats))
            t.start()
            threads.append(t)
        time.sleep(0.5)
        write_summary(out, args, {f: stats[f] for f in fronts if f in stats})
    write_summary(out, args, {f: stats[f] for f in fronts if f in stats})
    print((out / "summary.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
