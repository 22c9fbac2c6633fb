"""The Markdown PR report: golden files, folding, escaping and the 65,536-character cap."""

from __future__ import annotations

import os
import re
from pathlib import Path

from canary_lint.formatters import markdown
from canary_lint.formatters._meta import rule_url
from canary_lint.model import Finding, Report, Severity
from canary_lint.publish.ci import link_options
from canary_lint.publish.report_file import load

GOLDEN = Path(__file__).parent / "golden"
SOURCE = "https://github.com/acme/shop/blob/0123456789abcdef0123456789abcdef01234567"


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("CANARY_LINT_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8", newline="")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed (CANARY_LINT_UPDATE_GOLDEN=1 to accept)"


def _many(n: int, family="migration", severity=Severity.ERROR, message_len=120, new=True) -> tuple[Finding, ...]:
    return tuple(Finding("CLM101", "drop-column-still-read-by-v1", family, severity, f"migrations/versions/{i:04}_x.py",
                         i + 1, 5, i + 1, 20, f"drops `t{i}.c` while v1 still maps it " + "x" * message_len,
                         fix="drop it in a later release", subject=f"t{i}.c", new=new) for i in range(n))


def _existing(n: int) -> tuple[Finding, ...]:
    return tuple(Finding("CLT401", "log-format-without-version", "telemetry", Severity.ERROR, f"app/m{i}.py", 3, 1, 3,
                         9, "log format '%(message)s' of logging.basicConfig prints no version field", new=False,
                         subject=f"m{i}") for i in range(n))


def test_golden_with_links():
    golden("report.md", markdown.render(load(GOLDEN / "report.json"), source_url=SOURCE))


def test_golden_without_links_and_clean():
    golden("report-nolinks.md", markdown.render(load(GOLDEN / "report.json")))
    golden("clean.md", markdown.render(Report(findings=(), files=12, base="origin/main", commit="a" * 40,
                                              tool_version="0.1.0")))


def test_golden_existing_folded_and_truncated():
    report = Report(findings=_many(14) + _many(2, family="api", severity=Severity.WARNING) + _existing(3), files=16,
                    base="v1.4.0", tool_version="0.1.0")
    golden("folded.md", markdown.render(report))
    golden("truncated.md", markdown.render(report, max_chars=3000))


def test_headline_verdicts():
    sample = load(GOLDEN / "report.json")
    assert markdown.headline(sample) == "canary gate: blocked by 5 errors and 1 warning"
    assert markdown.headline(Report(findings=_many(1))) == "canary gate: blocked by 1 error"
    assert markdown.headline(Report(findings=_many(2, severity=Severity.WARNING))) == "canary gate: passed with 2 warnings"
    assert markdown.headline(Report(findings=())) == "canary gate: passed"
    warned = Report(findings=_many(2, severity=Severity.WARNING))
    assert markdown.headline(warned, "warning") == "canary gate: blocked by 2 warnings"
    warned.extra["fail_on"] = "warning"  # what `check --fail-on warning` records for the formatters
    assert markdown.render(warned).startswith("### canary gate: blocked by 2 warnings\n")
    crash = Finding("CL005", "analyzer-crashed", "meta", Severity.ERROR, ".", 1, 1, 1, 1, "crashed")
    assert "an analyzer crashed" in markdown.headline(Report(findings=(crash,), internal_error=True))


def test_each_finding_links_location_rule_page_and_fix():
    sample = load(GOLDEN / "report.json")
    text = markdown.render(sample, source_url=SOURCE)
    for f in sample.findings:
        assert f"[{f.rule} {f.name}]({rule_url(f.rule)})" in text
        assert f"({SOURCE}/{f.path.replace(' ', '%20')}#L{f.line})" in text
        if f.fix:
            assert "**Fix:** " in text
    assert "| migration | 3 | 0 | 0 |" in text and "| telemetry | 0 | 0 | 1 |" in text
    assert "`GET /orders/{id}`" in text


def test_messages_cannot_inject_html_or_break_the_table():
    sample = load(GOLDEN / "report.json")
    text = markdown.render(sample)
    assert "<script>" not in text and "\\<script\\>" in text
    assert "v1 \\| v2" in text and "\\*the same\\*" in text
    assert "`http_requests_total`" in text  # code spans are kept as written
    assert markdown.inline("a `<b>` c <d>") == "a `<b>` c \\<d\\>"
    assert markdown.inline("renames users.nickname to display_name") == "renames users.nickname to display_name"
    assert markdown.inline("_emph_ and __init__") == "\\_emph\\_ and \\_\\_init\\_\\_"


