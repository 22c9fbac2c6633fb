"""The bundled example release: a shop service, v1 (serving) and v2 (the canary)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from canary_lint.gitio import git


def _copy(src, dst: Path) -> None:
    for entry in src.iterdir():
        if entry.name in ("__pycache__",) or entry.name.endswith(".pyc"):
            continue
        target = dst / entry.name
        if entry.is_dir():
            target.mkdir(exist_ok=True)
            _copy(entry, target)
        else:
            target.write_bytes(entry.read_bytes())


@contextlib.contextmanager
def example_release():
    """Yield (root, base_ref): a temporary git repository with v1 committed and tagged, v2 as the work tree."""
    root = Path(tempfile.mkdtemp(prefix="canary-lint-example-"))
    try:
        src = resources.files("canary_lint") / "example"
        _copy(src / "v1", root)
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "shop v1 (serving)")
        git(root, "tag", "v1")
        for entry in list(root.iterdir()):
            if entry.name == ".git":
                continue
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        _copy(src / "v2", root)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "shop v2 (canary)")
        yield root, "v1"
    finally:
        shutil.rmtree(root, ignore_errors=True)
