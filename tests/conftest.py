from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from canary_lint.gitio import git  # noqa: F401 - the tests' git runner (fixed identity)

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path | str | None = None, env: dict | None = None, input: str | None = None):
    """Run canary-lint as a real process; returns CompletedProcess with text output."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "canary_lint", *args], cwd=cwd, capture_output=True, text=True,
                          env=full_env, input=input, timeout=300)


@pytest.fixture(autouse=True, scope="session")
def _own_cache_dir(tmp_path_factory):
    """Every test run (and every CLI it starts) caches in its own directory, never the user's."""
    os.environ["CANARY_LINT_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def cli():
    return run_cli

