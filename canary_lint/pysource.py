"""Parse Python source into a stdlib `ast` tree, whatever Python runs canary-lint.

`parse(source, path)` is the one way a Python file is parsed (head files, v1's files, migrations read from
disk). It tries `ast.parse` first; only when that fails (a file written for a newer Python than ours) is
the source rewritten into an equivalent our `ast` accepts, keeping every line number and the columns of
everything outside the rewritten spans:

- `type X[T] = V` (3.12) becomes `X = V` (padded so `V` keeps its column), then a `TypeAlias` node;
- type-parameter lists of `def f[T]()` / `class C[T]:` (3.12, defaults 3.13) are blanked;
- `except A, B:` / `except* A, B:` (3.14) gain their parentheses (the tuple still spans `A, B`);
- f-strings that only 3.12+ can read (same quotes nested, backslashes, comments or newlines in a
  replacement field) and 3.14 t-strings are built part by part into the nodes a newer `ast` builds
  (`JoinedStr`, `FormattedValue`; `TemplateStr`, `Interpolation`), at their original positions.

The rewrite is found by a bounded scan of the source (`pyscan`, `pyfast`: one more `ast.parse`); only
when that fails is libcst asked to read the whole module (`pycst`, many times slower). A file that no
Python accepts raises the original `SyntaxError`. A Jinja/Cookiecutter template named `*.py` that is not
Python raises `TemplateSource` (it is not checked and is not an error).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

from canary_lint.pyast import match_lines, on_lines
from canary_lint.textmemo import word_matches
from canary_lint.pysyntax import Interpolation, TemplateStr, TypeAlias, ast_parse, stalls_tokenize

__all__ = ["Interpolation", "TemplateSource", "TemplateStr", "TypeAlias", "is_template", "parse"]

# errors in a literal's own text (an unknown \N{name}, a bad \x escape, non-ASCII bytes in b''): every Python
# refuses them, so no rewrite for a newer grammar can help and libcst (which does not decode literals) is not asked
_EVERY_VERSION_REFUSES = ("(unicode error)", "(value error)", "bytes can only contain ASCII")
_TEMPLATE_LINE = re.compile(r"^[ \t]*\{[%#]", re.M)
_TEMPLATE_DIR = re.compile(r"\{\{.*\}\}|\{%.*%\}")


class TemplateSource(Exception):
    """A Jinja/Cookiecutter template named *.py: not Python, not checked, not an error."""


def parse(source: str, path: str = "<unknown>") -> ast.Module:
    """The module's `ast`; SyntaxError (ours, for the original source) when no Python accepts it.

    `dict(a=1, **base)` and `dict({...}, a=1)` come back as the dict display they equal (`{"a": 1, **base}`,
    at the call's position, each key at its keyword), so every reader of settings and config tables sees one
    shape: `CACHES = dict(default=dict(BACKEND=...))` is read as `CACHES = {"default": {"BACKEND": ...}}`."""
    tree = _parse(source, path)
    if "dict(" in source:
        lines = match_lines(source, _dict_calls(source))
        if lines:
            _dict_calls_as_displays(tree, lines)
    return tree


# `dict(` with keywords, `**` or a dict display, at a word boundary (textmemo.word_matches: a leading `\b` in
# the pattern made the search try every position of the text, 48 ms of superset's 7 MB, now 2)
_DICT_CALL = re.compile(r"dict\([ \t\r\n]{0,200}(?:\*\*|[A-Za-z_]\w{0,100}[ \t]{0,20}=[^=]|\{)")


def _dict_calls(source: str):
    return word_matches(_DICT_CALL, source)


def _as_display(node: ast.AST) -> ast.Dict | None:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict"
            and node.keywords and len(node.args) <= 1 and all(isinstance(a, ast.Dict) for a in node.args)):
        return None
    keys = list(node.args[0].keys) if node.args else []
    values = list(node.args[0].values) if node.args else []
    for kw in node.keywords:
        keys.append(None if kw.arg is None else ast.copy_location(ast.Constant(kw.arg), kw))
        values.append(kw.value)
    return ast.copy_location(ast.Dict(keys=keys, values=values), node)


def _dict_calls_as_displays(tree: ast.AST, lines: list[int]) -> None:
    """In place and without recursion (a 2,500-term sum, which `ast.parse` accepts, nests as deep), entering
    only nodes whose lines hold a `dict(` call (`lines`, sorted)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if not on_lines(node, lines):
            continue
        for name, value in ast.iter_fields(node):
            if isinstance(value, list):
                for i, child in enumerate(value):
                    if isinstance(child, ast.AST):
                        display = _as_display(child)
                        if display is not None:
                            value[i] = child = display
                        stack.append(child)
            elif isinstance(value, ast.AST):
                display = _as_display(value)
                if display is not None:
                    setattr(node, name, display)
                    value = display
                stack.append(value)


def _parse(source: str, path: str) -> ast.Module:
    try:
        return ast_parse(source, path)
    except SyntaxError as err:
        original = err
    except (RecursionError, MemoryError):
        # CPython's own parser gave up on the nesting; the other parsers would recurse deeper still (libcst's
        # native parser overflows the C stack on it): this file is not read
        raise SyntaxError(f"expressions nest too deeply to be read ({path})") from None
    if "too many nested" in str(original.msg) or str(original.msg).startswith(_EVERY_VERSION_REFUSES):
        raise original
    if _template_path(path):
        raise TemplateSource(path)
    from canary_lint.pyfast import rewrite

    try:
        tree = rewrite(source, path)
    except SyntaxError as err:
        if str(err.msg).startswith(_EVERY_VERSION_REFUSES):
            raise err from None  # the newer syntax was read; a literal further on is what no Python accepts
        tree = None
    except (ValueError, RecursionError):
        tree = None
    if tree is not None:
        return tree
    if is_template(source, path):
        raise TemplateSource(path)
    if _deeper_than(source, NATIVE_DEPTH) or _longer_than(source, NATIVE_TOKENS):
        raise original
    from canary_lint.pycst import cst_module

    try:
        return cst_module(source, path)
    except (SyntaxError, ValueError, RecursionError, KeyError, IndexError):
        # KeyError/IndexError: a node libcst built without a position, an offset past the source: what it read
        # cannot be mapped back onto the file, and the file is what `ast` said
        raise original from None


# brackets the native (libcst) parser may see: CPython refuses 200 nested parentheses; past this, the
# native parser's recursion could overflow the stack of the process
NATIVE_DEPTH = 150


def _deeper_than(source: str, limit: int) -> bool:
    """Do brackets nest past `limit` anywhere (strings counted too: a cheap, conservative scan)?"""
    if source.count("(") + source.count("[") + source.count("{") <= limit:
        return False
    depth = 0
    for ch in source:
        if ch in "([{":
            depth += 1
            if depth > limit:
                return True
        elif ch in ")]}":
            depth -= 1 if depth else 0
    return False


# tokens the native parser may see in one statement: on a syntax error its time grows much faster than the
# statement (a 10 KB chain of `not`, or of attribute reads, took 86 s and 35 s); a statement longer than this
# is a data table, not what a file needs the native parser for (such a file is not read: a CL001)
NATIVE_TOKENS = 1000
_LEXEME = re.compile(r"#[^\r\n]*|(?:[rRbBuUfFtT]{1,2})?(?:'''|\"\"\"|'|\")|\\(?:\r\n|[\r\n])|\r\n|[\r\n]|[([{]|[)\]}]|\w+"
                     r"|[^\s\w]")


def _longer_than(source: str, limit: int) -> bool:
    """Does one logical line hold more than `limit` tokens? A scan the way the tokenizer reads: a string is
    one token (its body skipped by the scan's bounded patterns), brackets and backslashes continue a line;
    an unterminated string counts its quote alone."""
    from canary_lint.pyscan import _BODY

    count = depth = 0
    pos, end = 0, len(source)
    while pos < end:
        m = _LEXEME.search(source, pos)
        if m is None:
            break
        text, pos = m.group(), m.end()
        last = text[-1]
        if last in "'\"":
            quote = text[-3:] if text[-3:] in ("'''", '"""') else last
            body = _BODY[quote].match(source, pos)
            if body:
                if any(c in "fFtT" for c in text[:-len(quote)]):  # the fields of an f-string are code the parser reads
                    count += _field_tokens(body.group())
                pos = body.end()
        elif text[0] == "#" or (text[0] == "\\" and len(text) > 1):
            continue
        elif last in "\r\n":
            if depth == 0:
                count = 0
            continue
        elif text in "([{":
            depth += 1
        elif text in ")]}":
            depth -= 1 if depth else 0
        count += 1
        if count > limit:
            return True
    return False


def _field_tokens(body: str) -> int:
    """Tokens inside the replacement fields of an f-string's body (`{{` is a brace of the text)."""
    count = depth = 0
    i, end = 0, len(body)
    while i < end:
        ch = body[i]
        if ch == "{" and depth == 0 and body.startswith("{{", i):
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        elif depth:
            m = _FIELD_TOKEN.match(body, i)
            if m:
                count += 1
                i = m.end()
                continue
        i += 1
    return count


_FIELD_TOKEN = re.compile(r"\w+|[^\s\w{}]")


def _template_path(path: str) -> bool:
    return any(_TEMPLATE_DIR.search(part) for part in path.replace("\\", "/").split("/"))


def is_template(source: str, path: str) -> bool:
    """Is this unparsable `*.py` a Jinja/Cookiecutter template? A `{{ … }}` directory or file name, or a
    `{{`, `{%` or `{#` outside strings and comments."""
    if _template_path(path):
        return True
    prev = None
    if stalls_tokenize(source):
        return bool(_TEMPLATE_LINE.search(source))
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if prev is not None and prev.string == "{" and tok.start == prev.end and (
                    tok.string in ("{", "%") or tok.type == tokenize.COMMENT):
                return True
            prev = tok
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return bool(_TEMPLATE_LINE.search(source))
    return False
