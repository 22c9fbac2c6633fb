"""The OpenAPI contract analyzer: loading, $refs, the direction-aware diff and the lessons from the anchors."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from canary_lint.examples import Case, run_case
from canary_lint.openapi.cli import diff_files
from canary_lint.openapi.loader import LoadError, load

HEAD = "openapi: 3.0.3\ninfo: {title: shop, version: '1.0'}\n"


def spec(body: str, header: str = HEAD) -> str:
    return header + textwrap.dedent(body).strip() + "\n"


def run(tmp_path: Path, base: str, head: str, *, name: str = "openapi.yaml", extra: dict | None = None,
        validate: bool = False):
    for side, text in (("v1", base), ("v2", head)):
        d = tmp_path / side
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text)
        for rel, content in (extra or {}).get(side, {}).items():
            (d / rel).parent.mkdir(parents=True, exist_ok=True)
            (d / rel).write_text(content)
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        return diff_files(f"v1/{name}", f"v2/{name}", validate=validate)
    finally:
        os.chdir(old)


def codes(report) -> list[str]:
    return sorted(f.rule for f in report.findings)


ORDERS = """
paths:
  /orders:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/NewOrder'}
      responses:
        '201':
          description: created
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Order'}
components:
  schemas:
    NewOrder:
      type: object
      required: [items]
      properties:
        items: {type: array, items: {type: string}}
        note: {type: string}
    Order:
      type: object
      required: [id, status]
      properties:
        id: {type: integer}
        status: {type: string, enum: [pending, paid]}
        note: {type: string}
