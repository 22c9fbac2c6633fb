"""The bounded-regex policy: every regular expression canary-lint runs over file content must be linear.

Python's `re` backtracks, so three shapes turn a pull request's file into minutes of CPU:
  nested      an unbounded repeat inside another repeat, both able to match the same text (`(\\s*-\\s*\\S+)*`)
  adjacent    two unbounded repeats over overlapping characters with only optional items between them
              (`\\s*-?\\s*`): each split point is tried, quadratic or worse on a run of that character
  line-start  under re.M, `^` followed by a repeat that also matches newlines (`^\\s*`): every line start
              rescans all blank lines after it (65,536 newlines -> 13 s)
  restart     an unanchored pattern whose first character is also matched by the unbounded repeat right
              after it (`\\{\\{.*?\\}\\}`): every occurrence rescans to the end of the line when nothing closes

`scan()` reads every pattern literal in the package (re.compile/search/match/... and lazy_compile calls and
names bound to a compiled pattern), parses it with the stdlib regex parser and reports the shapes above. A
pattern that is linear for a reason the parser cannot see is listed in `EXEMPT` with that reason.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

try:  # Python 3.11+
    import re._parser as sre_parse
    import re._constants as sre_c
except ImportError:  # pragma: no cover
    import sre_parse  # type: ignore
    import sre_constants as sre_c  # type: ignore

RE_FUNCS = {"compile", "search", "match", "fullmatch", "sub", "subn", "findall", "finditer", "split"}
ALPHABET = [chr(c) for c in range(0, 128)] + ["\u00e9", "\u2028", "\u00a0"]
MAXREPEAT = sre_c.MAXREPEAT


@dataclass
class Violation:
    path: str
    line: int
    pattern: str
    shape: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.shape}: {self.pattern!r}"


# (path suffix, pattern) -> why it is linear anyway
EXEMPT: dict[tuple[str, str], str] = {}


def _chars(op, av) -> set[str] | None:
    """Characters one single-character item matches (None: not a single-character item)."""
    import re

    if op in (sre_c.LITERAL, sre_c.NOT_LITERAL, sre_c.ANY, sre_c.IN, sre_c.CATEGORY):
        sub = sre_parse.SubPattern(sre_parse.State(), [(op, av)])
        try:
            rx = re.compile(_unparse(sub))
        except re.error:
            return None
        return {ch for ch in ALPHABET if rx.fullmatch(ch)}
    return None


def _unparse(sub) -> str:
    """Enough of a regex writer for single-character items."""
    out = []
    for op, av in sub:
        if op is sre_c.LITERAL:
            out.append("\\" + chr(av) if not chr(av).isalnum() else chr(av))
        elif op is sre_c.NOT_LITERAL:
            out.append("[^" + ("\\" + chr(av)) + "]")
        elif op is sre_c.ANY:
            out.append(".")
        elif op is sre_c.CATEGORY:
            out.append(_CATEGORY[av])
        elif op is sre_c.IN:
            parts, neg = [], ""
            for iop, iav in av:
                if iop is sre_c.NEGATE:
                    neg = "^"
                elif iop is sre_c.LITERAL:
                    parts.append("\\" + chr(iav) if not chr(iav).isalnum() else chr(iav))
                elif iop is sre_c.RANGE:
                    parts.append(f"\\{chr(iav[0])}-\\{chr(iav[1])}" if not chr(iav[0]).isalnum()
                                 else f"{chr(iav[0])}-{chr(iav[1])}")
                elif iop is sre_c.CATEGORY:
                    parts.append(_CATEGORY[iav])
                else:
                    raise ValueError(iop)
            out.append("[" + neg + "".join(parts) + "]")
    return "".join(out)


_CATEGORY = {
    sre_c.CATEGORY_DIGIT: r"\d", sre_c.CATEGORY_NOT_DIGIT: r"\D",
    sre_c.CATEGORY_SPACE: r"\s", sre_c.CATEGORY_NOT_SPACE: r"\S",
    sre_c.CATEGORY_WORD: r"\w", sre_c.CATEGORY_NOT_WORD: r"\W",
}


class _Checker:
    def __init__(self, multiline: bool, dotall: bool):
        self.multiline = multiline
        self.dotall = dotall
        self.shapes: list[str] = []

    # what an item can match first / at all, as character sets (None = unknown: treat as anything)
    def first(self, seq) -> set[str] | None:
        out: set[str] = set()
        for op, av in seq:
            got, optional = self._first_item(op, av)
            if got is None:
                return None
            out |= got
            if not optional:
                return out
        return out

    def _first_item(self, op, av):
        chars = self._single(op, av)
        if chars is not None:
            return chars, False
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
            lo, _hi, body = av
            got = self.first(body)
            return got, lo == 0 or got == set()
        if op is sre_c.SUBPATTERN:
            body = av[-1]
            return self.first(body), self.nullable(body)
        if op is sre_c.BRANCH:
            out: set[str] = set()
            optional = False
            for alt in av[1]:
                got = self.first(alt)
                if got is None:
                    return None, True
                out |= got
                optional = optional or self.nullable(alt)
            return out, optional
        if op is sre_c.ATOMIC_GROUP:
            return self.first(av), self.nullable(av)
        # anchors, lookarounds, backrefs: zero width (or unknown): they match nothing themselves
        if op in (sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT):
            return set(), True
        return None, True

    def nullable(self, seq) -> bool:
        for op, av in seq:
            if self._single(op, av) is not None:
                return False
            if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
                if av[0] > 0 and not self.nullable(av[2]):
                    return False
            elif op is sre_c.SUBPATTERN:
                if not self.nullable(av[-1]):
                    return False
            elif op is sre_c.BRANCH:
                if not any(self.nullable(alt) for alt in av[1]):
                    return False
            elif op is sre_c.ATOMIC_GROUP:
                if not self.nullable(av):
                    return False
            elif op not in (sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT):
                return False
        return True

    def _single(self, op, av):
        chars = _chars(op, av)
        if chars is not None and op is sre_c.ANY:
            chars = set(ALPHABET) if self.dotall else set(ALPHABET) - {"\n"}
        return chars

    def _unbounded(self, op, av) -> bool:
        return op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT) and av[1] == MAXREPEAT

    def _repeat_chars(self, op, av) -> set[str] | None:
        """Characters an unbounded repeat can consume (approximated by its body's first characters)."""
        return self._all_chars(av[2])

    def _all_chars(self, seq) -> set[str] | None:
        out: set[str] = set()
        for op, av in seq:
            got = self._single(op, av)
            if got is not None:
                out |= got
            elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
                got = self._all_chars(av[2])
            elif op is sre_c.SUBPATTERN:
                got = self._all_chars(av[-1])
            elif op is sre_c.BRANCH:
                got = set()
                for alt in av[1]:
                    part = self._all_chars(alt)
                    if part is None:
                        return None
                    got |= part
            elif op is sre_c.ATOMIC_GROUP:
                got = self._all_chars(av)
            elif op in (sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT):
                got = set()
            else:
                return None
            if got is None:
                return None
            out |= got
        return out

    def walk(self, seq, inside_repeat: bool = False) -> None:
        items = list(seq)
        for i, (op, av) in enumerate(items):
            if self._unbounded(op, av):
                body = av[2]
                if inside_repeat or self._has_unbounded(body):
                    if self._has_unbounded(body) and not self._disjoint_nested(body):
                        self.shapes.append("nested")
                self._check_adjacent(items, i)
                self.walk(body, True)
            elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
                self.walk(av[2], inside_repeat and av[1] > 1)
            elif op is sre_c.SUBPATTERN:
                self.walk(av[-1], inside_repeat)
            elif op is sre_c.BRANCH:
                for alt in av[1]:
                    self.walk(alt, inside_repeat)
            elif op in (sre_c.ASSERT, sre_c.ASSERT_NOT):
                self.walk(av[1], inside_repeat)
            elif op is sre_c.ATOMIC_GROUP:
                pass  # atomic: no backtracking into it
            if op is sre_c.AT and av is sre_c.AT_BEGINNING and self.multiline:
                self._check_line_start(items, i)

    def _has_unbounded(self, seq) -> bool:
        for op, av in seq:
            if self._unbounded(op, av):
                return True
            if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT) and self._has_unbounded(av[2]):
                return True
            if op is sre_c.SUBPATTERN and self._has_unbounded(av[-1]):
                return True
            if op is sre_c.BRANCH and any(self._has_unbounded(alt) for alt in av[1]):
                return True
        return False

    def _disjoint_nested(self, body) -> bool:
        """`(x+y)*` is linear when every iteration must end with characters the inner repeat cannot eat
        and begin with ones it cannot either (`(?:[^"\\]|\\.)*`-like bodies have no inner repeat at all)."""
        items = list(body)
        if len(items) == 1 and items[0][0] is sre_c.SUBPATTERN:
            items = list(items[0][1][-1])
        for i, (op, av) in enumerate(items):
            if self._unbounded(op, av):
                inner = self._repeat_chars(op, av)
                after = items[i + 1:]
                nxt = self.first(after) if after else self.first(items)
                if inner is None or nxt is None or (inner & nxt) or (after and self.nullable(after)):
                    return False
        return True

    def _check_adjacent(self, items, i) -> None:
        chars = self._repeat_chars(*items[i])
        if chars is None:
            return
        for op, av in items[i + 1:]:
            if self._unbounded(op, av):
                other = self.first(av[2])
                if other is None or chars & other:
                    self.shapes.append("adjacent")
                return
            if op is sre_c.SUBPATTERN and self.nullable(av[-1]) and self._has_unbounded(av[-1]):
                other = self.first(av[-1])
                if other is None or chars & other:
                    self.shapes.append("adjacent")
                return
            optional = (op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT) and av[0] == 0) \
                or op in (sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT) \
                or (op is sre_c.SUBPATTERN and self.nullable(av[-1]))
            if not optional:
                return

    def _check_line_start(self, items, i) -> None:
        for op, av in items[i + 1:]:
            if self._unbounded(op, av):
                chars = self._repeat_chars(op, av)
                if chars is None or "\n" in chars:
                    self.shapes.append("line-start")
                return
            if op is sre_c.SUBPATTERN:
                chars = self._all_chars(av[-1])
                if self._has_unbounded(av[-1]) and (chars is None or "\n" in chars):
                    self.shapes.append("line-start")
                return
            return

    def restart(self, seq) -> None:
        """An unanchored search whose leading literal run is followed by an unbounded repeat of a set that
        holds the first literal: every occurrence of that literal starts a scan to where the repeat stops."""
        items = list(seq)
        if not items or items[0][0] is not sre_c.LITERAL:
            return
        first = chr(items[0][1])
        for j, (op, av) in enumerate(items[1:], 1):
            if op is sre_c.LITERAL:
                continue
            if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT) and av[0] == 0 and av[1] == 1:
                continue
            if self._unbounded(op, av):
                chars = self._repeat_chars(op, av)
                rest = items[j + 1:]
                if (chars is None or first in chars) and rest and not self.nullable(rest):
                    self.shapes.append("restart")
            return


