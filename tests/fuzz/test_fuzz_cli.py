"""A few hostile inputs of each front through the real command line, in a process limited in address space
and CPU time: exit 0 or 1, no traceback, a JSON report without CL005, and a CL001 for every mutated file that
cannot be read or parsed. Rollout plans go through the loader `canary-lint rollout` runs first (no command
of `rollout` only validates: each would then route traffic, query metrics or open the journal)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from fuzzkit.contract import expected_unreadable
from fuzzkit.inputs import campaign_input, describe
from fuzzkit.seeds import ROOT

from canary_lint.gitio import git

PER_FRONT = 6
MEMORY = 2 << 30  # bytes of address space for the whole process
CPU_SECONDS = 60
FRONTS = ("sql", "alembic", "django", "openapi", "python", "deploy")


def _limited():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def _run(args: list[str], cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "CANARY_LINT_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=env,
                          preexec_fn=_limited, timeout=120, errors="backslashreplace")


def _write(root: Path, files: dict) -> None:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


@pytest.mark.parametrize("front", FRONTS)
def test_hostile_inputs_through_the_cli(front, tmp_path):
    """One release holding PER_FRONT hostile cases side by side (case0/ … caseN/), v1 committed as `base`."""
    from canary_lint.discovery import discover
    from canary_lint.config import Config

    inputs = [campaign_input(front, 7, i) for i in range(PER_FRONT)]
    root = tmp_path / "release"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    for n, inp in enumerate(inputs):
        _write(root / f"case{n}", inp.base_files() or {})
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", "v1")
    git(root, "tag", "base")
    for n in range(len(inputs)):
        subprocess.run(["rm", "-rf", str(root / f"case{n}")], check=True)
    for n, inp in enumerate(inputs):
        _write(root / f"case{n}", inp.head_files())
    proc = _run(["-m", "canary_lint", "check", ".", "--base", "base", "--format", "json"], root, tmp_path)
    cases = "\n".join(f"case{n}: {describe(inp)[:300]}" for n, inp in enumerate(inputs))
    assert proc.returncode in (0, 1), f"exit {proc.returncode}\n{proc.stderr[-3000:]}\n{cases}"
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    crashes = [f for f in report["findings"] if f["rule"] == "CL005"]
    assert not crashes, f"{crashes}\n{cases}"
    kinds = {f.path: f.kinds for f in discover(["."], Config(root=root), root).files}
    for n, inp in enumerate(inputs):
        path = f"case{n}/{inp.seed.target}"
        why = expected_unreadable(inp, kinds.get(path, set()))
        if why:
            assert any(f["rule"] == "CL001" and f["path"] == path for f in report["findings"]), \
                f"no CL001 for {path}, which {why}"


LOAD_PLANS = """
import json, sys
from canary_lint.rollout.plan import PlanError, load
out = []
for path in sys.argv[1:]:
    try:
        plan = load(path)
        out.append(["ok", len(plan.steps)])
    except PlanError as exc:
        out.append(["refused", str(exc).splitlines()[0][:200]])
print(json.dumps(out))
"""


def test_hostile_plans_through_the_plan_loader(tmp_path):
    inputs = [campaign_input("rollout", 7, i) for i in range(PER_FRONT * 2)]
    paths = []
    for n, inp in enumerate(inputs):
        p = tmp_path / f"plan{n}" / inp.seed.target
        p.parent.mkdir()
        p.write_bytes(inp.data)
        paths.append(str(p))
    proc = _run(["-c", LOAD_PLANS, *paths], tmp_path, tmp_path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert len(json.loads(proc.stdout)) == len(inputs)