"""


# ---- loading ---------------------------------------------------------------------------------------
def test_yaml_lines_follow_keys_and_items():
    doc = load("a.yaml", "openapi: 3.0.3\npaths:\n  /a:\n    get:\n      parameters:\n        - name: x\n          in: query\n")
    assert doc.line_of("/paths/~1a/get") == 4
    assert doc.line_of("/paths/~1a/get/parameters/0") == 6
    assert doc.line_of("/paths/~1a/get/parameters/0/in") == 7
    assert doc.line_of("/paths/~1missing") == 2  # nearest existing ancestor


def test_json_lines_without_the_yaml_loader(monkeypatch):
    import yaml

    def refuse(*_a, **_k):
        raise AssertionError("JSON must never go through the YAML loader")

    monkeypatch.setattr(yaml, "compose", refuse)
    text = json.dumps({"openapi": "3.0.3", "paths": {"/a": {"get": {"responses": {"200": {"description": "x"}}}},
                                                     "/b~c": {"post": {}}}}, indent=2)
    doc = load("a.json", text)
    assert doc.kind == "json"
    lines = text.splitlines()
    assert lines[doc.line_of("/paths/~1a/get/responses/200") - 1].strip().startswith('"200"')
    assert lines[doc.line_of("/paths/~1b~0c/post") - 1].strip().startswith('"post"')
    assert doc.line_of("/paths/~1a/get/responses/200") == 7


def test_invalid_json_reports_its_line():
    with pytest.raises(LoadError) as exc:
        load("a.json", '{\n  "openapi": "3.0.3",\n  "paths": {,}\n}')
    assert exc.value.line == 3


def test_alias_bomb_is_refused_quickly():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    text = "openapi: 3.0.3\n" + "\n".join(lines) + "\n"
    with pytest.raises(LoadError, match="alias bomb"):
        load("bomb.yaml", text)


def test_recursive_alias_is_refused():
    with pytest.raises(LoadError, match="refers to itself"):
        load("loop.yaml", "openapi: 3.0.3\na: &a\n  b: *a\n")


def test_oversized_yaml_is_refused_with_advice():
    with pytest.raises(LoadError, match="convert it to JSON"):
        load("big.yaml", "openapi: 3.0.3\n" + "x: " + "y" * 100 + "\n", max_yaml_bytes=50)


def test_fifty_megabyte_spec_is_a_clear_finding_not_a_hang(tmp_path):
    big = tmp_path / "v2" / "openapi.yaml"
    big.parent.mkdir()
    with open(big, "w") as fh:
        fh.write(HEAD + "paths: {}\nx-padding: |\n")
        chunk = "  " + "z" * 1022 + "\n"
        for _ in range(50 * 1024):
            fh.write(chunk)
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "openapi.yaml").write_text(spec("paths: {}"))
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        report = diff_files("v1/openapi.yaml", "v2/openapi.yaml", validate=False)
    finally:
        os.chdir(old)
    assert [f.rule for f in report.findings] == ["CL001"]
    assert "MB" in report.findings[0].message


def test_not_openapi_and_invalid_yaml_are_file_errors(tmp_path):
    report = run(tmp_path, spec(ORDERS), "just: a config file\n")
    assert codes(report) == ["CL001"] and "not an OpenAPI document" in report.findings[0].message
    report = run(tmp_path, spec(ORDERS), "openapi: 3.0.3\npaths:\n  /a: [unclosed\n")
    assert codes(report) == ["CL001"] and report.findings[0].line >= 3


# ---- $refs -----------------------------------------------------------------------------------------
def test_remote_and_absolute_refs_are_refused_and_nothing_is_read(tmp_path, monkeypatch):
    import socket

    def no_network(*_a, **_k):
        raise AssertionError("no network access during a check")

    monkeypatch.setattr(socket, "create_connection", no_network)
    head = spec("""
    paths:
      /a:
        get:
          responses:
            '200':
              description: x
              content:
                application/json:
                  schema: {$ref: 'https://example.com/s.yaml#/S'}
            '201':
              description: y
              content:
                application/json:
                  schema: {$ref: '/etc/passwd#/root'}
            '202':
              description: z
              content:
                application/json:
                  schema: {$ref: '../../../../../../etc/passwd'}
    """)
    report = run(tmp_path, head, head)
    refused = [f for f in report.findings if f.rule == "CLA191"]
    assert len(refused) == 3
    messages = " ".join(f.message for f in refused)
    assert "remote references are not fetched" in messages
    assert "absolute paths are not read" in messages
    assert "outside the tree" in messages
    assert "root:" not in messages  # nothing of /etc/passwd leaked


def test_relative_file_refs_are_followed_and_compared(tmp_path):
    main = spec("""
    paths:
      /orders:
        get:
          responses:
            '200':
              description: x
              content:
                application/json:
                  schema: {$ref: 'schemas/order.yaml#/Order'}
    """)
    order_v1 = "Order:\n  type: object\n  required: [id]\n  properties:\n    id: {type: integer}\n"
    order_v2 = "Order:\n  type: object\n  properties:\n    id: {type: integer}\n"
    report = run(tmp_path, main, main, extra={"v1": {"schemas/order.yaml": order_v1},
                                              "v2": {"schemas/order.yaml": order_v2}})
    [f] = report.findings
    assert f.rule == "CLA133" and f.path == "v2/schemas/order.yaml" and f.line == 4
    assert f.operation == "GET /orders"


def test_ref_cycles_terminate_and_still_compare(tmp_path):
    base = spec("""
    paths:
      /nodes:
        get:
          responses:
            '200':
              description: x
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Node'}
    components:
      schemas:
        Node:
          type: object
          required: [id, children]
          properties:
            id: {type: integer}
            children: {type: array, items: {$ref: '#/components/schemas/Node'}}
        A: {$ref: '#/components/schemas/B'}
        B: {$ref: '#/components/schemas/A'}
    """)
    head = base.replace("required: [id, children]", "required: [id]")
    report = run(tmp_path, base, head)
    assert codes(report) == ["CLA133"]


# ---- the diff: quiet refactorings ---------------------------------------------------------------------
def test_equivalent_refactorings_are_quiet(tmp_path):
    inlined = spec("""
    paths:
      /orders/{id}:
        get:
          description: a longer description
          parameters:
            - {name: id, in: path, required: true, schema: {type: integer}}
          responses:
            '200':
              description: the order
              content:
                application/json:
                  schema:
                    type: object
                    required: [status, id]
                    properties:
                      status: {type: string, enum: [paid, pending]}
                      id: {type: integer}
                      note: {type: string}
                      added: {type: string}
      /orders:
        post:
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [items]
                  properties:
                    items: {type: array, items: {type: string}}
                    note: {type: string}
                    gift: {type: boolean}
          responses:
            '201':
              description: created
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Order'}
      /new:
        get:
          responses:
            '200': {description: new operation}
    components:
      schemas:
        Order:
          type: object
          required: [id, status]
          properties:
            id: {type: integer}
            status: {type: string, enum: [pending, paid]}
            note: {type: string}
    """)
    base = spec(ORDERS.replace("paths:\n", """paths:
  /orders/{orderId}:
    get:
      parameters:
        - {name: orderId, in: path, required: true, schema: {type: integer}}
      responses:
        '200':
          description: the order
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Order'}
""", 1))
    report = run(tmp_path, base, inlined)
    assert codes(report) == []


def test_major_version_bump_never_suppresses(tmp_path):
    base = spec(ORDERS)
    head = spec(ORDERS.replace("required: [items]", "required: [items, note]"),
                header="openapi: 3.0.3\ninfo: {title: shop, version: '2.0.0'}\n")
    assert codes(run(tmp_path, base, head)) == ["CLA111"]


def test_removed_operation_is_one_finding_at_the_base_line(tmp_path):
    base = spec(ORDERS)
    head = spec("paths: {}\ncomponents:\n" + ORDERS.split("components:\n", 1)[1])
    report = run(tmp_path, base, head)
    [f] = report.findings
    assert (f.rule, f.operation, f.path, f.line, f.pointer) == ("CLA101", "POST /orders", "v1/openapi.yaml", 5,
                                                                  "/paths/~1orders/post")


def test_deprecated_operation_removed_is_still_an_error(tmp_path):
    base = spec(ORDERS.replace("    post:\n", "    post:\n      deprecated: true\n", 1))
    head = spec("paths: {}")
    [f] = run(tmp_path, base, head).findings
    assert f.rule == "CLA101" and "deprecated" in f.message and f.severity.value == "error"


# ---- the diff: the anchors' lessons -----------------------------------------------------------------
def test_property_moved_into_allof_member_is_not_removed(tmp_path):
    base = spec(ORDERS)
    head = spec(ORDERS.replace("""    Order:
      type: object
      required: [id, status]
      properties:
        id: {type: integer}
        status: {type: string, enum: [pending, paid]}
        note: {type: string}""", """    Base:
      type: object
      required: [id]
      properties:
        id: {type: integer}
    Order:
      allOf:
        - $ref: '#/components/schemas/Base'
        - type: object
          required: [status]
          properties:
            status: {type: string, enum: [pending, paid]}
            note: {type: string}"""))
    assert codes(run(tmp_path, base, head)) == []


def test_allof_extension_of_a_ref_is_not_a_type_change(tmp_path):
    base = spec(ORDERS)
    head = spec(ORDERS.replace("""              schema: {$ref: '#/components/schemas/Order'}""", """              schema:
                allOf:
                  - $ref: '#/components/schemas/Order'
                  - type: object
                    properties:
                      links: {type: object}"""))
    assert codes(run(tmp_path, base, head)) == []


def test_allof_branch_added_in_request_counts_by_what_it_requires(tmp_path):
    base = spec(ORDERS)
    extra = """
    Audit:
      type: object
      required: [actor]
      properties:
        actor: {type: string}"""
    head = spec(ORDERS.replace("schema: {$ref: '#/components/schemas/NewOrder'}",
                               "schema: {allOf: [{$ref: '#/components/schemas/NewOrder'}, {$ref: '#/components/schemas/Audit'}]}")
                + textwrap.indent(textwrap.dedent(extra).strip(), "    ") + "\n")
    report = run(tmp_path, base, head)
    assert codes(report) == ["CLA110"] and "`actor`" in report.findings[0].message


UNION = """
paths:
  /pay:
    post:
      requestBody:
        content:
          application/json:
            schema:
              oneOf: [{$ref: '#/components/schemas/Card'}, {$ref: '#/components/schemas/Iban'}]
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                oneOf: [{$ref: '#/components/schemas/Card'}, {$ref: '#/components/schemas/Iban'}]
components:
  schemas:
    Card: {type: object, required: [number], properties: {number: {type: string}}}
    Iban: {type: object, required: [iban], properties: {iban: {type: string}}}
    Cash: {type: object, required: [amount], properties: {amount: {type: number}}}
