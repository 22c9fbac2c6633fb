"""Existing findings: with --base, what v1's tree already has is shown apart and does not fail the gate.

Every case is a real git repository in a temporary directory: v1 committed and tagged, v2 in the work tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from canary_lint import existing
from canary_lint.config import Config
from canary_lint.engine import run_check
from canary_lint.gitio import BaseTree, git

LOG = "import logging\nlogging.basicConfig(format='%(asctime)s %(message)s')\n"  # CLT401 (error)
SECRET = "import secrets\nfrom flask import Flask\nimport app.log  # noqa: F401\napp = Flask(__name__)\napp.secret_key = secrets.token_hex(32)\n"
MIGRATION_V1 = ('revision = "0001"\ndown_revision = None\nfrom alembic import op\nimport sqlalchemy as sa\n'
                'def upgrade():\n    op.create_table("users", sa.Column("id", sa.Integer))\n')
MIGRATION_V2 = ('revision = "0002"\ndown_revision = "0001"\nfrom alembic import op\n'
                'def upgrade():\n    op.drop_column("users", "nickname")\n')


def cli(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_"))}
    return subprocess.run([sys.executable, "-m", "canary_lint", *args], cwd=cwd, capture_output=True, text=True,
                          env={**clean, "NO_COLOR": "1", **(env or {})}, timeout=120)


def release(root: Path, v1: dict[str, str], v2: dict[str, str], tag: str = "v1") -> Path:
    """A repository with `v1` committed as `tag` and `v2` (the whole tree) in the work tree."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    for rel, text in v1.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "v1")
    git(root, "tag", tag)
    for rel in v1:
        (root / rel).unlink()
    for rel, text in v2.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def findings(proc) -> list[tuple[str, str, bool]]:
    assert proc.returncode in (0, 1), proc.stderr
    return sorted((f["rule"], f["path"], f["new"]) for f in json.loads(proc.stdout)["findings"])


@pytest.fixture
def shop(tmp_path):
    """v1 already logs without a version; v2 keeps that (three lines lower) and adds a per-host signing key."""
    return release(tmp_path / "shop", {"app/log.py": LOG, "app/main.py": "app = None\n"},
                   {"app/log.py": "# logging\n\n\n" + LOG, "app/main.py": SECRET})


