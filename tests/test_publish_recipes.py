"""The CI recipes in docs/ci.md are copied as is by users: they must parse, use only real options, wire the
gate before any canary step, and their commands must work when run the way the CI would run them."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import yaml

from canary_lint import formatters
from canary_lint.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ci.md"
GIT_ENV = {"GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@example.invalid",
           "GIT_COMMITTER_NAME": "dev", "GIT_COMMITTER_EMAIL": "dev@example.invalid"}


def _yaml_blocks() -> list[dict]:
    return [yaml.safe_load(b) for b in re.findall(r"^```yaml\n(.*?)^```", DOC.read_text(), re.S | re.M)]


def _recipes():
    blocks = _yaml_blocks()
    github = next(b for b in blocks if "jobs" in b)
    gitlab = next(b for b in blocks if "stages" in b)
    precommit = next(b for b in blocks if "repos" in b)
    return github, gitlab, precommit


def _commands(text: str) -> list[list[str]]:
    out = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if line.startswith("canary-lint "):
            out.append(shlex.split(line))
    return out


def _github_commands(github) -> list[list[str]]:
    return [cmd for job in github["jobs"].values() for step in job["steps"] for cmd in _commands(step.get("run", ""))]


def _gitlab_commands(gitlab) -> list[list[str]]:
    return [cmd for job in gitlab.values() if isinstance(job, dict) and "script" in job
            for line in job["script"] for cmd in _commands(line)]


def _check_options(argv: list[str]) -> None:
    import click

    cmd: click.Command = cli
    args = argv[1:]
    ctx = click.Context(cli)
    while isinstance(cmd, click.Group):
        cmd = cmd.get_command(ctx, args[0])
        assert cmd is not None, f"unknown subcommand in {argv}"
        args = args[1:]
    known = {opt for p in cmd.params for opt in getattr(p, "opts", [])}
    for i, arg in enumerate(args):
        if arg.startswith("--"):
            assert arg in known, f"{' '.join(argv)}: {cmd.name} has no option {arg}"
            if arg == "--format":
                name = args[i + 1].split(":")[0]
                assert name in formatters.FORMATS, f"unknown format {name}"


def test_every_recipe_parses_and_uses_real_options():
    github, gitlab, precommit = _recipes()
    commands = _github_commands(github) + _gitlab_commands(gitlab)
    assert len(commands) >= 5
    for argv in commands:
        _check_options(argv)
    hooks = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert {h["id"] for repo in precommit["repos"] for h in repo["hooks"]} <= hooks


def _outputs(argv: list[str]) -> dict[str, str]:
    return dict(argv[i + 1].split(":", 1) for i, a in enumerate(argv) if a == "--format" and ":" in argv[i + 1])


def test_github_recipe_is_wired_gate_first():
    github, _, _ = _recipes()
    assert github["jobs"]["canary"]["needs"] == "gate"
    assert github["permissions"]["pull-requests"] == "write"
    steps = github["jobs"]["gate"]["steps"]
    check = next(cmd for s in steps for cmd in _commands(s.get("run", "")) if cmd[1] == "check")
    outputs = _outputs(check)
    assert "--base" in check and "github" in check
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif"))
    assert upload["with"]["sarif_file"] == outputs["sarif"]
    comment = next(cmd for s in steps for cmd in _commands(s.get("run", "")) if cmd[1] == "comment")
    assert comment[comment.index("--report") + 1] == outputs["json"]
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0


def test_gitlab_recipe_is_wired_gate_first():
    _, gitlab, _ = _recipes()
    assert gitlab["stages"].index("gate") < gitlab["stages"].index("canary")
    assert gitlab["canary"]["needs"] == ["canary-lint"]
    job = gitlab["canary-lint"]
    check = next(cmd for line in job["script"] for cmd in _commands(line) if cmd[1] == "check")
    outputs = _outputs(check)
    assert job["artifacts"]["reports"]["codequality"] == outputs["gitlab"]
    assert job["artifacts"]["reports"]["junit"] == outputs["junit"]
    assert job["artifacts"]["when"] == "always"


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def test_github_check_command_runs_as_the_workflow_runs_it(tmp_path):
    """The recipe's `run:` text through bash, in a PR-like checkout with origin/main as v1."""
    origin = tmp_path / "origin"
    (origin / "migrations").mkdir(parents=True)
    (origin / "migrations" / "V1__init.sql").write_text("CREATE TABLE users (id bigint PRIMARY KEY, email text);\n")
    _git(origin, "init", "-q", "-b", "main")
    _git(origin, "add", "-A")
    _git(origin, "commit", "-q", "-m", "v1")
    work = tmp_path / "work"
    _git(tmp_path, "clone", "-q", str(origin), str(work))
    (work / "migrations" / "V2__idx.sql").write_text(
        "BEGIN;\nCREATE INDEX CONCURRENTLY ix_users_email ON users (email);\nCOMMIT;\n")
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "v2")

    github, _, _ = _recipes()
    step = next(s for s in github["jobs"]["gate"]["steps"] if str(s.get("run", "")).startswith("canary-lint check"))
    script = step["run"].replace("${{ github.base_ref }}", "main")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_"))}
    env.update(GITHUB_REPOSITORY="acme/shop", GITHUB_SERVER_URL="https://github.com", GITHUB_ACTIONS="true")
    proc = subprocess.run(["bash", "-e", "-c", script], cwd=work, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr  # the gate blocks: the workflow stops before the canary job
    assert proc.stdout.startswith("::error file=migrations/V2__idx.sql,line=2")
    report = json.loads((work / "canary-lint.json").read_text())
    assert report["base"] == "origin/main" and report["commit"]
    assert [f["rule"] for f in report["findings"]] == ["CLM202"]
    sarif = json.loads((work / "canary-lint.sarif").read_text())
    assert sarif["runs"][0]["results"][0]["ruleId"] == "CLM202"
    md = (work / "canary-lint.md").read_text()
    assert md.startswith("### canary gate: blocked by 1 error")
    assert f"https://github.com/acme/shop/blob/{report['commit']}/migrations/V2__idx.sql#L2" in md