"""


def test_union_widened_in_request_is_safe_narrowed_in_response_is_safe(tmp_path):
    base = spec(UNION)
    lines = UNION.split("\n")
    widened_req = UNION.replace("""            schema:
              oneOf: [{$ref: '#/components/schemas/Card'}, {$ref: '#/components/schemas/Iban'}]
      responses""", """            schema:
              oneOf: [{$ref: '#/components/schemas/Card'}, {$ref: '#/components/schemas/Iban'}, {$ref: '#/components/schemas/Cash'}]
      responses""")
    assert widened_req != UNION and lines
    assert codes(run(tmp_path, base, spec(widened_req))) == []
    narrowed_resp = UNION.replace("""              schema:
                oneOf: [{$ref: '#/components/schemas/Card'}, {$ref: '#/components/schemas/Iban'}]
components""", """              schema:
                oneOf: [{$ref: '#/components/schemas/Card'}]
components""")
    assert codes(run(tmp_path, base, spec(narrowed_resp))) == []


def test_union_narrowed_in_request_and_widened_in_response_break(tmp_path):
    base = spec(UNION)
    both = UNION.replace("oneOf: [{$ref: '#/components/schemas/Card'}, {$ref: '#/components/schemas/Iban'}]\n      responses",
                         "oneOf: [{$ref: '#/components/schemas/Card'}]\n      responses")
    both = both.replace("""                oneOf: [{$ref: '#/components/schemas/Card'}, {$ref: '#/components/schemas/Iban'}]
