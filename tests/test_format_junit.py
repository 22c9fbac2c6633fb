"""JUnit XML, parsed back with junitparser: a suite per family, a failure per finding, a pass per clean rule."""

from __future__ import annotations

from pathlib import Path

from junitparser import Error, Failure, JUnitXml

from canary_lint.formatters import junit
from canary_lint.formatters._meta import all_rules
from canary_lint.model import FAMILIES, Finding, Report, Severity
from canary_lint.publish.report_file import load

GOLDEN = Path(__file__).parent / "golden"


def _parse(text: str):
    xml = JUnitXml.fromstring(text)
    return {suite.name: list(suite) for suite in xml}, xml


def test_suites_failures_and_passes():
    report = load(GOLDEN / "report.json")
    text = junit.render(report)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    suites, xml = _parse(text)
    reported = {f.rule for f in report.findings}
    clean = [r for r in all_rules() if r.code not in reported]
    assert set(suites) == {f"canary-lint.{fam}" for fam in {f.family for f in report.findings} | {r.family for r in clean}}
    assert all(name.removeprefix("canary-lint.") in FAMILIES for name in suites)
    failures = [(suite, case) for suite, cases in suites.items() for case in cases
                if any(isinstance(r, Failure) for r in case.result)]
    assert len(failures) == len(report.findings)
    for f in report.findings:
        matching = [case for suite, case in failures if suite == f"canary-lint.{f.family}"
                    and case.name == f"{f.rule} {f.name} {f.path}:{f.line}"]
        assert matching, f
        [result] = matching[0].result
        assert result.type == f.severity.value and result.message == f.message
        assert f.path in result.text
    passing = [case for cases in suites.values() for case in cases if not case.result]
    assert sorted(c.name for c in passing) == sorted(f"{r.code} {r.name}" for r in clean)
    errors = [case for cases in suites.values() for case in cases if any(isinstance(r, Error) for r in case.result)]
    assert [e.name for e in errors] == ["file could not be checked db/broken.sql"]
    xml.update_statistics()
    assert xml.failures == len(report.findings) and xml.errors == 1
    assert xml.tests == len(report.findings) + len(clean) + 1


def test_totals_attributes_match_content():
    report = load(GOLDEN / "report.json")
    suites, xml = _parse(junit.render(report))
    for suite in xml:
        cases = list(suite)
        assert suite.tests == len(cases)
        assert suite.failures == sum(1 for c in cases if any(isinstance(r, Failure) for r in c.result))


def test_clean_report_is_all_passing_and_control_characters_are_dropped():
    _, xml = _parse(junit.render(Report(findings=(), files=1)))
    xml.update_statistics()
    assert xml.failures == 0 and xml.tests == len(all_rules())
    odd = Finding("CL001", "file-not-checked", "meta", Severity.ERROR, "a.py", 1, 1, 1, 1,
                  "bad byte \x00\x07 here & <there>", subject="a")
    suites, _ = _parse(junit.render(Report(findings=(odd,), files=1)))
    [case] = [c for c in suites["canary-lint.meta"] if c.result]
    assert case.result[0].message == "bad byte  here & <there>"
