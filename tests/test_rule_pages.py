"""Every rule page is documentation and test: its examples run through the real engine."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from canary_lint.analyzers import ANALYZERS
from canary_lint.examples import check_case, fixture_cases, page_cases, run_case
from canary_lint.registry import SECTIONS, registry

ROOT = Path(__file__).resolve().parent.parent
META_RULES = {"file-not-checked", "unused-suppression", "suppression-of-unknown-rule",
              "suppression-without-reason", "analyzer-crashed", "stale-baseline-entry"}
NO_EXAMPLE_BAD = {"CL005", "CL010"}  # a crash / a stale baseline entry: tests/test_engine.py, tests/test_baseline.py


def _all_cases():
    cases = []
    for rule in registry().rules:
        cases.extend(page_cases(rule.code, rule.page))
    cases.extend(fixture_cases(ROOT / "fixtures" / "rules"))
    return cases


CASES = _all_cases()


DOUBLED_WORD = re.compile(r"\b([A-Za-z]+)\s+\1\b", re.I)


@pytest.mark.parametrize("case", CASES, ids=[c.ident for c in CASES])
def test_rule_example(case):
    report = run_case(case)
    assert check_case(case, report) == []
    # what a reader trips on: "the the", "table table"
    glitches = [f"{f.rule}: {m.group()!r} in {text!r}" for f in report.findings for text in (f.message, f.fix or "")
                for m in [DOUBLED_WORD.search(text)] if m]
    assert glitches == []


def _declared_rule_names() -> set[str]:
    names = set(META_RULES)
    for spec in ANALYZERS:
        try:
            module = importlib.import_module(spec.module)
        except ModuleNotFoundError as exc:
            if exc.name and spec.module.startswith(exc.name):
                continue
            raise
        names.update(module.RULES)
    return names


def test_every_declared_rule_has_a_page_and_every_page_a_rule():
    reg = registry()
    declared = _declared_rule_names()
    pages = {r.name for r in reg.rules}
    assert sorted(declared - pages) == [], "rules reported in code without a page in canary_lint/rules/"
    assert sorted(pages - declared) == [], "pages that no analyzer declares in its RULES"


@pytest.mark.parametrize("rule", registry().rules, ids=[r.code for r in registry().rules])
def test_page_anatomy(rule):
    for section in SECTIONS:
        assert f"## {section}" in rule.page, f"{rule.filename} lacks '## {section}'"
    assert rule.page.index("## Bad") < rule.page.index("## Good"), "the anti-pattern comes before the fix"
    assert rule.filename == f"{rule.code}.md"
    cases = [c for c in page_cases(rule.code, rule.page)]
    fixtures = [c for c in fixture_cases(ROOT / "fixtures" / "rules") if c.rule == rule.code]
    bad = [c for c in cases + fixtures if rule.code in [code for code, _ in c.expect]]
    good = [c for c in cases + fixtures if c.clean]
    if rule.code not in NO_EXAMPLE_BAD:
        assert bad, f"{rule.filename} has no example with expect={rule.code}"
    assert good, f"{rule.filename} has no example with expect=clean"
    assert rule.summary, f"{rule.filename}: 'What it catches' has no first paragraph"
