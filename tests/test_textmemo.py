"""The cheap text questions the analyzers ask before they read a tree, and the node memos of pyast: the same
answers as the plain scans and walks, and no tree kept alive by a memo."""

from __future__ import annotations

import ast
import gc
import weakref

from hypothesis import given, settings
from hypothesis import strategies as st

from canary_lint import pyast
from canary_lint.resolver.evaluator import _names_of
from canary_lint.state.analyzer import HANDLER_TOKENS, has_handlers
from canary_lint.telemetry.pyvocab import STRONG_TOKENS, is_telemetry_file
from canary_lint.textmemo import any_token, per_text

WORDS = st.sampled_from(["add_", "View", "Config", "ormatter", "dict", "basic", "on(", ".", "x", " ", "\n", "_"])


@settings(max_examples=300, derandomize=True, database=None)
@given(tokens=st.lists(st.lists(WORDS, min_size=1, max_size=4).map("".join), min_size=1, max_size=6),
       gates=st.lists(st.sampled_from(["add_", "View", "Config", "x", "on("]), max_size=3, unique=True),
       text=st.lists(WORDS, max_size=30).map("".join))
def test_any_token_answers_as_one_scan_per_token(tokens, gates, text):
    assert any_token(tuple(tokens), tuple(gates))(text) == any(t in text for t in tokens)


def test_the_vocabularies_answer_as_their_tokens():
    for token in STRONG_TOKENS:
        assert is_telemetry_file(f"x = 1\n{token}\n")
    assert not is_telemetry_file("import os\nprint(os.getcwd())\n")
    for token in HANDLER_TOKENS:
        assert has_handlers(f"x = 1\n{token}\n")
    assert not has_handlers("def f():\n    return 1\n")


def test_per_text_answers_once_per_text_object():
    asked = []

    @per_text
    def question(text: str) -> bool:
        asked.append(text)
        return "a" in text

    text = "banana" * 3
    assert question(text) and question(text)
    assert asked == [text]
    assert not question("xyz")
    assert len(asked) == 2


SOURCE = ("import os\n\n\nclass Box:\n    def put(self, x):\n        for k in x:\n            self.d[k] = 1\n\n\n"
          "def f(a):\n    if a:\n        return [b for b in a]\n    try:\n        pass\n    except OSError:\n        x = 2\n")


def test_node_memos_answer_as_the_walks_they_replace():
    tree = ast.parse(SOURCE)
    assert list(pyast.all_nodes(tree)) == list(ast.walk(tree))
    assert list(pyast.all_nodes(tree)) == list(pyast.all_nodes(tree))  # asked again: from the memo
    plain = [n for n in ast.walk(tree) if isinstance(n, (ast.stmt, ast.Module, ast.excepthandler))]
    assert sorted(map(id, pyast.statements(tree))) == sorted(map(id, plain))
    assert next(pyast.statements(tree)) is tree
    func = tree.body[2]
    assert {type(n).__name__ for n in pyast.walk_body(func)} >= {"If", "Return", "ListComp", "Try", "Assign"}
    assert _names_of(tree.body[1].body[0].body[0]) == (frozenset(), frozenset({"k", "self"}))  # the body only


def test_node_memos_keep_no_tree_alive():
    tree = ast.parse(SOURCE)
    for node in ast.walk(tree):
        list(pyast.all_nodes(node)), list(pyast.statements(node)), list(pyast.walk_body(node))
        if isinstance(node, ast.For):
            _names_of(node)
        if isinstance(node, ast.expr):
            pyast.brief_source(node)
    ref = weakref.ref(tree)
    del tree, node
    gc.collect()
    assert ref() is None


@settings(max_examples=300, derandomize=True, database=None)
@given(st.lists(st.sampled_from(["Flask", "APIFlask", "App", "Application", "x", "_", " ", "(", "\n", "é", "."]),
                max_size=20).map("".join))
def test_word_matches_are_those_of_a_leading_word_boundary(text):
    import re

    from canary_lint.serving import APP_CALL_TEXT
    from canary_lint.textmemo import word_matches

    bounded = re.compile(r"\b(?:" + APP_CALL_TEXT.pattern + ")")
    assert [m.span() for m in word_matches(APP_CALL_TEXT, text)] == [m.span() for m in bounded.finditer(text)]
