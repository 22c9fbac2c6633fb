"""Compare v1's contract with v2's, operation by operation, and say what a v1 client suffers.

`diff(base_spec, head_spec)` returns `Problem`s (rule code, where, message, operation). Requests are
compared in the request direction (narrowing breaks), responses in the response direction (widening
breaks). A removed operation is one problem, never one per nested property.
"""

from __future__ import annotations

from dataclasses import dataclass

from canary_lint.model import literal_repr, literal_text
from canary_lint.openapi import ops as ops_mod
from canary_lint.openapi.changes import REQ, RESP, Change
from canary_lint.openapi.refs import Loc, Spec
from canary_lint.openapi.schema import Differ

FIXES = {
    "CLA101": "keep the operation in this release (deprecate it) and remove it after no v1 client calls it",
    "CLA102": "keep delivering it in this release; remove it once no v1 subscriber depends on it",
    "CLA110": "make it optional (the server fills a default) and require it in a later release",
    "CLA111": "keep it optional in this release; require it after every client sends it",
    "CLA112": "accept the old type too (e.g. oneOf old/new) until no v1 client sends it",
    "CLA113": "keep accepting the old values until no v1 client sends them",
    "CLA114": "keep the old limit in this release; tighten it after v1 clients are gone",
    "CLA115": "keep the old default; introduce the new behaviour behind a new parameter value",
    "CLA116": "keep the old style/explode; add a new parameter for the new encoding",
    "CLA117": "keep accepting (and ignoring) it until no v1 client sends it",
    "CLA118": "keep accepting the old media type next to the new one",
    "CLA119": "keep accepting the old variant until no v1 client sends it",
    "CLA130": "keep answering with the old status (add the new one later, behind a client opt-in)",
    "CLA131": "keep serving the old media type next to the new one",
    "CLA132": "keep returning it (deprecate it) until no v1 client reads it",
    "CLA133": "keep it present and non-null in this release",
    "CLA134": "keep the old type; return the new shape under a new field or a new version",
    "CLA135": "make sure v1 clients tolerate unknown values before v2 returns them",
    "CLA136": "keep the old limit for responses v1 clients receive",
    "CLA137": "keep sending the header in this release",
    "CLA138": "keep the discriminator and its mapping stable while v1 serves",
    "CLA140": "roll out the requirement after clients send the credential (or accept both during the canary)",
}


@dataclass(frozen=True)
class Problem:
    code: str
    side: str  # where `loc` is: "base" or "head"
    loc: Loc
    message: str
    operation: str | None = None
    subject: str = ""
    severity: str | None = None


def _label(rel: tuple) -> str:
    out = ""
    for seg in rel:
        if seg == "[]":
            out += "[]"
        elif seg == "*":
            out += ".*"
        elif seg.startswith(("<", "[")):
            out += seg
        else:
            out += ("." if out else "") + seg
    return out


def _subject(kind: str, rel: tuple) -> str:
    """`request body` + ("items", "[]", "sku") -> "request property `items[].sku`"."""
    if not rel:
        return kind
    label = _label(rel)
    if label.startswith(("[", "<", ".")):
        return f"{kind} `{label.lstrip('.')}`" if not label.startswith(".") else f"{kind} `*{label}`"
    noun = kind.replace(" body", "")
    return f"{noun} property `{label}`"


