"""GitHub Actions workflow commands: one `::error|warning|notice file=…,line=…::message` line per finding.

Escaping follows GitHub's runner: in the message `%`, CR and LF are percent-encoded; in property values `:` and
`,` are too. Columns are given only for single-line spans (GitHub ignores them across lines). New findings come
first (GitHub shows only the first ten of each level per step); those v1 already has are notices.
"""

from __future__ import annotations

from canary_lint.model import Finding, Report

COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _properties(f: Finding, quiet: bool = False) -> list[tuple[str, str]]:
    line = max(f.line, 1)
    end_line = f.end_line if f.end_line and f.end_line >= line else line
    props = [("file", f.path), ("line", str(line)), ("endLine", str(end_line))]
    if end_line == line:
        props.append(("col", str(max(f.column, 1))))
        if f.end_column and f.end_column >= f.column:
            props.append(("endColumn", str(f.end_column)))
    props.append(("title", f"canary-lint {f.rule} {f.name}" + (" (already in v1)" if quiet else "")))
    return props


def command(f: Finding, fail_on_existing: bool = False) -> str:
    """One workflow command; a finding v1 already has is a notice (it does not fail the gate) unless
    `fail_on_existing`."""
    quiet = not f.new and not fail_on_existing
    props = ",".join(f"{key}={escape_property(value)}" for key, value in _properties(f, quiet))
    message = f.message + (f"\nfix: {f.fix}" if f.fix else "")
    if quiet:
        message += f"\n(already in v1: a {f.severity.value} this release did not add, not failing this gate)"
    return f"::{'notice' if quiet else COMMANDS[f.severity.value]} {props}::{escape_data(message)}"


def render(report: Report, **_options) -> str:
    everything = bool(report.extra.get("fail_on_existing"))
    lines = [command(f, everything) for f in (*report.new, *report.existing)]
    return "".join(line + "\n" for line in lines)
