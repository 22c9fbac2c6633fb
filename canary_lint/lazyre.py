"""`lazy_compile`: a regular expression compiled on its first use, so a run compiles only the patterns its
input needs (compiling one long case-insensitive pattern costs about a millisecond; the SQL reader alone
has a dozen). tests/regex_policy.py reads its patterns as it reads `re.compile`'s."""

from __future__ import annotations

import re

_METHODS = ("match", "fullmatch", "search", "finditer", "findall", "sub", "subn", "split")


class LazyPattern:
    """Stands for `re.compile(pattern, flags)`; after the first use its methods are the compiled pattern's."""

    def __init__(self, pattern, flags: int = 0):
        self._args = (pattern, flags)

    def compiled(self) -> re.Pattern:
        rx = re.compile(*self._args)
        for name in _METHODS:
            setattr(self, name, getattr(rx, name))
        self.compiled = lambda: rx
        return rx

    def __getattr__(self, name: str):  # reached only before the first use, or for an attribute not copied
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.compiled(), name)


def lazy_compile(pattern, flags: int = 0) -> LazyPattern:
    return LazyPattern(pattern, flags)
