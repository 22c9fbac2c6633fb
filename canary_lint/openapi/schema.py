"""Schemas: the merged (allOf-flattened) view and the direction-aware comparison.

In a request, v1 clients send values valid under the base schema: a change breaks them when the head
schema rejects some of those values (narrowing). In a response, v1 clients parse values the head emits:
a change breaks them when the head may emit values the base schema did not allow (widening).

`Differ.compare(b_locs, h_locs, direction)` returns `Change`s with a path relative to the compared schema;
results are memoized per (base locations, head locations, direction), so a component shared by hundreds of
operations is compared once; a `$ref` cycle is cut where it closes.

The merged view (`Flat`, fingerprints) lives in `flatten`, the comparison of JSON Schema 2020-12 sub-schemas
(`contains`, `prefixItems`, `then`/`else`, ...) in `applicators`, the `Change` type and message helpers in
`changes`.
"""

from __future__ import annotations

from canary_lint.openapi.applicators import Applicators
from canary_lint.openapi.changes import (
    REQ,
    RESP,
    Change,
    fmt_types,
    show,
    show_content,
    show_values,
)
from canary_lint.openapi.flatten import Flat, Flattener
from canary_lint.openapi.refs import Loc, Spec

MAX_NESTING = 150
# formats that, added where none was, reject nothing a client sends in practice (64-bit numbers, hints)
_ANNOTATION_FORMATS = frozenset({"int64", "double", "password", "binary"})
_WIDER_FORMATS = {("int32", "int64"), ("float", "double"), ("int32", "double"), ("int64", "double")}


def covers(wide: frozenset | None, narrow: frozenset | None) -> bool:
    """Does every value of a type in `narrow` also belong to `wide`?"""
    if wide is None:
        return True
    if narrow is None:
        return False
    return all(t in wide or (t == "integer" and "number" in wide) for t in narrow)


class Differ(Applicators, Flattener):
    def __init__(self, base: Spec, head: Spec):
        super().__init__(base, head)
        self._memo: dict = {}
        self._active: set = set()

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
                add(Change("CLA112", (), "head", h.loc, f"changed type from {fmt_types(b.types)} to "
                           f"{fmt_types(h.types)}; v1 clients still send {fmt_types(b.types)}"))
            elif h.format and b.format != h.format and (b.format, h.format) not in _WIDER_FORMATS and not (
                    b.format is None and h.format in _ANNOTATION_FORMATS):
                add(Change("CLA112", (), "head", h.loc, f"changed format from {b.format or 'none'} to {h.format}; "
                           "values v1 clients send may no longer validate"))
            if b.nullable and not h.nullable and not h.anything:
                add(Change("CLA112", (), "head", h.loc, "no longer accepts null; v1 clients may send null"))
            if h.content != (None, None) and h.content != b.content:
                add(Change("CLA112", (), "head", h.loc, f"changed its encoded content from {show_content(b.content)} "
                           f"to {show_content(h.content)}; v1 clients still encode it the old way"))
        else:
            if b.types is not None and not covers(b.types, h.types):
                add(Change("CLA134", (), "head", h.loc, f"changed type from {fmt_types(b.types)} to "
                           f"{fmt_types(h.types)}; v1 clients parse it as {fmt_types(b.types)}"))
            elif b.format and h.format != b.format and (h.format, b.format) not in _WIDER_FORMATS:
                add(Change("CLA134", (), "head", h.loc, f"changed format from {b.format} to {h.format or 'none'}; "
                           "v1 clients parse the old format"))
            if h.nullable and not b.nullable and not b.anything:
                add(Change("CLA133", (), "head", h.loc, "may now be null; v1 clients do not expect null"))
            if b.content != (None, None) and h.content != b.content:
                add(Change("CLA134", (), "head", h.loc, f"changed its encoded content from {show_content(b.content)} "
                           f"to {show_content(h.content)}; v1 clients decode it the old way"))
        # enum
        if req:
            if h.enum is not None and b.enum is None:
                add(Change("CLA113", (), "head", h.loc, f"is now limited to {show_values(h.enum)}; v1 clients may "
                           "send other values"))
            elif h.enum is not None and b.enum is not None:
                gone = [v for v in b.enum if v not in h.enum]
                if gone:
                    add(Change("CLA113", (), "head", h.loc, f"no longer accepts {show_values(gone)}; v1 clients still "
                               "send it"))
            if b.ext_enum is not None and h.ext_enum is not None:
                gone = [v for v in b.ext_enum if v not in h.ext_enum]
                if gone:
                    add(Change("CLA113", (), "head", h.loc, f"no longer accepts the x-extensible-enum values "
                               f"{show_values(gone)}; v1 clients still send them"))
        else:
            if b.enum is not None and h.enum is not None:
                new = [v for v in h.enum if v not in b.enum]
                if new and not any(v in h.enum for v in b.enum):
                    add(Change("CLA134", (), "head", h.loc, f"now returns {show_values(new)} instead of "
                               f"{show_values(b.enum)}; v1 clients check for the old value"))
                elif new:
                    add(Change("CLA135", (), "head", h.loc, f"may now return {show_values(new)}, which v1 clients do "
                               "not know; they must tolerate unknown values"))
            elif b.enum is not None and h.enum is None and not _has_changed_type(out):
                add(Change("CLA135", (), "head", h.loc, f"is no longer limited to {show_values(b.enum)}; v1 clients "
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
                        add(Change("CLA138", (), "head", dloc, f"discriminator no longer maps {show_values(gone)}; "
                                   "v1 clients still send them"))
                else:
                    moved = [k for k in bm if k in hm and hm[k] != bm[k]]
                    if moved:
                        add(Change("CLA138", (), "head", dloc, f"discriminator maps {show_values(moved)} to other "
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
                    out.append(Change("CLA114", (), "head", h.loc, f"tightened {name} from {show(bv)} to "
                                      f"{show(hv)}; values v1 clients send may now be rejected"))
            elif bk is not None and (hk is None or hk < bk):
                out.append(Change("CLA136", (), "head", h.loc, f"loosened {name} from {show(bv)} to "
                                  f"{show(hv)}; v1 clients may not handle the new values"))
        if req:
            if h.multiple_of and (not b.multiple_of or _not_a_multiple(b.multiple_of, h.multiple_of)):
                out.append(Change("CLA114", (), "head", h.loc, f"now requires a multiple of {show(h.multiple_of)}; "
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


def _bound_key(value, sign: int):
    """Order bounds so that a larger key is always the tighter one."""
    if value is None:
        return None
    if isinstance(value, tuple):
        v, ex = value
        return (v, abs(ex)) if sign > 0 else (-v, abs(ex))
    return value if sign > 0 else -value


def _not_a_multiple(old, new) -> bool:
    """Is `old` (a multipleOf v1 allowed) not itself a multiple of `new`, so that v1's values may fail?"""
    try:
        return bool((old / new) % 1)
    except (OverflowError, ZeroDivisionError, TypeError):  # past float range: no exact answer, say it may
        return True


def _has_changed_type(changes: list[Change]) -> bool:
    return any(c.code in ("CLA134", "CLA112") and not c.rel for c in changes)
