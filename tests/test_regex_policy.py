"""Every regex canary-lint runs over file content is linear (tests/regex_policy.py says how that is read)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import regex_policy

PACKAGE = Path(__file__).resolve().parent.parent / "canary_lint"


def test_every_pattern_in_the_package_is_linear():
    found = regex_policy.scan(PACKAGE)
    assert not found, "patterns that backtrack on hostile input:\n" + "\n".join(map(str, found))


def test_the_scan_reads_the_package():
    assert sum(1 for _ in regex_policy.patterns(PACKAGE)) > 50


@pytest.mark.parametrize("pattern, flags, shape", [
    (r"(a+)+b", 0, "nested"),
    (r"(?:\s*-\s*\S+)*\s*-\s*version", 0, "nested"),
    (r"key\s*-?\s*=", 0, "adjacent"),
    (r"\w+\w+x", 0, "adjacent"),
    (r"^\s*pid\s", re.M, "line-start"),
    (r"^(\s*)x", re.M, "line-start"),
    (r"\{\{.*?\}\}", 0, "restart"),
    (r"\{[^}/]*\}", 0, "restart"),
])
def test_backtracking_shapes_are_caught(pattern, flags, shape):
    assert shape in regex_policy.check(pattern, flags)


@pytest.mark.parametrize("pattern, flags", [
    (r'"((?:[^"\\]|\\.)*)"', 0),  # an unrolled string literal
    (r"[^'\\\r\n]*(?:\\(?:\r\n|[\s\S])[^'\\\r\n]*)*'", 0),
    (r"^[VR]\d+(?:[._]\d+)*__.+\.sql$", 0),
    (r"\bdef\s+(\w+)", 0),
    (r"^[ \t]*pid[ \t]+([^;\s]+)[ \t]*;", re.M),
    (r"\{[^{}/]*\}", 0),
    (r"#[^\r\n]*", 0),  # always matches once started: no rescan
    (r"^[a-z0-9]+(-[a-z0-9]+)*$", 0),
])
def test_linear_shapes_pass(pattern, flags):
    assert regex_policy.check(pattern, flags) == []


def test_patterns_built_from_pieces_are_read_whole():
    """A pattern made of an f-string of module constants, one of them imported from another module of the
    package, is checked as the text it compiles to (such a DROP pattern hid a quadratic tail: 9.8 s on a
    160 KB file)."""
    texts = [text for path, _, text, _ in regex_policy.patterns(PACKAGE) if path.name == "sql_reader.py"]
    assert any(t.startswith("DROP\\s+(TABLE|INDEX") and '"[^"]+"' in t for t in texts), texts[:5]
    import ast

    module = ast.parse('from canary_lint.migrations.sql_lex import _NAME\nA = "x+"\nB = rf"({A}|{_NAME})"\n')
    consts = regex_policy._module_consts(module, lambda name: {"_NAME": "[a-z]+"} if name.endswith("sql_lex") else {})
    assert consts["B"] == "(x+|[a-z]+)"
