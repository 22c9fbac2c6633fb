"""Files for a newer Python than the one running canary-lint are analysed, not reported as unreadable."""

from __future__ import annotations

import ast
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canary_lint import pycst, pyscan, pysource
from canary_lint.examples import Case, run_case
from canary_lint.pysource import TemplateSource, TypeAlias, parse

NEW = ('type Alias = int\n\n\ndef f[T](x: T) -> T:\n    return x\n\n\nclass Box[T]:\n    pass\n\n\n'
       'try:\n    pass\nexcept ValueError, TypeError:\n    pass\nname = "x"\ns = f"{name + f"{name}"}"\n')


def test_newer_syntax_parses_with_exact_lines():
    tree = parse(NEW, "app.py")
    lines = {type(n).__name__: n.lineno for n in tree.body}
    assert lines["FunctionDef"] == 4 and lines["ClassDef"] == 8 and lines["Try"] == 12
    assert any(isinstance(n, ast.Assign) and n.lineno == 17 for n in tree.body)


def test_invalid_for_every_version_is_still_a_syntax_error():
    with pytest.raises(SyntaxError):
        parse("def f(:\n    pass\n", "bad.py")


def test_template_is_not_python():
    with pytest.raises(TemplateSource):
        parse("{% if x %}\nimport os\n{% endif %}\n", "tmpl.py")


def test_engine_checks_newer_files_and_skips_templates():
    state = 'from flask import Flask\napp = Flask(__name__)\nCARTS = {}\n\n\n@app.post("/cart")\ndef add():\n    CARTS["u"] = 1\n\n\n@app.get("/cart")\ndef show():\n    return CARTS["u"]\n'
    report = run_case(Case("T", "t", {"app.py": "type Alias = int\n" + state,
                                      "tmpl.py": "{% if x %}\nimport os\n{% endif %}\n"}, {}, [], {}))
    rules = {f.rule for f in report.findings}
    assert "CL001" not in rules
    assert "CLS101" in rules


# What Python 3.13's own `ast.parse` says of these sources (type_params left out: our `ast` has no field
# for them), node by node in pre-order: type, name or value, line:col-end_line:end_col.
GENERICS = r'''type Pair[K, V = int] = dict[K, V]
def first[T: (int, str), *Ts, **P](
    x: T,
) -> T:
    return x
class Box[
    T,
](Base):
    item: T
'''
FSTRINGS = r'''a = f"{name + "s"}" + "tail"
b = f"{'\n'.join(parts)}"
c = f"{
    name  # the name
}!"
d = f"{name!r:>{width}} {value = } {"q"}" "plain" f'{x:{'a'}}'
e = rf"\d{name}\{name} {"r"}"
g = f"\N{BULLET} {name["k"]:{w}.{p}}é{x}"
h = f"""{
    "é"!s:^5
} {y=!r  :10}"""
'''
EXCEPTS = "try:\n    pass\nexcept KeyError, ValueError:\n    pass\ntry:\n    pass\nexcept* OSError,ExceptionGroup:pass\n"
GENERICS_313 = [
    'TypeAlias@1:0-1:34', 'Name(Pair)@1:5-1:9', 'Subscript@1:24-1:34', 'Name(dict)@1:24-1:28', 'Tuple@1:29-1:33',
    'Name(K)@1:29-1:30', 'Name(V)@1:32-1:33', 'FunctionDef@2:0-5:12', 'arg@3:4-3:8', 'Name(T)@3:7-3:8',
    'Return@5:4-5:12', 'Name(x)@5:11-5:12', 'Name(T)@4:5-4:6', 'ClassDef@6:0-9:11', 'Name(Base)@8:2-8:6',
    'AnnAssign@9:4-9:11', 'Name(item)@9:4-9:8', 'Name(T)@9:10-9:11',
]
FSTRINGS_313 = [
    'Assign@1:0-1:28', 'Name(a)@1:0-1:1', 'BinOp@1:4-1:28', 'JoinedStr@1:4-1:19', 'FormattedValue@1:6-1:18',
    'BinOp@1:7-1:17', 'Name(name)@1:7-1:11', "Constant('s')@1:14-1:17", "Constant('tail')@1:22-1:28",
    'Assign@2:0-2:25', 'Name(b)@2:0-2:1', 'JoinedStr@2:4-2:25', 'FormattedValue@2:6-2:24', 'Call@2:7-2:23',
    'Attribute@2:7-2:16', "Constant('\\n')@2:7-2:11", 'Name(parts)@2:17-2:22', 'Assign@3:0-5:3', 'Name(c)@3:0-3:1',
    'JoinedStr@3:4-5:3', 'FormattedValue@3:6-5:1', 'Name(name)@4:4-4:8', "Constant('!')@5:1-5:2", 'Assign@6:0-6:62',
    'Name(d)@6:0-6:1', 'JoinedStr@6:4-6:62', 'FormattedValue@6:6-6:23', 'Name(name)@6:7-6:11',
    'JoinedStr@6:13-6:22', "Constant('>')@6:14-6:15", 'FormattedValue@6:15-6:22', 'Name(width)@6:16-6:21',
    "Constant(' value = ')@6:23-6:33", 'FormattedValue@6:24-6:34', 'Name(value)@6:25-6:30',
    "Constant(' ')@6:34-6:35", 'FormattedValue@6:35-6:40', "Constant('q')@6:36-6:39", "Constant('plain')@6:42-6:49",
    'FormattedValue@6:52-6:61', 'Name(x)@6:53-6:54', 'JoinedStr@6:54-6:60', 'FormattedValue@6:55-6:60',
    "Constant('a')@6:56-6:59", 'Assign@7:0-7:29', 'Name(e)@7:0-7:1', 'JoinedStr@7:4-7:29',
    "Constant('\\\\d')@7:7-7:9", 'FormattedValue@7:9-7:15', 'Name(name)@7:10-7:14', "Constant('\\\\')@7:15-7:16",
    'FormattedValue@7:16-7:22', 'Name(name)@7:17-7:21', "Constant(' ')@7:22-7:23", 'FormattedValue@7:23-7:28',
    "Constant('r')@7:24-7:27", 'Assign@8:0-8:42', 'Name(g)@8:0-8:1', 'JoinedStr@8:4-8:42',
    "Constant('• ')@8:6-8:17", 'FormattedValue@8:17-8:36', 'Subscript@8:18-8:27', 'Name(name)@8:18-8:22',
    "Constant('k')@8:23-8:26", 'JoinedStr@8:27-8:35', 'FormattedValue@8:28-8:31', 'Name(w)@8:29-8:30',
    "Constant('.')@8:31-8:32", 'FormattedValue@8:32-8:35', 'Name(p)@8:33-8:34', "Constant('é')@8:36-8:38",
    'FormattedValue@8:38-8:41', 'Name(x)@8:39-8:40', 'Assign@9:0-11:16', 'Name(h)@9:0-9:1', 'JoinedStr@9:4-11:16',
    'FormattedValue@9:8-11:1', "Constant('é')@10:4-10:8", 'JoinedStr@10:10-11:0', "Constant('^5\\n')@10:11-11:0",
    "Constant(' y=')@11:1-11:5", 'FormattedValue@11:2-11:13', 'Name(y)@11:3-11:4', 'JoinedStr@11:9-11:12',
    "Constant('10')@11:10-11:12",
]


