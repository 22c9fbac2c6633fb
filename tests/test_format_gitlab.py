"""GitLab Code Quality: the fields GitLab reads, unique fingerprints, no BOM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from canary_lint.formatters import gitlab
from canary_lint.model import Report
from canary_lint.publish.report_file import load

GOLDEN = Path(__file__).parent / "golden"
SEVERITIES = {"info", "minor", "major", "critical", "blocker"}


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("CANARY_LINT_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8", newline="")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed (CANARY_LINT_UPDATE_GOLDEN=1 to accept)"


def test_golden_code_quality_report():
    golden("report.gitlab.json", gitlab.render(load(GOLDEN / "report.json")))


def test_fields_gitlab_requires():
    report = load(GOLDEN / "report.json")
    issues = json.loads(gitlab.render(report))
    assert isinstance(issues, list) and len(issues) == len(report.findings)
    for issue, f in zip(issues, report.findings):
        assert isinstance(issue["description"], str) and f.message in issue["description"]
        assert issue["check_name"] == f.rule
        assert issue["severity"] in SEVERITIES
        assert issue["location"]["path"] == f.path and not issue["location"]["path"].startswith("/")
        assert issue["location"]["lines"]["begin"] == f.line >= 1
    fingerprints = [i["fingerprint"] for i in issues]
    assert len(set(fingerprints)) == len(fingerprints)  # the two identical CLM101 findings differ
    assert all(len(fp) == 32 for fp in fingerprints)


def test_fingerprints_do_not_move_with_lines():
    report = load(GOLDEN / "report.json")
    from dataclasses import replace

    moved = Report(findings=tuple(replace(f, line=f.line + 5, end_line=f.end_line + 5) for f in report.findings))
    before = [i["fingerprint"] for i in json.loads(gitlab.render(report))]
    after = [i["fingerprint"] for i in json.loads(gitlab.render(moved))]
    assert before == after


def test_cli_writes_utf8_without_bom(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "broken_é.py").write_text("def broken(:\n    pass\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_"))}
    proc = subprocess.run([sys.executable, "-m", "canary_lint", "check", "--format", "gitlab:gl-code-quality.json"],
                          cwd=tmp_path, capture_output=True, env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr
    data = (tmp_path / "gl-code-quality.json").read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    [issue] = json.loads(data.decode("utf-8"))
    assert issue["location"]["path"] == "app/broken_é.py" and issue["check_name"] == "CL001"


def test_clean_report_is_an_empty_array():
    assert json.loads(gitlab.render(Report(findings=(), files=2))) == []
