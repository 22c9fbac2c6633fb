"""The composite GitHub Action (`action.yml`) cannot drift from the CLI: every subcommand, option and format
its steps pass exists, every input it reads is declared and every declared input is read; and its steps'
scripts run as the runner runs them (bash -eo pipefail) in a pull-request-like checkout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from canary_lint import formatters
from canary_lint.cli import cli

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
STEPS = {step.get("id") or step["name"]: step for step in ACTION["runs"]["steps"]}
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.S)
GIT_ENV = {"GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@example.invalid",
           "GIT_COMMITTER_NAME": "dev", "GIT_COMMITTER_EMAIL": "dev@example.invalid"}


def canary_lint_steps() -> list[dict]:
    """The steps that run canary-lint: they build `args=(SUBCOMMAND …)` and call "$CANARY_LINT"."""
    return [s for s in ACTION["runs"]["steps"] if "CANARY_LINT" in (s.get("env") or {})]


def test_the_action_is_composite_and_installs_its_own_checkout():
    assert ACTION["runs"]["using"] == "composite"
    install = STEPS["install"]["run"]
    assert 'target="$ACTION_PATH"' in install and "pip install" in install
    assert STEPS["install"]["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    for step in ACTION["runs"]["steps"]:
        assert "uses" in step or step.get("shell") == "bash", step["name"]
        assert not EXPR.search(step.get("run", "")), f"{step['name']}: pass values through env, not into the script"


@pytest.mark.parametrize("step", canary_lint_steps(), ids=lambda s: s["name"])
def test_every_subcommand_option_and_format_the_action_uses_exists(step):
    script = step["run"]
    subcommands = set(re.findall(r"args=\((\w+)", script))
    assert len(subcommands) == 1, script
    (sub,) = subcommands
    result = CliRunner().invoke(cli, [sub, "--help"])
    assert result.exit_code == 0, result.output
    known = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", result.output))
    lines = [line for line in script.splitlines() if "args" in line]  # git and pip lines have flags of their own
    used = {flag for line in lines for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", line)}
    assert used and used <= known, f"canary-lint {sub} has no {sorted(used - known)}"
    for fmt in re.findall(r"--format \"?([a-z]+)", script):
        assert fmt in formatters.FORMATS, fmt


def test_every_input_read_is_declared_and_every_declared_input_is_read():
    text = (ROOT / "action.yml").read_text()
    read = set(re.findall(r"inputs\.([\w-]+)", text))
    assert read == set(ACTION["inputs"]), (read ^ set(ACTION["inputs"]))
    outputs = {m for m in re.findall(r"steps\.check\.outputs\.([\w-]+)", text)}
    written = set(re.findall(r'echo "([\w-]+)=', STEPS["check"]["run"]))
    assert outputs <= written


# ---- the scripts, run -----------------------------------------------------------------------------------------
def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def _env_of(step: dict, values: dict) -> dict:
    def value(expr: str) -> str:
        assert expr in values, f"{step['name']}: the test does not know ${{{{ {expr} }}}}"
        return values[expr]

    return {k: EXPR.sub(lambda m: value(m.group(1)), str(v)) for k, v in (step.get("env") or {}).items()}


def _run_step(step: dict, values: dict, cwd: Path, runner: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_", "RUNNER_"))}
    env.update(runner)
    env.update(_env_of(step, values))
    script = cwd.parent / "step.sh"
    script.write_text(step["run"])
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=300)


def _outputs(path: Path) -> dict:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@pytest.fixture
def pull_request(tmp_path):
    """origin: main holds v1; the work tree is a single-branch clone of the PR branch (no origin/main in it,
    as after actions/checkout of a pull request)."""
    origin = tmp_path / "origin"
    (origin / "migrations").mkdir(parents=True)
    (origin / "migrations" / "V1__init.sql").write_text("CREATE TABLE users (id bigint PRIMARY KEY, email text);\n")
    _git(origin, "init", "-q", "-b", "main")
    _git(origin, "add", "-A")
    _git(origin, "commit", "-q", "-m", "v1")
    _git(origin, "checkout", "-q", "-b", "pr")
    (origin / "migrations" / "V2__idx.sql").write_text(
        "BEGIN;\nCREATE INDEX CONCURRENTLY ix_users_email ON users (email);\nCOMMIT;\n")
    _git(origin, "add", "-A")
    _git(origin, "commit", "-q", "-m", "v2")
    work = tmp_path / "work"
    _git(tmp_path, "clone", "-q", "--single-branch", "--branch", "pr", "--depth", "1", origin.as_uri(), str(work))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "canary-lint"  # this tree's canary-lint, as the install step's venv would hold it
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} -m canary_lint \"$@\"\n")
    wrapper.chmod(0o755)
    runner = {"RUNNER_TEMP": str(tmp_path / "runner-temp"), "GITHUB_OUTPUT": str(tmp_path / "output"),
              "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"), "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    (tmp_path / "runner-temp").mkdir()
    values = {f"inputs.{k}": str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
    values.update({"steps.install.outputs.bin": str(wrapper), "github.base_ref": "main", "github.event.before": "",
                   "github.action_path": str(ROOT), "inputs.token": "unused"})
    return work, values, runner


def test_the_steps_block_a_release_that_breaks_v1_and_write_every_report(pull_request):
    work, values, runner = pull_request
    check = _run_step(STEPS["check"], values, work, runner)
    assert check.returncode == 0, check.stderr  # the step records the verdict; the last step fails the job
    out = _outputs(Path(runner["GITHUB_OUTPUT"]))
    assert out["exit-code"] == "1", check.stderr
    assert "::error" in check.stdout and "CLM202" in check.stdout  # annotations on the changed line
    report = json.loads(Path(out["json"]).read_text())
    assert report["base"] == "origin/main" and [f["rule"] for f in report["findings"]] == ["CLM202"]
    assert json.loads(Path(out["sarif"]).read_text())["runs"][0]["results"]
    for name in ("Job summary", "Verdict"):
        values[f"steps.check.outputs.{'markdown' if name == 'Job summary' else 'exit-code'}"] = \
            out["markdown" if name == "Job summary" else "exit-code"]
    summary = _run_step(STEPS["Job summary"], values, work, runner)
    assert summary.returncode == 0 and "CLM202" in Path(runner["GITHUB_STEP_SUMMARY"]).read_text()
    verdict = _run_step(STEPS["Verdict"], values, work, runner)
    assert verdict.returncode == 1


def test_the_inputs_reach_the_command_line(pull_request):
    work, values, runner = pull_request
    values.update({"inputs.annotations": "false", "inputs.sarif": "false", "inputs.fail-on": "warning",
                   "inputs.paths": "migrations\nmissing-dir", "inputs.base": "origin/main"})
    check = _run_step(STEPS["check"], values, work, runner)
    out = _outputs(Path(runner["GITHUB_OUTPUT"]))
    assert out["exit-code"] == "2" and "missing-dir" in check.stderr  # both paths passed, the missing one named
    assert "sarif" not in out and "::error" not in check.stdout


def test_the_readme_uses_the_action_with_its_real_inputs():
    readme = (ROOT / "README.md").read_text()
    blocks = [yaml.safe_load(b) for b in re.findall(r"^```yaml\n(.*?)^```", readme, re.S | re.M)]
    uses = [step for b in blocks if isinstance(b, dict) and "jobs" in b for job in b["jobs"].values()
            for step in job["steps"] if str(step.get("uses", "")).startswith("canary-lint/canary-lint@")]
    assert uses and all(set(step.get("with", {})) <= set(ACTION["inputs"]) for step in uses)
    listed = re.search(r"Inputs \(all optional\): (.*?)\. Outputs: (.*?)\(", readme, re.S)
    assert set(re.findall(r"`([\w-]+)`", listed.group(1))) - {"true", "false", "swagger", "python3"} == set(ACTION["inputs"])
    assert set(re.findall(r"`([\w-]+)`", listed.group(2))) == set(ACTION["outputs"])