def facts(tree) -> list[str]:
    out, stack = [], [tree]
    while stack:
        node = stack.pop()
        kids = []
        for field in node._fields:
            value = getattr(node, field, None)
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, ast.AST) and not isinstance(v, ast.expr_context) and field != "type_params":
                    kids.append(v)
        if hasattr(node, "lineno"):
            what = repr(node.value) if isinstance(node, ast.Constant) else getattr(node, "id", "") \
                if isinstance(node, ast.Name) else ""
            where = f"{node.lineno}:{node.col_offset}-{node.end_lineno}:{node.end_col_offset}"
            out.append(f"{type(node).__name__}{f'({what})' if what else ''}@{where}")
        stack.extend(reversed(kids))
    return out


@pytest.fixture
def no_libcst(monkeypatch):
    def refuse(source, path):
        raise AssertionError("libcst was asked")

    monkeypatch.setattr(pycst, "cst_module", refuse)


def test_generics_as_python_313_reads_them(no_libcst):
    assert facts(parse(GENERICS, "g.py")) == GENERICS_313


def test_pep701_fstrings_as_python_313_reads_them(no_libcst):
    assert facts(parse(FSTRINGS, "f.py")) == FSTRINGS_313


def test_except_tuples_as_python_314_reads_them(no_libcst):
    """PEP 758: the tuple spans its elements; what follows the colon keeps its column."""
    got = facts(parse(EXCEPTS, "e.py"))
    assert got == ["Try@1:0-4:8", "Pass@2:4-2:8", "ExceptHandler@3:0-4:8", "Tuple@3:7-3:27",
                   "Name(KeyError)@3:7-3:15", "Name(ValueError)@3:17-3:27", "Pass@4:4-4:8",
                   "TryStar@5:0-7:35", "Pass@6:4-6:8", "ExceptHandler@7:0-7:35", "Tuple@7:8-7:30",
                   "Name(OSError)@7:8-7:15", "Name(ExceptionGroup)@7:16-7:30", "Pass@7:31-7:35"]


def test_the_first_example_needs_no_libcst(no_libcst):
    assert isinstance(parse(NEW, "app.py").body[0], TypeAlias)


