"""In-source suppressions: `# canary-lint: ignore[CLM101] reason` on the line or the line before,
`-- canary-lint: ignore[...]` in SQL, `canary-lint: file-ignore[...]` anywhere in the file.

Unused suppressions (CL002), unknown rule names (CL003) and missing reasons (CL004) are findings too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from canary_lint.registry import Registry

# The marker must follow a comment leader (#, --, //, /*) so that prose about it is not a suppression.
SUPPRESSION = re.compile(
    r"(?:#|--|//|/\*)\s*canary-lint:\s*(?P<kind>ignore|file-ignore)\[(?P<rules>[^\]]*)\](?P<reason>[^\n]*)"
)


@dataclass
class Suppression:
    """One suppression comment and the rules it names."""

    path: str
    line: int
    column: int
    end_column: int
    file_wide: bool
    rules: list[str]  # as written
    reason: str
    used: set = field(default_factory=set)  # the entries of `rules` that silenced something
    _first: dict | None = field(default=None, repr=False, compare=False)  # entry -> its first index in `rules`

    def covers(self, code: str, name: str, aliases: tuple, line: int, registry: Registry) -> str | None:
        """The first entry, as written, that names the rule (or ALL); None when none does or the line is
        not covered. One look-up per name of the rule, whatever the number of entries (a suppression may
        list thousands, and each of them may itself be a finding to judge)."""
        if not self.file_wide and line not in (self.line, self.line + 1):
            return None
        order = self._order()
        hits = [order[e] for e in (code, name, *aliases, "ALL") if e in order]
        return self.rules[min(hits)] if hits else None

    def _order(self) -> dict:
        if self._first is None:
            self._first = {}
            for i, entry in enumerate(self.rules):
                self._first.setdefault(entry, i)
        return self._first


def _comment_lines(path: str, text: str):
    """(line number, text) of the lines that may hold a suppression. In Python only real comments count
    (a docstring that shows the syntax is not a suppression); other formats are read line by line."""
    from canary_lint.pysyntax import stalls_tokenize

    if path.endswith((".py", ".pyi")) and not stalls_tokenize(text):
        import io
        import tokenize

        try:  # all or nothing: comments met before a token error would be read again line by line
            return [(tok.start[0], tok.start[1], tok.string)
                    for tok in tokenize.generate_tokens(io.StringIO(text).readline)
                    if tok.type == tokenize.COMMENT and "canary-lint:" in tok.string]
        except (tokenize.TokenError, SyntaxError, IndentationError):
            pass  # unparsable file (reported as CL001): fall back to lines
    return [(lineno, 0, line) for lineno, line in enumerate(text.splitlines(), 1) if "canary-lint:" in line]


def parse(path: str, text: str) -> list[Suppression]:
    if "canary-lint:" not in text:
        return []
    out = []
    for lineno, offset, line in _comment_lines(path, text):
        for m in SUPPRESSION.finditer(line):
            rules = [r.strip() for r in m.group("rules").split(",") if r.strip()]
            reason = m.group("reason").strip().rstrip("*/").strip(" -:—")
            out.append(Suppression(path, lineno, offset + m.start() + 1, offset + m.end() + 1,
                                   m.group("kind") == "file-ignore", rules, reason))
    return out
