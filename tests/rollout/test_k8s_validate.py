"""The CRD validator against every sample of tests/rollout/k8s/cases.json (a copy of the reference data's
cases.json): valid objects pass, each defective one fails at the key path the reference names, in the layer
that catches it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from canary_lint.rollout.k8s import cel as C
from canary_lint.rollout.k8s.argo_checks import go_duration
from canary_lint.rollout.k8s.validate import validate

CASES = json.loads((Path(__file__).parent / "k8s" / "cases.json").read_text())["cases"]

# case name -> (layer that must catch it, words its message must contain)
EXPECTED = {
    "Rollout setWeight as string": ("schema", "must be integer"),
    "Rollout maxSurge bool (int-or-string)": ("schema", "integer or a string"),
    "Rollout typo setWieght": ("unknown-field", 'unknown field "setWieght"'),
    "Rollout bad name": ("metadata", "not a DNS subdomain"),
    "AnalysisTemplate no provider": ("schema", "required field is missing"),
    "AnalysisTemplate count as '10x'": ("controller", "reads it as 0"),
    "VirtualService weight as string": ("schema", "must be integer"),
    "VirtualService typo rout": ("unknown-field", 'unknown field "rout"'),
    "VirtualService timeout 0s (CEL)": ("cel", "greater than 1ms"),
    "DestinationRule no host": ("schema", "required field is missing"),
    "HTTPRoute weight 1000001": ("schema", "greater than the maximum"),
    "HTTPRoute weight -1": ("schema", "less than the minimum"),
    "HTTPRoute path 'shop' (CEL)": ("cel", "start with '/'"),
    "HTTPRoute Service backendRef no port (CEL)": ("cel", "Must have port"),
    "HTTPRoute duplicate header match (list-map)": ("list-map", "duplicate entries"),
    "Canary no targetRef": ("schema", "required field is missing"),
    "Canary stepWeights strings": ("schema", "must be number"),
}


def _ref_path(first_error: str) -> str:
    """`spec/http/1/route/0/weight: ...` or `$.spec.http[1].timeout: ...` -> `spec.http[1].route[0].weight`."""
    where = first_error.split(": ", 1)[0]
    if where.startswith("$."):
        return where[2:]
    out = ""
    for part in where.split("/"):
        out += f"[{part}]" if part.isdigit() else ("." if out else "") + part
    return out


def test_every_reference_case_has_an_expectation():
    names = {c["name"] for c in CASES}
    valid = {n for n in names if n.endswith(" valid")}
    assert set(EXPECTED) == names - valid
    assert len(CASES) == 24


@pytest.mark.parametrize("case", [c for c in CASES if c["name"].endswith(" valid")], ids=lambda c: c["name"])
def test_valid_objects_pass(case):
    result = validate(case["object"])
    assert result.ok, result.describe()
    assert not result.problems


@pytest.mark.parametrize("case", [c for c in CASES if not c["name"].endswith(" valid")], ids=lambda c: c["name"])
def test_defective_objects_fail_naming_the_key(case):
    layer, words = EXPECTED[case["name"]]
    result = validate(case["object"])
    assert not result.ok
    hits = [p for p in result.errors if p.layer == layer and words in p.message]
    assert hits, result.describe()
    if case["first_error"]:
        want = _ref_path(case["first_error"])
        assert any(p.path.startswith(want) for p in hits), (want, result.describe())


def test_cel_cases_pass_without_cel_only_where_the_reference_says_so():
    """The three CEL cases are exactly the ones the schema layers alone let through."""
    for case in CASES:
        without = validate(case["object"], cel=False)
        if case["seen_here"]["cel_python"] is False:
            assert without.ok, case["name"]


def test_nullable_and_pruned_nulls():
    vs = json.loads(json.dumps(next(c["object"] for c in CASES if c["name"] == "DestinationRule valid")))
    vs["spec"]["trafficPolicy"] = None  # not nullable: pruned by the API server, reported as a warning
    r = validate(vs)
    assert r.ok and [p.severity for p in r.problems] == ["warning"]
    assert r.problems[0].path == "spec.trafficPolicy"


def test_defaults_are_applied_before_cel():
    route = next(c["object"] for c in CASES if c["name"] == "HTTPRoute valid")
    r = validate(route)
    ref = r.defaulted["spec"]["rules"][0]["backendRefs"][0]
    assert ref["kind"] == "Service" and ref["group"] == ""


def test_label_and_namespace_checks():
    obj = json.loads(json.dumps(next(c["object"] for c in CASES if c["name"] == "MetricTemplate valid")))
    obj["metadata"].update({"namespace": "Shop", "labels": {"app": "shop!", "-bad": "x"}})
    paths = {p.path for p in validate(obj).errors}
    assert {"metadata.namespace", "metadata.labels['app']", "metadata.labels['-bad']"} <= paths


def test_unknown_kind_names_what_is_known():
    r = validate({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}})
    assert not r.ok and "known:" in r.errors[0].message


def test_cel_escaping_and_field_paths():
    assert C.escape("namespace") == "__namespace__"
    assert C.escape("a.b-c/d__e") == "a__dot__b__dash__c__slash__d__underscores__e"
    assert C._field_path(".spec.rules[2]['x']") == ("spec", "rules", 2, "x")


@pytest.mark.parametrize("text, ok", [("30s", True), ("1h30m", True), ("1.5s", True), ("0", True),
                                      ("300µs", True), ("10x", False), ("5", False), ("", False), ("1h 30m", False)])
def test_go_durations(text, ok):
    assert go_duration(text) is ok
