"""Schemas: the merged (allOf-flattened) view and the direction-aware comparison.

In a request, v1 clients send values valid under the base schema: a change breaks them when the head
schema rejects some of those values (narrowing). In a response, v1 clients parse values the head emits:
a change breaks them when the head may emit values the base schema did not allow (widening).

`Differ.compare(b_locs, h_locs, direction)` returns `Change`s with a path relative to the compared schema;
results are memoized per (base locations, head locations, direction), so a component shared by hundreds of
operations is compared once; a `$ref` cycle is cut where it closes.

Sub-schemas of JSON Schema 2020-12 (`contains`, `prefixItems`, `then`/`else`, `propertyNames`, ...) are
compared in the same direction as the schema holding them; a missing one accepts everything, and the path of
a change names it (`tags<contains>`, `point[0]`, `<then>.amount`, `<when card is present>.cvc`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from canary_lint.model import literal_json, literal_text
from canary_lint.openapi.refs import Loc, Spec

REQ, RESP = "request", "response"
MAX_NESTING = 150
NOISE = frozenset({"description", "title", "example", "examples", "externalDocs", "summary", "$comment", "xml",
                   "deprecated"})
MATCH_ALL = frozenset({"", ".*", "^.*$", ".+", "^.+$", "^.*", ".*$", "(.*)", "^(.*)$"})
# formats that, added where none was, reject nothing a client sends in practice (64-bit numbers, hints)
_ANNOTATION_FORMATS = frozenset({"int64", "double", "password", "binary"})
_WIDER_FORMATS = {("int32", "int64"), ("float", "double"), ("int32", "double"), ("int64", "double")}


@dataclass(frozen=True)
class Change:
    code: str
    rel: tuple  # path segments below the compared schema ("name", "[]", "*", "oneOf[…]")
    side: str  # "base" (the location is in v1's spec) or "head"
    loc: Loc
    detail: str  # completes "<subject> …" (says what v1 clients suffer)
    severity: str | None = None  # None: the rule's default

    def under(self, seg: str) -> "Change":
        return Change(self.code, (seg, *self.rel), self.side, self.loc, self.detail, self.severity)


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


ANNOTATIONS = frozenset({"description", "title", "readOnly", "writeOnly", "example", "examples", "default",
                         "deprecated", "nullable", "externalDocs", "xml", "$comment"})


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


def covers(wide: frozenset | None, narrow: frozenset | None) -> bool:
    """Does every value of a type in `narrow` also belong to `wide`?"""
    if wide is None:
        return True
    if narrow is None:
        return False
    return all(t in wide or (t == "integer" and "number" in wide) for t in narrow)


def _fmt_types(types: frozenset | None) -> str:
    return "any" if types is None else "|".join(sorted(types)) or "nothing"


def _is_null_branch(node) -> bool:
    return isinstance(node, dict) and (node.get("type") == "null" or node.get("type") == ["null"]) and len(
        [k for k in node if k not in NOISE]) == 1


class Differ:
    def __init__(self, base: Spec, head: Spec):
        self.specs = {"base": base, "head": head}
        self._flat = {"base": {}, "head": {}}
        self._memo: dict = {}
        self._active: set = set()
        self._prints: dict = {}

    # ---- the merged view -----------------------------------------------------------------------
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

    # ---- comparison ----------------------------------------------------------------------------
    def compare(self, b_locs: tuple, h_locs: tuple, direction: str) -> list[Change]:
        key = (self._key("base", b_locs), self._key("head", h_locs), direction)
        if key in self._memo:
            return self._memo[key]
        if key in self._active or len(self._active) > MAX_NESTING:
            return []  # a $ref cycle (the outer comparison covers it), or nesting no real schema has
        self._active.add(key)
        try:
            result = self._compare(self.flat("base", b_locs), self.flat("head", h_locs), direction)
        finally:
            self._active.discard(key)
        self._memo[key] = result
        return result

    def _key(self, side: str, locs: tuple) -> tuple:
        """Where the schema really lives: pure `{$ref: …}` wrappers followed, so a recursive schema reached
        through another path is recognized as the one being compared."""
        spec = self.specs[side]
        out = []
        for loc in locs:
            node = loc.node
            if isinstance(node, dict) and "$ref" in node and (len(node) == 1 or not spec.v31):
                loc = spec.deref(loc)
            out.append((loc.doc, loc.pointer))
        return tuple(out)

    def _compare(self, b: Flat, h: Flat, d: str) -> list[Change]:
        out: list[Change] = []
        if b.opaque or h.opaque:
            if b.opaque != h.opaque:
                return out  # an unfollowed $ref on either side: reported once as a ref problem
        req = d == REQ
        add = out.append
        if bool(b.unions) != bool(h.unions):  # a union appeared or collapsed: compare variant by variant
            return self._unions(b, h, d)
        # type, format, null
        if req:
            if h.types is not None and not covers(h.types, b.types):
                add(Change("CLA112", (), "head", h.loc, f"changed type from {_fmt_types(b.types)} to "
                           f"{_fmt_types(h.types)}; v1 clients still send {_fmt_types(b.types)}"))
            elif h.format and b.format != h.format and (b.format, h.format) not in _WIDER_FORMATS and not (
                    b.format is None and h.format in _ANNOTATION_FORMATS):
                add(Change("CLA112", (), "head", h.loc, f"changed format from {b.format or 'none'} to {h.format}; "
                           "values v1 clients send may no longer validate"))
            if b.nullable and not h.nullable and not h.anything:
                add(Change("CLA112", (), "head", h.loc, "no longer accepts null; v1 clients may send null"))
            if h.content != (None, None) and h.content != b.content:
                add(Change("CLA112", (), "head", h.loc, f"changed its encoded content from {_content(b.content)} "
                           f"to {_content(h.content)}; v1 clients still encode it the old way"))
        else:
            if b.types is not None and not covers(b.types, h.types):
                add(Change("CLA134", (), "head", h.loc, f"changed type from {_fmt_types(b.types)} to "
                           f"{_fmt_types(h.types)}; v1 clients parse it as {_fmt_types(b.types)}"))
            elif b.format and h.format != b.format and (h.format, b.format) not in _WIDER_FORMATS:
                add(Change("CLA134", (), "head", h.loc, f"changed format from {b.format} to {h.format or 'none'}; "
                           "v1 clients parse the old format"))
            if h.nullable and not b.nullable and not b.anything:
                add(Change("CLA133", (), "head", h.loc, "may now be null; v1 clients do not expect null"))
            if b.content != (None, None) and h.content != b.content:
                add(Change("CLA134", (), "head", h.loc, f"changed its encoded content from {_content(b.content)} "
                           f"to {_content(h.content)}; v1 clients decode it the old way"))
        # enum
        if req:
            if h.enum is not None and b.enum is None:
                add(Change("CLA113", (), "head", h.loc, f"is now limited to {_values(h.enum)}; v1 clients may "
                           "send other values"))
            elif h.enum is not None and b.enum is not None:
                gone = [v for v in b.enum if v not in h.enum]
                if gone:
                    add(Change("CLA113", (), "head", h.loc, f"no longer accepts {_values(gone)}; v1 clients still "
                               "send it"))
            if b.ext_enum is not None and h.ext_enum is not None:
                gone = [v for v in b.ext_enum if v not in h.ext_enum]
                if gone:
                    add(Change("CLA113", (), "head", h.loc, f"no longer accepts the x-extensible-enum values "
                               f"{_values(gone)}; v1 clients still send them"))
        else:
            if b.enum is not None and h.enum is not None:
                new = [v for v in h.enum if v not in b.enum]
                if new and not any(v in h.enum for v in b.enum):
                    add(Change("CLA134", (), "head", h.loc, f"now returns {_values(new)} instead of "
                               f"{_values(b.enum)}; v1 clients check for the old value"))
                elif new:
                    add(Change("CLA135", (), "head", h.loc, f"may now return {_values(new)}, which v1 clients do "
                               "not know; they must tolerate unknown values"))
            elif b.enum is not None and h.enum is None and not _has_changed_type(out):
                add(Change("CLA135", (), "head", h.loc, f"is no longer limited to {_values(b.enum)}; v1 clients "
                           "may not handle other values"))
        out.extend(self._constraints(b, h, req))
        # objects
        if req:
            out.extend(self._request_object(b, h))
        else:
            out.extend(self._response_object(b, h))
        if b.items and h.items:
            out.extend(c.under("[]") for c in self.compare(b.items, h.items, d))
        if isinstance(b.additional, tuple) and isinstance(h.additional, tuple):
            out.extend(c.under("*") for c in self.compare(b.additional, h.additional, d))
        out.extend(self._contains(b, h, d))
        out.extend(self._prefix_items(b, h, d))
        out.extend(self._conditionals(b, h, d))
        out.extend(self._subschemas(b, h, d))
        out.extend(self._unions(b, h, d))
        if b.discriminator and h.discriminator:
            bp, bm = b.discriminator
            hp, hm = h.discriminator
            dloc = h.disc_loc or h.loc
            if bp != hp:
                add(Change("CLA138", (), "head", dloc, f"discriminator changed from `{bp}` to `{hp}`; v1 "
                           f"{'clients send' if req else 'clients read'} `{bp}` to pick the variant"))
            else:
                if req:
                    gone = [k for k in bm if k not in hm]
                    if gone and hm:
                        add(Change("CLA138", (), "head", dloc, f"discriminator no longer maps {_values(gone)}; "
                                   "v1 clients still send them"))
                else:
                    moved = [k for k in bm if k in hm and hm[k] != bm[k]]
                    if moved:
                        add(Change("CLA138", (), "head", dloc, f"discriminator maps {_values(moved)} to other "
                                   "schemas; v1 clients decode them with the old ones"))
        return out

    def _constraints(self, b: Flat, h: Flat, req: bool) -> list[Change]:
        out = []
        checks = (("minimum", b.lower, h.lower, 1), ("maximum", b.upper, h.upper, -1),
                  ("minLength", b.min_length, h.min_length, 1), ("maxLength", b.max_length, h.max_length, -1),
                  ("minItems", b.min_items, h.min_items, 1), ("maxItems", b.max_items, h.max_items, -1))
        for name, bv, hv, sign in checks:
            bk, hk = _bound_key(bv, sign), _bound_key(hv, sign)
            if req:
                if hk is not None and (bk is None or hk > bk):
                    out.append(Change("CLA114", (), "head", h.loc, f"tightened {name} from {_show(bv)} to "
                                      f"{_show(hv)}; values v1 clients send may now be rejected"))
            elif bk is not None and (hk is None or hk < bk):
                out.append(Change("CLA136", (), "head", h.loc, f"loosened {name} from {_show(bv)} to "
                                  f"{_show(hv)}; v1 clients may not handle the new values"))
        if req:
            if h.multiple_of and (not b.multiple_of or _not_a_multiple(b.multiple_of, h.multiple_of)):
                out.append(Change("CLA114", (), "head", h.loc, f"now requires a multiple of {_show(h.multiple_of)}; "
                                  "values v1 clients send may be rejected"))
            if h.unique and not b.unique:
                out.append(Change("CLA114", (), "head", h.loc, "now requires unique items; v1 clients may send "
                                  "duplicates"))
            new = [p for p in h.patterns if p not in b.patterns]
            if new:
                if b.patterns:
                    out.append(Change("CLA114", (), "head", h.loc, f"changed pattern to `{new[0]}`; it may reject "
                                      "values v1 clients send", "warning"))
                else:
                    out.append(Change("CLA114", (), "head", h.loc, f"now must match `{new[0]}`; v1 clients may send "
                                      "values that do not"))
            if h.additional is False and b.additional is not False and (b.types is None or "object" in (b.types or ())):
                out.append(Change("CLA114", (), "head", h.loc, "no longer accepts properties it does not list "
                                  f"({h.closed_by}: false); v1 clients may send others"))
        return out

    def _request_object(self, b: Flat, h: Flat) -> list[Change]:
        out = []
        if not (b.properties or h.properties or b.required or h.required):
            return out

        def ro(f: Flat, name: str) -> bool:
            return name in f.properties and self.flag(side_of(f), f.properties[name], "readOnly")

        def side_of(f: Flat) -> str:
            return "base" if f is b else "head"

        for name in sorted(h.required - b.required):
            if ro(h, name):
                continue
            loc = h.properties[name][0] if name in h.properties else h.loc
            default = ""
            if name in h.properties and self.flat("head", h.properties[name]).has_default:
                default = " (its default does not help: a required property must be sent)"
            if name in b.properties and not ro(b, name):
                out.append(Change("CLA111", (name,), "head", loc, f"is now required{default}; v1 clients may omit it"))
            else:
                out.append(Change("CLA110", (name,), "head", loc, f"is new and required{default}; clients built for "
                                  "v1 do not send it"))
        for name in sorted(b.properties):
            if ro(b, name):
                continue
            if name not in h.properties:
                if h.properties or h.additional is False:
                    closed = h.additional is False
                    out.append(Change("CLA117", (name,), "base", b.properties[name][0],
                                      "was removed; v1 clients still send it" + (
                                          " and the schema now rejects unknown properties" if closed else
                                          " and v2 ignores it"), None if closed else "warning"))
                continue
            if ro(h, name):
                continue
            out.extend(c.under(name) for c in self.compare(b.properties[name], h.properties[name], REQ))
        return out

    def _response_object(self, b: Flat, h: Flat) -> list[Change]:
        out = []
        if not b.properties:
            return out

        def wo(f: Flat, side: str, name: str) -> bool:
            return name in f.properties and self.flag(side, f.properties[name], "writeOnly")

        for name in sorted(b.properties):
            if wo(b, "base", name):
                continue
            if name not in h.properties:
                if not h.properties and h.additional is not False and h.types is None:
                    continue  # head became free-form: a type change, reported there
                required = name in b.required
                out.append(Change("CLA132", (name,), "base", b.properties[name][0],
                                  ("was removed; v1 clients read it as a required field" if required else
                                   "was removed; v1 clients that read it get nothing"),
                                  None if required else "warning"))
                continue
            if wo(h, "head", name):
                if name in b.required:
                    out.append(Change("CLA132", (name,), "head", h.properties[name][0],
                                      "became writeOnly and is no longer returned; v1 clients read it"))
                continue
            if name in b.required and name not in h.required:
                out.append(Change("CLA133", (name,), "head", h.properties[name][0],
                                  "is no longer required; v1 clients expect it in every response"))
            out.extend(c.under(name) for c in self.compare(b.properties[name], h.properties[name], RESP))
        return out

    # ---- JSON Schema 2020-12 applicators -------------------------------------------------------
    def _sub(self, b_locs: tuple, h_locs: tuple, d: str, seg: str, b: Flat, h: Flat, implied: dict | None = None,
             fallback: tuple = ((), ())) -> list[Change]:
        """Compare one sub-schema of both sides in direction `d`. A missing sub-schema accepts everything
        (or `fallback`); `implied` is what the instance already is (the parent's type), added to both sides
        so that a sub-schema restating it is no change."""
        b_locs = b_locs or fallback[0]
        h_locs = h_locs or fallback[1]
        if not b_locs and not h_locs:
            return []
        if implied is not None:
            tag = literal_json(implied, sort_keys=True)
            b_locs = (*b_locs, Loc(b.loc.doc, f"{b.loc.pointer}/~~{seg}~~{tag}", implied))
            h_locs = (*h_locs, Loc(h.loc.doc, f"{h.loc.pointer}/~~{seg}~~{tag}", implied))
        b_locs = b_locs or (Loc(b.loc.doc, f"{b.loc.pointer}/~~{seg}", {}),)
        h_locs = h_locs or (Loc(h.loc.doc, f"{h.loc.pointer}/~~{seg}", {}),)
        # a position that accepted nothing (false, or contradicting types) cannot break v1 requests, and one
        # that emits nothing cannot break v1 readers
        if d == REQ and self.flat("base", b_locs).types == frozenset():
            return []
        if d == RESP and self.flat("head", h_locs).types == frozenset():
            return []
        own = seg in ("<then>", "<else>") or seg.startswith("<when ")  # applies to the instance itself
        out = []
        for c in self.compare(b_locs, h_locs, d):
            if "/~~" in c.loc.pointer:  # a stand-in for a missing sub-schema: point at its parent
                c = replace(c, loc=h.loc if c.side == "head" else b.loc)
            if own and c.code in ("CLA110", "CLA111") and len(c.rel) == 1 and c.rel[0] in b.required:
                continue  # v1 already required it everywhere
            if own and c.code == "CLA110" and len(c.rel) == 1 and c.rel[0] in b.properties:
                # a sub-schema of the instance itself requiring a property the object already had
                c = replace(c, code="CLA111", detail="is now required; v1 clients may omit it")
            out.append(c.under(seg))
        if own and d == RESP:  # a conditional requirement dropped: v1 clients expect the property then
            bf, hf = self.flat("base", b_locs), self.flat("head", h_locs)
            for name in sorted(bf.required - hf.required - h.required):
                if name in b.properties and name not in bf.properties:  # else compared as a property
                    out.append(Change("CLA133", (seg, name), "head", h.properties.get(name, (h.loc,))[0],
                                      "is no longer required; v1 clients expect it in every such response"))
        return out

    def _match(self, bs: tuple, hs: tuple, loc_of):
        """Pair entries of both sides whose schema (`loc_of`) has the same shape; one left on each side is
        the same entry edited in place."""
        pairs, lone_h, lone_b = [], list(hs), []
        for be in bs:
            fp = self.fingerprint("base", loc_of(be))
            match = next((he for he in lone_h if self.fingerprint("head", loc_of(he)) == fp), None)
            if match is None:
                lone_b.append(be)
            else:
                lone_h.remove(match)
                pairs.append((be, match))
        if len(lone_b) == 1 and len(lone_h) == 1:
            pairs.append((lone_b[0], lone_h[0]))
            lone_b, lone_h = [], []
        return pairs, lone_b, lone_h

    def _contains(self, b: Flat, h: Flat, d: str) -> list[Change]:
        """`contains` with `minContains`/`maxContains`: how many items must match the sub-schema."""
        if not b.contains and not h.contains:
            return []
        req = d == REQ
        out: list[Change] = []
        pairs, lone_b, lone_h = self._match(b.contains, h.contains, lambda c: c[0])
        for (bl, bmin, bmax), (hl, hmin, hmax) in pairs:
            if (bmin or bmax is not None) and (hmin or hmax is not None):
                out.extend(self._sub((bl,), (hl,), d, "<contains>", b, h))
            if req:
                if hmin > bmin:
                    out.append(Change("CLA114", (), "head", h.loc, f"tightened minContains from {bmin} to {hmin}; "
                                      "arrays v1 clients send may have too few items matching `contains`"))
                if hmax is not None and (bmax is None or hmax < bmax):
                    out.append(Change("CLA114", (), "head", h.loc, f"tightened maxContains from {_show(bmax)} to "
                                      f"{hmax}; arrays v1 clients send may have too many items matching `contains`"))
            else:
                if hmin < bmin:
                    out.append(Change("CLA136", (), "head", h.loc, f"loosened minContains from {bmin} to {hmin}; "
                                      "v1 clients may get fewer items matching `contains` than they rely on"))
                if bmax is not None and (hmax is None or hmax > bmax):
                    out.append(Change("CLA136", (), "head", h.loc, f"loosened maxContains from {bmax} to "
                                      f"{_show(hmax)}; v1 clients may get more items matching `contains` than they "
                                      "handle"))
        if req:
            for hl, hmin, hmax in lone_h:
                if hmin or hmax is not None:
                    out.append(Change("CLA114", (), "head", hl, f"now requires {_count(hmin, hmax)} matching "
                                      "`contains`; arrays v1 clients send may not have them"))
        else:
            for bl, bmin, bmax in lone_b:
                if bmin or bmax is not None:
                    out.append(Change("CLA136", (), "head", h.loc, f"no longer guarantees {_count(bmin, bmax)} "
                                      "matching the removed `contains`; v1 clients may rely on it"))
        return out

    def _prefix_items(self, b: Flat, h: Flat, d: str) -> list[Change]:
        """`prefixItems`: item schemas by position (a position past them falls back to `items`)."""
        n = max((len(prefix) for prefix, _ in (*b.arrays, *h.arrays)), default=0)
        out: list[Change] = []
        for i in range(n):
            out.extend(self._sub(_position(b, i), _position(h, i), d, f"[{i}]", b, h))
        return out

    def _conditionals(self, b: Flat, h: Flat, d: str) -> list[Change]:
        """`if`/`then`/`else`: `then` (or `else`) applies to the same instance when `if` matches (or not)."""
        if not b.conds and not h.conds:
            return []
        implied = _implied(b, h)
        out: list[Change] = []
        pairs, lone_b, lone_h = self._match(b.conds, h.conds, lambda c: c[0])
        for (bi, bt, be), (hi, ht, he) in pairs:
            if (bt or be or ht or he) and self.fingerprint("base", bi) != self.fingerprint("head", hi):
                out.append(Change("CLA114" if d == REQ else "CLA136", (), "head", hi,
                                  "changed the `if` condition that picks `then` or `else`; "
                                  + ("values v1 clients send may now be checked against the other branch"
                                     if d == REQ else "v2 may return values shaped by the other branch"), "warning"))
            out.extend(self._sub(_opt(bt), _opt(ht), d, "<then>", b, h, implied))
            out.extend(self._sub(_opt(be), _opt(he), d, "<else>", b, h, implied))
        for bi, bt, be in lone_b:
            out.extend(self._sub(_opt(bt), (), d, "<then>", b, h, implied))
            out.extend(self._sub(_opt(be), (), d, "<else>", b, h, implied))
        for hi, ht, he in lone_h:
            out.extend(self._sub((), _opt(ht), d, "<then>", b, h, implied))
            out.extend(self._sub((), _opt(he), d, "<else>", b, h, implied))
        return out

    def _subschemas(self, b: Flat, h: Flat, d: str) -> list[Change]:
        """`propertyNames`, `contentSchema`, `unevaluatedProperties`/`unevaluatedItems`, `patternProperties`
        and `dependentSchemas` (with `dependentRequired`), key by key."""
        out: list[Change] = []
        for key in sorted(set(b.subs) | set(h.subs), key=str):
            b_locs, h_locs = b.subs.get(key, ()), h.subs.get(key, ())
            if key == "propertyNames":
                out.extend(self._sub(b_locs, h_locs, d, "<propertyNames>", b, h, {"type": "string"}))
            elif key == "contentSchema":
                out.extend(self._sub(b_locs, h_locs, d, "<contentSchema>", b, h))
            elif key == "unevaluatedProperties":  # applies to nothing where additionalProperties is set
                if b.additional is None and h.additional is None:
                    out.extend(self._sub(b_locs, h_locs, d, "<unevaluatedProperties>", b, h))
            elif key == "unevaluatedItems":  # applies to nothing where items is set
                if not b.items and not h.items:
                    out.extend(self._sub(b_locs, h_locs, d, "<unevaluatedItems>", b, h))
            elif key[0] == "patternProperties":  # a missing pattern falls back to additionalProperties
                fallback = tuple(f.additional if isinstance(f.additional, tuple) else () for f in (b, h))
                out.extend(self._sub(b_locs, h_locs, d, f"<patternProperties {key[1]}>", b, h, None, fallback))
            else:  # dependentSchemas: applies to the object itself when the named property is present
                out.extend(self._sub(b_locs, h_locs, d, f"<when {key[1]} is present>", b, h, _implied(b, h)))
        return out

    def _unions(self, b: Flat, h: Flat, d: str) -> list[Change]:
        bb = [l for _, ls in b.unions for l in ls]
        hb = [l for _, ls in h.unions for l in ls]
        if not bb and not hb:
            return []
        req = d == REQ
        out: list[Change] = []
        if bb and hb:
            pairs, lone_b, lone_h = self._pair(bb, hb)
            for bl, hl in pairs:
                seg = f"<{self._branch_name('base', bl)}>"
                out.extend(c.under(seg) for c in self.compare((bl,), (hl,), d))
            if req:
                for bl in lone_b:
                    out.append(Change("CLA119", (), "base", bl, f"no longer accepts the variant "
                                      f"`{self._branch_name('base', bl)}`; v1 clients still send it"))
            else:
                for hl in lone_h:
                    out.append(Change("CLA134", (), "head", hl, f"may now return the variant "
                                      f"`{self._branch_name('head', hl)}`, which v1 clients cannot parse"))
            return out
        if bb and not hb:
            if req:  # the union collapsed: every old variant must still be accepted
                for bl in bb:
                    sub = [c for c in self.compare((bl,), (h.loc,), d) if c.severity != "warning"]
                    if sub:
                        out.append(Change("CLA119", (), "base", bl, f"no longer accepts the variant "
                                          f"`{self._branch_name('base', bl)}`; v1 clients still send it"))
            return out
        # a union appeared where there was one shape
        results = [[c for c in self.compare((b.loc,), (hl,), d) if c.severity != "warning"] for hl in hb]
        if req:
            if results and all(results):
                out.extend(min(results, key=len))
        elif any(results):
            names = ", ".join(self._branch_name("head", hl) for hl in hb)
            out.append(Change("CLA134", (), "head", h.loc, f"is now one of [{names}]; v1 clients parse only the "
                              "old shape"))
        return out

    def _pair(self, bb: list[Loc], hb: list[Loc]):
        pairs = []
        lone_h = list(hb)
        lone_b = []
        for bl in bb:
            ref = bl.node.get("$ref") if isinstance(bl.node, dict) else None
            match = None
            if isinstance(ref, str):  # the same $ref: the same branch (its changes are compared below)
                match = next((hl for hl in lone_h if isinstance(hl.node, dict) and hl.node.get("$ref") == ref), None)
            if match is None:
                fp = self.fingerprint("base", bl)
                match = next((hl for hl in lone_h if self.fingerprint("head", hl) == fp), None)
            if match is None:
                name = self._branch_name("base", bl)
                match = next((hl for hl in lone_h if self._branch_name("head", hl) == name), None)
            if match is None:
                lone_b.append(bl)
            else:
                lone_h.remove(match)
                pairs.append((bl, match))
        if len(lone_b) == 1 and len(lone_h) == 1:  # one variant edited in place
            pairs.append((lone_b[0], lone_h[0]))
            lone_b, lone_h = [], []
        return pairs, lone_b, lone_h


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


def _position(f: Flat, i: int) -> tuple:
    """The schemas (a conjunction) an array item at index `i` must match."""
    out = []
    for prefix, items in f.arrays:
        if i < len(prefix):
            out.append(prefix[i])
        elif items is not None:
            out.append(items)
    return tuple(out)


def _opt(loc: Loc | None) -> tuple:
    return () if loc is None else (loc,)


def _implied(b: Flat, h: Flat) -> dict | None:
    """The type the instance has on both sides, for sub-schemas that apply to the instance itself."""
    if b.types and b.types == h.types:
        return {"type": sorted(b.types)}
    return None


def _count(lo: int, hi: int | None) -> str:
    if hi is None:
        return f"at least {lo} item{'s' if lo != 1 else ''}"
    if not lo:
        return f"at most {hi} item{'s' if hi != 1 else ''}"
    return f"{lo} to {hi} items"


def _bound(node: dict, key: str, ex_key: str, sign: int) -> tuple | None:
    v = node.get(key)
    ex = node.get(ex_key)
    if isinstance(ex, (int, float)) and not isinstance(ex, bool):  # 3.1: exclusiveMinimum is the bound
        if not isinstance(v, (int, float)) or isinstance(v, bool) or (ex >= v if sign > 0 else ex <= v):
            return (ex, sign)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (v, sign if ex is True else 0)
    return None


def _bound_key(value, sign: int):
    """Order bounds so that a larger key is always the tighter one."""
    if value is None:
        return None
    if isinstance(value, tuple):
        v, ex = value
        return (v, abs(ex)) if sign > 0 else (-v, abs(ex))
    return value if sign > 0 else -value


def _show(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return f"{literal_text(value[0], 60)}{' (exclusive)' if value[1] else ''}"
    return literal_text(value, 60)


def _not_a_multiple(old, new) -> bool:
    """Is `old` (a multipleOf v1 allowed) not itself a multiple of `new`, so that v1's values may fail?"""
    try:
        return bool((old / new) % 1)
    except (OverflowError, ZeroDivisionError, TypeError):  # past float range: no exact answer, say it may
        return True


def _content(content: tuple) -> str:
    media, encoding = content
    return " ".join(x for x in (media, f"({encoding})" if encoding else None) if x) or "plain"


def _values(values) -> str:
    vals = list(values)
    shown = ", ".join(f"`{literal_text(v, 60)}`" for v in vals[:5])
    return shown + (f" and {len(vals) - 5} more" if len(vals) > 5 else "")


def _has_changed_type(changes: list[Change]) -> bool:
    return any(c.code in ("CLA134", "CLA112") and not c.rel for c in changes)
