"""Dump the `ast` of each file named in LIST into OUT (a pickle), for bench/newpy/run.py.

    python dump.py LIST OUT ast|pysource

`ast`: the running Python's own `ast.parse` (a newer Python: the reference); `pysource`: canary-lint's
`parse` from whichever `canary_lint` is first on PYTHONPATH. Each file becomes a list of records, one per
node in pre-order: (type, scalar fields, (line, col, end line, end col), tag), where tag is `stmt`,
`call`, `part` (a literal or field of an f-string, or a format spec) or `expr`. `type_params` are left out
(our `ast` has no field for them). A file that does not parse becomes the error's class name. Runs on any
Python from 3.8 on, without canary-lint's dependencies for `ast`.
"""

import ast
import pickle
import sys
import warnings

POS = ("lineno", "col_offset", "end_lineno", "end_col_offset")
STRINGS = {"JoinedStr", "TemplateStr"}


def records(tree):
    out = []
    stack = [(tree, "expr")]
    while stack:
        node, tag = stack.pop()
        name = type(node).__name__
        scalars, kids = [], []
        for field in node._fields:
            if field == "type_params":
                continue
            value = getattr(node, field, None)
            values = value if isinstance(value, list) else [value]
            for v in values:
                if isinstance(v, ast.AST):
                    kid = "part" if name in STRINGS or field == "format_spec" else (
                        "stmt" if isinstance(v, ast.stmt) else "call" if isinstance(v, ast.Call) else "expr")
                    kids.append((v, kid))
                else:
                    scalars.append(repr(v))
        out.append((name, tuple(scalars), tuple(getattr(node, a, None) for a in POS), tag))
        stack.extend(reversed(kids))
    return out


def main(listing, target, how):
    paths = open(listing, encoding="utf-8").read().splitlines()
    if how == "pysource":
        from canary_lint.pysource import TemplateSource, parse
    else:
        TemplateSource = SyntaxError

        def parse(source, path):
            return ast.parse(source, filename=path)

    result = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in paths:
            source = open(path, "rb").read().decode("utf-8-sig", "replace")
            try:
                result[path] = records(parse(source, path))
            except (SyntaxError, TemplateSource, ValueError, RecursionError, MemoryError) as exc:
                result[path] = type(exc).__name__
    with open(target, "wb") as fh:
        pickle.dump(result, fh, protocol=4)


if __name__ == "__main__":
    main(*sys.argv[1:4])
