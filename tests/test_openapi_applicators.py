"""JSON Schema 2020-12 applicators in the direction-aware diff: `contains`/`minContains`/`maxContains`,
`prefixItems`, `if`/`then`/`else`, `propertyNames`, `contentSchema`, `patternProperties`, `dependentSchemas`,
`dependentRequired` and `unevaluatedProperties`/`unevaluatedItems`.

In a request a tightening breaks v1 clients, in a response a loosening does; an equivalent rewrite is quiet.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from canary_lint.openapi.cli import diff_files

HEADER = "openapi: 3.1.0\ninfo: {title: shop, version: '1.0'}\n"


def spec(request: dict | None = None, response: dict | None = None, components: dict | None = None) -> str:
    op: dict = {"responses": {"200": {"description": "ok"}}}
    if request is not None:
        op["requestBody"] = {"content": {"application/json": {"schema": request}}}
    if response is not None:
        op["responses"]["200"]["content"] = {"application/json": {"schema": response}}
    text = HEADER + f"paths: {json.dumps({'/orders': {'post': op}})}\n"
    if components:
        text += f"components: {json.dumps({'schemas': components})}\n"
    return text


def findings(tmp_path: Path, base: str, head: str) -> list[tuple[str, str, str]]:
    for side, text in (("v1", base), ("v2", head)):
        (tmp_path / side).mkdir(exist_ok=True)
        (tmp_path / side / "openapi.yaml").write_text(text)
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        report = diff_files("v1/openapi.yaml", "v2/openapi.yaml", validate=False)
    finally:
        os.chdir(old)
    return sorted((f.rule, f.severity.value, f.message) for f in report.findings)


def codes(tmp_path, base, head) -> list[str]:
    return [c for c, _, _ in findings(tmp_path, base, head)]


def both(schema_base: dict, schema_head: dict) -> tuple[str, str]:
    """The same change applied to the request body and to the response body."""
    return spec(schema_base, schema_base), spec(schema_head, schema_head)


def tags(**kw) -> dict:
    return {"type": "array", "items": {"type": "string"}, "contains": {"type": "string", "pattern": "^x"}, **kw}


# ---- contains / minContains / maxContains ----------------------------------------------------------------
def test_min_contains_raised_breaks_requests_lowered_breaks_responses(tmp_path):
    base, head = both(tags(minContains=1), tags(minContains=2))
    got = findings(tmp_path, base, head)
    assert [(c, s) for c, s, _ in got] == [("CLA114", "error")]
    assert "request body tightened minContains from 1 to 2" in got[0][2]
    got = findings(tmp_path, head, base)
    assert [(c, s) for c, s, _ in got] == [("CLA136", "error")]
    assert "response 200 body loosened minContains from 2 to 1" in got[0][2]


def test_max_contains_lowered_breaks_requests_raised_or_dropped_breaks_responses(tmp_path):
    base, head = both(tags(maxContains=5), tags(maxContains=3))
    assert codes(tmp_path, base, head) == ["CLA114"]
    assert codes(tmp_path, head, base) == ["CLA136"]
    base, head = both(tags(maxContains=5), tags())
    got = findings(tmp_path, base, head)
    assert [c for c, _, _ in got] == ["CLA136"] and "loosened maxContains from 5 to none" in got[0][2]


def test_contains_added_breaks_requests_removed_breaks_responses(tmp_path):
    plain = {"type": "array", "items": {"type": "string"}}
    base, head = both(plain, tags())
    got = findings(tmp_path, base, head)
    assert [c for c, _, _ in got] == ["CLA114"]
    assert "now requires at least 1 item matching `contains`" in got[0][2]
    got = findings(tmp_path, head, base)
    assert [c for c, _, _ in got] == ["CLA136"]
    assert "no longer guarantees at least 1 item matching the removed `contains`" in got[0][2]


def test_contains_with_min_contains_zero_constrains_nothing(tmp_path):
    plain = {"type": "array", "items": {"type": "string"}}
    base, head = both(plain, tags(minContains=0))
    assert codes(tmp_path, base, head) == []
    assert codes(tmp_path, head, base) == []


def test_contains_schema_tightened_is_compared_in_direction(tmp_path):
    loose = tags()
    tight = {**tags(), "contains": {"type": "string", "pattern": "^x", "minLength": 3}}
    got = findings(tmp_path, *both(loose, tight))
    assert [c for c, _, _ in got] == ["CLA114"]
    assert "request body `<contains>` tightened minLength from none to 3" in got[0][2]
    got = findings(tmp_path, *both(tight, loose))
    assert [c for c, _, _ in got] == ["CLA136"]
    assert "response 200 body `<contains>` loosened minLength from 3 to none" in got[0][2]


def test_contains_on_a_nested_property_names_the_property(tmp_path):
    base = spec({"type": "object", "properties": {"tags": tags(maxContains=3)}})
    head = spec({"type": "object", "properties": {"tags": tags(maxContains=2)}})
    [(code, _, message)] = findings(tmp_path, base, head)
    assert code == "CLA114" and "request property `tags` tightened maxContains from 3 to 2" in message


# ---- prefixItems -----------------------------------------------------------------------------------------
def pair(first: dict, **kw) -> dict:
    return {"type": "array", "prefixItems": [first, {"type": "integer"}], "items": {"type": "string"}, **kw}


def test_prefix_item_tightened_breaks_requests_loosened_breaks_responses(tmp_path):
    loose, tight = pair({"type": "string"}), pair({"type": "string", "maxLength": 8})
    got = findings(tmp_path, *both(loose, tight))
    assert [c for c, _, _ in got] == ["CLA114"]
    assert "request body `[0]` tightened maxLength from none to 8" in got[0][2]
    got = findings(tmp_path, *both(tight, loose))
    assert [c for c, _, _ in got] == ["CLA136"]
    assert "response 200 body `[0]` loosened maxLength from 8 to none" in got[0][2]


def test_prefix_item_type_change_uses_the_type_rules(tmp_path):
    got = findings(tmp_path, *both(pair({"type": "string"}), pair({"type": "boolean"})))
    assert [c for c, _, _ in got] == ["CLA112", "CLA134"]
    assert any("request body `[0]` changed type from string to boolean" in m for _, _, m in got)


def test_prefix_items_removed_falls_back_to_items(tmp_path):
    """Without prefixItems every position is `items`: a request that sent an integer at [1] now fails."""
    got = findings(tmp_path, *both(pair({"type": "string"}), {"type": "array", "items": {"type": "string"}}))
    assert [c for c, _, _ in got] == ["CLA112", "CLA134"]
    assert "request body `[1]` changed type from integer to string" in got[0][2]
    assert "response 200 body `[1]` changed type from integer to string" in got[1][2]


def test_new_position_where_items_was_false_is_not_a_request_break(tmp_path):
    closed = {"type": "array", "prefixItems": [{"type": "string"}], "items": False}
    wider = {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer", "minimum": 1}],
             "items": False}
    assert codes(tmp_path, spec(closed), spec(wider)) == []
    assert codes(tmp_path, spec(response=wider), spec(response=closed)) == []


# ---- if / then / else ------------------------------------------------------------------------------------
def conditional(then_min: int = 0, else_len: int = 1, kind: str = "card", **extra) -> dict:
    return {
        "type": "object",
        "properties": {"kind": {"type": "string"}, "amount": {"type": ["integer", "string"]}},
        "if": {"properties": {"kind": {"const": kind}}},
        "then": {"properties": {"amount": {"type": "integer", "minimum": then_min}}},
        "else": {"properties": {"amount": {"type": "string", "minLength": else_len}}},
        **extra,
    }


def test_then_and_else_are_compared_in_direction(tmp_path):
    got = findings(tmp_path, *both(conditional(), conditional(then_min=5, else_len=3)))
    assert [c for c, _, _ in got] == ["CLA114", "CLA114"]
    assert any("request body `<then>.amount` tightened minimum from 0 to 5" in m for _, _, m in got)
    assert any("request body `<else>.amount` tightened minLength from 1 to 3" in m for _, _, m in got)
    got = findings(tmp_path, *both(conditional(then_min=5, else_len=3), conditional()))
    assert [c for c, _, _ in got] == ["CLA136", "CLA136"]


def test_changed_if_condition_is_a_warning(tmp_path):
    got = findings(tmp_path, spec(conditional()), spec(conditional(kind="bank")))
    assert [(c, s) for c, s, _ in got] == [("CLA114", "warning")]
    assert "changed the `if` condition that picks `then` or `else`" in got[0][2]


def test_new_conditional_requirement_breaks_requests_only(tmp_path):
    plain = {"type": "object", "properties": {"kind": {"type": "string"}, "iban": {"type": "string"}}}
    cond = {**plain, "if": {"properties": {"kind": {"const": "bank"}}, "required": ["kind"]},
            "then": {"required": ["iban"]}}
    got = findings(tmp_path, spec(plain), spec(cond))
    assert [c for c, _, _ in got] == ["CLA111"]
    assert "request body `<then>.iban` is now required" in got[0][2]
    assert codes(tmp_path, spec(response=plain), spec(response=cond)) == []


def test_then_without_if_is_ignored(tmp_path):
    base = {"type": "object", "then": {"required": ["a"]}}
    assert codes(tmp_path, *both({"type": "object"}, base)) == []


# ---- propertyNames, contentSchema, patternProperties, dependentSchemas ----------------------------------
def test_property_names_tightened_breaks_requests(tmp_path):
    obj = {"type": "object", "additionalProperties": {"type": "string"}}
    named = {**obj, "propertyNames": {"pattern": "^[a-z]+$"}}
    got = findings(tmp_path, spec(obj), spec(named))
    assert [c for c, _, _ in got] == ["CLA114"]
    assert "request body `<propertyNames>` now must match `^[a-z]+$`" in got[0][2]
    assert codes(tmp_path, spec(named), spec(obj)) == []


def test_content_schema_is_compared_in_direction(tmp_path):
    def enc(**kw):
        return {"type": "string", "contentMediaType": "application/json",
                "contentSchema": {"type": "object", "properties": {"n": {"type": "integer", **kw}}}}
    got = findings(tmp_path, *both(enc(), enc(maximum=10)))
    assert [c for c, _, _ in got] == ["CLA114"]
    assert "request body `<contentSchema>.n` tightened maximum from none to 10" in got[0][2]


def test_pattern_property_falls_back_to_additional_properties(tmp_path):
    base = {"type": "object", "additionalProperties": {"type": "string"}}
    head = {**base, "patternProperties": {"^x-": {"type": "string", "maxLength": 20}}}
    got = findings(tmp_path, *both(base, head))
    assert [c for c, _, _ in got] == ["CLA114"]
    assert "`<patternProperties ^x->` tightened maxLength from none to 20" in got[0][2]
    got = findings(tmp_path, *both(head, base))
    assert [c for c, _, _ in got] == ["CLA136"]


def test_dependent_schema_added_breaks_requests(tmp_path):
    base = {"type": "object", "properties": {"card": {"type": "string"}, "cvc": {"type": "string"}}}
    head = {**base, "dependentSchemas": {"card": {"required": ["cvc"]}}}
    got = findings(tmp_path, spec(base), spec(head))
    assert [c for c, _, _ in got] == ["CLA111"]
    assert "request body `<when card is present>.cvc` is now required" in got[0][2]
    assert codes(tmp_path, spec(head), spec(base)) == []


def test_dependent_required_added_breaks_requests_removed_breaks_responses(tmp_path):
    base = {"type": "object", "properties": {"card": {"type": "string"}, "cvc": {"type": "string"}}}
    head = {**base, "dependentRequired": {"card": ["cvc"]}}
    got = findings(tmp_path, spec(base), spec(head))
    assert [c for c, _, _ in got] == ["CLA111"]
    assert "request body `<when card is present>.cvc` is now required; v1 clients may omit it" in got[0][2]
    got = findings(tmp_path, spec(response=head), spec(response=base))
    assert [c for c, _, _ in got] == ["CLA133"]
    assert "response 200 body `<when card is present>.cvc` is no longer required" in got[0][2]
    assert codes(tmp_path, spec(head), spec(base)) == []
    assert codes(tmp_path, spec(response=base), spec(response=head)) == []


def test_conditional_requirement_of_an_always_required_property_is_no_change(tmp_path):
    base = {"type": "object", "required": ["cvc"],
            "properties": {"card": {"type": "string"}, "cvc": {"type": "string"}}}
    head = {**base, "dependentRequired": {"card": ["cvc"]}, "if": {"required": ["card"]},
            "then": {"required": ["cvc"]}}
    assert codes(tmp_path, *both(base, head)) == []
    assert codes(tmp_path, *both(head, base)) == []


def test_then_requirement_dropped_breaks_responses(tmp_path):
    base = {"type": "object", "properties": {"kind": {"type": "string"}, "iban": {"type": "string"}},
            "if": {"properties": {"kind": {"const": "bank"}}}, "then": {"required": ["iban"]}}
    head = {**base, "then": {}}
    got = findings(tmp_path, spec(response=base), spec(response=head))
    assert [c for c, _, _ in got] == ["CLA133"]
    assert "`<then>.iban` is no longer required" in got[0][2]


def test_unevaluated_properties_closing_or_typing_breaks_requests(tmp_path):
    base = {"type": "object", "properties": {"key": {"type": "string"}}}
    got = findings(tmp_path, spec(base), spec({**base, "unevaluatedProperties": False}))
    assert [c for c, _, _ in got] == ["CLA114"]
    assert "no longer accepts properties it does not list (unevaluatedProperties: false)" in got[0][2]
    got = findings(tmp_path, *both(base, {**base, "unevaluatedProperties": {"type": "string"}}))
    assert [c for c, _, _ in got] == ["CLA112"]
    assert "request body `<unevaluatedProperties>` changed type from any to string" in got[0][2]
    got = findings(tmp_path, *both({**base, "unevaluatedProperties": {"type": "string"}}, base))
    assert [c for c, _, _ in got] == ["CLA134"]


def test_unevaluated_keywords_are_moot_next_to_additional_properties_and_items(tmp_path):
    obj = {"type": "object", "additionalProperties": {"type": "string"}}
    arr = {"type": "array", "items": {"type": "string"}}
    assert codes(tmp_path, *both(obj, {**obj, "unevaluatedProperties": {"type": "integer"}})) == []
    assert codes(tmp_path, *both(arr, {**arr, "unevaluatedItems": {"type": "integer"}})) == []
    got = findings(tmp_path, *both({"type": "array", "prefixItems": [{"type": "string"}]},
                                   {"type": "array", "prefixItems": [{"type": "string"}],
                                    "unevaluatedItems": {"type": "string", "maxLength": 3}}))
    assert [c for c, _, _ in got] == ["CLA112", "CLA114"]
    assert any("request body `<unevaluatedItems>` tightened maxLength from none to 3" in m for _, _, m in got)


# ---- quiet: equivalent rewrites --------------------------------------------------------------------------
QUIET = [
    ("contains default minContains spelled out", tags(), tags(minContains=1)),
    ("contains via $ref", tags(), {**tags(), "contains": {"$ref": "#/components/schemas/X"}}),
    ("contains moved into allOf", tags(minContains=2),
     {"type": "array", "items": {"type": "string"}, "allOf": [{"contains": tags()["contains"], "minContains": 2}]}),
    ("items spelled as prefixItems + items", {"type": "array", "items": {"type": "string"}},
     {"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "string"}}),
    ("prefixItems via $ref", pair({"type": "string", "pattern": "^x"}), pair({"$ref": "#/components/schemas/X"})),
    ("prefixItems moved into allOf", pair({"type": "string"}),
     {"type": "array", "allOf": [pair({"type": "string"})]}),
    ("then restating the parent type", conditional(),
     {**conditional(), "then": {"type": "object", **conditional()["then"]}}),
    ("conditionals reordered inside allOf",
     {"type": "object", "allOf": [conditional(), conditional(kind="bank", then_min=3)]},
     {"type": "object", "allOf": [conditional(kind="bank", then_min=3), conditional()]}),
    ("propertyNames restating string keys", {"type": "object"}, {"type": "object", "propertyNames": {"type": "string"}}),
    ("dependentRequired written as dependentSchemas",
     {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "dependentRequired": {"a": ["b"]}},
     {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
      "dependentSchemas": {"a": {"required": ["b"]}}}),
    ("patternProperties restating additionalProperties", {"type": "object", "additionalProperties": {"type": "string"}},
     {"type": "object", "additionalProperties": {"type": "string"}, "patternProperties": {"^x-": {"type": "string"}}}),
]


@pytest.mark.parametrize("name,base,head", QUIET, ids=[q[0] for q in QUIET])
def test_equivalent_rewrites_are_quiet(tmp_path, name, base, head):
    components = {"X": {"type": "string", "pattern": "^x"}}
    b = spec(base, base, components)
    h = spec(head, head, components)
    assert findings(tmp_path, b, h) == []
    assert findings(tmp_path, h, b) == []
