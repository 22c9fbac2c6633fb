"""Logging tables kept in JSON or YAML files beside the service's code (mealie's `logconf.prod.json`, loaded
and handed to `logging.config.dictConfig`): judged like a dictConfig table written in Python.

A file is read when it is named like a logging configuration (`log*.json`, `logging*.yaml`, …), sits in a
directory of the service's Python code, is not a development or test variant, and is shaped for dictConfig
(`version` and `formatters`). A sample or template (`logging.yaml.sample`, `log.example.json`) is read when
the service's code names it: then it is the table the service loads when nothing else is configured.
"""

from __future__ import annotations

import ast
import json
import posixpath
import re

from canary_lint import yamlio
from canary_lint.telemetry.pyfacts import Scanner
from canary_lint.telemetry.pyvocab import FileFacts, Module

NAME = re.compile(r"(?i)^log(?:ging)?[\w.-]*\.(?:json|ya?ml)$")
VARIANTS = ("dev", "test", "local", "debug", "example", "sample")
LIMITS = yamlio.Limits(max_bytes=1024 * 1024, max_nodes=50_000, max_depth=32)


def facts(ctx, serves, extra: tuple) -> list[FileFacts]:
    """FileFacts (log items with a line) of the logging tables in files of the service's directories."""
    served = [f for f in ctx.files_of("python") if serves(f.path)]
    dirs = {posixpath.dirname(f.path) for f in served}
    out = []
    named: set[str] | None = None
    for f in ctx.files_of("json", "yaml"):
        name = posixpath.basename(f.path)
        if not NAME.match(name.rsplit(".", 1)[0] if SAMPLE.search(name) else name) or posixpath.dirname(f.path) not in dirs:
            continue
        if any(v in name.lower() for v in VARIANTS):
            if not SAMPLE.search(name):
                continue  # a development or test table, whoever names it
            if named is None:
                named = _named_in_code(ctx, served)
            if name not in named:
                continue
        text = ctx.text(f)
        data = _load(text, name) if text else None
        if not (isinstance(data, dict) and "version" in data and isinstance(data.get("formatters"), dict)):
            continue
        try:
            table = ast.parse(repr(data), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        found = FileFacts(f.path)
        Scanner(extra)._dict_config(table, table, Module(), found, name)
        line = _line_of(text, "formatters")
        for item in found.items:
            item.node = ast.Constant(value=None, lineno=line, col_offset=0, end_lineno=line, end_col_offset=0)
        if found.items:
            out.append(found)
    return out


SAMPLE = re.compile(r"(?i)\.(?:sample|example|dist|default|tmpl|template)$")
QUOTED_NAME = re.compile(r"""["']([\w.-]{1,80}\.(?:json|ya?ml)(?:\.\w{1,10})?)["']""")


def _named_in_code(ctx, served) -> set[str]:
    """File names the service's code writes in string literals (`'logging.yaml.sample'`)."""
    out: set[str] = set()
    for f in served:
        text = ctx.text(f) or ""
        if ".json" in text or ".y" in text:
            out.update(QUOTED_NAME.findall(text))
    return out


def _load(text: str, name: str):
    try:
        return json.loads(text) if ".json" in name.lower() else yamlio.load(text, LIMITS)
    except (ValueError, RecursionError):
        return None


def _line_of(text: str, key: str) -> int:
    for pattern in (f'"{key}"', f"'{key}'", f"{key}:"):
        at = text.find(pattern)
        if at >= 0:
            return text.count("\n", 0, at) + 1
    return 1