def test_never_over_the_comment_limit():
    huge = Report(findings=_many(4000, message_len=300), files=4000, tool_version="0.1.0")
    text = markdown.render(huge, max_lines=10_000)
    assert len(text) <= 65_536
    m = re.search(r"\*\*(\d+) more findings not shown\*\* \((\d+) errors\)", text)
    assert m, text[-600:]
    shown = text.count("- **error**")
    assert shown + int(m.group(1)) == 4000
    for limit in (1500, 5000, 20_000):
        assert len(markdown.render(huge, max_chars=limit)) <= limit


def test_a_release_with_300_findings_stays_readable():
    """Summary table first, new findings by file, existing ones folded, at most 200 lines, a pointer to the rest."""
    findings = _many(200) + _many(60, family="api", severity=Severity.WARNING) + _existing(40)
    report = Report(findings=findings, files=300, base="v1.4.0", commit="c" * 40, tool_version="0.1.0")
    text = markdown.render(report, source_url=SOURCE, full_report_hint="the canary-lint-report artifact")
    lines = text.splitlines()
    assert len(lines) <= 200
    assert lines[0] == "### canary gate: blocked by 200 new errors and 60 new warnings"
    assert "40 already in v1 (not failing)" in lines[2]
    table = lines.index("| Family | New errors | New warnings | New info | Already in v1 |")
    assert lines[table + 2:table + 5] == ["| migration | 200 | 0 | 0 | 0 |", "| api | 0 | 60 | 0 | 0 |",
                                          "| telemetry | 0 | 0 | 0 | 40 |"]
    assert lines.index("#### New findings") > table
    assert f"[**`migrations/versions/0000_x.py`**]({SOURCE}/migrations/versions/0000_x.py)" in lines
    m = re.search(r"\*\*(\d+) more new findings not shown\*\* \((\d+) errors\): this report is capped at 200 "
                  r"lines; see the canary-lint-report artifact\.", text)
    assert m, text[-800:]
    assert text.count("- **error** [CLM101") + text.count("- **warning** [CLM101") + int(m.group(1)) == 260
    assert text.count("<details>") == text.count("</details>") == 1
    assert "<details><summary>40 findings v1 (v1.4.0) already has: they do not fail this gate</summary>" in text
    assert "40 more not shown; see the canary-lint-report artifact." in text  # no room left: counted, not lost
    small = markdown.render(Report(findings=_many(3) + _existing(2), base="v1.4.0", tool_version="0.1.0"))
    assert small.count("[CLT401 log-format-without-version]") == 2 and "more not shown" not in small
    assert small.index("#### New findings") < small.index("<details>")


def test_existing_findings_do_not_block_unless_asked():
    old_only = Report(findings=_existing(2), base="v1.4.0")
    assert markdown.headline(old_only) == "canary gate: passed"
    assert markdown.headline(old_only, fail_on_existing=True) == "canary gate: blocked by 2 errors"
    old_only.extra["fail_on_existing"] = True  # what `check --fail-on-existing` records for the formatters
    assert "they fail this gate too (fail-on-existing)" in markdown.render(old_only)
    mixed = Report(findings=_many(1, severity=Severity.WARNING) + _existing(1), base="v1.4.0")
    assert markdown.headline(mixed) == "canary gate: passed with 1 new warning"


def test_api_operation_is_not_said_twice():
    f = Finding("CLA101", "operation-removed-while-v1-clients-call-it", "api", Severity.ERROR, "openapi.yaml", 38, 1,
                38, 1, "GET /users/{id}: operation removed; v1 clients get 404", operation="GET /users/{id}",
                line_in_base=True)
    text = markdown.render(Report(findings=(f,), base="v1", tool_version="0.1.0"), source_url=SOURCE)
    assert "at line 38 of v1's file `GET /users/{id}`: operation removed; v1 clients get 404" in text
    assert text.count("GET /users/{id}") == 1


def test_link_options_from_ci_environments():
    gh = link_options({"GITHUB_REPOSITORY": "acme/shop", "GITHUB_SERVER_URL": "https://github.com",
                       "GITHUB_SHA": "b" * 40}, None)
    assert gh == {"repo_url": "https://github.com/acme/shop", "source_url": f"https://github.com/acme/shop/blob/{'b' * 40}"}
    assert link_options({"GITHUB_REPOSITORY": "acme/shop", "GITHUB_SHA": "b" * 40}, "c" * 40)["source_url"].endswith("c" * 40)
    gl = link_options({"CI_PROJECT_URL": "https://gitlab.example/acme/shop", "CI_COMMIT_SHA": "d" * 40}, None)
    assert gl["source_url"] == f"https://gitlab.example/acme/shop/-/blob/{'d' * 40}"
    assert link_options({}, "e" * 40) == {}
