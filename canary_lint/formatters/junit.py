"""JUnit XML: one `<testsuite>` per rule family, a failing `<testcase>` per finding and a passing one per rule of
the catalogue that reported nothing, so CI test views show what was checked as well as what failed.

Every finding is a `<failure>` (its `type` is the severity), except one v1's tree already has (with `--base`),
which is `<skipped>` unless existing findings fail the gate; files that could not be checked are `<error>`s of
their own testcase. Characters XML 1.0 cannot carry are dropped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from canary_lint.formatters._meta import all_rules, rule_url
from canary_lint.model import FAMILIES, Report

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("", text)


def _suite_name(family: str) -> str:
    return f"canary-lint.{family}"


def render(report: Report, **_options) -> str:
    by_family: dict[str, list] = {}
    reported: set[str] = set()
    for f in report.findings:
        by_family.setdefault(f.family, []).append(f)
        reported.add(f.rule)
    clean: dict[str, list] = {}
    for rule in all_rules():
        if rule.code not in reported:
            clean.setdefault(rule.family, []).append(rule)
    errors_by_family = {"meta": list(report.errors)} if report.errors else {}
    families = [fam for fam in FAMILIES if fam in by_family or fam in clean or fam in errors_by_family]
    families += sorted(set(by_family) - set(families))

    root = ET.Element("testsuites", name="canary-lint")
    total_tests = total_failures = total_errors = total_skipped = 0
    everything = bool(report.extra.get("fail_on_existing"))
    for family in families:
        findings = by_family.get(family, [])
        passing = clean.get(family, [])
        file_errors = errors_by_family.get(family, [])
        tests = len(findings) + len(passing) + len(file_errors)
        skipped = [f for f in findings if not f.new and not everything]
        suite = ET.SubElement(root, "testsuite", name=_suite_name(family), tests=str(tests),
                              failures=str(len(findings) - len(skipped)), errors=str(len(file_errors)),
                              skipped=str(len(skipped)), time="0")
        for f in findings:
            case = ET.SubElement(suite, "testcase", classname=_suite_name(family),
                                 name=_clean(f"{f.rule} {f.name} {f.path}:{f.line}"), file=_clean(f.path),
                                 line=str(f.line), time="0")
            quiet = not f.new and not everything
            failure = ET.SubElement(case, "skipped" if quiet else "failure", type=f.severity.value,
                                    message=_clean(f"already in v1, not failing: {f.message}" if quiet else f.message))
            detail = [f"{f.path}:{f.line}:{f.column}: {f.rule} {f.name} [{f.severity.value}]", f.message]
            if f.operation:
                detail.append(f"operation: {f.operation}")
            if f.fix:
                detail.append(f"fix: {f.fix}")
            detail.append(f"rule: {rule_url(f.rule)}")
            failure.text = _clean("\n".join(detail))
        for e in file_errors:
            case = ET.SubElement(suite, "testcase", classname=_suite_name(family),
                                 name=_clean(f"file could not be checked {e.path}"), file=_clean(e.path), time="0")
            error = ET.SubElement(case, "error", type="file-not-checked", message=_clean(e.message))
            error.text = _clean(f"{e.path}: {e.message}")
        for rule in passing:
            ET.SubElement(suite, "testcase", classname=_suite_name(family), name=f"{rule.code} {rule.name}", time="0")
        total_tests += tests
        total_failures += len(findings) - len(skipped)
        total_skipped += len(skipped)
        total_errors += len(file_errors)
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    root.set("errors", str(total_errors))
    root.set("skipped", str(total_skipped))
    root.set("time", "0")
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
