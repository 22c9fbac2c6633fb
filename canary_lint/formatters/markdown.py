"""The pull-request report: the verdict, a table by family of new and existing findings, the new findings grouped
by file (each path and line linked to the exact commit when the CI names the repository), what v1 will do
wrong, the fix and the rule page; the findings v1 already has folded into one `<details>`.

A release with hundreds of findings stays readable: the report never exceeds `max_lines` (200) lines nor
`max_chars` (65,536, GitHub's comment limit); past the budget the rest is counted in one line that points at
the full report (the JSON or SARIF artifact of the run).
"""

from __future__ import annotations

import re
from itertools import groupby
from urllib.parse import quote

from canary_lint.formatters._meta import DOCS_BASE_URL, body, rule_url
from canary_lint.model import FAMILIES, Finding, Report, Severity

MAX_CHARS = 65_536
MAX_LINES = 200
FULL_REPORT = "the full report of this run (the JSON or SARIF artifact)"
_CODE_SPAN = re.compile(r"(`[^`\n]*`)")
# Markdown punctuation; `_` only where it could open or close emphasis (GFM ignores intraword underscores).
_ESCAPE = re.compile(r"([\\*\[\]<>|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z]))")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def inline(text: str) -> str:
    """Markdown-safe inline text: code spans kept as written, everything else escaped, one line."""
    parts = _CODE_SPAN.split(" ".join(text.split()))
    return "".join(p if p.startswith("`") and p.endswith("`") and len(p) > 1 else _ESCAPE.sub(r"\\\1", p)
                   for p in parts)


def _code(text: str) -> str:
    return f"`{text.replace('`', chr(39))}`"


def _counted(findings, new: str = "") -> list[str]:
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
    return [_plural(n, f"{new}{word}") for n, word in ((errors, "error"), (warnings, "warning")) if n]


def headline(report: Report, fail_on: str | None = None, fail_on_existing: bool | None = None) -> str:
    """The verdict, consistent with the exit code: `fail_on` / `fail_on_existing` (or what `report.extra` says
    the check ran with; default error, existing findings not failing)."""
    if report.internal_error:
        return "canary gate: blocked, an analyzer crashed (the release was not fully checked)"
    blocking = Severity(fail_on or report.extra.get("fail_on") or "error")
    everything = bool(report.extra.get("fail_on_existing") if fail_on_existing is None else fail_on_existing)
    judged = report.findings if everything else report.new
    new = "new " if report.existing and not everything else ""
    counted = _counted(judged, new)
    if report.blocking(blocking, everything):
        return f"canary gate: blocked by {' and '.join(counted)}"
    warnings = _counted([f for f in judged if f.severity is Severity.WARNING], new)
    return f"canary gate: passed with {warnings[0]}" if warnings else "canary gate: passed"


def _context_line(report: Report, everything: bool) -> str:
    s = report.summary()
    parts = []
    if report.base:
        v2 = f"`{report.commit[:12]}`" if report.commit else "the working tree"
        parts.append(f"v1 {_code(report.base)} → v2 {v2}")
    parts.append(f"{_plural(s['files'], 'file')} checked")
    infos = sum(1 for f in report.new if f.severity is Severity.INFO)
    if infos:
        parts.append(f"{infos} info")
    if s["existing"]:
        parts.append(f"{s['existing']} already in v1 ({'failing too' if everything else 'not failing'})")
    if s["suppressed"]:
        parts.append(f"{s['suppressed']} suppressed")
    return " · ".join(parts)


def _table(report: Report) -> list[str]:
    counts: dict[str, list[int]] = {}
    for f in report.findings:
        row = counts.setdefault(f.family, [0, 0, 0, 0])
        row[3 if not f.new else 2 - f.severity.rank] += 1
    order = [fam for fam in FAMILIES if fam in counts] + sorted(set(counts) - set(FAMILIES))
    if report.base is None:
        lines = ["| Family | Errors | Warnings | Info |", "| --- | ---: | ---: | ---: |"]
        return lines + [f"| {fam} | {counts[fam][0]} | {counts[fam][1]} | {counts[fam][2]} |" for fam in order]
    lines = ["| Family | New errors | New warnings | New info | Already in v1 |", "| --- | ---: | ---: | ---: | ---: |"]
    return lines + [f"| {fam} | {' | '.join(str(n) for n in counts[fam])} |" for fam in order]


def _link(label: str, f: Finding, source_url: str | None, line: bool) -> str:
    if not source_url or f.path.startswith(("/", "../")) or (line and f.line_in_base):
        return label
    return f"[{label}]({source_url.rstrip('/')}/{quote(f.path)}{f'#L{f.line}' if line else ''})"


def _rule(f: Finding) -> str:
    return f"[{f.rule} {f.name}]({rule_url(f.rule)})"