def test_old_findings_are_existing_and_do_not_fail(shop):
    proc = cli(shop, "check", "--base", "v1", "--format", "json")
    assert findings(proc) == [("CLS102", "app/main.py", True), ("CLT401", "app/log.py", False)]
    assert proc.returncode == 1  # the new signing key fails the gate
    summary = json.loads(proc.stdout)["summary"]
    assert (summary["new"], summary["existing"], summary["errors"]) == (1, 1, 2)

    (shop / "app/main.py").write_text("app = None\n")  # only the old finding is left
    proc = cli(shop, "check", "--base", "v1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Already in v1 (v1), not failing:" in proc.stdout
    assert "app/log.py:5:1: CLT401 [error, existing]" in proc.stdout  # line 5 now: fingerprints have no line
    assert proc.stderr.strip().endswith("No new findings in 2 files; 1 already in v1 (1 error, 0 warnings) do not "
                                        "fail (--fail-on-existing to fail on them); v1 = v1.")

    assert cli(shop, "check", "--base", "v1", "--fail-on-existing").returncode == 1
    (shop / "canary-lint.toml").write_text("fail-on-existing = true\n")
    proc = cli(shop, "check", "--base", "v1")
    assert proc.returncode == 1 and "fail too (fail-on-existing)" in proc.stderr
    (shop / "canary-lint.toml").write_text("fail-on-existing = 'yes'\n")
    proc = cli(shop, "check", "--base", "v1")
    assert proc.returncode == 2 and "`fail-on-existing` must be true or false" in proc.stderr


def test_without_base_every_finding_is_new(shop):
    proc = cli(shop, "check", "--format", "json")
    assert findings(proc) == [("CLS102", "app/main.py", True), ("CLT401", "app/log.py", True)]
    assert "every migration is judged as new" not in proc.stderr  # no migrations here: nothing to say


def test_no_base_hint_only_when_migrations_were_found(tmp_path):
    root = release(tmp_path / "r", {"migrations/versions/0001_a.py": MIGRATION_V1},
                   {"migrations/versions/0001_a.py": MIGRATION_V1, "migrations/versions/0002_b.py": MIGRATION_V2})
    proc = cli(root, "check")
    hint = [line for line in proc.stderr.splitlines() if "every migration is judged as new" in line]
    assert hint == ["canary-lint: no --base: every migration is judged as new; pass --base REF, the release still "
                    "serving (e.g. --base origin/main or --base v1.2.0), to judge only what this release adds"]
    with_base = cli(root, "check", "--base", "v1", "--format", "json")
    assert "judged as new" not in with_base.stderr
    # migration findings judge only the revisions the release adds: always new, v1 is never run for them
    assert findings(with_base) == [("CLM101", "migrations/versions/0002_b.py", True)]


def test_every_format_tells_existing_from_new(shop):
    out = shop / "out"
    out.mkdir()
    formats = ["json", "sarif", "gitlab", "junit", "markdown", "concise", "github"]
    proc = cli(shop, "check", "app", "--base", "v1", *[f"--format={f}:out/r.{f}" for f in formats],
               env={"GITHUB_REPOSITORY": "acme/shop", "GITHUB_SHA": "f" * 40})
    assert proc.returncode == 1, proc.stderr
    read = {f: (out / f"r.{f}").read_text() for f in formats}
    sarif = json.loads(read["sarif"])["runs"][0]["results"]
    assert sorted((r["ruleId"], r["baselineState"]) for r in sarif) == [("CLS102", "new"), ("CLT401", "unchanged")]
    gitlab = {i["check_name"]: i["description"] for i in json.loads(read["gitlab"])}
    assert gitlab["CLT401"].endswith("(Already in v1: not failing this gate.)")
    assert "Already in v1" not in gitlab["CLS102"]
    assert '<skipped type="error" message="already in v1, not failing: log format' in read["junit"]
    assert read["concise"].splitlines()[0].startswith("app/log.py:5:1: CLT401 [error, existing] log format")
    github = read["github"].splitlines()
    assert github[0].startswith("::error file=app/main.py") and github[1].startswith("::notice file=app/log.py")
    assert "(already in v1)" in github[1]
    md = read["markdown"]
    assert md.startswith("### canary gate: blocked by 1 new error\n")
    assert "| state | 1 | 0 | 0 | 0 |" in md and "| telemetry | 0 | 0 | 0 | 1 |" in md
    assert md.index("#### New findings") < md.index("<details><summary>1 finding v1 (v1) already has")
    assert "(https://github.com/acme/shop/blob/" in md


def test_v1_findings_are_cached_and_a_miss_gives_the_same_answer(shop, tmp_path):
    cache = tmp_path / "cache"
    env = {"CANARY_LINT_CACHE_DIR": str(cache)}
    cold = cli(shop, "check", "--base", "v1", "--format", "json", env=env)
    entries = list((cache / "existing").glob("*.json"))
    assert len(entries) == 1
    entry = json.loads(entries[0].read_text())
    assert entry["tool"] == "canary-lint" and [e["rule"] for e in entry["findings"]] == ["CLT401"]
    warm = cli(shop, "check", "--base", "v1", "--format", "json", env=env)
    assert findings(warm) == findings(cold)
    assert json.loads(entries[0].read_text()) == entry  # a hit writes nothing

    for garbage in ("{not json", '{"entry_schema": 1}', json.dumps({**entry, "findings": [{"rule": 1}]}),
                    json.dumps({**entry, "key": "0" * 40}), "\x00\xff"):
        entries[0].write_text(garbage, encoding="utf-8", errors="surrogateescape")
        again = cli(shop, "check", "--base", "v1", "--format", "json", env=env)
        assert findings(again) == findings(cold), garbage
        assert json.loads(entries[0].read_text()) == entry  # ignored, then written again
    off = cli(shop, "check", "--base", "v1", "--format", "json", env={"CANARY_LINT_CACHE_DIR": ""})
    assert findings(off) == findings(cold)  # caching off: the same answer
    assert not [p for p in shop.rglob("*.json") if ".git" not in p.parts]  # the cache lives outside the tree


def test_a_file_read_beyond_discovery_is_part_of_the_cache_entry(tmp_path, monkeypatch):
    """Two v1 commits with the same Python files and a different logging INI (read through fileConfig)."""
    monkeypatch.setenv("CANARY_LINT_CACHE_DIR", str(tmp_path / "cache"))
    code = "import logging.config\nlogging.config.fileConfig('logging.ini')\n"
    ini = "[formatters]\nkeys=plain\n[formatter_plain]\nformat={}\n"
    root = release(tmp_path / "r", {"app.py": code, "logging.ini": ini.format("%(message)s")},
                   {"app.py": code, "logging.ini": ini.format("%(message)s")}, tag="plain")
    git(root, "add", "-A")
    (root / "logging.ini").write_text(ini.format("%(version)s %(message)s"))
    git(root, "commit", "-q", "-am", "versioned logs")
    git(root, "tag", "versioned")
    (root / "logging.ini").write_text(ini.format("%(message)s"))
    config = Config(root=root)
    plain = run_check(["."], config, base="plain", cwd=root)
    assert [(f.rule, f.new) for f in plain.findings] == [("CLT401", False)]
    versioned = run_check(["."], config, base="versioned", cwd=root)
    assert [(f.rule, f.new) for f in versioned.findings] == [("CLT401", True)]  # v1 logged its version
    assert [(f.rule, f.new) for f in run_check(["."], config, base="plain", cwd=root).findings] == [("CLT401", False)]


def test_v1_is_read_from_git_only_and_never_leaves_the_tree(tmp_path, monkeypatch):
    """v1's symlinks are not followed, fileConfig cannot climb out, nothing of v1 is written to disk."""
    monkeypatch.setenv("CANARY_LINT_CACHE_DIR", str(tmp_path / "cache"))
    outside = tmp_path / "secret.ini"
    outside.write_text("[formatters]\nkeys=a\n[formatter_a]\nformat=%(message)s\n")
    code = "import logging.config\nlogging.config.fileConfig({!r})\n"
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "a.py").write_text(code.format("../secret.ini"))
    (root / "b.py").write_text(code.format("link.ini"))
    os.symlink(outside, root / "link.ini")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "v1")
    git(root, "tag", "v1")
    base = BaseTree("v1", root)
    tree = existing.V1Tree(base)
    assert set(tree.blobs) == {"a.py", "b.py"}  # the symlink is no file of v1
    counts = existing.v1_counts(["."], Config(root=root), base, root)
    base.close()
    assert counts == {}  # neither INI was read, so v1 has no CLT401
    head = run_check(["."], Config(root=root), cwd=root).findings
    assert not [f for f in head if f.rule == "CLT401"]  # nor by the work-tree run
    assert sorted(p.name for p in root.iterdir()) == [".git", "a.py", "b.py", "link.ini"]


