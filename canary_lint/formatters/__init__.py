"""Output formats: one module per format, each exposing `render(report, **options) -> str`.

Formatters are pure functions of the report: they never print, exit or read the network. The text
formatter takes a `read_source(path) -> list[str] | None` callback for excerpts.
"""

from __future__ import annotations

import importlib

FORMATS = {
    "text": "canary_lint.formatters.text",
    "concise": "canary_lint.formatters.concise",
    "json": "canary_lint.formatters.json",
    "sarif": "canary_lint.formatters.sarif",
    "github": "canary_lint.formatters.github",
    "gitlab": "canary_lint.formatters.gitlab",
    "junit": "canary_lint.formatters.junit",
    "markdown": "canary_lint.formatters.markdown",
}


def get(name: str):
    """The `render` function of format `name`; raises KeyError for an unknown or unavailable one."""
    module = FORMATS[name]
    try:
        return importlib.import_module(module).render
    except ModuleNotFoundError as exc:
        if exc.name == module:
            raise KeyError(name) from None
        raise


def available() -> list[str]:
    out = []
    for name, module in FORMATS.items():
        if importlib.util.find_spec(module) is not None:
            out.append(name)
    return out
