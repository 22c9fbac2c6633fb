"""Integers Python will not print in decimal (past its 4,300-digit limit: a `0x` literal of 5,000 digits, a
YAML `0x…` number, a 5,000-digit JSON, YAML, SQL or TOML number) on every front, through the real CLI: a
finding that shows the value in hex, or a one-line error naming where it is, never CL005 or a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import git, run_cli
from test_hostile import check_json, revision, rules, write

HEX = "0x" + "f" * 5000  # an exact int (hex is linear to read and print), 6,021 decimal digits
HEX_LESS = "0x" + "f" * 4999 + "e"
DECIMAL = "1" * 5000  # Python refuses to read it as an int at all


def released(root: Path, base: dict, head: dict) -> Path:
    """A repository whose last commit (v1) holds `base`, with `head` written over it in the work tree."""
    write(root, base)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "v1")
    return write(root, head)


def messages(report: dict, rule: str) -> list[str]:
    return [f["message"] for f in report["findings"] if f["rule"] == rule]


# ---- the helpers every front prints through ---------------------------------------------------------------
def test_literal_text_and_repr_never_raise_and_stay_exact():
    from canary_lint.model import literal_json, literal_repr, literal_text, number

    big = int(HEX, 16)
    assert literal_text(big) == HEX and literal_text(-big) == "-" + HEX
    assert literal_repr([big, "a", {"k": (big,)}]) == f"[{HEX}, 'a', {{'k': ({HEX},)}}]"
    assert literal_text(big) != literal_text(int(HEX_LESS, 16))  # still compares apart
    short = literal_text(big, 40)
    assert len(short) == 40 and short.startswith("0xfff") and "…" in short
    assert literal_text(12) == "12" and literal_repr("x") == "'x'"
    assert json.loads(literal_json({"max": big})) == {"max": HEX}
    assert number("12") == 12 and number(DECIMAL) == float("inf") and number("-" + DECIMAL) == float("-inf")
    with pytest.raises(ValueError):
        number("12a")


def test_compact_numbers_shows_a_long_number_by_its_ends_and_its_size():
    from canary_lint.model import compact_numbers

    assert compact_numbers(f"VARCHAR({HEX})") == "VARCHAR(0xffffffff…ffff (a 5,000-digit hex number))"
    assert compact_numbers(f"n = {DECIMAL};") == "n = 11111111…1111 (a 5,000-digit number);"
    short = "drops t.c; sha " + "ab12" * 16 + " and 0x" + "f" * 80  # a sha256 and an 80-digit literal stay
    assert compact_numbers(short) == short


def shown_once(report: dict, rule: str, path: str) -> str:
    """The one message of `rule` on `path`: one line, bounded, the long number shown by its size."""
    found = [f["message"] for f in report["findings"] if f["rule"] == rule and f["path"] == path]
    assert found, report["findings"]
    message = found[0]
    assert "\n" not in message and len(message) < 400, message
    return message


# ---- Alembic ------------------------------------------------------------------------------------------------
def test_alembic_revision_with_long_ints_everywhere(tmp_path):
    body = (f"    op.add_column('orders', sa.Column('z', sa.String({HEX}), nullable=False))\n"
            f"    op.add_column('orders', sa.Column('w', sa.Numeric({HEX}, {HEX}), server_default={HEX}))\n"
            f"    op.alter_column('orders', 'x', type_=sa.String({HEX}), server_default={HEX})\n"
            f"    op.drop_column({HEX}, {HEX})")
    files = revision(body)
    files["migrations/versions/b.py"] = files["migrations/versions/b.py"].replace(
        'revision = "b"', f"revision = {HEX}").replace("from alembic import op", "from alembic import op\nimport sqlalchemy as sa")
    code, report, _ = check_json(write(tmp_path, files))
    assert code == 1
    assert ("CLM106", "migrations/versions/b.py", "error") in rules(report)  # z: NOT NULL, no default
    assert ("CLM101", "migrations/versions/b.py", "error") in rules(report)  # the drop, of unknown names


def test_alembic_length_of_5000_digits_is_shown_by_its_size(tmp_path):
    body = f"    op.alter_column('orders', 'x', type_=sa.String({HEX}))"
    files = revision(body)
    files["migrations/versions/b.py"] = files["migrations/versions/b.py"].replace(
        "from alembic import op", "from alembic import op\nimport sqlalchemy as sa")
    code, report, _ = check_json(write(tmp_path, files))
    message = shown_once(report, "CLM105", "migrations/versions/b.py")
    assert code in (0, 1) and "VARCHAR(0xffffffff…ffff (a 5,000-digit hex number))" in message  # a warning


def test_a_5000_digit_decimal_in_python_source_is_a_parse_error_naming_the_file(tmp_path):
    files = revision(f"    op.alter_column('orders', 'x', server_default={DECIMAL})")
    code, report, _ = check_json(write(tmp_path, files))
    message = shown_once(report, "CL001", "migrations/versions/b.py")
    assert code == 1 and "4300 digits" in message
    assert [e["path"] for e in report["errors"]] == ["migrations/versions/b.py"]


# ---- Django ---------------------------------------------------------------------------------------------------
def test_django_fields_with_long_ints(tmp_path):
    initial = (
        "from django.db import migrations, models\n"
        "class Migration(migrations.Migration):\n    initial = True\n    dependencies = []\n    operations = [\n"
        "        migrations.CreateModel(name='Order', fields=[('id', models.AutoField(primary_key=True)),\n"
        f"            ('a', models.CharField(max_length={HEX})), ('b', models.IntegerField(db_default={HEX})),\n"
        f"            ('d', models.DecimalField(max_digits={HEX}, decimal_places={HEX}))]),\n    ]\n")
    second = (
        "from django.db import migrations, models\n"
        "class Migration(migrations.Migration):\n    dependencies = [('shop', '0001_initial')]\n    operations = [\n"
        f"        migrations.AlterField(model_name='order', name='a', field=models.CharField(max_length=5, default={HEX})),\n"
        f"        migrations.AddField(model_name='order', name='c', field=models.CharField(max_length=9, db_default={HEX})),\n"
        "    ]\n")
    root = write(tmp_path, {"shop/__init__.py": "", "shop/migrations/__init__.py": "",
                            "shop/migrations/0001_initial.py": initial, "shop/migrations/0002_b.py": second})
    code, report, _ = check_json(root)
    narrowed = messages(report, "CLM105")
    assert narrowed and "VARCHAR(0xfff" in narrowed[0], report["findings"]


def test_django_max_length_of_5000_digits_is_shown_by_its_size(tmp_path):
    migration = (
        "from django.db import migrations, models\n"
        "class Migration(migrations.Migration):\n    dependencies = []\n    operations = [\n"
        f"        migrations.AlterField(model_name='order', name='a', field=models.CharField(max_length={HEX})),\n"
        "    ]\n")
    root = write(tmp_path, {"shop/__init__.py": "", "shop/migrations/__init__.py": "",
                            "shop/migrations/0002_b.py": migration})
    code, report, _ = check_json(root)
    message = shown_once(report, "CLM105", "shop/migrations/0002_b.py")
    assert code in (0, 1) and "VARCHAR(0xffffffff…ffff (a 5,000-digit hex number))" in message  # a warning


# ---- SQL --------------------------------------------------------------------------------------------------
def test_sql_types_and_defaults_with_long_numbers(tmp_path):
    root = released(tmp_path, {"migrations/001.sql": f"CREATE TABLE t (a VARCHAR({DECIMAL}), n NUMERIC({DECIMAL},2));\n"},
                    {"migrations/002.sql": f"ALTER TABLE t ALTER COLUMN a TYPE VARCHAR(5);\n"
                                           f"ALTER TABLE t ALTER COLUMN n TYPE NUMERIC(5,{DECIMAL});\n"
                                           f"ALTER TABLE t ADD COLUMN b int NOT NULL DEFAULT {DECIMAL};\n"})
    code, report, _ = check_json(root, "--base", "HEAD")
    assert code == 1 and "CLM105" in {f["rule"] for f in report["findings"]}


# ---- OpenAPI ------------------------------------------------------------------------------------------------
SPEC = """openapi: 3.0.3
info: {{title: t, version: '1'}}
paths:
  /a:
    get:
      parameters:
        - {{name: q, in: query, schema: {{type: integer, minimum: {n}, maximum: {n}, enum: [{n}, 2], default: {n}}}}}
      responses:
        '200':
          description: ok
          content: {{application/json: {{schema: {{type: integer, enum: [{n}, 3]}}}}}}
