"""The stable JSON report (`"schema": 1`), exactly the fields of DESIGN.md."""

from __future__ import annotations

import json

from canary_lint.model import Report

SCHEMA = 1


def as_dict(report: Report) -> dict:
    return {
        "schema": SCHEMA,
        "tool": {"name": "canary-lint", "version": report.tool_version},
        "base": report.base,
        "commit": report.commit,
        "summary": report.summary(),
        "findings": [f.to_dict() for f in report.findings],
        "errors": [e.to_dict() for e in report.errors],
    }


def render(report: Report, **_options) -> str:
    return json.dumps(as_dict(report), indent=2, ensure_ascii=False) + "\n"
