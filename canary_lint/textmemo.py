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