class SpecDiff:
    def __init__(self, base: Spec, head: Spec):
        self.base = base
        self.head = head
        self.differ = Differ(base, head)
        self.problems: list[Problem] = []

    def add(self, code: str, side: str, loc: Loc, message: str, op=None, subject: str = "", severity=None):
        label = op.label if op is not None else None
        if op is not None and op.ignore:
            from canary_lint.registry import registry

            try:
                rule = registry().get(code)
                if {rule.code, rule.name} & op.ignore:
                    return
            except KeyError:
                pass
        self.problems.append(Problem(code, side, loc, message, label, subject or f"{label}:{loc.pointer}", severity))

    def changes(self, op, kind: str, changes: list[Change], base_op=None) -> None:
        for c in changes:
            subject = _subject(kind, c.rel)
            self.add(c.code, c.side, c.loc, f"{op.label}: {subject} {c.detail}", op,
                     f"{op.label}:{kind}:{_label(c.rel)}:{c.code}:{c.detail[:40]}", c.severity)

    def run(self) -> list[Problem]:
        b_ops = ops_mod.operations(self.base)
        h_ops = ops_mod.operations(self.head)
        for key, bop in b_ops.items():
            hop = h_ops.get(key)
            if hop is None:
                dep = " (deprecated, but v1 clients still call it during the rollout)" if isinstance(
                    bop.loc.node, dict) and bop.loc.node.get("deprecated") else ""
                self.add("CLA101", "base", bop.loc, f"{bop.label}: operation removed{dep}; clients of v1 get 404/405 "
                         "whenever their request lands on v2", bop, f"op:{bop.label}")
                continue
            self.operation(bop, hop)
        b_hooks = ops_mod.webhooks(self.base)
        h_hooks = ops_mod.webhooks(self.head)
        for name, loc in b_hooks.items():
            if name not in h_hooks:
                self.add("CLA102", "base", loc, f"webhook `{name}` removed; v1 subscribers stop receiving it "
                         "whenever v2 handles the event", None, f"webhook:{name}")
        return self.problems

    # ---- one operation -------------------------------------------------------------------------
    def operation(self, b, h) -> None:
        self.parameters(b, h)
        self.request_body(b, h)
        self.responses(b, h)
        self.security(b, h)
        for name, loc in b.callbacks.items():
            if name not in h.callbacks:
                self.add("CLA102", "base", loc, f"{h.label}: callback `{name}` removed; v1 clients that registered "
                         "it stop being called back", h, f"{h.label}:callback:{name}")

    def parameters(self, b, h) -> None:
        for key, bp in b.params.items():
            hp = h.params.get(key)
            what = f"{bp.where} parameter `{bp.name}`"
            if hp is None:
                if key[0] == "path":
                    continue  # the path shape matched: a renamed template variable
                self.add("CLA117", "base", bp.loc, f"{h.label}: {what} was removed; v1 clients still send it "
                         "and v2 ignores it", h, f"{h.label}:param:{key}", "warning")
                continue
            if hp.required and not bp.required:
                self.add("CLA111", "head", hp.loc, f"{h.label}: {what} is now required; v1 clients may omit it", h,
                         f"{h.label}:param:{key}:required")
            if bp.schema is not None and hp.schema is not None:
                self.changes(h, what, self.differ.compare((bp.schema,), (hp.schema,), REQ))
                bf = self.differ.flat("base", (bp.schema,))
                hf = self.differ.flat("head", (hp.schema,))
                if not bp.required and bf.has_default and bf.default != hf.default:
                    now = f"changed from {literal_repr(bf.default, 60)} to {literal_repr(hf.default, 60)}" if hf.has_default \
                        else f"{literal_repr(bf.default, 60)} was removed"
                    self.add("CLA115", "head", hf.loc, f"{h.label}: {what} default {now}; v1 clients that omit it "
                             "now get different behaviour", h, f"{h.label}:param:{key}:default")
            if (bp.style, bp.explode) != (hp.style, hp.explode):
                self.add("CLA116", "head", hp.loc, f"{h.label}: {what} serialization changed from "
                         f"style={bp.style}, explode={bp.explode} to style={hp.style}, explode={hp.explode}; "
                         "v1 clients still encode it the old way", h, f"{h.label}:param:{key}:style")
        for key, hp in h.params.items():
            if key not in b.params and hp.required:
                self.add("CLA110", "head", hp.loc, f"{h.label}: new required {hp.where} parameter `{hp.name}`; "
                         "clients built for v1 do not send it", h, f"{h.label}:param:{key}:new")

    def request_body(self, b, h) -> None:
        bb, hb = b.body, h.body
        if hb is None:
            if bb is not None and bb.content:
                self.add("CLA117", "base", bb.loc, f"{h.label}: the request body was removed; v1 clients still send "
                         "it and v2 ignores it", h, f"{h.label}:body:removed", "warning")
            return
        if bb is None:
            if hb.required:
                self.add("CLA110", "head", hb.loc, f"{h.label}: a request body is now required; clients built for "
                         "v1 send none", h, f"{h.label}:body:new")
            return
        if hb.required and not bb.required:
            self.add("CLA111", "head", hb.loc, f"{h.label}: the request body is now required; v1 clients may omit "
                     "it", h, f"{h.label}:body:required")
        for media, (written, b_schema) in bb.content.items():
            if media not in hb.content:
                if any(_media_covers(m, media) for m in hb.content):
                    continue
                self.add("CLA118", "base", bb.loc, f"{h.label}: request media type `{written}` removed; v1 clients "
                         "still send it and get 415", h, f"{h.label}:body:{media}")
                continue
            h_schema = hb.content[media][1]
            if b_schema is not None and h_schema is not None:
                self.changes(h, "request body", self.differ.compare((b_schema,), (h_schema,), REQ))

    def responses(self, b, h) -> None:
        for status, br in b.responses.items():
            hr = h.responses.get(status) or h.responses.get(status[:1] + "XX")
            if hr is None:
                if status.startswith("2") or (status.startswith("3") and status != "304"):
                    self.add("CLA130", "base", br.loc, f"{h.label}: success response {status} removed; v1 clients "
                             f"expect {status} and treat anything else as a failure", h, f"{h.label}:status:{status}")
                continue
            where = f"response {status}"
            for media, (written, b_schema) in br.content.items():
                match = hr.content.get(media)
                if match is None:
                    match = next((v for m, v in hr.content.items() if _media_covers(media, m)), None)
                if match is None:
                    if not hr.content and not status.startswith("2"):
                        continue
                    self.add("CLA131", "base", br.loc, f"{h.label}: {where} media type `{written}` removed; v1 "
                             "clients accept only what they were built for", h, f"{h.label}:{status}:{media}")
                    continue
                h_schema = match[1]
                if b_schema is not None and h_schema is not None:
                    self.changes(h, f"{where} body", self.differ.compare((b_schema,), (h_schema,), RESP))
            for name, (written, b_req, b_schema, b_loc) in br.headers.items():
                hh = hr.headers.get(name)
                if hh is None:
                    self.add("CLA137", "base", b_loc, f"{h.label}: {where} header `{written}` removed; v1 clients "
                             "read it", h, f"{h.label}:{status}:header:{name}", None if b_req else "warning")
                    continue
                if b_req and not hh[1]:
                    self.add("CLA137", "head", hh[3], f"{h.label}: {where} header `{written}` became optional; v1 "
                             "clients expect it in every response", h, f"{h.label}:{status}:header:{name}:optional")
                if b_schema is not None and hh[2] is not None:
                    self.changes(h, f"{where} header `{written}`", self.differ.compare((b_schema,), (hh[2],), RESP))

    def security(self, b, h) -> None:
        b_alts = _alternatives(b.security)
        h_alts = _alternatives(h.security)
        if b_alts == h_alts:
            return
        for alt in b_alts:
            if any(_satisfies(alt, h_alt) for h_alt in h_alts):
                continue
            loc = h.security_loc or h.loc
            have = " + ".join(f"{s}{_scopes(sc)}" for s, sc in sorted(alt.items())) or "no credentials"
            need = " or ".join(" + ".join(f"{s}{_scopes(sc)}" for s, sc in sorted(a.items())) or "none"
                               for a in h_alts)
            scope_only = any(set(a) <= set(alt) for a in h_alts)
            what = "a security scope was added" if scope_only else "a security requirement was added"
            where = " (global security)" if h.security_global else ""
            self.add("CLA140", "head", loc, f"{h.label}: {what}{where}; v1 clients authenticate with {have} but v2 "
                     f"requires {need} and rejects them with 401/403", h, f"{h.label}:security:{need}")
            return


def _media_covers(wide: str, narrow: str) -> bool:
    if wide == narrow or wide == "*/*":
        return True
    wt, _, ws = wide.partition("/")
    nt, _, ns = narrow.partition("/")
    return ws == "*" and wt == nt


def _alternatives(security) -> list[dict]:
    if not security:
        return [{}]
    out = []
    for alt in security:
        if isinstance(alt, dict):
            # scopes are strings; anything else (CLA190 reports it) is compared by its text, never hashed raw
            out.append({literal_text(k): frozenset(literal_text(x) for x in v if not isinstance(x, (dict, list)))
                        if isinstance(v, list) else frozenset() for k, v in alt.items()})
    return out or [{}]


def _satisfies(have: dict, need: dict) -> bool:
    """Does a client holding the credentials of `have` meet requirement `need`?"""
    return all(s in have and scopes <= have[s] for s, scopes in need.items())


def _scopes(scopes: frozenset) -> str:
    return f" [{', '.join(sorted(scopes))}]" if scopes else ""


def diff(base: Spec, head: Spec) -> list[Problem]:
    return SpecDiff(base, head).run()
