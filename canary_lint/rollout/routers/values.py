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
# a cookie name is an RFC 6265 token; of its characters only those no router's config treats specially
COOKIE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
COOKIE_VALUE = HEADER_VALUE
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


def cookie(kind: str, pair: tuple[str, str]) -> tuple[str, str]:
    require(kind, "cookie name", pair[0], COOKIE_NAME, "letters, digits and '_.-'")
    require(kind, "cookie value", pair[1], COOKIE_VALUE, "letters, digits and '_.:-'")
    return pair


_COOKIE_BEFORE, _COOKIE_AFTER = r"^(?:.*;\s*)?", r"(?:;.*)?$"


def cookie_regex(pair: tuple[str, str]) -> str:
    """A regular expression matching a whole Cookie header that carries `name=value` (RE2 and Go regexp, matched
    whole or searched: it is anchored at both ends). Of the characters a name or value may hold only '.' is
    special in a regular expression."""
    name, value = (part.replace(".", r"\.") for part in pair)
    return f"{_COOKIE_BEFORE}{name}={value}{_COOKIE_AFTER}"


def cookie_of_regex(regex: str) -> tuple[str, str] | None:
    """The (name, value) of a regular expression `cookie_regex` wrote; None for any other."""
    if not (regex.startswith(_COOKIE_BEFORE) and regex.endswith(_COOKIE_AFTER)):
        return None
    name, eq, value = regex[len(_COOKIE_BEFORE):-len(_COOKIE_AFTER)].partition("=")
    pair = (name.replace(r"\.", "."), value.replace(r"\.", "."))
    if not eq or COOKIE_NAME.fullmatch(pair[0]) is None or COOKIE_VALUE.fullmatch(pair[1]) is None:
        return None
    return pair if cookie_regex(pair) == regex else None


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
