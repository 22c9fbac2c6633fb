"""Baselines: `canary-lint baseline create|update` and `check --baseline`, end to end and on synthetic reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from canary_lint import baseline
from canary_lint.model import Finding, Report, Severity

BROKEN = "def broken(:\n    pass\n"


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_"))}
    return subprocess.run([sys.executable, "-m", "canary_lint", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.fixture()
def legacy(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "legacy.py").write_text(BROKEN)
    (tmp_path / "app" / "ok.py").write_text("RETRIES = 3\n")
    return tmp_path


def _findings(proc) -> list[dict]:
    return json.loads(proc.stdout)["findings"]


def test_create_then_check_hides_listed_findings_and_shows_new_ones(legacy):
    assert cli(legacy, "check", "--format", "json").returncode == 1
    proc = cli(legacy, "baseline", "create")
    assert proc.returncode == 0, proc.stderr
    data = json.loads((legacy / ".canary-lint-baseline.json").read_text())
    assert data["schema"] == 1 and data["tool"] == "canary-lint"
    [entry] = data["findings"]
    assert entry["rule"] == "CL001" and entry["path"] == "app/legacy.py" and entry["count"] == 1
    assert "line" not in entry  # keyed by the line-independent fingerprint only

    proc = cli(legacy, "check", "--baseline", ".canary-lint-baseline.json", "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["findings"] == [] and report["summary"]["suppressed"] == 1

    # The legacy problem moves down the file: still hidden (no line numbers in fingerprints).
    (legacy / "app" / "legacy.py").write_text("# header\n\n\n" + BROKEN)
    assert cli(legacy, "check", "--baseline", ".canary-lint-baseline.json").returncode == 0

    (legacy / "app" / "new.py").write_text(BROKEN)
    proc = cli(legacy, "check", "--baseline", ".canary-lint-baseline.json", "--format", "json")
    assert proc.returncode == 1
    assert [(f["rule"], f["path"]) for f in _findings(proc)] == [("CL001", "app/new.py")]


def test_fixed_finding_makes_its_entry_stale_and_update_drops_it(legacy):
    assert cli(legacy, "baseline", "create").returncode == 0
    (legacy / "app" / "legacy.py").write_text("def fixed():\n    pass\n")
    proc = cli(legacy, "check", "--baseline", ".canary-lint-baseline.json", "--format", "json")
    assert proc.returncode == 0  # a warning: the gate still passes
    [stale] = _findings(proc)
    assert stale["rule"] == "CL010" and stale["name"] == "stale-baseline-entry"
    assert stale["path"] == ".canary-lint-baseline.json" and stale["severity"] == "warning"
    lines = (legacy / ".canary-lint-baseline.json").read_text().splitlines()
    assert "app/legacy.py" in lines[stale["line"] - 1]
    assert "CL001 file-not-checked in app/legacy.py" in stale["message"]
    assert "canary-lint baseline update" in stale["fix"]
    assert cli(legacy, "check", "--baseline", ".canary-lint-baseline.json", "--fail-on", "warning").returncode == 1
    assert cli(legacy, "check", "--baseline", ".canary-lint-baseline.json", "--ignore", "CL010").returncode == 0
    (legacy / "canary-lint.toml").write_text('[severity]\nstale-baseline-entry = "error"\n')
    proc = cli(legacy, "check", "--baseline", ".canary-lint-baseline.json", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    assert [f["severity"] for f in _findings(proc)] == ["error"]
    (legacy / "canary-lint.toml").unlink()

    (legacy / "app" / "new.py").write_text(BROKEN)
    proc = cli(legacy, "baseline", "update")
    assert proc.returncode == 0, proc.stderr
    assert "dropped 1 fixed" in proc.stderr and "1 new finding is not added" in proc.stderr
    assert json.loads((legacy / ".canary-lint-baseline.json").read_text())["findings"] == []
    proc = cli(legacy, "check", "--baseline", ".canary-lint-baseline.json", "--format", "json")
    assert [(f["rule"], f["path"]) for f in _findings(proc)] == [("CL001", "app/new.py")]


def test_checking_some_files_does_not_call_other_entries_stale(legacy):
    assert cli(legacy, "baseline", "create").returncode == 0
    proc = cli(legacy, "check", "app/ok.py", "--baseline", ".canary-lint-baseline.json", "--format", "json")
    assert proc.returncode == 0 and _findings(proc) == []
    proc = cli(legacy, "check", "--select", "CL002", "--baseline", ".canary-lint-baseline.json", "--format", "json")
    assert proc.returncode == 0 and _findings(proc) == []


def test_create_refuses_to_overwrite_and_bad_baselines_are_exit_2(legacy):
    assert cli(legacy, "baseline", "create").returncode == 0
    proc = cli(legacy, "baseline", "create")
    assert proc.returncode == 2 and "exists" in proc.stderr and "update" in proc.stderr
    assert cli(legacy, "baseline", "create", "--force").returncode == 0
    proc = cli(legacy, "baseline", "create", "--force", "--file", "missing/dir/b.json")
    assert proc.returncode == 2 and "does not exist" in proc.stderr

    (legacy / "bad.json").write_text("{not json")
    proc = cli(legacy, "check", "--baseline", "bad.json")
    assert proc.returncode == 2 and "bad.json is not JSON" in proc.stderr and "Traceback" not in proc.stderr
    (legacy / "other.json").write_text('{"schema": 1, "findings": []}')
    proc = cli(legacy, "check", "--baseline", "other.json")
    assert proc.returncode == 2 and "is not a canary-lint baseline" in proc.stderr
    (legacy / "future.json").write_text('{"schema": 9, "tool": "canary-lint", "findings": []}')
    proc = cli(legacy, "check", "--baseline", "future.json")
    assert proc.returncode == 2 and "schema 9" in proc.stderr
    proc = cli(legacy, "check", "--baseline", "nope.json")
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    proc = cli(legacy, "baseline", "update", "--file", "nope.json")
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def _finding(rule="CL001", path="app/a.py", line=1, subject="x", severity=Severity.ERROR):
    return Finding(rule, "file-not-checked", "meta", severity, path, line, 1, line, 2, f"problem {subject}",
                   subject=subject)


def test_counts_hide_only_as_many_findings_as_recorded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app").mkdir()
    old = [_finding(line=3), _finding(line=9)]
    (tmp_path / "b.json").write_text(baseline.dumps(baseline.entries_of(old)))
    assert json.loads((tmp_path / "b.json").read_text())["findings"][0]["count"] == 2

    now = Report(findings=(_finding(line=4), _finding(line=10), _finding(line=20)), files=1)
    out = baseline.apply(now, "b.json")
    assert [f.line for f in out.findings] == [20] and out.suppressed == 2 and out.extra["baselined"] == 2

    fewer = baseline.apply(Report(findings=(_finding(line=4),), files=1), "b.json")
    [stale] = fewer.findings
    assert stale.rule == "CL010" and "1 of its 2 findings are no longer reported" in stale.message


def test_a_crash_is_never_baselined(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    crash = Finding("CL005", "analyzer-crashed", "meta", Severity.ERROR, ".", 1, 1, 1, 1, "the x analyzer crashed")
    assert baseline.entries_of([crash]) == []
    entry = baseline.Entry(crash.fingerprint, "CL005", "analyzer-crashed", ".", 1, crash.message)
    (tmp_path / "b.json").write_text(baseline.dumps([entry]))
    out = baseline.apply(Report(findings=(crash,), files=1, internal_error=True), "b.json")
    assert [f.rule for f in out.findings if f.rule == "CL005"] == ["CL005"]


def test_baseline_file_is_stable_and_one_entry_per_line(tmp_path):
    findings = [_finding(path="b.py", subject="1"), _finding(path="a.py", subject="2"), _finding(path="a.py", subject="3")]
    text = baseline.dumps(baseline.entries_of(findings))
    assert text == baseline.dumps(baseline.entries_of(list(reversed(findings))))
    body = text.splitlines()[4:-2]
    assert len(body) == 3 and all(line.strip().startswith('{"fingerprint"') for line in body)
    assert [json.loads(line.strip().rstrip(","))["path"] for line in body] == ["a.py", "a.py", "b.py"]
    assert json.loads(baseline.dumps([])) == {"schema": 1, "tool": "canary-lint", "findings": []}