"""


def test_openapi_long_ints_in_bounds_enums_and_defaults(tmp_path):
    root = released(tmp_path, {"openapi.yaml": SPEC.format(n=HEX)}, {"openapi.yaml": SPEC.format(n=HEX_LESS)})
    code, report, _ = check_json(root, "--base", "HEAD")
    found = {f["rule"] for f in report["findings"]}
    assert code == 1 and {"CLA113", "CLA114", "CLA115", "CLA135"} <= found, report["findings"]
    assert "CLA190" not in found  # a valid spec: the validator's view of a number past float range is no error
    tightened = messages(report, "CLA114")[0]
    assert "0xfff" in tightened and "fffe" in tightened and len(tightened) < 400  # both ends shown, bounded


def test_openapi_json_and_yaml_with_a_5000_digit_number(tmp_path):
    spec = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": {"/a": {"get": {"parameters": [{"name": "q", "in": "query",
                                                     "schema": {"type": "integer", "maximum": 7}}],
                                     "responses": {"200": {"description": "ok"}}}}}}
    text = json.dumps(spec).replace('"maximum": 7', f'"maximum": {DECIMAL}')
    root = write(tmp_path, {"api/openapi.json": text, "yaml/openapi.yaml": SPEC.format(n=DECIMAL)})
    code, report, _ = check_json(root)
    assert "CLA190" not in {f["rule"] for f in report["findings"]}, report["findings"]


BODY = """openapi: 3.0.3
info: {{title: t, version: '1'}}
paths:
  /a:
    post:
      requestBody:
        content: {{application/json: {{schema: {{type: string, maxLength: {n}}}}}}}
      responses: {{'200': {{description: ok}}}}
