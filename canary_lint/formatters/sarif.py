"""SARIF 2.1.0 for GitHub code scanning and any other SARIF consumer.

One run; the driver lists every rule a result refers to, with the rule page as `help.markdown`. Results carry a
relative POSIX `uri`, a 1-based region (`endColumn` is exclusive, as in SARIF) and our line-independent
fingerprint as `partialFingerprints["canaryLint/v1"]`, so code scanning follows an alert across edits; with `--base`,
`baselineState` is "new" or "unchanged" (v1's tree already has the finding). Files that
could not be checked become `toolExecutionNotifications`; a crashed analyzer sets `executionSuccessful: false`.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from canary_lint.formatters._meta import TOOL_URL, rule_info, rule_url
from canary_lint.model import Finding, Report

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}
FINGERPRINT_KEY = "canaryLint/v1"


SRCROOT = "%SRCROOT%"


def _artifact(path: str) -> dict:
    """Relative paths resolve against %SRCROOT% (the directory the check ran in); absolute ones are file URIs."""
    posix = path.replace("\\", "/")
    if posix.startswith("/"):
        return {"uri": "file://" + quote(posix, safe="/-._~")}
    return {"uri": quote(posix, safe="/-._~"), "uriBaseId": SRCROOT}


def _region(f: Finding) -> dict:
    line = max(f.line, 1)
    region = {"startLine": line, "startColumn": max(f.column, 1)}
    end_line = f.end_line if f.end_line and f.end_line >= line else line
    if end_line != line:
        region["endLine"] = end_line
    if f.end_column and (end_line != line or f.end_column >= region["startColumn"]):
        region["endColumn"] = max(f.end_column, 1)
    return region


def _rule_descriptor(f: Finding) -> dict:
    info = rule_info(f.rule, name=f.name, family=f.family, severity=f.severity.value)
    summary = info.summary or info.name
    short = summary if len(summary) <= 1000 else summary[:997] + "..."
    page = info.page or f"{info.name} ({info.code})\n"
    return {
        "id": info.code,
        "name": info.name,
        "shortDescription": {"text": short},
        "fullDescription": {"text": summary},
        "helpUri": rule_url(info.code),
        "help": {"text": page, "markdown": page},
        "defaultConfiguration": {"level": LEVELS[info.severity]},
        "properties": {"tags": ["canary", info.family]},
    }


def _message(f: Finding) -> str:
    text = f.message
    if f.fix:
        text += f"\nFix: {f.fix}"
    return text


def as_dict(report: Report, *, repo_url: str | None = None) -> dict:
    rules: list[dict] = []
    index: dict[str, int] = {}
    results = []
    for f in report.findings:
        if f.rule not in index:
            index[f.rule] = len(rules)
            rules.append(_rule_descriptor(f))
        result = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": LEVELS[f.severity.value],
            "message": {"text": _message(f)},
            "locations": [{"physicalLocation": {"artifactLocation": _artifact(f.path), "region": _region(f)}}],
            "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        }
        if report.base is not None:  # compared with v1's tree: "unchanged" when v1 already has it
            result["baselineState"] = "new" if f.new else "unchanged"
        props = {k: v for k, v in (("operation", f.operation), ("pointer", f.pointer), ("family", f.family)) if v}
        result["properties"] = props
        results.append(result)
    notifications = [{
        "level": "error",
        "message": {"text": e.message},
        "locations": [{"physicalLocation": {"artifactLocation": _artifact(e.path)}}],
    } for e in report.errors]
    invocation: dict = {"executionSuccessful": not report.internal_error}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run: dict = {
        "tool": {"driver": {
            "name": "canary-lint",
            "informationUri": TOOL_URL,
            "version": report.tool_version or "0",
            "semanticVersion": report.tool_version or "0.0.0",
            "rules": rules,
        }},
        "invocations": [invocation],
        "results": results,
        "columnKind": "unicodeCodePoints",
        "originalUriBaseIds": {SRCROOT: {"description": {"text": "The directory canary-lint ran in (the repository root in CI)."}}},
    }
    if report.commit and repo_url:
        run["versionControlProvenance"] = [{"repositoryUri": repo_url, "revisionId": report.commit,
                                            "mappedTo": {"uriBaseId": SRCROOT}}]
    props = {}
    if report.base:
        props["base"] = report.base
    if report.suppressed:
        props["suppressed"] = report.suppressed
    if props:
        run["properties"] = props
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(report: Report, *, repo_url: str | None = None, **_options) -> str:
    # Compact: the C encoder is ~10x faster than the indenting one, and SARIF logs get large.
    return json.dumps(as_dict(report, repo_url=repo_url), ensure_ascii=False, separators=(",", ":")) + "\n"
