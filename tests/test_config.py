"""Configuration: nearest file wins, CLI beats file, bad keys and values exit 2 naming file and key."""

from __future__ import annotations

import json

import pytest

from canary_lint.config import ConfigError, find_config, load
from conftest import run_cli


def test_nearest_config_wins(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.canary-lint]\ndialect = "mysql"\n')
    sub = tmp_path / "svc"
    sub.mkdir()
    (sub / "canary-lint.toml").write_text('dialect = "sqlite"\n')
    assert find_config(sub) == sub / "canary-lint.toml"
    assert load(None, str(sub)).dialect == "sqlite"
    assert load(None, str(tmp_path)).dialect == "mysql"
    assert load(str(tmp_path / "pyproject.toml"), str(sub)).dialect == "mysql"


def test_pyproject_without_our_table_is_skipped(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config(tmp_path) is None
    assert load(None, str(tmp_path)).dialect == "postgresql"


@pytest.mark.parametrize(
    "body, expected",
    [
        ('colour = "red"\n', "unknown key `colour`"),
        ('dialect = "oracle"\n', "`dialect` must be one of postgresql, mysql, sqlite, got 'oracle'"),
        ('fail-on = "info"\n', "`fail-on` must be \"error\" or \"warning\""),
        ('select = ["CLM999"]\n', "`select` names unknown rule 'CLM999'"),
        ('postgres-version = "sixteen"\n', "`postgres-version` must be a major version number"),
        ('[severity]\nCL002 = "fatal"\n', "unknown severity 'fatal'"),
        ('exclude = 3\n', "`exclude` must be a list of strings"),
        ('dialect = \n', "invalid TOML"),
    ],
)
def test_bad_config_exits_2_naming_file_and_key(tmp_path, body, expected):
    (tmp_path / "canary-lint.toml").write_text(body)
    (tmp_path / "a.py").write_text("x = 1\n")
    proc = run_cli("check", cwd=tmp_path)
    assert proc.returncode == 2
    msg = proc.stderr.strip().splitlines()[-1]
    assert msg.startswith("canary-lint: error: ") and "canary-lint.toml" in msg
    assert expected in msg
    with pytest.raises(ConfigError):
        load(None, str(tmp_path))


def test_cli_flags_beat_the_file(tmp_path):
    (tmp_path / "canary-lint.toml").write_text('fail-on = "warning"\nignore = ["CL004"]\n[severity]\nCL002 = "error"\n')
    (tmp_path / "a.py").write_text("x = 1  # canary-lint: ignore[CL001]\n")
    report = json.loads(run_cli("check", "--format", "json", cwd=tmp_path).stdout)
    assert [(f["rule"], f["severity"]) for f in report["findings"]] == [("CL002", "error")]
    assert run_cli("check", "--select", "CL004", cwd=tmp_path).returncode == 0  # CL004 ignored by file
    assert run_cli("check", "--fail-on", "error", "--ignore", "CL002", cwd=tmp_path).returncode == 0


def test_exclude_and_missing_config_file(tmp_path):
    (tmp_path / "canary-lint.toml").write_text('extend-exclude = ["legacy"]\n')
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "bad.py").write_text("def f(:\n")
    assert run_cli("check", cwd=tmp_path).returncode == 0
    proc = run_cli("check", "--config", "nope.toml", cwd=tmp_path)
    assert proc.returncode == 2 and "nope.toml: config file does not exist" in proc.stderr