"""


@pytest.mark.parametrize("n, said", [(HEX, "0xfffffff"), (DECIMAL, "inf (a number past float range)")])
def test_openapi_max_length_of_5000_digits_in_a_message(tmp_path, n, said):
    root = released(tmp_path, {"openapi.yaml": BODY.format(n=n)}, {"openapi.yaml": BODY.format(n=10)})
    code, report, _ = check_json(root, "--base", "HEAD")
    message = shown_once(report, "CLA114", "openapi.yaml")
    assert code == 1 and "tightened maxLength from " in message and said in message and "to 10;" in message


@pytest.mark.parametrize("ref", ["{x: [1, " + HEX + "]}", "[a, b]", HEX])
def test_a_ref_that_is_not_a_string_is_a_finding_on_the_compared_path(tmp_path, ref):
    spec = ("openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\npaths:\n  /a:\n    get:\n      responses:\n"
            "        '200':\n          description: ok\n          content: {{application/json: {{schema: {s}}}}}\n")
    root = released(tmp_path, {"openapi.yaml": spec.format(s="{type: object, properties: {a: {type: string}}}")},
                    {"openapi.yaml": spec.format(s="{type: object, properties: {a: {$ref: " + ref + "}}}")})
    code, report, _ = check_json(root, "--base", "HEAD")
    refused = messages(report, "CLA191")
    assert refused and "not a string" in refused[0] and len(refused[0]) < 400, report["findings"]


OPERATION = """openapi: 3.0.3
info: {{title: t, version: '1'}}
paths:
  /a:
    post:
      parameters: [{param}]
      requestBody: {body}
      responses:
        '200': {response}
      callbacks: {{cb: {callback}}}
