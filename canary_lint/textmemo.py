"""`per_text`: a cheap question about a file's text, answered once per text.

The run reads each file once and hands the same `str` object to every analyzer, so an answer kept by the
object's identity (with the object itself, so a recycled id never answers for another text) spares the
second and third scans of the same text for the same tokens."""

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
    """A test of whether a text holds one of `tokens`, in fewer scans of it: the tokens that contain a gate
    (each under the first gate it contains) are looked for only in a text that holds the gate, so a text
    without the gate is scanned once for all of them instead of once per token."""
    groups = {g: [] for g in gates}
    alone = []
    for t in tokens:
        gate = next((g for g in gates if g in t), None)
        (groups[gate] if gate is not None else alone).append(t)
    alone_t = tuple(alone)
    grouped = tuple((g, tuple(ts)) for g, ts in groups.items() if ts)

    def test(text: str) -> bool:
        return any(t in text for t in alone_t) or any(g in text and any(t in text for t in ts) for g, ts in grouped)
    return test
