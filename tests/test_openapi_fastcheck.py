"""The fast OpenAPI validation agrees with openapi-spec-validator, spec by spec, on what is invalid."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from canary_lint.openapi import fastcheck


def spec(version: str = "3.0.3") -> dict:
    return {
        "openapi": version,
        "info": {"title": "shop", "version": "1"},
        "tags": [{"name": "orders"}],
        "paths": {
            "/orders/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "get": {"operationId": "getOrder", "tags": ["orders"],
                        "responses": {"200": {"description": "ok", "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Order"}}}}}},
            },
            "/orders": {"post": {"operationId": "createOrder", "responses": {"201": {"description": "created"}}}},
        },
        "components": {"schemas": {
            "Order": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
            "Base": {"type": "object", "properties": {"kind": {"type": "string"}}},
            "Sale": {"allOf": [{"$ref": "#/components/schemas/Base"}], "required": ["kind"]},
        }},
    }


def mutate(version, fn):
    s = spec(version)
    fn(s)
    return s


BREAKS = {
    "response without description": lambda s: s["paths"]["/orders"]["post"]["responses"]["201"].pop("description"),
    "required is not a list": lambda s: s["components"]["schemas"]["Order"].update(required="id"),
    "path parameter never declared": lambda s: s["paths"].update({"/users/{uid}": {"get": {
        "responses": {"200": {"description": "ok"}}}}}),
    "declared path parameter not in the URL": lambda s: s["paths"]["/orders"]["post"].update(parameters=[
        {"name": "ghost", "in": "path", "required": True, "schema": {"type": "string"}}]),
    "duplicate operation id": lambda s: s["paths"]["/orders"]["post"].update(operationId="getOrder"),
    "duplicate parameter": lambda s: s["paths"]["/orders"]["post"].update(parameters=[
        {"name": "q", "in": "query", "schema": {"type": "string"}}, {"name": "q", "in": "query", "schema": {"type": "string"}}]),
    "duplicate tag": lambda s: s["tags"].append({"name": "orders"}),
    "allOf required not defined": lambda s: s["components"]["schemas"]["Sale"].update(required=["kind", "amount"]),
    "unknown parameter location": lambda s: s["paths"]["/orders"]["post"].update(parameters=[
        {"name": "q", "in": "body", "schema": {"type": "string"}}]),
    "info without title": lambda s: s["info"].pop("title"),
}
BREAKS_31 = {
    **{k: v for k, v in BREAKS.items() if k != "required is not a list"},
    "schema type that JSON Schema does not know": lambda s: s["components"]["schemas"]["Order"].update(type="strin"),
    "required is not a list (JSON Schema 2020-12)": lambda s: s["components"]["schemas"]["Order"].update(required="id"),
}


def osv_errors(data) -> list:
    from jsonschema_path import SchemaPath
    from openapi_spec_validator.shortcuts import get_validator_cls

    cls = get_validator_cls(data)
    return list(cls(SchemaPath.from_dict(copy.deepcopy(data), base_uri="")).iter_errors())


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
def test_a_valid_spec_is_valid_for_both(version):
    assert osv_errors(spec(version)) == []
    assert fastcheck.check(spec(version)) == []


@pytest.mark.parametrize("version, name", [("3.0.3", n) for n in BREAKS] + [("3.1.0", n) for n in BREAKS_31])
def test_each_break_is_invalid_for_both(version, name):
    data = mutate(version, (BREAKS if version.startswith("3.0") else BREAKS_31)[name])
    assert osv_errors(data), "the reference validator accepts it: not a break"
    found = fastcheck.check(data)
    assert found, f"{name}: the fast validation missed what openapi-spec-validator reports"
    pointer, reason = found[0]
    assert reason and "is not valid under any of the" not in reason  # the branch a reader can act on


def test_messages_name_the_deepest_cause():
    data = mutate("3.0.3", BREAKS["required is not a list"])
    assert fastcheck.check(data) == [("/components/schemas/Order/required", '"id" is not of type "array"')]
    data = mutate("3.0.3", BREAKS["path parameter never declared"])
    assert fastcheck.check(data) == [("/paths/~1users~1{uid}/get",
                                      "Path parameter 'uid' for 'get' operation in '/users/{uid}' was not resolved")]


def test_versions_without_a_bundled_schema_fall_back():
    assert fastcheck.check({"swagger": "2.0"}) is None
    assert fastcheck.check({"openapi": "4.0.0"}) is None


@pytest.mark.parametrize("folder", ["v3.0", "v3.1", "v3.2"])
def test_the_shipped_schemas_are_the_ones_openapi_spec_validator_ships(folder):
    from importlib import resources

    ours = resources.files("canary_lint.openapi").joinpath(f"schemas/{folder}/schema.json").read_bytes()
    theirs = resources.files("openapi_spec_validator").joinpath(f"resources/schemas/{folder}/schema.json").read_bytes()
    assert ours == theirs


WITHOUT_OSV = """import sys
sys.modules["openapi_spec_validator"] = None  # as in `pip install canary-lint` without the swagger extra
from canary_lint.cli import main
sys.argv = ["canary-lint", *sys.argv[1:]]
main()
"""
SWAGGER = "swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n"


def test_without_openapi_spec_validator_openapi_3_is_validated_and_swagger_2_says_what_to_install(tmp_path):
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "openapi.yaml").write_text(  # info without a version: invalid
        "openapi: 3.0.3\ninfo: {title: t}\npaths: {}\n")
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "swagger.yaml").write_text(SWAGGER)
    script = tmp_path / "without_osv.py"
    script.write_text(WITHOUT_OSV)
    proc = subprocess.run([sys.executable, str(script), "check", "--format", "json", "--color", "never", "."],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    found = [(f["rule"], f["path"]) for f in json.loads(proc.stdout)["findings"]]
    assert found == [("CLA190", "api/openapi.yaml")], found
    notes = [line for line in proc.stderr.splitlines() if "swagger.yaml" in line]
    assert notes == ["canary-lint: legacy/swagger.yaml is Swagger 2.0, validated (CLA190) by openapi-spec-validator, "
                     "which is not installed: pip install 'canary-lint[swagger]' (the comparison with v1 ran)"]
    bad_swagger = SWAGGER.replace("version: '1'", "x: 1")
    (tmp_path / "legacy" / "swagger.yaml").write_text(bad_swagger)  # with it installed: CLA190 as before
    proc = subprocess.run([sys.executable, "-m", "canary_lint", "check", "--format", "json", "."], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert ("CLA190", "legacy/swagger.yaml") in [(f["rule"], f["path"]) for f in
                                                 json.loads(proc.stdout)["findings"]]
    assert "not installed" not in proc.stderr


def test_swagger_2_downloads_of_type_file_are_valid_and_a_schema_error_says_it_is_inside_a_schema(tmp_path):
    from canary_lint.openapi.validate import _run

    download = {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {"/cert": {"get": {
        "produces": ["application/octet-stream"],
        "responses": {"200": {"description": "the file", "schema": {"type": "file"}}}}}}}
    assert _run(download) == []
    broken = copy.deepcopy(download)
    broken["paths"]["/cert"]["get"]["responses"]["200"]["schema"] = {"type": "object", "required": "id"}
    errors = _run(broken)
    assert errors and all(not p.startswith("/required") for p, _ in errors)
    assert any(p.startswith("/paths") or "in a schema" in m for p, m in errors), errors


def test_a_document_nested_past_the_validators_limit_is_said_not_validated_not_a_crash():
    """jsonschema-rs raised ValueError("Recursion limit reached") from its error iterator (fuzz openapi
    input 4,189: CL005, the file not checked); the spec is reported as not validated instead."""
    deep: dict = {}
    node = deep
    for _ in range(400):
        node["a"] = {}
        node = node["a"]
    spec = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {},
            "components": {"schemas": {"x": {"properties": deep}}}}
    found = fastcheck.check(spec)
    assert found is not None and found[-1][0] == "" and found[-1][1].startswith("not validated: Recursion limit")


def test_names_and_keys_that_are_huge_integers_are_shown_bounded():
    """`name: 0xfff…` (5,000 digits): the duplicate and unresolved path parameter messages printed it with str()
    (ValueError past 4,300 digits: CL005; fuzz openapi input 30,836)."""
    big = int("f" * 5000, 16)
    param = {"name": big, "in": "path", "required": True, "schema": {"type": "string"}}  # what the validator
    spec = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},  # cannot see: no schema error first
            "paths": {"/a/{id}": {"get": {"parameters": [param], "responses": {"200": {"description": "ok"}}}}}}
    found = fastcheck.check(spec)
    assert found and all(len(reason) < 400 for _, reason in found), found
