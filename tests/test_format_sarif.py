"""SARIF 2.1.0: validated against the official schema and by the SARIF team's multitool (SARIF + GitHub rules).

Both come from the npm package `@microsoft/sarif-multitool` (its Linux build ships the native validator and
`sarif-2.1.0.json`), installed once into a cache directory (`CANARY_LINT_TEST_CACHE`, default
`~/.cache/canary-lint-tests`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from canary_lint.formatters import sarif
from canary_lint.model import Finding, Report, Severity
from canary_lint.publish.report_file import load

GOLDEN = Path(__file__).parent / "golden"
MULTITOOL_VERSION = "5.7.0"


@pytest.fixture(scope="session")
def multitool() -> dict:
    cache = Path(os.environ.get("CANARY_LINT_TEST_CACHE", Path.home() / ".cache" / "canary-lint-tests"))
    where = cache / f"sarif-multitool-{MULTITOOL_VERSION}"
    pkg = where / "node_modules" / "@microsoft" / "sarif-multitool-linux"
    if not (pkg / "Sarif.Multitool").exists():
        npm = shutil.which("npm")
        assert npm, "npm is needed to install @microsoft/sarif-multitool for the SARIF tests"
        where.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--prefix", str(where), "--no-audit", "--no-fund", "--loglevel=error",
                        f"@microsoft/sarif-multitool@{MULTITOOL_VERSION}"], check=True, capture_output=True,
                       timeout=600)
    binary = pkg / "Sarif.Multitool"
    binary.chmod(0o755)  # npm may skip the package's postinstall chmod
    schema = pkg / "sarif-2.1.0.json"
    assert schema.exists(), f"{schema} missing from the npm package"
    return {"binary": binary, "schema": schema}


def _schema_errors(doc: dict, schema_path: Path) -> list[str]:
    import jsonschema

    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def _multitool_problems(tool: dict, sarif_path: Path, tmp_path: Path) -> list[str]:
    out = tmp_path / "validation.sarif"
    proc = subprocess.run([str(tool["binary"]), "validate", str(sarif_path), "--rule-kind", "Sarif;Gh",
                           "--json-schema", str(tool["schema"]), "--output", str(out), "--log", "ForceOverwrite"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "DOTNET_CLI_TELEMETRY_OPTOUT": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = json.loads(out.read_text(encoding="utf-8-sig"))["runs"][0]
    problems = [f"{r['ruleId']} {r['level']}: {r['message']}" for r in run.get("results", [])
                if r.get("level", "warning") in ("error", "warning")]
    for inv in run.get("invocations", []):
        problems += [f"notification: {n['message']['text']}" for n in inv.get("toolExecutionNotifications", [])
                     if n.get("level") == "error"]
    return problems


@pytest.fixture()
def sample() -> Report:
    return load(GOLDEN / "report.json")


def test_sample_report_is_valid_for_schema_and_multitool(sample, multitool, tmp_path):
    doc = sarif.as_dict(sample, repo_url="https://github.com/acme/shop")
    assert _schema_errors(doc, multitool["schema"]) == []
    path = tmp_path / "canary-lint.sarif"
    path.write_text(sarif.render(sample, repo_url="https://github.com/acme/shop"), encoding="utf-8")
    assert _multitool_problems(multitool, path, tmp_path) == []


def test_validators_do_reject_a_broken_log(multitool, tmp_path, sample):
    """The checks above can fail: a result without message and a 0 line are caught by the schema,
    a driver without rules by the multitool's GitHub rules."""
    doc = sarif.as_dict(sample)
    del doc["runs"][0]["results"][0]["message"]
    doc["runs"][0]["results"][1]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    errors = _schema_errors(doc, multitool["schema"])
    assert any("message" in e for e in errors) and any("minimum" in e for e in errors)
    gh = sarif.as_dict(sample)
    del gh["runs"][0]["tool"]["driver"]["rules"]
    for r in gh["runs"][0]["results"]:
        del r["ruleIndex"]
    path = tmp_path / "norules.sarif"
    path.write_text(json.dumps(gh))
    assert any("GH1018" in p for p in _multitool_problems(multitool, path, tmp_path))


def test_what_github_code_scanning_needs(sample):
    doc = sarif.as_dict(sample)
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-schema-2.1.0.json")
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert sorted(r["id"] for r in rules) == sorted({f.rule for f in sample.findings})
    for rule in rules:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert rule["helpUri"].endswith(f"/{rule['id']}.md")
    cl001 = next(r for r in rules if r["id"] == "CL001")
    assert "## What it catches" in cl001["help"]["markdown"] and cl001["name"] == "file-not-checked"
    by_fp = {f["fingerprint"]: f for f in json.loads((GOLDEN / "report.json").read_text())["findings"]}
    assert len(run["results"]) == len(sample.findings)
    for result, finding in zip(run["results"], sample.findings):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == finding.rule
        assert result["level"] == {"error": "error", "warning": "warning", "info": "note"}[finding.severity.value]
        loc = result["locations"][0]["physicalLocation"]
        assert not loc["artifactLocation"]["uri"].startswith(("/", "file:")) and loc["artifactLocation"]["uriBaseId"]
        assert loc["region"]["startLine"] == finding.line >= 1
        assert result["partialFingerprints"]["canaryLint/v1"] in by_fp
        assert finding.message in result["message"]["text"]
    space = next(r for r in run["results"] if r["ruleId"] == "CLS101")
    assert space["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "app/session%20store.py"
    multi = next(r for r in run["results"] if r["ruleId"] == "CLA201")
    assert multi["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 40, "startColumn": 9, "endLine": 52, "endColumn": 3}
    assert multi["properties"]["operation"] == "GET /orders/{id}"
    [note] = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "error" and "db/broken.sql" in json.dumps(note)
    assert run["invocations"][0]["executionSuccessful"] is True


def test_clean_and_crashed_runs(multitool):
    clean = sarif.as_dict(Report(findings=(), files=3, tool_version="0.1.0"))
    assert clean["runs"][0]["results"] == [] and clean["runs"][0]["tool"]["driver"]["rules"] == []
    assert _schema_errors(clean, multitool["schema"]) == []
    crash = Finding("CL005", "analyzer-crashed", "meta", Severity.ERROR, ".", 1, 1, 1, 1, "the x analyzer crashed")
    crashed = sarif.as_dict(Report(findings=(crash,), files=1, internal_error=True))
    assert crashed["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_cli_writes_sarif_next_to_other_reports(tmp_path, multitool):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "broken.py").write_text("def broken(:\n    pass\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_"))}
    env.update(GITHUB_REPOSITORY="acme/shop", GITHUB_SERVER_URL="https://github.com", GITHUB_SHA="f" * 40)
    proc = subprocess.run([sys.executable, "-m", "canary_lint", "check", "--format", "sarif:out.sarif",
                           "--format", "json:out.json", "--format", "github"], cwd=tmp_path, capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("::error file=app/broken.py,line=1")
    doc = json.loads((tmp_path / "out.sarif").read_text())
    assert _schema_errors(doc, multitool["schema"]) == []
    [result] = doc["runs"][0]["results"]
    assert result["ruleId"] == "CL001"
    assert result["partialFingerprints"]["canaryLint/v1"] == json.loads((tmp_path / "out.json").read_text())[
        "findings"][0]["fingerprint"]
    assert _multitool_problems(multitool, tmp_path / "out.sarif", tmp_path) == []
    proc = subprocess.run([sys.executable, "-m", "canary_lint", "check", "--format", "sarif:missing/out.sarif"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
