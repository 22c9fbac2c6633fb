"""The pull-request report: a verdict headline, a table by family, then every finding with its location
(linked to the exact commit when the CI knows the repository), what v1 will do wrong, the fix and the rule page.

Long family lists fold into `<details>`. The output never exceeds `max_chars` (65,536 by default, GitHub's
comment limit): past the budget the rest is summarised in one line that points at the full report.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from canary_lint.formatters._meta import DOCS_BASE_URL, rule_url
from canary_lint.model import FAMILIES, Finding, Report, Severity

MAX_CHARS = 65_536
FOLD_AFTER = 10  # a family with more findings than this folds into <details>
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


def headline(report: Report, fail_on: str | None = None) -> str:
    """The verdict, consistent with the exit code: `fail_on` (or `report.extra["fail_on"]`, default error)."""
    s = report.summary()
    if report.internal_error:
        return "canary gate: blocked, an analyzer crashed (the release was not fully checked)"
    blocking = Severity(fail_on or report.extra.get("fail_on") or "error")
    counted = [_plural(s["errors"], "error")] if s["errors"] else []
    if s["warnings"]:
        counted.append(_plural(s["warnings"], "warning"))
    if s["errors"] or (s["warnings"] and blocking is Severity.WARNING):
        return f"canary gate: blocked by {' and '.join(counted)}"
    if s["warnings"]:
        return f"canary gate: passed with {_plural(s['warnings'], 'warning')}"
    return "canary gate: passed"


def _context_line(report: Report) -> str:
    s = report.summary()
    parts = []
    if report.base:
        v2 = f"`{report.commit[:12]}`" if report.commit else "the working tree"
        parts.append(f"v1 `{report.base.replace('`', '')}` → v2 {v2}")
    parts.append(f"{_plural(s['files'], 'file')} checked")
    if s["infos"]:
        parts.append(f"{s['infos']} info")
    if s["suppressed"]:
        parts.append(f"{s['suppressed']} suppressed")
    return " · ".join(parts)


def _table(report: Report) -> list[str]:
    counts: dict[str, list[int]] = {}
    for f in report.findings:
        row = counts.setdefault(f.family, [0, 0, 0])
        row[2 - f.severity.rank] += 1
    order = [fam for fam in FAMILIES if fam in counts] + sorted(set(counts) - set(FAMILIES))
    lines = ["| Family | Errors | Warnings | Info |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {fam} | {counts[fam][0]} | {counts[fam][1]} | {counts[fam][2]} |" for fam in order]
    return lines


def _location(f: Finding, source_url: str | None) -> str:
    label = f"`{f.path.replace('`', chr(39))}:{f.line}`"
    if source_url and not f.path.startswith(("/", "../")):
        return f"[{label}]({source_url.rstrip('/')}/{quote(f.path)}#L{f.line})"
    return label


def finding_block(f: Finding, source_url: str | None) -> str:
    head = (f"- **{f.severity.value}** [{f.rule} {f.name}]({rule_url(f.rule)}) at {_location(f, source_url)}"
            + (f" — `{f.operation.replace('`', chr(39))}`" if f.operation else ""))
    lines = [head, f"  {inline(f.message)}"]
    if f.fix:
        lines.append(f"  **Fix:** {inline(f.fix)}")
    return "\n".join(lines) + "\n"


def _family_summary(family: str, findings: list[Finding]) -> str:
    by = {sev: sum(1 for f in findings if f.severity is sev) for sev in Severity}
    parts = [_plural(by[Severity.ERROR], "error"), _plural(by[Severity.WARNING], "warning")]
    if by[Severity.INFO]:
        parts.append(f"{by[Severity.INFO]} info")
    return f"{family}: {_plural(len(findings), 'finding')} ({', '.join(parts)})"


def render(report: Report, *, source_url: str | None = None, max_chars: int = MAX_CHARS,
           full_report_hint: str | None = None, fail_on: str | None = None, **_options) -> str:
    version = report.tool_version or ""
    footer = (f"\n<sub>canary-lint {version} · [rules]({DOCS_BASE_URL}) · findings say what v1 (serving) "
              "will do wrong beside v2 (canary)</sub>\n")
    out = [f"### {headline(report, fail_on)}\n", f"{_context_line(report)}\n"]
    if not report.findings:
        return "\n".join(out) + footer
    out.append("\n".join(_table(report)) + "\n")
    text = "\n".join(out)

    groups: dict[str, list[Finding]] = {}
    for f in report.findings:
        groups.setdefault(f.family, []).append(f)
    order = [fam for fam in FAMILIES if fam in groups] + sorted(set(groups) - set(FAMILIES))
    # Errors first inside a family, then by location.
    for fam in order:
        groups[fam].sort(key=lambda f: (-f.severity.rank, f.sort_key))

    reserve = 400 + len(footer)  # room for the truncation note and the footer
    shown = 0
    truncated = False
    for fam in order:
        findings = groups[fam]
        fold = len(findings) > FOLD_AFTER
        if fold:
            opening = f"\n<details><summary>{_family_summary(fam, findings)}</summary>\n\n"
            closing = "\n</details>\n"
        else:
            opening, closing = f"\n#### {_family_summary(fam, findings)}\n\n", ""
        if len(text) + len(opening) + len(closing) + reserve > max_chars:
            truncated = True
            break
        text += opening
        for f in findings:
            block = finding_block(f, source_url)
            if len(text) + len(block) + len(closing) + reserve > max_chars:
                truncated = True
                break
            text += block
            shown += 1
        text += closing
        if truncated:
            break
    if truncated:
        rest = [f for fam in order for f in groups[fam]][shown:]
        errors = sum(1 for f in rest if f.severity is Severity.ERROR)
        hint = full_report_hint or "the full report (SARIF or JSON) of this run"
        text += (f"\n**{_plural(len(rest), 'more finding')} not shown** ({_plural(errors, 'error')}): "
                 f"this comment is capped at {max_chars:,} characters; see {inline(hint)}.\n")
    return text + footer
