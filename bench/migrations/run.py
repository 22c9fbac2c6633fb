#!/usr/bin/env python3
"""Benchmark the migration analyzer against its anchors, measured in one run.

  python3 bench/migrations/run.py [--repeat N] [--tree PATH]

Installs into bench/.work/migrations/ (git-ignored): a venv with alembic-guard==0.1.1 and squawk-cli==2.70.0,
a venv with canary-lint installed from PATH (default: this repository) as a user installs it (not editable,
byte-compiled), the apache-superset==6.1.0, prefect==3.9.1 and glance==33.0.0 wheels (their Alembic `versions/`
directories are the corpora; glance's runs MySQL trigger SQL through `op.execute`), and matrix-synapse==1.163.2
(its real schema-delta .sql files that squawk parses cleanly, concatenated five times into a multi-MB file).
Prints whole-process wall time (best of N) and finding counts per kind for both sides.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from installed import install_ours  # noqa: E402

HERE = Path(__file__).resolve().parent
WORK = HERE.parent / ".work" / "migrations"
VENV = WORK / "venv"
OURS = WORK / "ours"  # canary-lint, installed from --tree
DL = WORK / "dl"
CORPORA = WORK / "corpora"
WHEELS = {"apache-superset==6.1.0": "apache_superset-6.1.0", "prefect==3.9.1": "prefect-3.9.1",
          "glance==33.0.0": "glance-33.0.0", "matrix-synapse==1.163.2": "matrix_synapse-1.163.2"}
# corpus -> (wheel, its Alembic versions/ directory, the dialect written to the corpus's canary-lint.toml)
ALEMBIC_DIRS = {
    "superset": ("apache-superset==6.1.0", "superset/migrations/versions/", None),
    "prefect-postgresql": ("prefect==3.9.1", "prefect/server/database/_migrations/versions/postgresql/", None),
    "prefect-sqlite": ("prefect==3.9.1", "prefect/server/database/_migrations/versions/sqlite/", "sqlite"),
    # OpenStack Glance: expand/contract branches; ocata_expand01 creates MySQL triggers (BEGIN ... END bodies)
    # that keep is_public and visibility in step, ocata_contract01 drops them
    "glance-mysql": ("glance==33.0.0", "glance/db/sqlalchemy/alembic_migrations/versions/", "mysql"),
}
# alembic-guard rule -> the canary-lint rules that answer the same question
PAIRS = {
    "AG001 add-not-null-column": ("CLM106",),
    "AG002 index-not-concurrent": ("CLM201",),
    "AG003 concurrent-index-in-transaction": ("CLM202",),
    "AG004 rename": ("CLM103", "CLM104"),
    "AG005 drop": ("CLM101", "CLM102", "CLM108"),
    "AG006 column-type-change": ("CLM105", "CLM206"),
    "AG007 set-not-null": ("CLM107", "CLM109"),
    "AG008 constraint-validated-under-lock": ("CLM203",),
    "AG009 volatile-default": ("CLM205",),
    "AG010 unique-or-primary-key-constraint": ("CLM204",),
}


def sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def setup() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    if not (VENV / "bin" / "alembic-guard").exists() or not (VENV / "bin" / "squawk").exists():
        sh([sys.executable, "-m", "venv", str(VENV)], check=True)
        sh([str(VENV / "bin" / "pip"), "install", "-q", "alembic-guard==0.1.1", "squawk-cli==2.70.0"], check=True)
    for spec, stem in WHEELS.items():
        if not any(DL.glob(f"{stem}-*.whl")):
            sh([str(VENV / "bin" / "pip"), "download", "--no-deps", "-q", "-d", str(DL), spec], check=True)
    for name, (spec, prefix, dialect) in ALEMBIC_DIRS.items():
        target = CORPORA / name / "versions"
        if dialect:
            target.parent.mkdir(parents=True, exist_ok=True)
            (target.parent / "canary-lint.toml").write_text(f'dialect = "{dialect}"\n')
        if target.is_dir():
            continue
        wheel = next(DL.glob(f"{WHEELS[spec]}-*.whl"))
        target.mkdir(parents=True)
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                rest = info.filename[len(prefix):]
                if info.filename.startswith(prefix) and rest.endswith(".py") and "/" not in rest \
                        and rest != "__init__.py":
                    (target / Path(info.filename).name).write_bytes(zf.read(info))
    if not (CORPORA / ".git").exists():  # the run's head-commit probe then stays inside the corpora
        sh(["git", "init", "-q", str(CORPORA)], check=True)
    big = CORPORA / "sql" / "synapse_x5.sql"
    if not big.exists():
        # Only the files squawk parses without a syntax error (synapse templates some SQL), so that both tools
        # lint every statement; concatenated five times for a multi-MB file.
        big.parent.mkdir(parents=True, exist_ok=True)
        wheel = next(DL.glob("matrix_synapse-*.whl"))
        parts = []
        probe = big.parent / "probe.sql"
        with zipfile.ZipFile(wheel) as zf:
            for info in sorted(zf.infolist(), key=lambda i: i.filename):
                if info.filename.endswith((".sql", ".sql.postgres")) and "/schema/" in info.filename:
                    text = zf.read(info).decode("utf-8", "replace").strip()
                    if not text.rstrip().endswith(";"):
                        text += ";"
                    probe.write_text(text, encoding="utf-8")
                    out = sh([str(VENV / "bin" / "squawk"), "--reporter", "json", str(probe)]).stdout
                    if '"syntax-error"' in out:
                        continue
                    parts.append(f"-- {info.filename}\n{text}\n")
        probe.unlink()
        big.write_text("\n".join(parts) * 5, encoding="utf-8")


CANARY: list[str] = []  # the installed console script


def timed(cmds: dict[str, list[str]], repeat: int, cwd: Path | None = None) -> dict:
    """name -> (best wall s, best CPU s, last process) of `repeat` runs of each command, taken in turns (one run
    of each, `repeat` times) so that a load that comes and goes on the shared machine weighs on every tool.
    CPU time (user + system of the process and its children) is disturbed less by that load than wall time."""
    best = {name: [float("inf"), float("inf"), None] for name in cmds}
    for _ in range(repeat):
        for name, cmd in cmds.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            proc = sh(cmd, cwd=cwd)
            wall = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            row = best[name]
            row[0], row[1], row[2] = min(row[0], wall), min(row[1], cpu), proc
    return {name: tuple(row) for name, row in best.items()}


def canary_cmd(paths: list[str], select: str | None = None) -> list[str]:
    return [*CANARY, "check", *paths, "--format", "json", "--exit-zero", *(["--select", select] if select else [])]


def canary_report(proc: subprocess.CompletedProcess) -> tuple[collections.Counter, dict]:
    if proc.returncode not in (0, 1):
        raise SystemExit(f"canary-lint failed: {proc.stderr[-2000:]}")
    report = json.loads(proc.stdout)
    return collections.Counter(f["rule"] for f in report["findings"]), report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tree", type=Path, default=HERE.parent.parent,
                    help="the canary-lint source tree to install and measure (default: this repository)")
    args = ap.parse_args()
    setup()
    CANARY[:] = [str(install_ours(OURS, args.tree.resolve()))]
    env_note = f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, best of {args.repeat}"
    print(f"# migration analyzer vs anchors ({env_note})\n")
    guard = str(VENV / "bin" / "alembic-guard")
    for name in ALEMBIC_DIRS:
        d = CORPORA / name
        nfiles = len(list((d / "versions").glob("*.py")))
        runs = timed({"guard": [guard, "versions", "--format", "json"], "ours": canary_cmd(["versions"]),
                      "ours CLM": canary_cmd(["versions"], "CLM")}, args.repeat, cwd=d)
        (g_wall, g_cpu, g_proc), (c_wall, c_cpu, c_proc), (s_wall, s_cpu, _) = runs.values()
        try:
            g_findings = json.loads(g_proc.stdout or "[]")
        except json.JSONDecodeError:
            g_findings = []
        if isinstance(g_findings, dict):
            g_findings = g_findings.get("findings", [])
        g_where = collections.defaultdict(set)
        for f in g_findings:
            g_where[f["rule"]].add((f["path"], f["line"]))
        c_counts, report = canary_report(c_proc)
        c_where = collections.defaultdict(set)
        for f in report["findings"]:
            c_where[f["rule"]].add((f["path"], f["line"]))
        print(f"## {name}: {nfiles} revision files")
        print(f"wall: canary-lint check {c_wall:.3f}s (whole run, every analyzer), alembic-guard {g_wall:.3f}s "
              f"-> ratio {c_wall / g_wall:.2f}x;  CPU {c_cpu:.3f}s vs {g_cpu:.3f}s -> {c_cpu / g_cpu:.2f}x")
        print(f"      canary-lint check --select CLM {s_wall:.3f}s -> ratio {s_wall / g_wall:.2f}x;  "
              f"CPU {s_cpu:.3f}s -> {s_cpu / g_cpu:.2f}x")
        print(f"{'locations flagged, alembic-guard rule':42} {'guard':>6} {'ours':>6} {'both':>6}  (canary-lint rules)")
        diff_lines = []
        for ag, ours in PAIRS.items():
            theirs = g_where.get(ag.split()[0], set())
            mine = set().union(*(c_where.get(c, set()) for c in ours))
            print(f"{ag:42} {len(theirs):>6} {len(mine):>6} {len(theirs & mine):>6}  ({'+'.join(ours)})")
            diff_lines += [f"{ag} only guard: {p}:{ln}" for p, ln in sorted(theirs - mine)]
            diff_lines += [f"{ag} only canary-lint: {p}:{ln}" for p, ln in sorted(mine - theirs)]
        (WORK / f"diff-{name}.txt").write_text("\n".join(diff_lines) + "\n")
        extra = {k: v for k, v in sorted(c_counts.items())
                 if k.startswith("CL") and not any(k in o for o in PAIRS.values())}
        print(f"canary-lint only: {extra}")
        print(f"(differences listed in {(WORK / f'diff-{name}.txt').relative_to(HERE.parent.parent)})\n")

    big = CORPORA / "sql" / "synapse_x5.sql"
    size = big.stat().st_size / 1e6
    squawk = str(VENV / "bin" / "squawk")
    runs = timed({"squawk": [squawk, "--reporter", "json", str(big)], "ours": canary_cmd([str(big)])}, args.repeat,
                 cwd=big.parent)
    (q_wall, q_cpu, q_proc), (c_wall, c_cpu, c_proc) = runs.values()
    try:
        q_counts = collections.Counter(v.get("rule_name") or v.get("rule") for v in json.loads(q_proc.stdout or "[]"))
    except json.JSONDecodeError:
        q_counts = collections.Counter({"(unparsed output)": 1})
    c_counts, _ = canary_report(c_proc)
    n_stmt = big.read_text().count(";")
    print(f"## SQL throughput: {big.name}, {size:.1f} MB, ~{n_stmt} statements")
    print(f"wall: canary-lint {c_wall:.3f}s, squawk {q_wall:.3f}s -> ratio {c_wall / q_wall:.2f}x;  "
          f"CPU {c_cpu:.3f}s vs {q_cpu:.3f}s -> {c_cpu / q_cpu:.2f}x")
    print(f"squawk findings: {dict(q_counts.most_common())}")
    print(f"canary-lint findings: {dict(sorted(c_counts.items()))}")


if __name__ == "__main__":
    main()