def test_libcst_reads_what_the_scan_does_not_follow(monkeypatch):
    asked = []
    real = pycst.cst_module
    monkeypatch.setattr(pycst, "cst_module", lambda s, p: asked.append(p) or real(s, p))
    tree = parse("x = 1; type A = int\n", "semi.py")
    assert asked == ["semi.py"]
    assert isinstance(tree.body[1], TypeAlias) and tree.body[1].name.id == "A"


@pytest.mark.parametrize("source", [
    "type X = \n", "def f[T(x):\n    pass\n", "try:\n    pass\nexcept A, B as e:\n    pass\n",
    "x = f'{'\n", "class C[T]\n", "x = f\"{a b}\"\n",
])
def test_invalid_for_every_version_stays_an_error(source):
    with pytest.raises(SyntaxError):
        parse(source, "bad.py")


@pytest.mark.parametrize("source", [
    "x = " + "(" * 100 + "\n", "x = " + 'f"{' * 35 + "1" + '}"' * 35 + "\n", "x = " + 'f"{' * 53 + "\n",
    "type X[" + "[" * 100 + "\n", "try: pass\nexcept " + "(" * 90 + "\n", "type A = int\nx = f\"" + "{" * 100 + '"\n',
    "type A = int\nx = f'{'\n'}'\n" * 5, "type A = int\n" + "f(" * 50 + ")" * 50 + "\n",
])
def test_small_hostile_files_end(source):
    try:
        assert isinstance(parse(source, "h.py"), ast.Module)
    except SyntaxError:
        pass


@pytest.mark.parametrize("source", [
    "a = 1; " + "type X = 1; " * 50_000, "x = [" + "type(a), " * 50_000 + "]\n",
    "except " * 50_000, "(except " * 50_000, "x = 'é' + f'{a}' " * 20_000 + "\n",
])
def test_the_scan_stays_linear(source):
    pyscan.scan(source)  # quadratic work over ~500 KB would not finish in any reasonable time


@pytest.mark.parametrize("literal", ["'\\N{BOGUS}'", "'\\x4'", "b'caf\u00e9'"])
def test_a_literal_no_python_decodes_is_a_syntax_error_without_asking_libcst(no_libcst, literal):
    # libcst does not decode literals: asked, it read a 255 KB file of them for 6 s and then failed anyway
    with pytest.raises(SyntaxError):
        parse("type Alias = int\nopts = {}\nopts[" + literal + "] = 1\n", "sentry.py")


def test_a_module_libcst_cannot_place_is_the_original_syntax_error(monkeypatch):
    def unplaced(source, path):
        raise KeyError("IndentedBlock")

    monkeypatch.setattr(pycst, "cst_module", unplaced)
    with pytest.raises(SyntaxError):
        parse("def f[T](x: T) -> T:\n    return x\n" + "x = (1 +\n", "g.py")


def test_dict_calls_read_as_the_display_they_equal():
    tree = parse('CACHES = dict(default=dict(BACKEND="locmem", **extra))\nx = dict({"a": 1}, b=2)\n'
                 'y = dict()\nz = dict(pairs)\n', "settings.py")
    caches, x, y, z = (stmt.value for stmt in tree.body)
    assert isinstance(caches, ast.Dict) and caches.keys[0].value == "default"
    assert (caches.lineno, caches.col_offset, caches.keys[0].col_offset) == (1, 9, 14)
    inner = caches.values[0]
    assert isinstance(inner, ast.Dict) and [k.value if k else None for k in inner.keys] == ["BACKEND", None]
    assert ast.literal_eval(x) == {"a": 1, "b": 2}
    assert isinstance(y, ast.Call) and isinstance(z, ast.Call)  # nothing to read: left as the calls they are


def test_dict_calls_in_a_very_deep_expression_do_not_recurse():
    source = "x = " + " + ".join(["dict(a=1)"] * 2500) + "\n"  # deeper than the recursion limit
    tree = parse(source, "deep.py")
    node = tree.body[0].value
    while isinstance(node, ast.BinOp):
        node = node.left
    assert isinstance(node, ast.Dict)


@settings(max_examples=400, derandomize=True, database=None)
@given(st.lists(st.sampled_from(["dict(", "x", "_", "a", "=", "==", " ", "\n", "{", "**", "é", "(", ")", "1"]),
                max_size=40).map("".join))
def test_dict_calls_are_the_matches_of_a_word_boundary_pattern(text):
    """The `dict(` finder tests the word boundary itself (a leading `\\b` in the pattern was slow on big files);
    it finds exactly what `\\bdict\\(...` finds, a `dict(` inside one after a word character included."""
    bounded = re.compile(r"\b" + pysource._DICT_CALL.pattern)
    assert [m.span() for m in pysource._dict_calls(text)] == [m.span() for m in bounded.finditer(text)]
