"""GitHub Actions workflow commands: one `::error|warning|notice file=…,line=…::message` line per finding.

Escaping follows GitHub's runner: in the message `%`, CR and LF are percent-encoded; in property values `:` and
`,` are too. Columns are given only for single-line spans (GitHub ignores them across lines).
"""

from __future__ import annotations

from canary_lint.model import Finding, Report

COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _properties(f: Finding) -> list[tuple[str, str]]:
    line = max(f.line, 1)
    end_line = f.end_line if f.end_line and f.end_line >= line else line
    props = [("file", f.path), ("line", str(line)), ("endLine", str(end_line))]
    if end_line == line:
        props.append(("col", str(max(f.column, 1))))
        if f.end_column and f.end_column >= f.column:
            props.append(("endColumn", str(f.end_column)))
    props.append(("title", f"canary-lint {f.rule} {f.name}"))
    return props


def command(f: Finding) -> str:
    props = ",".join(f"{key}={escape_property(value)}" for key, value in _properties(f))
    message = f.message + (f"\nfix: {f.fix}" if f.fix else "")
    return f"::{COMMANDS[f.severity.value]} {props}::{escape_data(message)}"


def render(report: Report, **_options) -> str:
    lines = [command(f) for f in report.findings]
    return "".join(line + "\n" for line in lines)