def check(pattern: str, flags: int = 0) -> list[str]:
    import re

    try:
        parsed = sre_parse.parse(pattern, flags)
    except re.error:
        return []
    flags |= parsed.state.flags
    checker = _Checker(bool(flags & re.M), bool(flags & re.S))
    checker.walk(parsed)
    checker.restart(parsed)
    return sorted(set(checker.shapes))


def _flags(node: ast.AST | None) -> int:
    import re

    if node is None:
        return 0
    if isinstance(node, ast.Attribute) and node.attr in ("M", "MULTILINE", "S", "DOTALL", "I", "IGNORECASE",
                                                          "X", "VERBOSE", "A", "ASCII"):
        return int(getattr(re, node.attr))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _flags(node.left) | _flags(node.right)
    return 0


def _literal(node, consts: dict | None = None) -> str | None:
    """The text of a pattern expression: a string, `+` of such, an f-string or a name whose parts are module
    constants of text (`rf"DROP\\s+({_NAME})"`): a pattern built from pieces is checked whole."""
    consts = consts or {}
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return consts.get(node.id)
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                if value.conversion != -1 or value.format_spec is not None:
                    return None
                text = _literal(value.value, consts)
            else:
                text = _literal(value, consts)
            if text is None:
                return None
            parts.append(text)
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left, consts), _literal(node.right, consts)
        return left + right if left is not None and right is not None else None
    return None


