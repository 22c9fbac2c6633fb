"""Human output: findings grouped by file, a source excerpt with the span underlined.

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

from itertools import groupby
from typing import Callable

from canary_lint.model import Report, Severity

COLORS = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "info": "\x1b[1;36m", "bold": "\x1b[1m",
          "dim": "\x1b[2m", "reset": "\x1b[0m", "path": "\x1b[1;4m", "caret": "\x1b[31m"}


def _paint(color: bool, key: str, text: str) -> str:
    return f"{COLORS[key]}{text}{COLORS['reset']}" if color else text


def render(report: Report, *, color: bool = False, read_source: Callable[[str], list[str] | None] | None = None,
           **_options) -> str:
    out: list[str] = []
    for path, group in groupby(report.findings, key=lambda f: f.path):
        lines = read_source(path) if read_source else None
        out.append(_paint(color, "path", path))
        for f in group:
            sev = f.severity.value
            out.append(f"  {f.line}:{f.column}  {_paint(color, sev, sev)}  {_paint(color, 'bold', f.rule)} {f.name}"
                       + (f"  [{f.operation}]" if f.operation else ""))
            out.append(f"        {f.message}")
            if f.line_in_base:
                out.append(_paint(color, "dim", f"        (line {f.line} of v1's version of this file)"))
            elif lines and 1 <= f.line <= len(lines):
                src = lines[f.line - 1].rstrip("\n").expandtabs(4)
                if len(src) <= 240:
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
                    out.append(_paint(color, "dim", f"  {gutter} |"))
                    out.append(_paint(color, "dim", f"  {f.line} | ") + src)
                    out.append(_paint(color, "dim", f"  {gutter} | ") + " " * (start - 1) + _paint(color, "caret", carets))
            if f.fix:
                out.append(f"        {_paint(color, 'dim', 'fix:')} {f.fix}")
        out.append("")
    return "\n".join(out) + ("\n" if out else "")


def summary_line(report: Report) -> str:
    s = report.summary()
    if not report.findings:
        line = f"All checks passed: {s['files']} file{'s' if s['files'] != 1 else ''} checked, no findings"
    else:
        parts = [f"{s['errors']} error{'s' if s['errors'] != 1 else ''}",
                 f"{s['warnings']} warning{'s' if s['warnings'] != 1 else ''}"]
        if s["infos"]:
            parts.append(f"{s['infos']} info")
        line = f"Found {', '.join(parts)} in {s['files']} file{'s' if s['files'] != 1 else ''}"
    if s["suppressed"]:
        line += f" ({s['suppressed']} suppressed)"
    if report.base:
        line += f"; v1 = {report.base}"
    return line + "."


__all__ = ["render", "summary_line", "Severity"]
