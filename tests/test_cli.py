"""The CLI contract: exit codes, messages, bad input, output formats."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import run_cli

BROKEN_PY = "def upgrade(:\n    pass\n"


def test_version(tmp_path):
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == "canary-lint 0.1.0"


def test_nonexistent_path_is_a_usage_error(tmp_path):
    proc = run_cli("check", "does/not/exist", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["canary-lint: error: path does not exist: does/not/exist"]


def test_unknown_option_is_a_usage_error(tmp_path):
    proc = run_cli("check", "--no-such-flag", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "canary-lint: error: No such option '--no-such-flag' (see `canary-lint check --help`)"]


def test_unknown_format_is_a_usage_error(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    proc = run_cli("check", "--format", "yaml", cwd=tmp_path)
    assert proc.returncode == 2
    assert "unknown --format 'yaml'" in proc.stderr


def test_unknown_rule_in_select_is_a_usage_error(tmp_path):
    proc = run_cli("check", "--select", "CLM999", cwd=tmp_path)
    assert proc.returncode == 2
    assert "unknown rule 'CLM999'" in proc.stderr


def test_empty_directory_exits_zero_and_says_so(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing to see\n")
    proc = run_cli("check", ".", cwd=tmp_path)
    assert proc.returncode == 0
    assert "nothing to check" in proc.stderr
    assert proc.stdout == ""


def test_parse_error_is_reported_and_other_files_still_checked(tmp_path):
    (tmp_path / "a_broken.py").write_text(BROKEN_PY)
    (tmp_path / "b_fine.py").write_text("x = 1  # canary-lint: ignore[CL004]\n")
    proc = run_cli("check", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    rules = [(f["rule"], f["path"], f["line"]) for f in report["findings"]]
    assert ("CL001", "a_broken.py", 1) in rules
    # the second file was read too: its useless suppression is reported
    assert any(r == "CL002" and p == "b_fine.py" for r, p, _ in rules)
    assert report["errors"] == [{"path": "a_broken.py", "message": "Python syntax error: invalid syntax"}]


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("blob.py", b"\x00\x01\x02binary\x00", "binary file"),
        ("latin1.py", "caf\xe9 = 1\n".encode("latin-1"), "not valid UTF-8"),
    ],
)
def test_unreadable_files_are_findings_not_crashes(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    (tmp_path / "ok.py").write_text("x = 1\n")
    proc = run_cli("check", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert [f["rule"] for f in report["findings"]] == ["CL001"]
    assert reason in report["findings"][0]["message"]
    assert report["errors"][0]["path"] == name


def test_empty_file_is_fine(tmp_path):
    (tmp_path / "empty.py").write_text("")
    proc = run_cli("check", cwd=tmp_path)
    assert proc.returncode == 0
    assert "All checks passed: 1 file checked" in proc.stderr


def test_ten_megabyte_file(tmp_path):
    line = "VALUE_%d = %d\n"
    with open(tmp_path / "big.py", "w") as fh:
        i = 0
        while fh.tell() < 10 * 1024 * 1024:
            fh.write(line % (i, i))
            i += 1
    proc = run_cli("check", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["files"] == 1


def test_symlink_loop_is_reported_and_run_goes_on(tmp_path):
    (tmp_path / "loop.py").symlink_to(tmp_path / "loop.py")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "self").symlink_to(tmp_path / "dir")  # directory loop: not followed
    (tmp_path / "ok.py").write_text(BROKEN_PY)
    proc = run_cli("check", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1
    found = {(f["rule"], f["path"]) for f in json.loads(proc.stdout)["findings"]}
    assert found == {("CL001", "loop.py"), ("CL001", "ok.py")}


def test_files_named_on_the_command_line_are_checked_as_given(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.py").write_text(BROKEN_PY)
    (tmp_path / "y.py").write_text(BROKEN_PY)
    proc = run_cli("check", "sub/x.py", "--format", "json", cwd=tmp_path)
    paths = {f["path"] for f in json.loads(proc.stdout)["findings"]}
    assert paths == {"sub/x.py"}


def test_json_report_has_exactly_the_contract_fields(tmp_path):
    (tmp_path / "a.py").write_text(BROKEN_PY)
    report = json.loads(run_cli("check", "--format", "json", cwd=tmp_path).stdout)
    assert set(report) == {"schema", "tool", "base", "commit", "summary", "findings", "errors"}
    assert report["schema"] == 1
    assert report["tool"] == {"name": "canary-lint", "version": "0.1.0"}
    assert set(report["summary"]) == {"files", "errors", "warnings", "infos", "suppressed", "new", "existing"}
    assert set(report["findings"][0]) == {
        "rule", "name", "family", "severity", "path", "line", "column", "end_line", "end_column", "message",
        "fix", "operation", "pointer", "fingerprint", "new"}
    assert report["findings"][0]["new"] is True and report["summary"]["existing"] == 0  # no --base: all new
    f = report["findings"][0]
    assert (f["rule"], f["name"], f["family"], f["severity"]) == ("CL001", "file-not-checked", "meta", "error")


def test_output_is_deterministic_and_sorted(tmp_path):
    for name in ("z.py", "a.py", "m/b.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x = 1  # canary-lint: ignore[CL001]\n" + BROKEN_PY)
    first = run_cli("check", "--format", "json", cwd=tmp_path).stdout
    second = run_cli("check", "--format", "json", cwd=tmp_path).stdout
    assert first == second
    keys = [(f["path"], f["line"], f["column"], f["rule"]) for f in json.loads(first)["findings"]]
    assert keys == sorted(keys)


def test_exit_zero_and_fail_on(tmp_path):
    (tmp_path / "a.py").write_text("x = 1  # canary-lint: ignore[CL001] old\n")  # only a warning (CL002)
    assert run_cli("check", cwd=tmp_path).returncode == 0
    assert run_cli("check", "--fail-on", "warning", cwd=tmp_path).returncode == 1
    (tmp_path / "b.py").write_text(BROKEN_PY)
    assert run_cli("check", cwd=tmp_path).returncode == 1
    assert run_cli("check", "--exit-zero", cwd=tmp_path).returncode == 0


def test_select_and_ignore(tmp_path):
    (tmp_path / "a.py").write_text("x = 1  # canary-lint: ignore[CL001]\n")  # CL002 + CL004
    rules = lambda *a: sorted(f["rule"] for f in json.loads(run_cli("check", "--format", "json", *a, cwd=tmp_path).stdout)["findings"])
    assert rules() == ["CL002", "CL004"]
    assert rules("--ignore", "CL004") == ["CL002"]
    assert rules("--select", "suppression-without-reason") == ["CL004"]
    assert rules("--select", "CL0", "--ignore", "unused-suppression") == ["CL004"]


def test_text_format_shows_excerpt_and_no_ansi_without_tty(tmp_path):
    (tmp_path / "a.py").write_text("ok = 1\n" + BROKEN_PY)
    proc = run_cli("check", cwd=tmp_path, env={"NO_COLOR": ""})
    assert "\x1b[" not in proc.stdout
    assert "a.py\n  2:13  error  CL001 file-not-checked" in proc.stdout
    assert "  2 | def upgrade(:" in proc.stdout
    assert "Found 1 error, 0 warnings in 1 file." in proc.stderr


def test_color_always_and_no_color(tmp_path):
    (tmp_path / "a.py").write_text(BROKEN_PY)
    colored = run_cli("check", "--color", "always", cwd=tmp_path).stdout
    assert "\x1b[1;31merror" in colored
    assert "\x1b[" not in run_cli("check", "--format", "json", "--color", "always", cwd=tmp_path).stdout


def test_several_formats_in_one_run(tmp_path):
    (tmp_path / "a.py").write_text(BROKEN_PY)
    proc = run_cli("check", "--format", "text", "--format", "json:out/report.json", cwd=tmp_path)
    assert proc.returncode == 2 and "does not exist" in proc.stderr  # missing directory: nothing written
    (tmp_path / "out").mkdir()
    proc = run_cli("check", "--format", "text", "--format", "json:out/report.json", cwd=tmp_path)
    assert proc.returncode == 1
    assert "CL001" in proc.stdout
    assert json.loads((tmp_path / "out" / "report.json").read_text())["summary"]["errors"] == 1


def test_rules_and_rule_commands():
    listing = run_cli("rules")
    assert listing.returncode == 0 and "CL001  file-not-checked" in listing.stdout
    rules = json.loads(run_cli("rules", "--format", "json").stdout)
    assert {"code", "name", "family", "severity", "since", "fix", "aliases", "summary"} <= set(rules[0])
    page = run_cli("rule", "file-not-checked")
    assert page.returncode == 0 and page.stdout.startswith("# file-not-checked (CL001)")
    assert run_cli("rule", "CL001").stdout == page.stdout
    missing = run_cli("rule", "CLX999")
    assert missing.returncode == 2 and "unknown rule 'CLX999'" in missing.stderr


def test_version_and_small_sql_check_do_not_import_heavy_parsers(tmp_path):
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "V1__init.sql").write_text("ALTER TABLE users ADD COLUMN age integer;\n")
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['canary-lint'] + sys.argv[1:]\n"
        "try:\n"
        "    runpy.run_module('canary_lint', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('libcst', 'openapi_spec_validator', 'jsonschema', 'scipy', 'rich', 'click')\n"
        "               if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
    )
    for args in (["--version"], ["check", "migrations/V1__init.sql"]):
        proc = subprocess.run([sys.executable, "-c", probe, *args], cwd=tmp_path, capture_output=True, text=True)
        assert "HEAVY=\n" in proc.stderr, (args, proc.stderr)


def test_example_release_shows_every_family(tmp_path):
    proc = run_cli("check", "--example", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["base"] == "v1" and report["commit"]
    assert report["summary"]["files"] >= 10
    assert {f["family"] for f in report["findings"]} == {"migration", "api", "state", "telemetry"}
    assert not [f for f in report["findings"] if f["family"] == "meta"]
    by_rule = {(f["rule"], f["path"]) for f in report["findings"]}
    assert ("CLM103", "migrations/versions/0002_display_name.py") in by_rule  # v1 still maps users.nickname
    assert ("CLA110", "openapi/openapi.yaml") in by_rule  # `currency` now required
    assert ("CLS101", "app/main.py") in by_rule  # carts in process memory
    assert ("CLT101", "app/telemetry.py") in by_rule  # no service.version
    selected = json.loads(run_cli("check", "--example", "--format", "json", "--select", "CLS", cwd=tmp_path).stdout)
    assert {f["family"] for f in selected["findings"]} == {"state"}
    assert run_cli("check", "--example", "--exit-zero", cwd=tmp_path).returncode == 0


# ---- `check` read without click (entry.py) ---------------------------------------------------------------
READ_WITHOUT_CLICK = [
    [], ["."], ["a", "--base", "v1", "b"], ["--format", "json", "--format=sarif:out.sarif", "-o", "r.txt"],
    ["--select", "CLM,CLA", "--select=CLS", "--ignore", "CLM301", "--ignore=CL004"],
    ["--config", "c.toml", "--baseline", "b.json", "--exit-zero", "--fail-on", "warning", "--fail-on-existing"],
    ["--color=never", "--example", "-v"], ["x.sql", "--verbose", "--color", "always", "--fail-on=error", "y.sql"],
    ["--base", "a", "--base=b", "--output", "1", "--output=2"], ["--format=", ""], ["--exit-zero", "--exit-zero"],
]
LEFT_TO_CLICK = [
    ["--help"], ["-h"], ["--", "x"], ["-"], ["-vo", "f"], ["-ofile"], ["-o=f"], ["--base"], ["--base", "-x"],
    ["--fail-on", "fatal"], ["--color=NEVER"], ["--exit-zero=1"], ["--no-such-flag"], ["--Format", "json"],
    ["--colo", "never"], ["x", "--select"],
]


@pytest.mark.parametrize("line", READ_WITHOUT_CLICK, ids=" ".join)
def test_check_line_is_read_as_click_reads_it(line):
    from canary_lint.cli import check
    from canary_lint.entry import parse_check

    assert parse_check(line) == check.make_context("check", list(line)).params


@pytest.mark.parametrize("line", LEFT_TO_CLICK, ids=" ".join)
def test_other_check_lines_are_left_to_click(line):
    from canary_lint.entry import parse_check

    assert parse_check(line) is None


def test_the_fast_reader_knows_every_check_option():
    import click

    from canary_lint.cli import check
    from canary_lint.entry import CHECK_DEFAULTS, CHECK_OPTIONS

    options = [p for p in check.params if isinstance(p, click.Option)]
    assert {o for p in options for o in p.opts + p.secondary_opts} == set(CHECK_OPTIONS)
    for p in options:
        kinds = {CHECK_OPTIONS[o] for o in p.opts}
        want = (tuple(p.type.choices) if isinstance(p.type, click.Choice) else "flag" if p.is_flag
                else "many" if p.multiple else "value")
        assert kinds == {(p.name, want)}, p.name
    assert set(CHECK_DEFAULTS) | {"paths"} == {p.name for p in check.params}


@pytest.mark.parametrize("args", [
    ["check", "migrations", "--format", "json"], ["check", "migrations", "--select", "CLM1", "-v"],
    ["check", "does/not/exist"], ["check", "--select", "CLX999", "migrations"], ["check", "--example", "migrations"],
    ["check", "migrations", "--format", "yaml"], ["check", "-o", "no/such/dir/r.txt", "migrations"],
])
def test_check_without_click_prints_and_exits_as_with_click(tmp_path, args):
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "V1__init.sql").write_text("ALTER TABLE users DROP COLUMN age;\nSELECT 1;\n")
    fast = run_cli(*args, cwd=tmp_path)
    slow = subprocess.run([sys.executable, "-c", "import sys; from canary_lint.cli import main; main(sys.argv[1:])",
                           *args], cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr)
