"""Cheap questions about a file's text, the ones asked before a tree is read.

- `per_text`: an answer once per text. The run reads each file once and hands the same `str` object to every
  analyzer, so an answer kept by the object's identity (with the object itself, so a recycled id never
  answers for another text) spares the second and third scans of the same text for the same tokens.
- `any_token`: whether a text holds one of a set of tokens, in fewer scans than one per token.
- `word_matches`: a pattern's matches at a word boundary, without a leading `\\b` in the pattern."""

from __future__ import annotations

import functools
from collections.abc import Callable

MAX_TEXTS = 8192  # then the memo starts again: bounded, whatever the tree's size


def per_text(question: Callable[[str], bool]) -> Callable[[str], bool]:
    memo: dict[int, tuple[str, bool]] = {}

    @functools.wraps(question)
    def ask(text: str) -> bool:
        hit = memo.get(id(text))
        if hit is None or hit[0] is not text:
            if len(memo) >= MAX_TEXTS:
                memo.clear()
            hit = memo[id(text)] = (text, question(text))
        return hit[1]
    return ask


def any_token(tokens: tuple[str, ...], gates: tuple[str, ...] = ()) -> Callable[[str], bool]:
    """A test of whether a text holds one of `tokens`, in fewer scans of it: a token that contains another
    of them is never looked for (the shorter one answers), and the tokens that contain a gate (each under the
    first gate it contains) are looked for only in a text that holds the gate, so a text without the gate is
    scanned once for all of them instead of once per token."""
    groups = {g: [] for g in gates}
    alone = []
    needed = [t for t in dict.fromkeys(tokens) if not any(o != t and o in t for o in tokens)]
    for t in needed:
        gate = next((g for g in gates if g in t), None)
        (groups[gate] if gate is not None else alone).append(t)
    alone_t = tuple(alone)
    grouped = tuple((g, tuple(ts)) for g, ts in groups.items() if ts)

    def test(text: str) -> bool:
        return any(t in text for t in alone_t) or any(g in text and any(t in text for t in ts) for g, ts in grouped)
    return test


def word_matches(pattern, text: str):
    """The matches `pattern` would give with a leading word boundary (`\\b`), without one in the pattern,
    where it makes the search try every position of the text: a match after a word character is passed over
    and the search goes on from the next position, so one starting inside it still counts."""
    at = 0
    while (m := pattern.search(text, at)) is not None:
        start = m.start()
        if start and (text[start - 1].isalnum() or text[start - 1] == "_"):  # re's \\w, for str patterns
            at = start + 1
            continue
        yield m
        at = max(m.end(), start + 1)
