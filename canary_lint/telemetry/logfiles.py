"""Logging tables kept in JSON or YAML files beside the service's code (mealie's `logconf.prod.json`, loaded
and handed to `logging.config.dictConfig`): judged like a dictConfig table written in Python.

A file is read when it is named like a logging configuration (`log*.json`, `logging*.yaml`, …), sits in a
directory of the service's Python code, is not a development or test variant, and is shaped for dictConfig
(`version` and `formatters`).
"""

from __future__ import annotations

import ast
import json
import posixpath
import re

from canary_lint import yamlio
from canary_lint.telemetry.pyfacts import FileFacts, Scanner, _Module

NAME = re.compile(r"(?i)^log(?:ging)?[\w.-]*\.(?:json|ya?ml)$")
VARIANTS = ("dev", "test", "local", "debug", "example", "sample")
LIMITS = yamlio.Limits(max_bytes=1024 * 1024, max_nodes=50_000, max_depth=32)


def facts(ctx, serves, extra: tuple) -> list[FileFacts]:
    """FileFacts (log items with a line) of the logging tables in files of the service's directories."""
    dirs = {posixpath.dirname(f.path) for f in ctx.files_of("python") if serves(f.path)}
    out = []
    for f in ctx.files_of("json", "yaml"):
        name = posixpath.basename(f.path)
        if not NAME.match(name) or any(v in name.lower() for v in VARIANTS) or posixpath.dirname(f.path) not in dirs:
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
        Scanner(extra)._dict_config(table, table, _Module(), found, name)
        line = _line_of(text, "formatters")
        for item in found.items:
            item.node = ast.Constant(value=None, lineno=line, col_offset=0, end_lineno=line, end_col_offset=0)
        if found.items:
            out.append(found)
    return out


def _load(text: str, name: str):
    try:
        return json.loads(text) if name.lower().endswith(".json") else yamlio.load(text, LIMITS)
    except (ValueError, RecursionError):
        return None


def _line_of(text: str, key: str) -> int:
    for pattern in (f'"{key}"', f"'{key}'", f"{key}:"):
        at = text.find(pattern)
        if at >= 0:
            return text.count("\n", 0, at) + 1
    return 1