components""", """                oneOf: [{$ref: '#/components/schemas/Card'}, {$ref: '#/components/schemas/Iban'}, {$ref: '#/components/schemas/Cash'}]
components""")
    assert codes(run(tmp_path, base, spec(both))) == ["CLA119", "CLA134"]


def test_inline_branch_equals_its_ref(tmp_path):
    base = spec(UNION)
    head = UNION.replace("oneOf: [{$ref: '#/components/schemas/Card'}, {$ref: '#/components/schemas/Iban'}]\n      responses",
                         "oneOf: [{type: object, required: [iban], properties: {iban: {type: string}}}, "
                         "{$ref: '#/components/schemas/Card'}]\n      responses")
    assert codes(run(tmp_path, base, spec(head))) == []


def test_required_field_inside_new_optional_object_is_not_a_new_input(tmp_path):
    head = ORDERS.replace("        note: {type: string}\n    Order:", """        note: {type: string}
        shipping:
          type: object
          required: [street]
          properties: {street: {type: string}}
    Order:""")
    assert codes(run(tmp_path, spec(ORDERS), spec(head))) == []


REF_SIBLING = """
paths:
  /a:
    get:
      responses:
        '200':
          description: x
          content:
            application/json:
              schema:
                type: object
                properties:
                  when: {$ref: '#/components/schemas/Stamp', nullable: true}
components:
  schemas:
    Stamp: {type: string}
"""


def test_ref_siblings_ignored_in_30_honoured_in_31(tmp_path):
    base = spec(REF_SIBLING.replace(", nullable: true", ""))
    assert codes(run(tmp_path, base, spec(REF_SIBLING))) == []  # 3.0: siblings of $ref are ignored
    h31 = "openapi: 3.1.0\ninfo: {title: shop, version: '1.0'}\n"
    base31 = spec(REF_SIBLING.replace(", nullable: true", ""), header=h31)
    head31 = spec(REF_SIBLING.replace("nullable: true", "type: [string, 'null']"), header=h31)
    assert codes(run(tmp_path, base31, head31)) == ["CLA133"]


def test_read_only_and_write_only_are_respected(tmp_path):
    base = spec(ORDERS.replace("        note: {type: string}\n    Order:", "        note: {type: string}\n        id: {type: integer, readOnly: true}\n    Order:"))
    head = spec(ORDERS.replace("required: [items]", "required: [items, id]").replace(
        "        note: {type: string}\n    Order:", "        note: {type: string}\n        id: {type: integer, readOnly: true}\n    Order:"))
    assert codes(run(tmp_path, base, head)) == []  # a readOnly property is not an input
    base = spec(ORDERS.replace("        note: {type: string}\n", "        note: {type: string}\n        secret: {type: string, writeOnly: true}\n", 2))
    head = spec(ORDERS)
    assert [c for c in codes(run(tmp_path, base, head)) if c != "CLA117"] == []  # writeOnly never returned


def test_direction_awareness_for_types_and_limits(tmp_path):
    base = spec(ORDERS)
    widened = ORDERS.replace("id: {type: integer}", "id: {type: number}")
    report = run(tmp_path, base, spec(widened))
    assert codes(report) == ["CLA134"]  # response widened: v1 parsers expect integers
    narrowed = ORDERS.replace("items: {type: array, items: {type: string}}",
                              "items: {type: array, maxItems: 5, items: {type: string, maxLength: 20}}")
    report = run(tmp_path, base, spec(narrowed))
    assert codes(report) == ["CLA114", "CLA114"]
    assert {f.message.split(":")[1].strip().split(" ")[2] for f in report.findings} == {"`items`", "`items[]`"}


def test_security_requirement_and_scope_added_are_errors(tmp_path):
    base = spec(ORDERS)
    head = spec(ORDERS.replace("    post:\n", "    post:\n      security: [{oauth: [orders:write]}]\n", 1))
    report = run(tmp_path, base, head)
    assert codes(report) == ["CLA140"] and report.findings[0].severity.value == "error"
    g_base = spec(ORDERS + "security: [{oauth: [a]}]\n")
    g_head = spec(ORDERS + "security: [{oauth: [a, b]}]\n")
    [f] = run(tmp_path, g_base, g_head).findings
    assert f.rule == "CLA140" and "scope" in f.message and "global" in f.message
    alt = spec(ORDERS + "security: [{oauth: [a]}, {key: []}]\n")
    assert codes(run(tmp_path, g_base, alt)) == []  # a new alternative is not a new requirement


def test_swagger_2_body_and_parameters(tmp_path):
    base = """swagger: '2.0'
