"""Comparing the JSON Schema 2020-12 sub-schemas (`contains`, `prefixItems`, `if`/`then`/`else`,
`propertyNames`, `dependentSchemas`, ...): each in the same direction as the schema holding it; a missing one
accepts everything, and the path of a change names it (`tags<contains>`, `point[0]`, `<then>.amount`).
"""

from __future__ import annotations

from dataclasses import replace

from canary_lint.model import literal_json
from canary_lint.openapi.changes import REQ, RESP, Change, count_items, show
from canary_lint.openapi.flatten import Flat
from canary_lint.openapi.refs import Loc


class Applicators:
    """Mixed into `schema.Differ`, which provides `compare`, `flat` and `fingerprint`."""

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
                    out.append(Change("CLA114", (), "head", h.loc, f"tightened maxContains from {show(bmax)} to "
                                      f"{hmax}; arrays v1 clients send may have too many items matching `contains`"))
            else:
                if hmin < bmin:
                    out.append(Change("CLA136", (), "head", h.loc, f"loosened minContains from {bmin} to {hmin}; "
                                      "v1 clients may get fewer items matching `contains` than they rely on"))
                if bmax is not None and (hmax is None or hmax > bmax):
                    out.append(Change("CLA136", (), "head", h.loc, f"loosened maxContains from {bmax} to "
                                      f"{show(hmax)}; v1 clients may get more items matching `contains` than they "
                                      "handle"))
        if req:
            for hl, hmin, hmax in lone_h:
                if hmin or hmax is not None:
                    out.append(Change("CLA114", (), "head", hl, f"now requires {count_items(hmin, hmax)} matching "
                                      "`contains`; arrays v1 clients send may not have them"))
        else:
            for bl, bmin, bmax in lone_b:
                if bmin or bmax is not None:
                    out.append(Change("CLA136", (), "head", h.loc, f"no longer guarantees {count_items(bmin, bmax)} "
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
