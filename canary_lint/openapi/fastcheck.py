"""OpenAPI validation in well under a second on a 13 MB spec: the OpenAPI 3.x JSON Schemas (shipped in
`schemas/`: the copies openapi-spec-validator ships), checked with jsonschema-rs, plus the checks
openapi-spec-validator makes beyond the schema (path parameters resolved, unique operation ids, parameters and
tags, `required` names that an `allOf` never defines, OpenAPI 3.1 schema objects against the JSON Schema
2020-12 meta-schema).

`check(data)` returns `[(JSON pointer, reason)]`, or None when this path cannot judge the spec (jsonschema-rs
missing, Swagger 2.0, an OpenAPI version it has no schema for): the caller then runs openapi-spec-validator
itself, when it is installed. Nothing is fetched: validators are built offline.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from canary_lint.model import literal_repr, literal_text

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace", "query")
TEMPLATE = re.compile(r"\{([^{}/]+)\}")
SCHEMA_VERSIONS = {"3.0": "v3.0", "3.1": "v3.1", "3.2": "v3.2"}


def available() -> bool:
    try:
        import jsonschema_rs  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=4)
def _validator(folder: str):
    import jsonschema_rs
    from importlib import resources

    text = resources.files("canary_lint.openapi").joinpath(f"schemas/{folder}/schema.json").read_text(encoding="utf-8")
    return jsonschema_rs.validator_for(json.loads(text), offline=True)


def check(data, limit: int = 3) -> list[tuple[str, str]] | None:
    if not available() or not isinstance(data, dict) or not isinstance(data.get("openapi"), str):
        return None
    folder = SCHEMA_VERSIONS.get(data["openapi"][:3])
    if folder is None:
        return None
    try:
        validator = _validator(folder)
    except (OSError, ValueError):
        return None
    out: list[tuple[str, str]] = []
    try:
        for err in validator.iter_errors(data):
            err = _deepest(err)
            if _number_it_cannot_see(data, err):
                continue
            out.append(_best(err))
            if len(out) >= limit:
                return out
    except ValueError as exc:  # jsonschema-rs: "Recursion limit reached" on a document nested past its limit
        return [*out, ("", f"not validated: {str(exc).splitlines()[0][:120]} (the document nests deeper than "
                           "the validator reads)")][:limit]
    if out:
        return out
    for pointer, reason in _semantics(data, folder != "v3.0"):
        out.append((pointer, reason))
        if len(out) >= limit:
            break
    return out


# ---- messages ----------------------------------------------------------------------------------------
def _pointer(path) -> str:
    return "".join("/" + _text(p).replace("~", "~0").replace("/", "~1") for p in path)


def _best(err) -> tuple[str, str]:
    """(pointer, message) of the error a reader can act on (`_deepest`)."""
    err = _deepest(err)
    return _pointer(list(err.instance_path)), str(err.message).splitlines()[0][:300]


def _deepest(err):
    """Inside a oneOf/anyOf, the branch that is not the `$ref` alternative and the deepest error in it
    ("'notalist' is not of type 'array'" rather than "not valid under any")."""
    for _ in range(32):
        context = getattr(err.kind, "context", None)
        if not context:
            break
        branches = [b for b in context if b and not all(_wants_ref(e) for e in b)] or [b for b in context if b]
        if not branches:
            break
        candidates = [e for b in branches for e in b]
        err = max(candidates, key=lambda e: len(list(e.instance_path)))
    return err


def _number_it_cannot_see(data, err) -> bool:
    """jsonschema-rs receives a number past the float range (a hex YAML int of 5,000 digits, a JSON number
    read as inf) as null and reports "null is not of type …" for a spec that is valid: not an error."""
    if err.instance is not None:
        return False
    node = data
    for token in err.instance_path:
        try:
            node = node[token]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(node, (int, float)) and not isinstance(node, bool)


def _wants_ref(err) -> bool:
    return type(err.kind).__name__ == "Required" and '"$ref"' in str(err.message)


# ---- beyond the schema ---------------------------------------------------------------------------------
def _resolve(data: dict, node, depth: int = 0):
    """A local `$ref` followed (bounded); the node itself otherwise."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/") and depth < 16:
        target = data
        for part in node["$ref"][2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        if target is None:
            return node
        node, depth = target, depth + 1
    return node


def _params(data: dict, raw) -> list[dict]:
    return [p for p in (_resolve(data, x) for x in raw) if isinstance(p, dict)] if isinstance(raw, list) else []


def _semantics(data: dict, v31: bool):
    yield from _paths(data)
    tags = data.get("tags")
    if isinstance(tags, list):
        seen: set = set()
        for tag in tags:
            name = tag.get("name") if isinstance(tag, dict) else None
            if isinstance(name, str) and name in seen:
                yield "/tags", f"Duplicate tag name '{name}'"
            seen.add(name)
    for pointer, schema in _schemas(data):
        yield from _schema(data, pointer, schema, v31)


def _paths(data: dict):
    paths = data.get("paths")
    if not isinstance(paths, dict):
        return
    operation_ids: set = set()
    for url, item in paths.items():
        item = _resolve(data, item)
        if not isinstance(item, dict) or not isinstance(url, str):
            continue
        shared = _params(data, item.get("parameters"))
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            where = f"/paths/{_pointer([url])[1:]}/{method}"
            op_id = op.get("operationId")
            if isinstance(op_id, str):
                if op_id in operation_ids:
                    yield where, f"Operation ID '{op_id}' for '{method}' in '{url}' is not unique"
                operation_ids.add(op_id)
            own = _params(data, op.get("parameters"))
            seen: set = set()
            for p in own:
                key = (p.get("name"), p.get("in"))
                if key in seen:
                    yield where, f"Duplicate parameter '{_text(p.get('name'))}'"
                seen.add(key)
            declared = {p.get("name") for p in shared + own if p.get("in") == "path"}
            in_url = set(TEMPLATE.findall(url))
            for name in sorted(in_url - declared) + sorted(_text(n) for n in declared - in_url):
                yield where, f"Path parameter '{name}' for '{method}' operation in '{url}' was not resolved"


def _text(value) -> str:
    """A name as a message shows it: a name that is no string (`name: 0xfff…`, 5,000 digits) in bounded form."""
    return value if isinstance(value, str) else literal_text(value, 80)


def _schemas(data: dict):
    """(pointer, schema object) of every top-level schema: components.schemas and the `schema` of
    parameters, headers and media types (schemas nested inside these are checked through them)."""
    comps = data.get("components")
    schemas = comps.get("schemas") if isinstance(comps, dict) else None
    if isinstance(schemas, dict):
        for name, schema in schemas.items():
            yield f"/components/schemas/{_pointer([name])[1:]}", schema
    stack = [(data.get("paths"), "/paths")]
    if isinstance(comps, dict):
        stack += [(comps.get(k), f"/components/{k}") for k in ("parameters", "responses", "requestBodies", "headers")]
    visited = 0
    while stack and visited < 2_000_000:
        node, pointer = stack.pop()
        visited += 1
        if isinstance(node, dict):
            for key, value in node.items():
                child = f"{pointer}/{_pointer([key])[1:]}"
                if key == "schema" and isinstance(value, (dict, bool)):
                    yield child, value
                elif isinstance(value, (dict, list)):
                    stack.append((value, child))
        elif isinstance(node, list):
            stack.extend((v, f"{pointer}/{i}") for i, v in enumerate(node))


def _schema(data: dict, pointer: str, schema, v31: bool):
    if not isinstance(schema, (dict, bool)):
        yield pointer, f"{literal_repr(schema, 80)} is not of type 'object', 'boolean'"
        return
    if v31 and isinstance(schema, dict) and not isinstance(schema.get("$schema"), str):
        import jsonschema_rs

        try:
            jsonschema_rs.meta.validate({"$schema": "https://json-schema.org/draft/2020-12/schema", **schema})
        except jsonschema_rs.ValidationError as exc:
            where, reason = _best(exc) if hasattr(exc, "kind") else (_pointer(list(exc.instance_path)), str(exc.message))
            yield pointer + where, reason.splitlines()[0][:300]
            return
        except Exception:  # noqa: BLE001 - a meta-schema it cannot load: not judged here
            pass
    stack, seen = [(schema, pointer)], 0
    while stack and seen < 200_000:
        node, where = stack.pop()
        seen += 1
        node = _resolve(data, node) if isinstance(node, dict) and "$ref" in node and len(node) == 1 else node
        if not isinstance(node, dict):
            continue
        all_of = node.get("allOf")
        required = node.get("required")
        if isinstance(all_of, list) and isinstance(required, list):
            defined = set(node.get("properties") or {}) if isinstance(node.get("properties"), dict) else set()
            for part in all_of:
                part = _resolve(data, part)
                if isinstance(part, dict) and isinstance(part.get("properties"), dict):
                    defined |= set(part["properties"])
            missing = sorted(str(r) for r in required if r not in defined)
            if missing:
                yield where, f"Required list has not defined properties: {missing}"
        for key in ("allOf", "anyOf", "oneOf"):
            if isinstance(node.get(key), list):
                stack.extend((s, f"{where}/{key}/{i}") for i, s in enumerate(node[key])
                             if isinstance(s, dict) and "$ref" not in s)
        for key in ("not", "items"):
            if isinstance(node.get(key), dict) and "$ref" not in node[key]:
                stack.append((node[key], f"{where}/{key}"))
        if isinstance(node.get("properties"), dict):
            stack.extend((s, f"{where}/properties/{_pointer([k])[1:]}") for k, s in node["properties"].items()
                         if isinstance(s, dict) and "$ref" not in s)
