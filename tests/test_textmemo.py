"""The cheap text questions the analyzers ask before they read a tree: same answers as the plain scans."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

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
