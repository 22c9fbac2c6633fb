"""Human output: new findings grouped by file, a source excerpt with the span underlined; the findings v1's
tree already has (with `--base`) follow, one line each.

Colour only when asked (the CLI decides: a TTY, never under NO_COLOR). Example:

    migrations/versions/0002_drop_nickname.py
      14:5  error  CLM101 drop-column-still-read-by-v1
            drops users.nickname while v1 (base) still maps it in app/models.py:11
         |
      14 |     op.drop_column("users", "nickname")
         |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
            fix: ship the drop in a later release, after no serving version reads users.nickname
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby

from canary_lint.formatters.concise import line as concise_line
from canary_lint.model import Report, Severity

COLORS = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "info": "\x1b[1;36m", "bold": "\x1b[1m",
          "dim": "\x1b[2m", "reset": "\x1b[0m", "path": "\x1b[1;4m", "caret": "\x1b[31m"}


def _paint(color: bool, key: str, text: str) -> str:
    return f"{COLORS[key]}{text}{COLORS['reset']}" if color else text


def render(report: Report, *, color: bool = False, read_source: Callable[[str], list[str] | None] | None = None,
           **_options) -> str:
    """The new findings in full, grouped by file; then the ones v1 already has, one line each."""
    from canary_lint.formatters._meta import body  # a JSON run prints only `summary_line` from here

    out: list[str] = []
    for path, group in groupby(report.new, key=lambda f: f.path):
        lines = read_source(path) if read_source else None
        out.append(_paint(color, "path", path))
        for f in group:
            sev = f.severity.value
            out.append(f"  {f.line}:{f.column}  {_paint(color, sev, sev)}  {_paint(color, 'bold', f.rule)} {f.name}"
                       + (f"  [{f.operation}]" if f.operation else ""))
            out.append(f"        {body(f)}")
            if f.line_in_base:
                out.append(_paint(color, "dim", f"        (line {f.line} of v1's version of this file)"))
            elif lines and 1 <= f.line <= len(lines):
                out.extend(_excerpt(f, lines, color))
            if f.fix:
                out.append(f"        {_paint(color, 'dim', 'fix:')} {f.fix}")
        out.append("")
    existing = report.existing
    if existing:
        failing = "failing too (fail-on-existing)" if report.extra.get("fail_on_existing") else "not failing"
        out.append(_paint(color, "bold", f"Already in v1 ({report.base}), {failing}:"))
        out.extend(_paint(color, "dim", f"  {concise_line(f)}") for f in existing)
        out.append("")
    return "\n".join(out) + ("\n" if out else "")


def _excerpt(f, lines: list[str], color: bool) -> list[str]:
    src = lines[f.line - 1].rstrip("\n").expandtabs(4)
    if len(src) > 240:
        return []
    width = len(str(f.line))
    start = max(f.column, 1)
    if f.end_line == f.line and f.end_column > f.column:
        end = min(f.end_column, len(src) + 1)
    else:
        end = len(src) + 1
    stripped = len(src) - len(src.lstrip())
    start = max(start, stripped + 1)
    carets = "^" * max(1, end - start)
    gutter = " " * width
    return [_paint(color, "dim", f"  {gutter} |"), _paint(color, "dim", f"  {f.line} | ") + src,
            _paint(color, "dim", f"  {gutter} | ") + " " * (start - 1) + _paint(color, "caret", carets)]


def _counts(findings) -> str:
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
    infos = sum(1 for f in findings if f.severity is Severity.INFO)
    parts = [f"{errors} error{'s' if errors != 1 else ''}", f"{warnings} warning{'s' if warnings != 1 else ''}"]
    if infos:
        parts.append(f"{infos} info")
    return ", ".join(parts)


def summary_line(report: Report) -> str:
    s = report.summary()
    files = f"{s['files']} file{'s' if s['files'] != 1 else ''}"
    if not report.findings:
        line = f"All checks passed: {files} checked, no findings"
    elif not s["new"]:
        line = f"No new findings in {files}"
    else:
        line = f"Found {_counts(report.new)} in {files}"
    if s["existing"]:
        failing = ("fail too (fail-on-existing)" if report.extra.get("fail_on_existing")
                   else "do not fail (--fail-on-existing to fail on them)")
        line += f"; {s['existing']} already in v1 ({_counts(report.existing)}) {failing}"
    if s["suppressed"]:
        line += f" ({s['suppressed']} suppressed)"
    if report.base:
        line += f"; v1 = {report.base}"
    return line + "."


__all__ = ["render", "summary_line", "Severity"]
