"""The plan's routed steps: header and cookie routes, and the label matchers that tell their requests apart.

A header or cookie step routes the requests that match it to the canary whatever the weight; the steps after it
keep the route until the weight reaches 100. `metrics.header_routed` and `metrics.cookie_routed` name those
requests in the metrics (one label matcher each) so that a weight stage judges the requests the weight applies
to and a routed stage the requests its route sent. Errors are `RoutedError`; the plan loader says where.
"""

from __future__ import annotations

import re

from canary_lint.model import literal_repr

ROUTED = ("header", "cookie")  # the step kinds that route matching requests to the canary, whatever the weight
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')


class RoutedError(ValueError):
    """A routed step or matcher the plan cannot use (the message names it)."""


def routed_matchers(m: dict, data: dict, steps: list) -> tuple[tuple | None, tuple | None]:
    """metrics.header_routed and metrics.cookie_routed as (label, operator, value). `$route` needs one of them,
    and with either every request query places `$route` (a weight stage judges the requests the weight applies
    to, a header or cookie stage the requests its route sent to the canary), and every kind of route the plan
    steps through needs its own, so the requests of each are told apart from the others and the weighted ones."""
    queries = [(f"criterion {c['name']}: {k}", c[k]) for c in data["criteria"] for k in ("bad", "good", "total")
               if k in c]
    if "query" in data.get("traffic", {}):
        queries.append(("traffic: query", data["traffic"]["query"]))
    specs = {kind: m.get(f"{kind}_routed") for kind in ROUTED}
    if all(spec is None for spec in specs.values()):
        for where, q in queries + [(f"criterion {c['name']}: query", c.get("query", "")) for c in data["criteria"]]:
            if "$route" in q:
                raise RoutedError(f"{where} uses $route but metrics.header_routed is not set (nor "
                                  "metrics.cookie_routed)")
        return None, None
    found = {}
    for kind, spec in specs.items():
        if spec is None:
            continue
        match = _MATCHER.fullmatch(spec)
        if not match:
            raise RoutedError(f'metrics.{kind}_routed must be one label matcher, e.g. route="{kind}"')
        found[kind] = match.group(1), match.group(2), match.group(3)
    for i, step in enumerate(steps):
        if step.kind in ROUTED and step.kind not in found:
            other = next(iter(found))
            raise RoutedError(f'steps/{i}: {step.describe()}: set metrics.{step.kind}_routed too (e.g. '
                              f'route="{step.kind}"): metrics.{other}_routed is set, and {step.kind}-routed requests '
                              "must be told apart from those and from the weighted ones")
    named = " and ".join(f"metrics.{kind}_routed" for kind in found)
    for where, q in queries:
        if "$route" not in q:
            raise RoutedError(f'{where} must place $route ({named} {"are" if len(found) > 1 else "is"} set), e.g. '
                              '{version="$version",$route}, so routed and weighted requests are counted apart')
    return found.get("header"), found.get("cookie")


def check_cookie_steps(data: dict) -> None:
    """A cookie step's name and value, refused in one line naming the step (before the schema's messages): both
    are written into router configs (an nginx map, a HAProxy map file, a regular expression)."""
    from canary_lint.rollout.routers.values import COOKIE_NAME, COOKIE_VALUE

    steps = data.get("steps")
    for i, s in enumerate(steps if isinstance(steps, list) else []):
        c = s.get("cookie") if isinstance(s, dict) else None
        if not isinstance(c, dict):
            continue
        name, value = c.get("name"), c.get("value")
        if isinstance(name, str) and COOKIE_NAME.fullmatch(name) is None:
            raise RoutedError(f"steps/{i}: cookie name {literal_repr(name, 60)} is not one a router can match: use "
                              "1-100 letters, digits, '_', '.' or '-' (a cookie name is an RFC 6265 token)")
        if isinstance(value, str) and COOKIE_VALUE.fullmatch(value) is None:
            shown = name if isinstance(name, str) and COOKIE_NAME.fullmatch(name) else "?"
            raise RoutedError(f"steps/{i}: cookie {shown}: value {literal_repr(value, 60)} is not one a router can "
                              "match: use 1-200 letters, digits, '_', '.', ':' or '-'")
