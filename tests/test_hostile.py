"""Hostile input through the real CLI: each class of attack a pull request can make gets a finding or a
one-line message naming the file, never a hang, a traceback or a verdict built on a wrong value."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import run_cli

ALEMBIC_INI = "[alembic]\nscript_location = migrations\n"


def write(root: Path, files: dict) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape"))
    return root


def revision(body: str) -> dict:
    return {
        "alembic.ini": ALEMBIC_INI,
        "migrations/env.py": "",
        "migrations/versions/a.py": 'revision = "a"\ndown_revision = None\ndef upgrade():\n    pass\n',
        "migrations/versions/b.py": ('revision = "b"\ndown_revision = "a"\nfrom alembic import op\n'
                                     f"def upgrade():\n{body}\n"),
    }


def check_json(root: Path, *args: str) -> tuple[int, dict, str]:
    proc = run_cli("check", "--format", "json", *args, str(root), cwd=root)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    assert not [f for f in report["findings"] if f["rule"] == "CL005"], report["findings"]
    return proc.returncode, report, proc.stderr


def rules(report: dict) -> list[tuple[str, str, str]]:
    return [(f["rule"], f["path"], f["severity"]) for f in report["findings"]]


# ---- values the Alembic reader cannot fold: the operation stays, with its severity -------------------------
@pytest.mark.parametrize("body, computed_by", [
    ("    op.drop_column('orders', '%1500000000d' % 1)", "'%1500000000d' % 1"),
    ("    op.drop_column('orders', '{:>1500000000}'.format('x'))", "format"),
    ("    s = 'ab'\n    for i in range(100):\n        s += s\n    op.drop_column('orders', s)", "each pass of the loop"),
    ("    s = 'ab'\n    for i in ['a'] * 100:\n        s += s\n    op.drop_column('orders', s)", "over 1,000,000"),
    ("    cols = ['c']\n    for i in range(60):\n        cols += cols\n    for c in cols:\n"
     "        op.drop_column('orders', c)", ""),
])
def test_values_past_the_size_bound_are_unknown_and_the_drop_still_reported(tmp_path, body, computed_by):
    code, report, _ = check_json(write(tmp_path, revision(body)))
    drops = [f for f in report["findings"] if f["rule"] == "CLM101"]
    assert code == 1 and drops, report["findings"]
    assert all(f["severity"] == "error" for f in drops)
    assert "orders.ab" not in json.dumps(drops)  # never a wrong, concrete column
    assert computed_by in drops[0]["message"]


def test_a_budget_stop_keeps_the_gate_red(tmp_path):
    loops = "    for a in range(2000):\n        for b in range(2000):\n            x = [a, b, a, b, a, b]\n"
    body = "    names = " + repr([f"c{i}" for i in range(400)]) + "\n" + \
        "    for n in names:\n        for m in names:\n            for k in names:\n                x = n + m + k\n" + \
        loops + "    op.drop_column('orders', 'total')"
    code, report, _ = check_json(write(tmp_path, revision(body)))
    stops = [f for f in report["findings"] if f["rule"] == "CLM301" and "stopped" in f["message"]]
    assert code == 1 and stops and stops[0]["severity"] == "error", report["findings"]


@pytest.mark.parametrize("source", [
    "X = 0x" + "f" * 5000 + "\nY = str(X)\n",
    "X = 0x" + "f" * 5000 + "\nprint(f'{X}')\n",
])
def test_huge_hex_literals_in_app_code(tmp_path, source):
    check_json(write(tmp_path, {"app/main.py": source}))


def test_huge_hex_literal_in_a_revision_is_read(tmp_path):
    body = "    n = 0x" + "f" * 5000 + "\n    op.drop_column('orders', f'c{n}')"
    code, report, _ = check_json(write(tmp_path, revision(body)))
    assert ("CLM101", "migrations/versions/b.py", "error") in rules(report)


def test_a_decimal_literal_python_refuses_is_a_file_not_checked(tmp_path):
    code, report, _ = check_json(write(tmp_path, {"app/main.py": "X = " + "1" * 5000 + "\n"}))
    assert rules(report) == [("CL001", "app/main.py", "error")]


def test_cr_only_line_endings_are_read_at_the_right_lines(tmp_path):
    source = "import logging\r\rlogging.basicConfig(format='%(message)s')\r"
    code, report, _ = check_json(write(tmp_path, {"app/main.py": source}))
    logs = [f for f in report["findings"] if f["rule"] == "CLT401"]
    assert logs and logs[0]["line"] == 3


# ---- file names and bytes that outputs cannot carry ----------------------------------------------------------
@pytest.mark.parametrize("fmt", ["json", "sarif", "gitlab", "text", "github", "junit", "markdown"])
def test_non_utf8_file_names_reach_every_format(tmp_path, fmt):
    root = write(tmp_path, {"app/m\udcff.py": "import logging\nlogging.basicConfig(format='%(message)s')\n"})
    proc = run_cli("check", "--format", fmt, str(root), cwd=root)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    if fmt in ("json", "sarif", "gitlab"):
        json.loads(proc.stdout)
    assert "xff.py" in proc.stdout  # the undecodable byte shown as an escape (percent-encoded in SARIF URIs)


# ---- OpenAPI values of the wrong type ------------------------------------------------------------------------
SPEC = ("openapi: {version}\ninfo: {{title: t, version: '1'}}\npaths:\n  /a:\n    get:\n{security}"
        "      responses:\n        '200':\n          description: ok\n")


@pytest.mark.parametrize("version", ["3.1", "[3]", "{a: 1}", "null", "3"])
def test_openapi_version_that_is_not_a_string(tmp_path, version):
    code, report, _ = check_json(write(tmp_path, {"openapi.yaml": SPEC.format(version=version, security="")}))
    assert any(f["rule"] == "CLA190" and "/openapi" in f["message"] for f in report["findings"]), report


@pytest.mark.parametrize("ref", ["{a: b}", "[a, b]", "3", "'#/x\\0y'", "''", '"a\\0b"', '"a\\0b#/x"'])
def test_ref_values_of_any_shape(tmp_path, ref):
    spec = SPEC.format(version="3.0.3", security="") + \
        f"          content:\n            application/json:\n              schema:\n                $ref: {ref}\n"
    check_json(write(tmp_path, {"openapi.yaml": spec}))


@pytest.mark.parametrize("scopes", ["[{a: b}, 3]", "{a: b}", "3", "[null]"])
def test_security_scopes_that_are_not_strings(tmp_path, scopes):
    base = SPEC.format(version="3.0.3", security="      security:\n        - oauth: [read]\n")
    head = SPEC.format(version="3.0.3", security=f"      security:\n        - oauth: {scopes}\n")
    from conftest import git

    write(tmp_path, {"openapi.yaml": base})
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "v1")
    (tmp_path / "openapi.yaml").write_text(head)
    check_json(tmp_path, "--base", "HEAD")


# ---- deploy files --------------------------------------------------------------------------------------------
def laughs(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\nkind: Deployment\napiVersion: apps/v1\n"


def test_alias_bomb_in_a_deploy_file_is_a_finding_naming_it(tmp_path):
    root = write(tmp_path, {"deploy/shop.yaml": laughs(9), "app/main.py": "x = 1\n"})
    code, report, _ = check_json(root)
    assert ("CL001", "deploy/shop.yaml", "error") in rules(report)
    assert "alias" in report["findings"][0]["message"]


@pytest.mark.parametrize("name, text", [
    ("deploy/templates/d.yaml", "\n" * 40_000 + "x: {{ y"),
    ("deploy/templates/e.yaml", ("  {{" * 20_000) + "\n"),
    ("deploy/sm.yaml", "targetLabels:" + " - a" * 5_000 + "x\n"),
    ("deploy/sm2.yaml", "podTargetLabels:\n" + "  - a\n" * 20_000 + "x"),
    ("app/main.py", "\n" * 65_536 + "x"),
    ("app/views.py", "CACHES[" * 20_000),
    ("app/deep.py", "x = 1" + " + 1" * 100_000 + "\n"),
    ("app/deep2.py", "type X = int\n" + "x = " + "(" * 180 + ")" * 180 + "\n"),
])
def test_inputs_that_used_to_backtrack_finish(tmp_path, name, text):
    check_json(write(tmp_path, {name: text, "app/__init__.py": ""}))


# ---- the command line ----------------------------------------------------------------------------------------
def test_output_that_cannot_be_written_is_one_line(tmp_path):
    write(tmp_path, {"app/main.py": "import logging\nlogging.basicConfig(format='%(message)s')\n"})
    for target in (str(tmp_path), "/dev/full"):
        proc = run_cli("check", "--output", target, str(tmp_path), cwd=tmp_path)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert proc.stderr.strip().count("\n") == 0 and "cannot write report" in proc.stderr


def test_fifo_in_the_tree_and_on_the_command_line(tmp_path):
    write(tmp_path, {"app/main.py": "x = 1\n"})
    os.mkfifo(tmp_path / "app" / "pipe.py")
    check_json(tmp_path)
    proc = run_cli("check", str(tmp_path / "app" / "pipe.py"), cwd=tmp_path)
    assert proc.returncode in (0, 1, 2) and "Traceback" not in proc.stderr


def test_any_lone_surrogate_prints():
    from canary_lint.model import printable

    assert printable("m\udcff.py") == "m\\xff.py"  # a file name's undecodable byte
    assert printable("x\ud800y") == "x\\ud800y"  # a string literal's lone surrogate



def test_a_lone_surrogate_in_a_name_reaches_every_field_of_the_report_printable(tmp_path):
    code, report, _ = check_json(write(tmp_path, revision("    op.drop_table('\\ud800')")))
    drops = [f for f in report["findings"] if f["rule"] == "CLM102"]
    assert code == 1 and drops and "\\ud800" in drops[0]["fix"], report["findings"]  # the fix names it too


def test_a_nul_byte_in_an_alembic_ini_location_names_no_directory(tmp_path):
    """A committed alembic.ini whose script_location holds a NUL byte stopped the run with an internal error
    (the OS refuses the path); it names no directory, and the revisions are still found and judged."""
    write(tmp_path, {"alembic.ini": "[alembic]\nscript_location = mig\0rations\n",
                     "migrations/versions/0001_drop.py": "revision = '1'\ndown_revision = None\nfrom alembic import op\n"
                                                         "def upgrade():\n    op.drop_table('orders')\n"})
    code, report, _ = check_json(tmp_path)
    assert code == 1 and any(f["path"] == "migrations/versions/0001_drop.py" for f in report["findings"]), report


def test_a_nul_byte_in_a_configured_path_is_a_configuration_error_naming_the_key(tmp_path):
    write(tmp_path, {"pyproject.toml": '[tool.canary-lint]\nmigrations = ["a\\u0000b"]\n', "app.py": "x = 1\n"})
    proc = run_cli("check", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2 and "`migrations` holds a NUL byte" in proc.stderr and "Traceback" not in proc.stderr


def test_a_nul_byte_in_a_file_name_the_code_names_is_a_file_that_is_not_there(tmp_path):
    """`fileConfig("log\\0ging.ini")`: the shared reader's symlink check handed the name to the OS, which raised
    ValueError (CL005 in the telemetry analyzer); such a name reads no file, on the head and on v1's tree."""
    from conftest import git

    write(tmp_path, {"app/__init__.py": 'import logging.config\nfrom flask import Flask\napp = Flask(__name__)\n'
                                        'app.config.from_pyfile("set\\0tings.py")\n'
                                        'logging.config.fileConfig("log\\0ging.ini")\n'})
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "v1")
    check_json(tmp_path)
    check_json(tmp_path, "--base", "HEAD")


@pytest.mark.parametrize("media", ["1.0e+308", "[a, b]", "{a: 1}", "0x" + "f" * 5000])
def test_content_keywords_that_are_not_strings_are_shown_not_joined(tmp_path, media):
    """`contentMediaType: 1.0e+308` in v1's spec: the change message joined it as a string (TypeError: CL005;
    fuzz openapi input 45,288)."""
    from conftest import git

    def spec(media_type: str, encoding: str) -> str:
        return ("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /p:\n    post:\n      requestBody:\n"
                "        content:\n          application/json:\n            schema:\n              type: object\n"
                "              properties:\n                data:\n                  type: string\n"
                f"                  contentMediaType: {media_type}\n                  contentEncoding: {encoding}\n"
                "      responses:\n        '200': {description: ok}\n")

    write(tmp_path, {"openapi.yaml": spec(media, "base64")})
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "v1")
    (tmp_path / "openapi.yaml").write_text(spec("text/plain", "quoted-printable"))
    check_json(tmp_path, "--base", "HEAD")
