"""Normalize OpenAPI 3.0/3.1 and Swagger 2.0 into one operation model the diff reads.

Paths are matched by shape (`/orders/{orderId}` ≡ `/orders/{id}`); path parameters are keyed by their
position in the template, so renaming one is not a change. Header names compare case-insensitively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from canary_lint.model import literal_text
from canary_lint.openapi.refs import Loc, Spec

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
TEMPLATE = re.compile(r"\{[^{}/]*\}")
IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})


def shape(path: str) -> str:
    return TEMPLATE.sub("{}", path.rstrip("/") or "/")


def media_key(media: str) -> str:
    return media.split(";", 1)[0].strip().lower()


@dataclass
class Param:
    key: tuple  # (in, name) or ("path", position)
    name: str
    where: str  # path | query | header | cookie
    required: bool
    schema: Loc | None
    loc: Loc
    style: str | None = None
    explode: bool | None = None


@dataclass
class Body:
    required: bool
    content: dict  # media key -> (media as written, schema Loc | None)
    loc: Loc


@dataclass
class Response:
    status: str
    loc: Loc
    content: dict  # media key -> (media as written, schema Loc | None)
    headers: dict  # lower name -> (name, required, schema Loc | None, Loc)


@dataclass
class Operation:
    method: str
    path: str
    loc: Loc
    params: dict = field(default_factory=dict)
    body: Body | None = None
    responses: dict = field(default_factory=dict)
    security: list | None = None  # effective requirement alternatives; None = none declared
    security_loc: Loc | None = None
    security_global: bool = False
    callbacks: dict = field(default_factory=dict)  # name -> Loc
    ignore: frozenset = frozenset()

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def key(self) -> tuple:
        return (shape(self.path), self.method)


def _default_style(where: str) -> tuple[str, bool]:
    style = {"query": "form", "cookie": "form", "path": "simple", "header": "simple"}.get(where, "form")
    return style, style == "form"


def operations(spec: Spec) -> dict[tuple, Operation]:
    root = spec.root_loc()
    data = root.node if isinstance(root.node, dict) else {}
    out: dict[tuple, Operation] = {}
    paths = data.get("paths")
    if not isinstance(paths, dict):
        return out
    global_sec = data.get("security")
    consumes = data.get("consumes") or ["application/json"]
    produces = data.get("produces") or ["application/json"]
    for path, _ in paths.items():
        item_loc = spec.deref(root.child("paths", path))
        item = item_loc.node
        if not isinstance(item, dict):
            continue
        positions = {m.group()[1:-1]: i for i, m in enumerate(TEMPLATE.finditer(path))}
        shared = item.get("parameters") if isinstance(item.get("parameters"), list) else []
        for method in METHODS:
            op_node = item.get(method)
            if not isinstance(op_node, dict):
                continue
            op_loc = item_loc.child(method)
            op = Operation(method, path, op_loc)
            ign = op_node.get("x-canary-lint-ignore")
            if isinstance(ign, list):
                op.ignore = frozenset(literal_text(x) for x in ign)
            params: list[Loc] = [item_loc.child("parameters", i) for i in range(len(shared))]
            own = op_node.get("parameters") if isinstance(op_node.get("parameters"), list) else []
            params += [op_loc.child("parameters", i) for i in range(len(own))]
            form_props: list[tuple[str, Loc, bool]] = []
            for raw in params:
                p_loc = spec.deref(raw)
                p = p_loc.node
                if not isinstance(p, dict) or not isinstance(p.get("name"), str):
                    continue
                where = p.get("in")
                name = p["name"]
                if where == "body":  # Swagger 2.0
                    media = op_node.get("consumes") or consumes
                    schema = p_loc.child("schema") if "schema" in p else None
                    op.body = Body(bool(p.get("required")), {media_key(m): (m, schema) for m in media}, p_loc)
                    continue
                if where == "formData":
                    form_props.append((name, p_loc, bool(p.get("required"))))
                    continue
                if where not in ("path", "query", "header", "cookie"):
                    continue
                if where == "header" and name.lower() in IGNORED_HEADERS:
                    continue  # OpenAPI: these header parameters are ignored (content negotiation, security)
                if where == "path":
                    key = ("path", positions.get(name, name))
                elif where == "header":
                    key = ("header", name.lower())
                else:
                    key = (where, name)
                if "schema" in p:
                    schema = p_loc.child("schema")
                elif "content" in p and isinstance(p["content"], dict) and p["content"]:
                    media = next(iter(p["content"]))
                    schema = p_loc.child("content", media, "schema")
                else:
                    schema = p_loc if spec.swagger else None  # 2.0: the parameter is its own schema
                dstyle, dexplode = _default_style(where)
                style = p.get("style", dstyle) if not spec.swagger else p.get("collectionFormat", "csv")
                explode = p.get("explode", style == "form") if not spec.swagger else None
                op.params[key] = Param(key, name, where, bool(p.get("required")) or where == "path", schema, p_loc,
                                       style, explode)
            if form_props:
                media = [m for m in (op_node.get("consumes") or consumes) if "form" in m] or ["application/x-www-form-urlencoded"]
                synthetic = {"type": "object", "properties": {n: loc.node for n, loc, _ in form_props},
                             "required": [n for n, _, r in form_props if r]}
                first = form_props[0][1]
                op.body = Body(any(r for _, _, r in form_props), {media_key(m): (m, Loc(first.doc, first.pointer, synthetic))
                                                                   for m in media}, first)
            if not spec.swagger and "requestBody" in op_node:
                b_loc = spec.deref(op_loc.child("requestBody"))
                b = b_loc.node if isinstance(b_loc.node, dict) else {}
                content = b.get("content") if isinstance(b.get("content"), dict) else {}
                op.body = Body(bool(b.get("required")), {
                    media_key(m): (m, b_loc.child("content", m, "schema") if isinstance(v, dict) and "schema" in v else None)
                    for m, v in content.items()}, b_loc)
            responses = op_node.get("responses") if isinstance(op_node.get("responses"), dict) else {}
            for status in responses:
                r_loc = spec.deref(op_loc.child("responses", status))
                r = r_loc.node if isinstance(r_loc.node, dict) else {}
                if spec.swagger:
                    media = op_node.get("produces") or produces
                    schema = r_loc.child("schema") if "schema" in r else None
                    content = {media_key(m): (m, schema) for m in media} if schema else {}
                else:
                    c = r.get("content") if isinstance(r.get("content"), dict) else {}
                    content = {media_key(m): (m, r_loc.child("content", m, "schema") if isinstance(v, dict) and "schema" in v else None)
                               for m, v in c.items()}
                headers = {}
                for h_name in (r.get("headers") or {}) if isinstance(r.get("headers"), dict) else {}:
                    h_loc = spec.deref(r_loc.child("headers", h_name))
                    h = h_loc.node if isinstance(h_loc.node, dict) else {}
                    schema = h_loc.child("schema") if "schema" in h else (h_loc if spec.swagger else None)
                    headers[h_name.lower()] = (h_name, bool(h.get("required")), schema, h_loc)
                op.responses[str(status)] = Response(str(status), r_loc, content, headers)
            if "security" in op_node:
                op.security = op_node["security"] if isinstance(op_node["security"], list) else []
                op.security_loc = op_loc.child("security")
            elif isinstance(global_sec, list):
                op.security = global_sec
                op.security_loc = root.child("security")
                op.security_global = True
            callbacks = op_node.get("callbacks")
            if isinstance(callbacks, dict):
                for cb_name, cb in callbacks.items():
                    cb_loc = spec.deref(op_loc.child("callbacks", cb_name))
                    if isinstance(cb_loc.node, dict):
                        for expr in cb_loc.node:
                            op.callbacks[f"{cb_name} {expr}"] = cb_loc
            out.setdefault(op.key, op)
    return out


def webhooks(spec: Spec) -> dict[str, Loc]:
    """"name METHOD" -> the webhook's Loc (OpenAPI 3.1 `webhooks`)."""
    root = spec.root_loc()
    data = root.node if isinstance(root.node, dict) else {}
    hooks = data.get("webhooks")
    out = {}
    if isinstance(hooks, dict):
        for name in hooks:
            loc = root.child("webhooks", name)
            item = spec.deref(loc).node
            if isinstance(item, dict):
                for method in METHODS:
                    if method in item:
                        out[f"{name} {method.upper()}"] = loc
    return out