def test_scope_follows_the_paths_checked(shop):
    proc = cli(shop, "check", "app/log.py", "--base", "v1", "--format", "json")
    assert findings(proc) == [("CLT401", "app/log.py", False)]


def test_counts_like_a_baseline_one_v1_finding_covers_one_v2_finding():
    from canary_lint.model import Finding, Severity

    def f(line):
        return Finding("CLT401", "log-format-without-version", "telemetry", Severity.ERROR, "a.py", line, 1, line, 1,
                       "m", subject="same")
    marked = existing.mark([f(1), f(9)], {f(1).fingerprint: 1})
    assert [(x.line, x.new) for x in marked] == [(1, False), (9, True)]
    crash = Finding("CL005", "analyzer-crashed", "meta", Severity.ERROR, ".", 1, 1, 1, 1, "boom", subject="s")
    assert existing.mark([crash], {crash.fingerprint: 1})[0].new  # a crash is never old news


def test_v1_files_that_did_not_change_are_parsed_once(shop, monkeypatch):
    """The v1 run reuses the head run's parse of a file whose text is the same, and gives the same answer."""
    monkeypatch.setenv("CANARY_LINT_CACHE_DIR", "")  # every v1 run computed
    from canary_lint.context import ReleaseContext
    from canary_lint.discovery import discover, discover_listing
    from canary_lint.engine import analyze
    from canary_lint.registry import registry

    (shop / "app/log.py").write_text(LOG)  # as in v1; app/main.py differs
    config = Config(root=shop)
    head = ReleaseContext(config, discover(["."], config, shop).files, registry(), base_ref="v1", cwd=shop)
    analyze(head)
    tree = existing.V1Tree(head.base)
    files = discover_listing(["."], config, shop, list(tree.blobs), tree.read).files
    v1 = ReleaseContext(config, files, registry(), cwd=shop, tree=tree, shared=head)
    by_path = {f.path: f for f in files}
    head_files = {f.path: f for f in head.files}
    assert v1.python_ast(by_path["app/log.py"]) is head.python_ast(head_files["app/log.py"])
    assert v1.python_ast(by_path["app/main.py"]) is not head.python_ast(head_files["app/main.py"])
    alone = existing.v1_counts(["."], config, head.base, shop)
    assert existing.v1_counts(["."], config, head.base, shop, shared=head) == alone != {}
    head.close()


