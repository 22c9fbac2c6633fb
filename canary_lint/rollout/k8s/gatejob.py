"""The gate travels along: before any traffic moves on the cluster, `canary-lint check` runs on the release
commit and a red result stops the rollout (an Argo Rollouts Job metric as the first step, a Flagger
pre-rollout webhook).

The script clones the repository, checks out the exact commit being rolled out, and runs the check the
plan's gate names (paths, base, config, fail_on, fail_on_existing). A `gate: {report: FILE}` plan runs the
check itself: the report is CI's output of the same check, and the cluster cannot read CI's file. Every value
is shell-quoted; the repository and commit come from the plan's checkout unless given.
"""

from __future__ import annotations

import shlex
import subprocess

from canary_lint.rollout.k8s import K8sError
from canary_lint.rollout.plan import Plan


def release(plan: Plan, repo: str | None, revision: str | None) -> tuple[str, str]:
    """(repository URL, commit) the gate checks out."""
    root = plan.base_dir
    if not repo:
        repo = _git(root, "config", "--get", "remote.origin.url")
    if not revision:
        revision = _git(root, "rev-parse", "--verify", "HEAD^{commit}")
    if not repo:
        raise K8sError("the gate job clones the release: set kubernetes.repo in the plan or --repo "
                       "(the plan's checkout has no remote.origin.url)")
    if not revision:
        raise K8sError("the gate job checks out the release commit: pass --revision (the plan is not in a git "
                       "checkout with a commit)")
    if any(ch in repo for ch in "\n\r\x00") or not revision.strip().isalnum():
        raise K8sError(f"--repo {repo!r:.80} / --revision {revision!r:.50}: not a repository URL and a commit")
    return repo, revision


def _git(root, *args) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def check_argv(plan: Plan) -> list[str]:
    g = plan.gate
    check = g.get("check") or {}
    argv = ["canary-lint", "check", *[str(p) for p in check.get("paths", ["."])]]
    if check.get("base"):
        argv += ["--base", check["base"]]
    if check.get("config"):
        argv += ["--config", check["config"]]
    fail_on = check.get("fail_on", g.get("fail_on"))
    if fail_on:
        argv += ["--fail-on", fail_on]
    if check.get("fail_on_existing", g.get("fail_on_existing")):
        argv.append("--fail-on-existing")
    return argv + ["--format", "concise"]


def script(plan: Plan, repo: str, revision: str, workdir: str = "/tmp/release") -> str:
    q = shlex.quote
    return " && ".join([
        "set -eu",
        f"git clone --quiet {q(repo)} {q(workdir)}",
        f"cd {q(workdir)}",
        f"git checkout --quiet --detach {q(revision)}",
        shlex.join(check_argv(plan)),
    ])


def job_spec(plan: Plan, image: str, repo: str, revision: str) -> dict:
    """A batch/v1 JobSpec: one attempt, exit 0 green, non-zero red (or unable to check)."""
    return {
        "backoffLimit": 0,
        "activeDeadlineSeconds": 1800,
        "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "canary-lint-check",
                "image": image,
                "command": ["sh", "-c", script(plan, repo, revision)],
            }],
        }},
    }
