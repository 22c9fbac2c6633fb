"""Deployment YAML as line-aware mappings: every mapping remembers where it and each of its keys are (for
findings), Helm templates are read with their `{{ … }}` actions replaced by a placeholder, and a file whose
aliases expand past `DEPLOY_LIMITS` is refused, not walked."""

from __future__ import annotations

from canary_lint import yamlio

TPL = "__tpl__"


class Map(dict):
    """A mapping that remembers the 1-based line and column of itself and of each key."""

    line = 1
    column = 1
    key_lines: dict


def _convert(node, active: set | None = None):
    import yaml

    active = set() if active is None else active
    if id(node) in active:  # a recursive alias (yamlio refuses them; kept for nodes built elsewhere)
        return None
    if isinstance(node, yaml.MappingNode):
        active.add(id(node))
        out = Map()
        out.line, out.column = node.start_mark.line + 1, node.start_mark.column + 1
        out.key_lines = {}
        for k, v in node.value:
            key = _convert(k, active)
            if isinstance(key, (dict, list)):
                continue
            key = str(key) if key is not None else ""
            out[key] = _convert(v, active)
            out.key_lines[key] = (k.start_mark.line + 1, k.start_mark.column + 1)
        active.discard(id(node))
        return out
    if isinstance(node, yaml.SequenceNode):
        active.add(id(node))
        out = [_convert(v, active) for v in node.value]
        active.discard(id(node))
        return out
    return node.value if node is not None else None


def detemplate(text: str) -> str:
    """Helm: a line that is only an action (`{{- include ... | nindent 8 }}`) becomes a placeholder key, any
    other action a placeholder value; a mapping holding a placeholder key is "cannot tell". One pass over
    each line with str.find (linear: an action that never closes ends the line's scan)."""
    out = []
    count = 0
    for line in text.split("\n"):
        if "{{" not in line:
            out.append(line)
            continue
        stripped = line.lstrip(" \t")
        indent = line[: len(line) - len(stripped)]
        body = stripped[1:].lstrip(" \t") if stripped.startswith("-") else stripped
        if body.startswith("{{"):
            close = body.find("}}", 2)
            if close >= 0 and not body[close + 2:].strip(" \t\r"):
                count += 1
                out.append(f"{indent}{TPL}{count}: x")
                continue
        out.append(_actions_to_placeholder(line))
    return "\n".join(out)


def _actions_to_placeholder(line: str) -> str:
    parts = []
    at = 0
    while True:
        start = line.find("{{", at)
        if start < 0:
            break
        close = line.find("}}", start + 2)
        if close < 0:
            break
        parts.append(line[at:start])
        parts.append(TPL)
        at = close + 2
    parts.append(line[at:])
    return "".join(parts)


# deploy files are small: a file whose aliases expand past this is refused, not walked
DEPLOY_LIMITS = yamlio.Limits(max_bytes=8 * 1024 * 1024, max_nodes=500_000, max_depth=200)


def load_yaml_docs(text: str, path: str = "", unread: list | None = None) -> list:
    """The documents of `text`; a YAML error is appended to `unread` as (path, line, message) when given."""
    try:
        return [_convert(n) for n in yamlio.compose_all(text, DEPLOY_LIMITS)]
    except yamlio.YamlError as exc:
        if unread is not None and exc.message.startswith("YAML") and path:
            unread.append((path, exc.line or 1, exc.message))
        return []  # not YAML we can read (a Helm template with control flow, say): nothing to learn here
