"""The one YAML reader: limits a pull request cannot get past, with a line."""

from __future__ import annotations

import pytest

from canary_lint import yamlio


def laughs(levels: int, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(["x"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_plain_values():
    assert yamlio.load("a: [1, 2, {b: c}]\nd: 'x'\n") == {"a": [1, 2, {"b": "c"}], "d": "x"}
    assert yamlio.load("") is None
    assert len(yamlio.compose_all("a: 1\n---\nb: 2\n")) == 2


def test_shared_aliases_within_the_limit_are_read():
    data = yamlio.load("base: &b {x: 1}\none: *b\ntwo: *b\n")
    assert data["one"] == data["two"] == {"x": 1}


@pytest.mark.parametrize("levels", [6, 9, 12])
def test_alias_bomb_is_refused_without_expanding(levels):
    limits = yamlio.Limits(max_nodes=100_000)
    with pytest.raises(yamlio.YamlError, match="alias bomb") as err:
        yamlio.load(laughs(levels), limits)
    assert err.value.line >= 1


def test_recursive_alias_is_refused():
    with pytest.raises(yamlio.YamlError, match="refers to itself"):
        yamlio.load("a: &x\n  b: *x\n")


@pytest.mark.parametrize("text", [
    "".join("  " * i + "- \n" for i in range(60)),  # block style
    "a:\n" + "".join("  " * i + "b:\n" for i in range(1, 60)),
])
def test_depth_limit_names_the_line(text):
    with pytest.raises(yamlio.YamlError, match="nests deeper than 40") as err:
        yamlio.load(text, yamlio.Limits(max_depth=40))
    assert err.value.line > 40


def test_flow_nesting_beyond_the_parser_is_an_error_not_a_crash():
    with pytest.raises(yamlio.YamlError):
        yamlio.load("[" * 100_000)


def test_size_nul_and_bad_values():
    with pytest.raises(yamlio.YamlError, match="over the 1 MB limit"):
        yamlio.load("a: " + "x" * (2 * 1024 * 1024), yamlio.Limits(max_bytes=1024 * 1024))
    with pytest.raises(yamlio.YamlError, match="NUL") as err:
        yamlio.load("a: 1\nb: \x00\n")
    assert err.value.line == 2
    with pytest.raises(yamlio.YamlError, match="invalid YAML value"):
        yamlio.load("a: 2020-13-45\n")
    with pytest.raises(yamlio.YamlError, match="invalid YAML") as err:
        yamlio.load("a: [1\nb: 2\n")
    assert err.value.line >= 1