"""
PARTS = {"param": "{name: q, in: query, schema: {type: string}}",
         "body": "{content: {application/json: {schema: {oneOf: [{type: string}, {type: integer}]}}}}",
         "response": "{description: ok, headers: {X: {schema: {type: string}}}}",
         "callback": "{x: {post: {responses: {'200': {description: ok}}}}}"}


@pytest.mark.parametrize("ref", ["{x: [1, 2]}", "[a, b]"])
@pytest.mark.parametrize("part, bad", [
    ("param", "{$ref: REF}"), ("body", "{$ref: REF}"), ("response", "{$ref: REF}"), ("callback", "{$ref: REF}"),
    ("body", "{content: {application/json: {schema: {oneOf: [{$ref: REF}, {type: integer}]}}}}"),
    ("response", "{description: ok, headers: {X: {$ref: REF}}}"),
])
def test_a_ref_that_is_not_a_string_anywhere_in_an_operation_is_one_finding(tmp_path, part, bad, ref):
    head = {**PARTS, part: bad.replace("REF", ref)}
    root = released(tmp_path, {"openapi.yaml": OPERATION.format(**PARTS)}, {"openapi.yaml": OPERATION.format(**head)})
    code, report, _ = check_json(root, "--base", "HEAD")
    message = shown_once(report, "CLA191", "openapi.yaml")
    shape = "mapping" if ref.startswith("{") else "list"
    assert code == 1 and f"$ref is a {shape}, not a string" in message, message


# ---- Python app code --------------------------------------------------------------------------------------------
def test_cache_bounds_and_timeouts_with_long_ints(tmp_path):
    source = ("import functools\nimport cachetools.func\n\n"
              f"@functools.lru_cache(maxsize={HEX})\ndef profile(user_id):\n    return user_id\n\n"
              f"@cachetools.func.ttl_cache(ttl={HEX})\ndef perms(user):\n    return user\n\n"
              f"if {HEX}:\n    CACHE = {{{HEX}: 1}}\n")
    code, report, _ = check_json(write(tmp_path, {"app/views.py": source}))
    cached = messages(report, "CLS106")
    assert len(cached) == 2 and all("0xfff" in m and len(m) < 600 for m in cached), report["findings"]


# ---- rollout plan ---------------------------------------------------------------------------------------------
PLAN = """service: shop
gate: {{report: canary-lint.json}}
router: {{kind: command, set_weight: ["true"]}}
metrics: {{kind: prometheus, url: "http://127.0.0.1:9", stable: v1, canary: v2, retries: {retries}}}
judge: {{interval: {interval}}}
criteria:
  - {{name: errors, kind: ratio, bad: 'errors{{version="$version"}}[$window]', total: 'requests{{version="$version"}}[$window]',
     max_increase: 10%}}
steps:
  - {{weight: {weight}, hold: {hold}}}
  - {{weight: 100}}
"""


@pytest.mark.parametrize("values, where", [
    ({"weight": HEX}, "steps/0/weight"),
    ({"hold": HEX}, "steps/0/hold"),
    ({"hold": DECIMAL}, "steps/0/hold"),
    ({"retries": HEX}, "metrics/retries"),
    ({"interval": ".inf"}, "judge/interval"),
    ({"hold": "9" * 400 + "s"}, "bad duration"),
])
def test_plan_numbers_no_plan_can_hold_are_one_line_naming_them(tmp_path, values, where):
    plan = tmp_path / "rollout.yaml"
    plan.write_text(PLAN.format(**{"retries": 2, "interval": "10s", "weight": 20, "hold": "1m", **values}))
    proc = run_cli("rollout", "status", str(plan), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and where in proc.stderr and len(proc.stderr) < 400, proc.stderr


def test_a_manifest_with_an_int_past_int64_is_reported_not_a_crash(tmp_path):
    manifest = tmp_path / "rollout.yaml"
    manifest.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: shop}\n"
        f"spec:\n  replicas: {HEX}\n  selector: {{matchLabels: {{app: shop}}}}\n"
        "  template: {metadata: {labels: {app: shop}}, spec: {containers: [{name: a, image: x}]}}\n"
        f"  strategy: {{canary: {{steps: [{{setWeight: {HEX}}}]}}}}\n")
    proc = run_cli("rollout", "validate", str(manifest), cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "spec.replicas: 0xfff" in proc.stdout and "not a 64-bit integer" in proc.stdout


# ---- configuration ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, said", [(HEX, "postgres-version"), (DECIMAL, "more than 4,300 digits")])
def test_config_with_a_long_int_is_one_line(tmp_path, value, said):
    write(tmp_path, {"app/main.py": "x = 1\n", "pyproject.toml": f"[tool.canary-lint]\npostgres-version = {value}\n"})
    proc = run_cli("check", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and said in proc.stderr and len(proc.stderr) < 400


@pytest.mark.parametrize("command", [["check", "--baseline", "data.json", "."], ["comment", "--report", "data.json",
                                                                                 "--repo", "a/b", "--pr", "1"]])
def test_a_baseline_or_report_with_a_long_int_is_one_line(tmp_path, command):
    write(tmp_path, {"app/main.py": "x = 1\n",
                     "data.json": f'{{"tool": "canary-lint", "schema": 1, "findings": [{{"count": {DECIMAL}}}]}}'})
    proc = run_cli(*command, cwd=tmp_path, env={"GITHUB_TOKEN": "unused"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "more than 4,300 digits" in proc.stderr
