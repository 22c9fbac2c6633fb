"""Engine behaviour that no rule page can show: crashes, base trees, suppressions across files."""

from __future__ import annotations

import json
import sys
import types

from canary_lint import analysis, engine
from canary_lint.analyzers import AnalyzerSpec
from canary_lint.config import Config
from conftest import git, run_cli

BROKEN_PY = "def upgrade(:\n    pass\n"


def _crashing_module(name: str) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.RULES = ()

    def analyze(ctx):
        for f in ctx.files_of("python"):
            with ctx.guard(f.path, "crashy"):
                if f.path == "boom.py":
                    raise KeyError("id")
                yield ctx.finding("CL004", f.path, message="reached the file after the crash")
    mod.analyze = analyze
    return mod


def test_analyzer_crash_becomes_cl005_and_the_run_goes_on(tmp_path, monkeypatch):
    (tmp_path / "boom.py").write_text("x = 1\n")
    (tmp_path / "later.py").write_text("y = 2\n")
    sys.modules["canary_lint_test_crashy"] = _crashing_module("canary_lint_test_crashy")
    monkeypatch.setattr(analysis, "ANALYZERS", (AnalyzerSpec("crashy", "canary_lint_test_crashy", frozenset({"python"})),))
    report = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path)
    assert report.internal_error
    crash = [f for f in report.findings if f.rule == "CL005"]
    assert len(crash) == 1 and crash[0].path == "boom.py"
    assert "crashy analyzer crashed on this file: KeyError: 'id'" in crash[0].message
    assert [f.path for f in report.findings if f.rule == "CL004"] == ["later.py"]
    from canary_lint.cli import exit_code
    from canary_lint.model import Severity

    assert exit_code(report, Severity.ERROR) == 2


def test_crash_outside_guard_is_cl005_too(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("x = 1\n")
    mod = types.ModuleType("canary_lint_test_crash2")
    mod.RULES = ()

    def analyze(ctx):
        raise RuntimeError("whole analyzer failed")
        yield  # pragma: no cover

    mod.analyze = analyze
    sys.modules["canary_lint_test_crash2"] = mod
    monkeypatch.setattr(analysis, "ANALYZERS", (AnalyzerSpec("crash2", "canary_lint_test_crash2", frozenset({"python"})),))
    report = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path)
    assert report.internal_error and [f.rule for f in report.findings] == ["CL005"]


def test_each_python_file_is_parsed_once(tmp_path, monkeypatch):
    import ast as ast_mod

    for i in range(5):
        (tmp_path / f"m{i}.py").write_text(f"x = {i}\n")
    calls = []
    real = ast_mod.parse
    monkeypatch.setattr(ast_mod, "parse", lambda src, *a, **k: calls.append(k.get("filename")) or real(src, *a, **k))
    engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path)
    assert sorted(c.removeprefix("/dev/null/") for c in calls) == [f"m{i}.py" for i in range(5)]


def _repo_with_base(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "models.py").write_text("nickname = 1\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "v1")
    (tmp_path / "app" / "models.py").write_text("display_name = 1\n")
    (tmp_path / "app" / "new.py").write_text("x = 1\n")
    return tmp_path


def test_base_tree_reads_v1_without_checkout(tmp_path):
    from canary_lint.gitio import BaseTree

    repo = _repo_with_base(tmp_path)
    base = BaseTree("main", repo)
    assert base.read_text("app/models.py") == "nickname = 1\n"
    assert base.read_text("app/new.py") is None
    assert base.paths() == ["app/models.py"]
    sub = BaseTree("main", repo / "app")  # paths relative to the working directory
    assert sub.read_text("models.py") == "nickname = 1\n"
    assert sub.paths() == ["models.py"]
    assert (repo / "app" / "models.py").read_text() == "display_name = 1\n"  # work tree untouched
    base.close()
    sub.close()


def test_missing_base_ref_says_what_to_fetch(tmp_path):
    repo = _repo_with_base(tmp_path)
    proc = run_cli("check", "--base", "origin/release-1", cwd=repo)
    assert proc.returncode == 2
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("canary-lint: error: base ref origin/release-1 does not exist")
    assert "git fetch --depth=1 origin +refs/heads/release-1:refs/remotes/origin/release-1" in line


def test_base_outside_a_repository(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    proc = run_cli("check", "--base", "main", cwd=tmp_path)
    assert proc.returncode == 2
    assert "is not inside a git repository" in proc.stderr


def test_base_in_a_shallow_clone(tmp_path):
    origin = _repo_with_base(tmp_path / "origin" if (tmp_path / "origin").mkdir() is None else tmp_path)
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "v2")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth=1", f"file://{origin}", str(clone))
    proc = run_cli("check", "--base", "HEAD~1", cwd=clone)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    git(clone, "fetch", "-q", "--depth=2", "origin", "main")
    proc = run_cli("check", "--base", "HEAD~1", "--format", "json", cwd=clone)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["base"] == "HEAD~1"


def test_suppression_with_alias_name_and_file_ignore(tmp_path):
    (tmp_path / "a.py").write_text("# canary-lint: file-ignore[unused-suppression] generated file\n"
                                   "x = 1  # canary-lint: ignore[CL004] stale\n")
    report = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path)
    assert [f.rule for f in report.findings] == []
    assert report.suppressed == 1


def test_docstring_showing_the_syntax_is_not_a_suppression(tmp_path):
    (tmp_path / "a.py").write_text('"""Write `# canary-lint: ignore[CLM101] reason` above the line."""\n'
                                   "x = 1  # canary-lint: ignore[CL004] stale\n")
    report = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path)
    assert [(f.rule, f.line) for f in report.findings] == [("CL002", 2)]
