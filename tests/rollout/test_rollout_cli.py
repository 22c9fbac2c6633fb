"""The CLI as an operator uses it: run, status, promote, abort, SIGTERM, the lock."""

import json
import os
import signal
import subprocess
import sys
import time

from rollout_fakes import write_release


def _cli(*args, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "canary_lint", "rollout", *args], capture_output=True, text=True, timeout=timeout
    )


def _paused_rollout(tmp_path):
    marker = tmp_path / "weights.log"
    router = {"kind": "command", "set_weight": ["sh", "-c", f"echo {{canary}} >> {marker}"]}
    steps = [{"pause": "waiting for the on-call"}, {"weight": 20, "hold": {"min": "1s", "max": "5s"}}, {"weight": 100}]
    plan = write_release(tmp_path, router=router, steps=steps)
    runner = subprocess.Popen(
        [sys.executable, "-m", "canary_lint", "rollout", str(plan)], stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = _cli("status", str(plan), "--format", "json")
        if out.returncode == 0 and json.loads(out.stdout)["state"] == "paused":
            break
        time.sleep(0.1)
    return plan, runner, marker


def test_abort_a_paused_rollout(tmp_path):
    plan, runner, marker = _paused_rollout(tmp_path)
    status = json.loads(_cli("status", str(plan), "--format", "json").stdout)
    assert status["state"] == "paused" and status["runner_pid"] == runner.pid
    assert status["step"] == "pause (waiting for the on-call)"
    assert status["stage"] == 1 and status["stage_label"] == "stage 1/3 pause (waiting for the on-call)"
    promote, abort = f"canary-lint rollout promote {plan}", f"canary-lint rollout abort {plan}"
    assert status["paused"]["message"] == "waiting for the on-call" and status["paused"]["since"]
    assert status["paused"]["promote"] == promote and status["paused"]["abort"] == abort
    text = _cli("status", str(plan)).stdout
    assert "paused" in text and f"runner pid {runner.pid}" in text
    assert "paused: waiting for the on-call" in text
    assert f"continue: {promote}" in text and f"roll back: {abort}" in text
    second = _cli(str(plan))
    assert second.returncode == 5 and "another rollout runner" in second.stderr
    out = _cli("abort", str(plan))
    assert out.returncode == 0, out.stderr
    _, err = runner.communicate(timeout=30)
    assert runner.returncode == 4, err
    assert "aborted by operator" in err
    assert marker.read_text().split() == ["0"]  # the rollback is a routing change, even from a pause
    assert json.loads(_cli("status", str(plan), "--format", "json").stdout)["state"] == "rolled-back"


def test_promote_passes_the_pause_then_metrics_down_rolls_back(tmp_path):
    plan, runner, marker = _paused_rollout(tmp_path)
    out = _cli("promote", str(plan))
    assert out.returncode == 0, out.stderr
    _, err = runner.communicate(timeout=60)
    # nothing listens on the plan's Prometheus: the stage holds, then rolls back past down_limit
    assert runner.returncode == 4, err
    assert "metrics unavailable" in err and "metrics provider unavailable" in err
    assert marker.read_text().split() == ["20", "0"]


def test_sigterm_rolls_back_and_records_it(tmp_path):
    plan, runner, marker = _paused_rollout(tmp_path)
    os.kill(runner.pid, signal.SIGTERM)
    _, err = runner.communicate(timeout=30)
    assert runner.returncode == 4, err
    status = json.loads(_cli("status", str(plan), "--format", "json").stdout)
    assert status["state"] == "rolled-back" and status["reason"] == "interrupted by SIGTERM"
    assert marker.read_text().split() == ["0"]


def test_resume_without_a_rollout_is_a_usage_error(tmp_path):
    plan = write_release(tmp_path)
    out = _cli("resume", str(plan))
    assert out.returncode == 2
    assert "no rollout of shop in progress" in out.stderr
