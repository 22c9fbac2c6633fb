"""The merged view of a schema: its `allOf` parts and `$ref` targets flattened into one `Flat`, plus shape
fingerprints (an inline schema and a `$ref` to the same shape print alike) and branch names.

A `Flat` is cached per (side, locations), so a component shared by hundreds of operations is merged once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from canary_lint.model import literal_json, literal_text
from canary_lint.openapi.refs import Loc, Spec

NOISE = frozenset({"description", "title", "example", "examples", "externalDocs", "summary", "$comment", "xml",
                   "deprecated"})
MATCH_ALL = frozenset({"", ".*", "^.*$", ".+", "^.+$", "^.*", ".*$", "(.*)", "^(.*)$"})


@dataclass
class Flat:
    loc: Loc
    types: frozenset | None = None
    nullable: bool = False
    format: str | None = None
    enum: tuple | None = None
    default: object = None
    has_default: bool = False
    lower: tuple | None = None  # (value, exclusive 0/1)
    upper: tuple | None = None  # (value, exclusive 0/-1)
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    unique: bool = False
    multiple_of: float | None = None
    patterns: tuple = ()
    items: tuple | None = None  # locs
    properties: dict = field(default_factory=dict)  # name -> tuple of locs
    required: frozenset = frozenset()
    additional: object = None  # None open, False closed, tuple of locs = schema
    read_only: bool = False
    write_only: bool = False
    unions: list = field(default_factory=list)  # [(kind, [Loc, ...])]
    discriminator: tuple | None = None  # (propertyName, mapping dict)
    disc_loc: Loc | None = None
    content: tuple = (None, None)  # (contentMediaType, contentEncoding) of an encoded string
    ext_enum: tuple | None = None  # x-extensible-enum: the values a server accepts, open for responses
    opaque: tuple = ()  # $refs that could not be followed
    # JSON Schema 2020-12 applicators (one entry per part that has them: parts are a conjunction)
    contains: tuple = ()  # ((loc, minContains, maxContains), ...)
    arrays: tuple = ()  # ((prefixItems locs, items loc or None), ...) for every part with either keyword
    conds: tuple = ()  # ((if loc, then loc or None, else loc or None), ...)
    subs: dict = field(default_factory=dict)  # "propertyNames" | ("dependentSchemas", name) | ... -> locs
    closed_by: str = "additionalProperties"  # the keyword that set `additional` to False
    anything: bool = False  # `{}`: no type and nothing but annotations, so every value (null too) is valid


# Python type names written where a JSON Schema type belongs (`type: str` in a hand-written or generated
# description): the author meant the JSON type, so `str` -> `string` is a correction, not a change
PYTHON_TYPE_NAMES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "dict": "object",
                     "list": "array", "None": "null", "NoneType": "null"}
ANNOTATIONS = frozenset({"description", "title", "readOnly", "writeOnly", "example", "examples", "default",
                         "deprecated", "nullable", "externalDocs", "xml", "$comment"})


def _types_of(node: dict, spec: Spec) -> tuple[frozenset | None, bool]:
    t = node.get("type")
    nullable = bool(node.get("nullable")) or bool(node.get("x-nullable"))
    if isinstance(t, list):
        types = {PYTHON_TYPE_NAMES.get(x, x) if isinstance(x, str) else literal_text(x) for x in t}
    elif isinstance(t, str):
        types = {PYTHON_TYPE_NAMES.get(t, t)}
    else:
        types = set()
        if "properties" in node or "additionalProperties" in node:
            types = {"object"}
        elif "items" in node:
            types = {"array"}
    if "null" in types:
        nullable = True
        types.discard("null")
        if not types:
            return None, True
    return (frozenset(types) if types else None), nullable


def _meet(a: frozenset | None, b: frozenset | None) -> frozenset | None:
    if a is None:
        return b
    if b is None:
        return a
    out = set()
    for t in a:
        for u in b:
            if t == u:
                out.add(t)
            elif {t, u} == {"integer", "number"}:
                out.add("integer")
    return frozenset(out)


def _is_null_branch(node) -> bool:
    return isinstance(node, dict) and (node.get("type") == "null" or node.get("type") == ["null"]) and len(
        [k for k in node if k not in NOISE]) == 1


class Flattener:
    """Flattens and fingerprints the schemas of two specs, "base" (v1) and "head" (v2)."""

    def __init__(self, base: Spec, head: Spec):
        self.specs = {"base": base, "head": head}
        self._flat = {"base": {}, "head": {}}
        self._prints: dict = {}

    def parts(self, side: str, locs, seen=None) -> list[Loc]:
        """The non-ref dicts whose conjunction is the schema (`allOf` expanded, refs followed)."""
        spec = self.specs[side]
        seen = set() if seen is None else seen
        out: list[Loc] = []
        for loc in locs:
            if loc is None:
                continue
            node = loc.node
            if isinstance(node, dict) and "$ref" in node:
                key = (loc.doc, loc.pointer)
                if key in seen:
                    continue
                seen.add(key)
                target = spec.target(loc, node["$ref"])
                if target is None:
                    out.append(loc)  # opaque
                    continue
                siblings = [k for k in node if k != "$ref" and k not in NOISE]
                out.extend(self.parts(side, [target], seen))
                if spec.v31 and siblings:
                    out.append(Loc(loc.doc, loc.pointer, {k: node[k] for k in siblings}))
                continue
            if not isinstance(node, dict):
                if node is True or node is None:
                    continue
                out.append(loc)
                continue
            out.append(loc)
            if isinstance(node.get("allOf"), list):
                out.extend(self.parts(side, [loc.child("allOf", i) for i in range(len(node["allOf"]))], seen))
        return out

    def flat(self, side: str, locs: tuple) -> Flat:
        key = tuple((l.doc, l.pointer) for l in locs if l is not None)
        cache = self._flat[side]
        if key in cache:
            return cache[key]
        spec = self.specs[side]
        parts = self.parts(side, locs)
        first = parts[0] if parts else (locs[0] if locs else Loc("", "", None))
        f = Flat(first)
        f.anything = all(isinstance(p.node, dict) and all(k in ANNOTATIONS or (isinstance(k, str) and k.startswith("x-"))
                                                          for k in p.node) for p in parts)
        types: frozenset | None = None
        nullable = False
        required: set = set()
        opaque = []
        for p in parts:
            node = p.node
            if not isinstance(node, dict):
                if node is False:
                    f.types = frozenset()
                continue
            if "$ref" in node:
                opaque.append(literal_text(node["$ref"]))
                continue
            t, n = _types_of(node, spec)
            types = _meet(types, t)
            nullable = nullable or n
            if ("contentMediaType" in node or "contentEncoding" in node) and f.content == (None, None):
                f.content = (node.get("contentMediaType"), node.get("contentEncoding"))
            if "format" in node and f.format is None:
                f.format = literal_text(node["format"], 80)
            if "enum" in node and isinstance(node["enum"], list):
                vals = tuple(v for v in node["enum"] if v is not None)
                if None in node["enum"]:
                    nullable = True
                f.enum = vals if f.enum is None else tuple(v for v in f.enum if v in vals)
            if isinstance(node.get("x-extensible-enum"), list):
                vals = tuple(node["x-extensible-enum"])
                f.ext_enum = vals if f.ext_enum is None else tuple(v for v in f.ext_enum if v in vals)
            if "const" in node:
                f.enum = (node["const"],) if f.enum is None else tuple(v for v in f.enum if v == node["const"])
            if "default" in node and not f.has_default:
                f.has_default, f.default = True, node["default"]
            lo = _bound(node, "minimum", "exclusiveMinimum", 1)
            hi = _bound(node, "maximum", "exclusiveMaximum", -1)
            if lo is not None and (f.lower is None or lo > f.lower):
                f.lower = lo
            if hi is not None and (f.upper is None or hi < f.upper):
                f.upper = hi
            for attr, key_, pick in (("min_length", "minLength", max), ("max_length", "maxLength", min),
                                     ("min_items", "minItems", max), ("max_items", "maxItems", min)):
                v = node.get(key_)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    cur = getattr(f, attr)
                    setattr(f, attr, v if cur is None else pick(cur, v))
            if node.get("uniqueItems") is True:
                f.unique = True
            if isinstance(node.get("multipleOf"), (int, float)):
                f.multiple_of = node["multipleOf"]
            if isinstance(node.get("pattern"), str) and node["pattern"] not in MATCH_ALL:
                f.patterns = (*f.patterns, node["pattern"])
            if "items" in node and isinstance(node["items"], (dict, bool)):
                il = p.child("items")
                f.items = (*f.items, il) if f.items else (il,)
            self._applicators(f, p, node)
            if isinstance(node.get("properties"), dict):
                for name in node["properties"]:
                    pl = p.child("properties", name)
                    f.properties[name] = (*f.properties.get(name, ()), pl)
            if isinstance(node.get("required"), list):
                required.update(literal_text(r) for r in node["required"])
            if "additionalProperties" in node:
                ap = node["additionalProperties"]
                if ap is False:
                    f.additional = False
                elif isinstance(ap, dict) and ap and f.additional is not False:
                    f.additional = (p.child("additionalProperties"),)
            if node.get("readOnly") is True:
                f.read_only = True
            if node.get("writeOnly") is True:
                f.write_only = True
            for kind in ("oneOf", "anyOf"):
                branches = node.get(kind)
                if isinstance(branches, list) and branches:
                    locs_ = [p.child(kind, i) for i in range(len(branches))]
                    real = [bl for bl in locs_ if not _is_null_branch(self.specs[side].deref(bl).node)]
                    if len(real) < len(locs_):
                        nullable = True
                    if len(real) == 1:
                        sub = self.flat(side, (real[0],))
                        _merge_into(f, sub)
                        types = _meet(types, sub.types)
                        nullable = nullable or sub.nullable
                        required |= sub.required
                    elif real:
                        f.unions.append((kind, real))
            d = node.get("discriminator")
            if isinstance(d, dict) and f.discriminator is None:
                f.discriminator = (d.get("propertyName"), d.get("mapping") if isinstance(d.get("mapping"), dict) else {})
                f.disc_loc = p.child("discriminator")
            elif isinstance(d, str) and f.discriminator is None:  # Swagger 2.0
                f.discriminator = (d, {})
                f.disc_loc = p.child("discriminator")
        f.types = types if f.types is None else f.types
        f.nullable = nullable
        f.required = frozenset(required)
        f.opaque = tuple(opaque)
        cache[key] = f
        return f

    @staticmethod
    def _applicators(f: Flat, p: Loc, node: dict) -> None:
        """Collect the sub-schemas of `contains`, `prefixItems`, `if`/`then`/`else`, `propertyNames`,
        `contentSchema`, `unevaluatedProperties`/`unevaluatedItems`, `patternProperties` and `dependentSchemas`
        (`dependentRequired` as the `dependentSchemas` it abbreviates) of one part."""
        if isinstance(node.get("contains"), (dict, bool)):
            lo, hi = node.get("minContains", 1), node.get("maxContains")
            lo = lo if isinstance(lo, int) and not isinstance(lo, bool) else 1
            hi = hi if isinstance(hi, int) and not isinstance(hi, bool) else None
            f.contains = (*f.contains, (p.child("contains"), lo, hi))
        prefix = node.get("prefixItems")
        items = node.get("items")
        if isinstance(prefix, list) or isinstance(items, (dict, bool)):
            locs = tuple(p.child("prefixItems", i) for i in range(len(prefix))) if isinstance(prefix, list) else ()
            f.arrays = (*f.arrays, (locs, p.child("items") if isinstance(items, (dict, bool)) else None))
        if isinstance(node.get("if"), (dict, bool)):
            f.conds = (*f.conds, (p.child("if"), p.child("then") if isinstance(node.get("then"), (dict, bool))
                                  else None, p.child("else") if isinstance(node.get("else"), (dict, bool)) else None))
        if node.get("unevaluatedProperties") is False and f.additional is not False:
            f.additional, f.closed_by = False, "unevaluatedProperties"  # the merged object lists every property
        for key in ("propertyNames", "contentSchema", "unevaluatedProperties", "unevaluatedItems"):
            if isinstance(node.get(key), dict if key.startswith("unevaluated") else (dict, bool)):
                f.subs[key] = (*f.subs.get(key, ()), p.child(key))
        for key in ("patternProperties", "dependentSchemas"):
            if isinstance(node.get(key), dict):
                for name, sub in node[key].items():
                    if isinstance(sub, (dict, bool)):
                        f.subs[(key, str(name))] = (*f.subs.get((key, str(name)), ()), p.child(key, name))
        if isinstance(node.get("dependentRequired"), dict):  # the same as dependentSchemas {name: {required}}
            for name, needs in node["dependentRequired"].items():
                if isinstance(needs, list):
                    at = p.child("dependentRequired", name)
                    sub = Loc(at.doc, at.pointer, {"required": [literal_text(n) for n in needs]})
                    f.subs[("dependentSchemas", str(name))] = (*f.subs.get(("dependentSchemas", str(name)), ()), sub)

    def flag(self, side: str, locs: tuple, name: str) -> bool:
        """Is `readOnly`/`writeOnly` set on the schema (its own node, its $ref target or an allOf part)?"""
        spec = self.specs[side]
        for loc in locs:
            node = spec.deref(loc).node
            if isinstance(node, dict):
                if node.get(name) is True or (isinstance(loc.node, dict) and loc.node.get(name) is True):
                    return True
                if "allOf" in node:
                    return self.flat(side, locs).read_only if name == "readOnly" else self.flat(side, locs).write_only
        return False

    # ---- shape fingerprints (to match oneOf/anyOf branches: inline ≡ $ref) ------------------------
    def fingerprint(self, side: str, loc: Loc) -> str:
        key = (side, loc.doc, loc.pointer)
        if key not in self._prints:
            canon = self._canon(side, loc, 0, set())
            self._prints[key] = literal_json(canon, sort_keys=True, default=str)
        return self._prints[key]

    def _canon(self, side: str, loc: Loc, depth: int, stack: set):
        spec = self.specs[side]
        loc = spec.deref(loc)
        node = loc.node
        where = (loc.doc, loc.pointer)
        if isinstance(node, dict):
            if depth > 12 or where in stack:
                return {"$cycle": loc.pointer.rsplit("/", 1)[-1]}
            stack.add(where)
            out = {k: self._canon(side, loc.child(k), depth + 1, stack) for k in node if k not in NOISE and not k.startswith("x-")}
            stack.discard(where)
            return out
        if isinstance(node, list):
            return [self._canon(side, loc.child(i), depth + 1, stack) for i in range(len(node))]
        return node

    def _branch_name(self, side: str, loc: Loc) -> str:
        node = loc.node
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            return node["$ref"].rsplit("/", 1)[-1]
        target = self.specs[side].deref(loc).node
        if isinstance(target, dict):
            if isinstance(target.get("title"), str):
                return target["title"]
            if isinstance(target.get("type"), str):
                return f"{target['type']} #{loc.pointer.rsplit('/', 1)[-1]}"
        return f"#{loc.pointer.rsplit('/', 1)[-1]}"


def _merge_into(f: Flat, sub: Flat) -> None:
    for name, locs in sub.properties.items():
        f.properties[name] = (*f.properties.get(name, ()), *locs)
    if sub.items:
        f.items = (*(f.items or ()), *sub.items)
    f.enum = sub.enum if f.enum is None else f.enum
    f.format = f.format or sub.format
    f.patterns = (*f.patterns, *sub.patterns)
    for attr in ("lower", "upper", "min_length", "max_length", "min_items", "max_items"):
        if getattr(f, attr) is None:
            setattr(f, attr, getattr(sub, attr))
    if sub.additional is False and f.additional is not False:
        f.additional, f.closed_by = False, sub.closed_by
    f.contains = (*f.contains, *sub.contains)
    f.arrays = (*f.arrays, *sub.arrays)
    f.conds = (*f.conds, *sub.conds)
    for key, locs in sub.subs.items():
        f.subs[key] = (*f.subs.get(key, ()), *locs)
    f.unions.extend(sub.unions)
    if f.discriminator is None:
        f.discriminator, f.disc_loc = sub.discriminator, sub.disc_loc


def _bound(node: dict, key: str, ex_key: str, sign: int) -> tuple | None:
    v = node.get(key)
    ex = node.get(ex_key)
    if isinstance(ex, (int, float)) and not isinstance(ex, bool):  # 3.1: exclusiveMinimum is the bound
        if not isinstance(v, (int, float)) or isinstance(v, bool) or (ex >= v if sign > 0 else ex <= v):
            return (ex, sign)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (v, sign if ex is True else 0)
    return None
