"""GitHub Actions workflow commands: golden output, and a parse-back with the runner's unescaping rules."""

from __future__ import annotations

import os
import re
from pathlib import Path

from canary_lint.formatters import github
from canary_lint.model import Finding, Report, Severity
from canary_lint.publish.report_file import load

GOLDEN = Path(__file__).parent / "golden"
COMMAND = re.compile(r"^::(error|warning|notice) ([^:]*)::(.*)$")


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("CANARY_LINT_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8", newline="")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed (CANARY_LINT_UPDATE_GOLDEN=1 to accept)"


def unescape(text: str, prop: bool) -> str:
    """The runner's ActionCommand unescaping: %0D, %0A (and %3A, %2C in properties), %25 last."""
    text = text.replace("%0D", "\r").replace("%0A", "\n")
    if prop:
        text = text.replace("%3A", ":").replace("%2C", ",")
    return text.replace("%25", "%")


def parse(line: str) -> tuple[str, dict, str]:
    m = COMMAND.match(line)
    assert m, line
    props = {}
    for pair in m.group(2).split(","):
        key, _, value = pair.partition("=")
        props[key] = unescape(value, prop=True)
    return m.group(1), props, unescape(m.group(3), prop=False)


def test_golden_annotations():
    golden("report.github.txt", github.render(load(GOLDEN / "report.json")))


def test_every_line_parses_back_to_the_finding():
    report = load(GOLDEN / "report.json")
    lines = github.render(report).splitlines()
    assert len(lines) == len(report.findings)
    for line, f in zip(lines, report.findings):
        assert "\n" not in line and "\r" not in line
        kind, props, message = parse(line)
        assert kind == {"error": "error", "warning": "warning", "info": "notice"}[f.severity.value]
        assert props["file"] == f.path and props["line"] == str(f.line)
        assert props["title"] == f"canary-lint {f.rule} {f.name}"
        assert message.startswith(f.message)
        if f.fix:
            assert message.endswith(f"\nfix: {f.fix}")
        if f.end_line != f.line:
            assert "col" not in props and "endColumn" not in props and props["endLine"] == str(f.end_line)
        else:
            assert props["col"] == str(f.column)


def test_escaping_of_percent_newlines_colons_and_commas():
    f = Finding("CLS101", "x", "state", Severity.WARNING, "dir,with:odd%chars/a.py", 3, 2, 3, 9,
                "100%0A literal, a: b\r\nsecond line", subject="s")
    line = github.render(Report(findings=(f,), files=1)).rstrip("\n")
    assert "file=dir%2Cwith%3Aodd%25chars/a.py" in line
    assert line.endswith("::100%250A literal, a: b%0D%0Asecond line")
    _, props, message = parse(line)
    assert props["file"] == f.path and message == f.message


def test_clean_report_prints_nothing():
    assert github.render(Report(findings=(), files=4)) == ""
