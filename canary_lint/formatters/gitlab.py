"""GitLab Code Quality report: a JSON array of issues (`artifacts:reports:codequality`).

Each issue has `description`, `check_name`, `fingerprint` (unique within the report, and like ours independent
of line numbers so GitLab's MR widget does not show a moved finding as fixed and new), `severity`, and
`location.path` + `location.lines.begin`. Code Quality has no field for "v1 already has it": a finding the base
tree already has says so at the end of its description (GitLab itself marks what the target branch's report
also had). Written as UTF-8 JSON without a BOM.
"""

from __future__ import annotations

import hashlib
import json

from canary_lint.model import Report

SEVERITIES = {"error": "critical", "warning": "minor", "info": "info"}


def as_list(report: Report) -> list[dict]:
    issues = []
    seen: dict[str, int] = {}
    for f in report.findings:
        base = f.fingerprint
        n = seen.get(base, 0)
        seen[base] = n + 1
        # Two findings with the same rule, path and subject: number the repeats so every fingerprint is unique.
        fingerprint = base if n == 0 else hashlib.sha256(f"{base}\0{n}".encode()).hexdigest()[:32]
        description = (f"{f.rule} {f.name}: {f.message}" + (f" Fix: {f.fix}" if f.fix else "")
                       + ("" if f.new else " (Already in v1: not failing this gate.)"))
        begin = max(f.line, 1)
        end = f.end_line if f.end_line and f.end_line >= begin else begin
        issues.append({
            "type": "issue",
            "description": description,
            "check_name": f.rule,
            "categories": ["Bug Risk"],
            "fingerprint": fingerprint,
            "severity": SEVERITIES[f.severity.value],
            "location": {"path": f.path, "lines": {"begin": begin, "end": end}},
        })
    return issues


def render(report: Report, **_options) -> str:
    return json.dumps(as_list(report), indent=2, ensure_ascii=False) + "\n"
