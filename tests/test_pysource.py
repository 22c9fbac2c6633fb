"""Files for a newer Python than the one running canary-lint are analysed, not reported as unreadable."""

from __future__ import annotations

import ast

import pytest

from canary_lint.examples import Case, run_case
from canary_lint.pysource import TemplateSource, parse

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
