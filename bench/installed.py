"""canary-lint as a user installs it, for the benchmarks that time whole processes.

`pip install` of a tree (not editable) into a venv of its own under bench/.work/: pip byte-compiles the
modules as it does for the anchors, so a timed run reads byte code, as a user's does, and not the source
(with PYTHONDONTWRITEBYTECODE=1 in the environment, a run from the source tree compiles every module it loads,
every time). The venv is made once; later calls reinstall only canary-lint itself from the tree.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def install_ours(venv: Path, tree: Path = ROOT) -> Path:
    """The console script of canary-lint installed from `tree` into `venv`."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(tree)], check=True, capture_output=True)
    else:  # this tree, even when the version is unchanged
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(tree)],
                       check=True, capture_output=True)
    return venv / "bin" / "canary-lint"