def test_v1_is_judged_as_the_service_v1_declared(tmp_path):
    """v1's serving code comes from v1's own pyproject: a module v1 did not serve is no proof v1 had its finding."""
    def pyproject(module: str) -> str:
        return f'[project]\nname = "shop"\nversion = "1"\n[project.scripts]\nshop = "app.{module}:main"\n'

    modules = {"app/__init__.py": "", "app/serve_a.py": LOG + "def main(): pass\n",
               "app/serve_b.py": LOG + "def main(): pass\n"}
    root = release(tmp_path / "shop", {**modules, "pyproject.toml": pyproject("serve_a")},
                   {**modules, "pyproject.toml": pyproject("serve_b")})
    proc = cli(root, "check", "--base", "v1", "--format", "json")
    assert findings(proc) == [("CLT401", "app/serve_b.py", True)]
    assert proc.returncode == 1


INVALID_SPEC = ("openapi: 3.0.3\ninfo: {title: shop, version: '1'}\npaths:\n  /orders:\n    get:\n"
                "      responses:\n        '200': {description: ok}\n{extra}"
                "components:\n  schemas:\n    Order: {type: object, required: notalist}\n")


def spec(extra: str) -> str:
    return INVALID_SPEC.replace("{extra}", extra)


def test_spec_validation_is_spent_on_what_v2_changes(tmp_path):
    unchanged = release(tmp_path / "same", {"openapi.yaml": spec("")},
                        {"openapi.yaml": spec("")})
    # v1 shipped this exact spec: not validated again (with --fail-on-existing it is, and fails)
    assert findings(cli(unchanged, "check", "--base", "v1", "--format", "json")) == []
    proc = cli(unchanged, "check", "--base", "v1", "--format", "json", "--fail-on-existing")
    assert ("CLA190", "openapi.yaml", True) in findings(proc) or ("CLA190", "openapi.yaml", False) in findings(proc)

    changed = release(tmp_path / "changed", {"openapi.yaml": spec("")},
                      {"openapi.yaml": spec("  /health:\n    get:\n      responses:\n"
                                                                 "        '200': {description: ok}\n")})
    assert ("CLA190", "openapi.yaml", False) in findings(cli(changed, "check", "--base", "v1", "--format", "json"))

    broken = release(tmp_path / "broken", {"openapi.yaml": spec("").replace("notalist", "[id]")},
                     {"openapi.yaml": spec("")})
    assert ("CLA190", "openapi.yaml", True) in findings(cli(broken, "check", "--base", "v1", "--format", "json"))