info: {title: shop, version: '1'}
paths:
  /orders:
    post:
      parameters:
        - {name: body, in: body, required: true, schema: {$ref: '#/definitions/NewOrder'}}
        - {name: dry, in: query, type: boolean}
      responses:
        '201': {description: created, schema: {$ref: '#/definitions/NewOrder'}}
definitions:
  NewOrder:
    type: object
    required: [items]
    properties:
      items: {type: array, items: {type: string}}
      note: {type: string}
"""
    head = base.replace("required: [items]", "required: [items, note]").replace(
        "{name: dry, in: query, type: boolean}", "{name: dry, in: query, type: boolean, required: true}")
    assert codes(run(tmp_path, base, head, name="swagger.yaml")) == ["CLA111", "CLA111"]


def test_json_specs_compare_with_lines(tmp_path):
    import yaml

    base = json.dumps(yaml.safe_load(spec(ORDERS)), indent=2)
    head = json.dumps(yaml.safe_load(spec(ORDERS.replace("required: [items]", "required: [items, note]"))), indent=2)
    report = run(tmp_path, base, head, name="openapi.json")
    [f] = report.findings
    assert f.rule == "CLA111" and head.splitlines()[f.line - 1].strip().startswith('"note"')


def test_x_canary_lint_ignore_on_an_operation(tmp_path):
    base = spec(ORDERS)
    head = spec(ORDERS.replace("required: [items]", "required: [items, note]").replace(
        "    post:\n", "    post:\n      x-canary-lint-ignore: [input-became-required-v1-clients-may-omit]\n", 1))
    assert codes(run(tmp_path, base, head)) == []


# ---- validation -------------------------------------------------------------------------------------
def test_validation_is_cached_by_content_hash(tmp_path, monkeypatch):
    from canary_lint.openapi import validate as v

    calls = []
    real = v._run
    monkeypatch.setattr(v, "_run", lambda data: calls.append(1) or real(data))
    bad = spec("paths:\n  /a:\n    get: {}\n")
    first = run(tmp_path, bad, bad, validate=True)
    second = run(tmp_path, bad, bad, validate=True)
    assert [f.rule for f in first.findings] == ["CLA190"] == [f.rule for f in second.findings]
    assert len(calls) == 1
    assert list((Path(os.environ["CANARY_LINT_CACHE_DIR"]) / "openapi").glob("*.json"))
    assert not (tmp_path / ".canary-lint-cache").exists()  # nothing written into the checked tree


def test_a_cache_inside_the_checked_tree_is_never_read(tmp_path, monkeypatch):
    """A pull request can commit files anywhere in its tree: a forged 'valid' verdict must not be read."""
    outside = tmp_path / "user-cache"
    monkeypatch.setenv("CANARY_LINT_CACHE_DIR", str(outside))
    bad = spec("paths:\n  /a:\n    get: {}\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    assert [f.rule for f in run(tree, bad, bad, validate=True).findings] == ["CLA190"]
    entries = list((outside / "openapi").glob("*.json"))
    assert entries
    forged = tree / ".canary-lint-cache"
    (forged / "openapi").mkdir(parents=True)
    for entry in entries:  # the very keys the validator uses, each saying "valid"
        (forged / "openapi" / entry.name).write_text("[]")
    monkeypatch.setenv("CANARY_LINT_CACHE_DIR", str(forged))
    assert [f.rule for f in run(tree, bad, bad, validate=True).findings] == ["CLA190"]


# ---- the CLI and `check` ---------------------------------------------------------------------------
def test_openapi_diff_cli_formats_and_exit_codes(tmp_path, monkeypatch):
    from canary_lint.cli import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_text(spec(ORDERS))
    (tmp_path / "b.yaml").write_text(spec(ORDERS.replace("required: [items]", "required: [items, note]")))
    runner = CliRunner()
    result = runner.invoke(cli, ["openapi-diff", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml"),
                                 "--format", "json", "--no-validate"], standalone_mode=False)
    data = json.loads(result.output[: result.output.rindex("}") + 1])
    assert result.return_value == 1
    assert data["findings"][0]["rule"] == "CLA111" and data["findings"][0]["operation"] == "POST /orders"
    same = runner.invoke(cli, ["openapi-diff", str(tmp_path / "a.yaml"), str(tmp_path / "a.yaml"),
                               "--no-validate"], standalone_mode=False)
    assert same.return_value == 0


def test_check_example_shows_the_v2_contract_changes():
    from canary_lint.config import Config
    from canary_lint.engine import run_check
    from canary_lint.example import example_release

    with example_release() as (root, base_ref):
        report = run_check(["."], Config(root=root), base=base_ref, cwd=root)
    api = {(f.rule, f.operation) for f in report.findings if f.family == "api"}
    assert ("CLA110", "POST /orders") in api
    assert ("CLA101", "GET /users/{id}/nickname") in api
    assert ("CLA135", "GET /orders/{id}") in api
    assert not any(f.rule == "CLA101" and "orders" in (f.operation or "") for f in report.findings)
    assert [f for f in report.findings if f.rule == "CLA110"][0].severity.value == "error"


def test_deleted_spec_and_spec_added_in_head():
    other = spec("paths: {}")
    case = Case("CLA100", "deleted", head={"api/openapi.yaml": other, "new/openapi.yaml": spec(ORDERS)},
                base={"api/openapi.yaml": other, "legacy/openapi.yaml": spec(ORDERS)}, expect=[("CLA100", 1)])
    report = run_case(case)
    assert [(f.rule, f.path) for f in report.findings if f.family == "api"] == [("CLA100", "legacy/openapi.yaml")]


def test_the_only_spec_deleted_is_still_reported():
    case = Case("CLA100", "only-spec", head={"app.py": "x = 1\n"},
                base={"app.py": "x = 1\n", "openapi.json": json.dumps({"openapi": "3.0.3", "paths": {}})},
                expect=[("CLA100", 1)])
    report = run_case(case)
    assert [(f.rule, f.path) for f in report.findings if f.family == "api"] == [("CLA100", "openapi.json")]


def test_webhook_removed_in_31(tmp_path):
    h31 = "openapi: 3.1.0\ninfo: {title: shop, version: '1.0'}\n"
    base = spec("""
    paths: {}
    webhooks:
      orderShipped:
        post:
          requestBody:
            content:
              application/json:
                schema: {type: object}
          responses:
            '200': {description: ok}
    """, header=h31)
    head = spec("paths: {}", header=h31)
    [f] = run(tmp_path, base, head).findings
    assert f.rule == "CLA102" and "orderShipped" in f.message and f.line == 5


def test_ignored_header_parameters_are_not_inputs(tmp_path):
    head = spec(ORDERS.replace("    post:\n", "    post:\n      parameters:\n        - {name: Accept, in: header, required: true, schema: {type: string}}\n", 1))
    assert codes(run(tmp_path, spec(ORDERS), head)) == []


def test_api_settings_are_validated():
    from canary_lint.config import ConfigError
    from canary_lint.openapi.settings import options, validate

    validate({"validate": False, "max-yaml-mb": 4}, "pyproject.toml [tool.canary-lint.api]")
    assert options({"validate": False, "max-yaml-mb": 4}) == {"validate": False, "max_yaml_bytes": 4 * 1024 * 1024}
    with pytest.raises(ConfigError, match="unknown key `validat`"):
        validate({"validat": True}, "x")
    with pytest.raises(ConfigError, match="positive integer"):
        validate({"max-yaml-mb": 0}, "x")
    with pytest.raises(ConfigError, match="true or false"):
        validate({"validate": "yes"}, "x")


def _deep(depth: int) -> str:
    schema = "{type: string}"
    for _ in range(depth):
        schema = "{type: object, properties: {a: " + schema + "}}"
    return spec(f"""
    paths:
      /deep:
        get:
          responses:
            '200':
              description: x
              content:
                application/json:
                  schema: {schema}
    """)


def test_deep_schemas_compare_and_absurd_nesting_is_refused_cleanly(tmp_path):
    base = _deep(120)
    report = run(tmp_path, base, base.replace("{type: string}", "{type: integer}"))
    assert codes(report) == ["CLA134"] and "a.a.a" in report.findings[0].message
    base = _deep(400)
    report = run(tmp_path, base, base.replace("{type: string}", "{type: integer}"))
    assert {f.rule for f in report.findings} == {"CL001"}
    assert "nests deeper than" in report.findings[0].message


def test_yaml_line_suppression_and_operation_ignore_in_check_mode():
    base = spec(ORDERS)
    head = spec(ORDERS.replace("required: [items]", "required: [items, note]").replace(
        "        note: {type: string}\n    Order:",
        "        # canary-lint: ignore[CLA111] the only client sends note since 1.3\n"
        "        note: {type: string}\n    Order:"))
    report = run_case(Case("CLA111", "suppressed", head={"openapi.yaml": head}, base={"openapi.yaml": base},
                           expect=[]))
    assert [f.rule for f in report.findings] == [] and report.suppressed == 1


def test_pretty_json_shortcut_and_full_scan_agree_on_every_pointer():
    import yaml

    from canary_lint.openapi.loader import escape

    data = yaml.safe_load(spec(ORDERS + UNION.split("components:")[0].replace("paths:\n", "")))
    data["paths"]["/we~ird/{x}"] = {"get": {"parameters": [{"name": "x", "in": "path"}], "responses": {}}}
    for indent in (2, 4, None):
        text = json.dumps(data, indent=indent)
        doc = load("a.json", text)

        def pointers(node, prefix=""):
            yield prefix
            if isinstance(node, dict):
                for k, v in node.items():
                    yield from pointers(v, f"{prefix}/{escape(k)}")
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    yield from pointers(v, f"{prefix}/{i}")

        from canary_lint.openapi.loader import split_pointer

        checked = 0
        for p in pointers(data):
            fast = doc._json_offset(split_pointer(p))
            slow = doc._json_offset_scan(split_pointer(p))
            assert fast == slow, p
            checked += 1
        assert checked > 50


def test_encoded_content_changes_break_both_directions(tmp_path):
    h31 = "openapi: 3.1.0\ninfo: {title: shop, version: '1.0'}\n"
    body = """
    paths:
      /files:
        post:
          requestBody:
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    data: {type: string, contentMediaType: image/png, contentEncoding: base64}
          responses:
            '200':
              description: ok
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      data: {type: string, contentMediaType: image/png, contentEncoding: base64}
    """
    report = run(tmp_path, spec(body, h31), spec(body.replace("base64", "base32"), h31))
    assert codes(report) == ["CLA112", "CLA134"]
    assert "image/png (base32)" in report.findings[0].message


def test_validation_fallback_entry_point_reports_the_reason():
    from canary_lint.openapi.validate import _run, _run_simple

    bad = {"openapi": "3.0.3", "info": {"title": "x"}, "paths": {}}
    assert _run_simple(bad) and "version" in _run_simple(bad)[0][1]
    assert _run(bad) and "version" in _run(bad)[0][1]
    good = {"openapi": "3.0.3", "info": {"title": "x", "version": "1"}, "paths": {}}
    assert _run_simple(good) == [] == _run(good)