def _new_block(f: Finding, source_url: str | None, previous_fix: str | None) -> list[str]:
    where = f"line {f.line} of v1's file" if f.line_in_base else _link(f"line {f.line}", f, source_url, True)
    op = f" {_code(f.operation)}" if f.operation else ""
    lines = [f"- **{f.severity.value}** {_rule(f)} at {where}{op}: {inline(body(f))}"]
    if f.fix and f.fix != previous_fix:
        lines.append(f"  **Fix:** {inline(f.fix)}")
    return lines


def _existing_line(f: Finding, source_url: str | None) -> str:
    where = _link(_code(f"{f.path}:{f.line}"), f, source_url, True)
    return f"- **{f.severity.value}** {where} {_rule(f)}: {inline(body(f))}"


class _Budget:
    """Lines and characters left for the findings, after the head, the footer and the notes are set aside."""

    def __init__(self, lines: int, chars: int, max_lines: int, max_chars: int):
        self.lines, self.chars = lines, chars
        self.cap = f"{max_lines} lines"  # the limit that ran out, for the note that points at the rest
        self._max_chars = max_chars

    def take(self, block: list[str]) -> bool:
        size = sum(len(line) + 1 for line in block)
        if len(block) > self.lines or size > self.chars:
            if len(block) <= self.lines:
                self.cap = f"{self._max_chars:,} characters"
            self.lines = 0  # first refusal ends the section: what follows is counted, not shown
            return False
        self.lines -= len(block)
        self.chars -= size
        return True


def _new_section(findings: list[Finding], source_url: str | None, budget: _Budget) -> tuple[list[str], list]:
    """The new findings grouped by file (files with errors first), and the findings shown."""
    by_file = {path: list(group) for path, group in groupby(sorted(findings, key=lambda f: f.sort_key),
                                                              key=lambda f: f.path)}
    order = sorted(by_file, key=lambda p: (-max(f.severity.rank for f in by_file[p]), p))
    out: list[str] = []
    shown: list[Finding] = []
    for path in order:
        group = by_file[path]
        title = _link(f"**{_code(path)}**", group[0], source_url, False)
        blocks, fix = [], None
        for f in group:
            blocks.append(_new_block(f, source_url, fix))
            fix = f.fix
        if not budget.take(["", title, *blocks[0]]):
            break
        out += ["", title, *blocks[0]]
        shown.append(group[0])
        for f, block in zip(group[1:], blocks[1:]):
            if not budget.take(block):
                break
            out += block
            shown.append(f)
        if budget.lines == 0:
            break
    return out, shown


def render(report: Report, *, source_url: str | None = None, max_chars: int = MAX_CHARS, max_lines: int = MAX_LINES,
           full_report_hint: str | None = None, fail_on: str | None = None, fail_on_existing: bool | None = None,
           **_options) -> str:
    everything = bool(report.extra.get("fail_on_existing") if fail_on_existing is None else fail_on_existing)
    footer = ["", f"<sub>canary-lint {report.tool_version or ''} · [rules]({DOCS_BASE_URL}) · findings say what v1 "
                  "(serving) will do wrong beside v2 (canary)</sub>"]
    head = [f"### {headline(report, fail_on, everything)}", "", _context_line(report, everything)]
    if not report.findings:
        return "\n".join(head + footer) + "\n"
    head += ["", *_table(report)]
    new, existing = list(report.new), list(report.existing)
    hint = inline(full_report_hint or FULL_REPORT)
    # set aside: the section heading and the truncation note (2 + 2 lines); the <details> frame with its note (7)
    notes = 4 + (7 if existing else 0)
    fixed = head + footer
    budget = _Budget(max_lines - len(fixed) - notes, max_chars - sum(len(x) + 1 for x in fixed) - 600, max_lines,
                     max_chars)
    out = list(head)
    if new:
        compared = report.base is not None
        out += ["", "#### New findings" if compared else "#### Findings"]
        section, shown = _new_section(new, source_url, budget)
        out += section
        if len(shown) < len(new):
            errors = sum(1 for f in new if f.severity is Severity.ERROR) - sum(
                1 for f in shown if f.severity is Severity.ERROR)
            out += ["", f"**{_plural(len(new) - len(shown), 'more new finding' if compared else 'more finding')} "
                        f"not shown** ({_plural(errors, 'error')}): this report is capped at {budget.cap}; "
                        f"see {hint}."]
    if existing:
        verdict = "they fail this gate too (fail-on-existing)" if everything else "they do not fail this gate"
        base = inline((report.base or "the base").replace("`", "'"))
        out += ["", f"<details><summary>{_plural(len(existing), 'finding')} v1 ({base}) already has: "
                    f"{verdict}</summary>", ""]
        listed = 0
        for f in sorted(existing, key=lambda f: (-f.severity.rank, f.sort_key)):
            line = _existing_line(f, source_url)
            if not budget.take([line]):
                break
            out.append(line)
            listed += 1
        if listed < len(existing):
            out += ([""] if listed else []) + [f"{len(existing) - listed} more not shown; see {hint}."]
        out += ["", "</details>"]
    return "\n".join(out + footer) + "\n"

