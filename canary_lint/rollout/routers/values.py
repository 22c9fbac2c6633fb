"""What a plan value may be before a router writes it into a config file, a runtime command or an argv.

The plan is operator input, trusted but still validated: a newline or `;` in an upstream would add nginx
directives, a space in a HAProxy name would add runtime-API arguments. Each value is matched whole
(`re.fullmatch`, so a trailing newline never passes the way `$` lets it) when the router is built, before any
traffic moves.
"""

from __future__ import annotations

import re
from pathlib import Path

from canary_lint.rollout.routers import RouterError

_HOST = r"(?:[A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9-]{1,63}){0,20}|\[[0-9A-Fa-f:.]{2,45}\])"
HOST_PORT = re.compile(_HOST + r":[0-9]{1,5}")
UPSTREAM = re.compile(HOST_PORT.pattern + r"|unix:/[A-Za-z0-9_./-]{1,200}")
HAPROXY_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")  # a name a router gives its own objects (Traefik routers, Envoy routes)
ENVOY_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,100}")  # Envoy cluster and route configuration names
DOMAIN = re.compile(r"\*|(?:\*\.)?" + _HOST + r"(?::[0-9]{1,5})?")  # an Envoy virtual host domain or a Host()
HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,100}")
HEADER_VALUE = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
ABS_PATH = re.compile(r"/[A-Za-z0-9_./@+-]{1,1000}")
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def require(kind: str, key: str, value, pattern: re.Pattern, what: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise RouterError(f"{kind} router: `{key}` must be {what}, got {value!r:.80}")
    return value


def header(kind: str, pair: tuple[str, str]) -> tuple[str, str]:
    require(kind, "header name", pair[0], HEADER_NAME, "letters, digits and '-'")
    require(kind, "header value", pair[1], HEADER_VALUE, "letters, digits and '_.:-'")
    return pair


def under(kind: str, key: str, path: str, directory: Path, dir_key: str = "include_dir",
          reader: str = "nginx includes it from") -> Path:
    """`path` resolved, refused unless it lies inside `directory` (symlinks resolved on both)."""
    target = Path(path)
    if not target.is_absolute():
        target = directory / target
    real, allowed = target.resolve(), directory.resolve()
    if allowed not in real.parents:
        raise RouterError(f"{kind} router: `{key}` {str(path)!r:.120} is not inside {allowed}; "
                          f"set `{dir_key}` to the directory {reader}")
    return real


def names(kind: str, key: str, value, pattern: re.Pattern, what: str) -> list[str]:
    """A non-empty list of values that each match `pattern` whole."""
    if not isinstance(value, list) or not value:
        raise RouterError(f"{kind} router: `{key}` must be a non-empty list, got {value!r:.80}")
    return [require(kind, f"{key}[{i}]", v, pattern, what) for i, v in enumerate(value)]


def placeholders(kind: str, key: str, template: str, allowed: frozenset[str]) -> None:
    """Refuse a command template using any placeholder but the documented `{name}`s (no attribute or index
    forms, no format specs), so nothing fails to expand after traffic has moved."""
    for m in PLACEHOLDER.finditer(template):
        text = m.group(0)
        if text in ("{{", "}}"):
            continue
        name = m.group(1)
        if name is None or name not in allowed:
            names = ", ".join("{" + n + "}" for n in sorted(allowed))
            raise RouterError(f"{kind} router: `{key}` uses {text!r}; only {names} are expanded (write {{{{ }}}} for a brace)")


def expand(template: str, values: dict[str, str]) -> str:
    """Expand a template that `placeholders` accepted: `{name}` by its value, `{{`/`}}` by one brace."""
    def one(m: re.Match) -> str:
        text = m.group(0)
        if text in ("{{", "}}"):
            return text[0]
        return values[m.group(1)]

    return PLACEHOLDER.sub(one, template)