def _module_consts(tree: ast.Module, imported=lambda module: {}) -> dict:
    """Top-level names bound to text the pattern pieces are made of, in the order the module binds them;
    `imported(module)` gives another module's, for `from canary_lint.x import _NAME`."""
    consts: dict = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
            theirs = imported(stmt.module)
            consts.update({a.asname or a.name: theirs[a.name] for a in stmt.names if a.name in theirs})
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            text = _literal(stmt.value, consts)
            if text is not None:
                consts[stmt.targets[0].id] = text
    return consts


def patterns(root: Path):
    """(path, line, pattern, flags) of every regex literal handed to `re` in the package under `root`."""
    cache: dict = {}

    def imported(module: str) -> dict:
        parts = module.split(".")
        if parts[0] != root.name or module in cache:
            return cache.get(module, {})
        cache[module] = {}  # a cycle reads nothing more
        source = root.parent.joinpath(*parts).with_suffix(".py")
        if source.is_file():
            cache[module] = _module_consts(ast.parse(source.read_text(encoding="utf-8")), imported)
        return cache[module]

    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        consts = _module_consts(tree, imported)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name) and func.id == "lazy_compile":  # canary_lint.lazyre: re.compile later
                func = ast.Attribute(value=ast.Name(id="re"), attr="compile")
            if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                    and func.value.id in ("re", "_re") and func.attr in RE_FUNCS):
                continue
            if not node.args:
                continue
            text = _literal(node.args[0], consts)
            if text is None:
                continue
            flag_node = None
            for kw in node.keywords:
                if kw.arg == "flags":
                    flag_node = kw.value
            if flag_node is None:
                index = 1 if func.attr in ("compile", "search", "match", "fullmatch", "findall", "finditer") else 3
                if func.attr in ("search", "match", "fullmatch", "findall", "finditer"):
                    index = 2
                if func.attr == "split":
                    index = 3
                if len(node.args) > index:
                    flag_node = node.args[index]
            yield path, node.lineno, text, _flags(flag_node)


def scan(root: Path) -> list[Violation]:
    found = []
    for path, line, text, flags in patterns(root):
        rel = path.relative_to(root.parent).as_posix()
        for shape in check(text, flags):
            if any(rel.endswith(suffix) and text == pat for suffix, pat in EXEMPT):
                continue
            found.append(Violation(rel, line, text, shape))
    return found


if __name__ == "__main__":  # pragma: no cover
    import sys

    for v in scan(Path(sys.argv[1] if len(sys.argv) > 1 else "canary_lint")):
        print(v)
