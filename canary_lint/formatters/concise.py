"""One line per finding, as Ruff's concise output: `path:line:col: CODE [severity] message`.

A finding v1's tree already has says so in the brackets (`[warning, existing]`); the summary line (on stderr)
counts them apart. Messages are folded onto one line, so every finding is exactly one line for grep and
problem matchers.
"""

from __future__ import annotations

from canary_lint.model import Finding, Report


def line(f: Finding) -> str:
    state = "" if f.new else ", existing"
    return f"{f.path}:{f.line}:{f.column}: {f.rule} [{f.severity.value}{state}] {' '.join(f.message.split())}"


def render(report: Report, **_options) -> str:
    return "".join(line(f) + "\n" for f in report.findings)
