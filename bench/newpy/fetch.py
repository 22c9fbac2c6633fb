"""Fetch trees written for Python 3.12-3.14 from their PyPI wheels into /tmp/newpy/<wheel>/.

    python bench/newpy/fetch.py [--root DIR]

Each wheel is downloaded with `pip download --no-deps --only-binary=:all:` for the newest Python it
needs (the wheel only, never its dependencies) and unzipped into its own directory; a tree that is already
there is reused. Their code is never committed. Prints one line per tree: the wheel and its `.py` count.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path("/tmp/newpy")
# name → (pip requirement, the Python version its newest wheel asks for)
WHEELS = {
    "homeassistant": ("homeassistant==2026.11.0", "3.14.2"),  # type aliases, PEP 695 generics, `except A, B:`
    "zha": ("zha==2.3.1", "3.12"),  # PEP 695 generics
    "django": ("django==6.1.3", "3.12"),  # needs 3.12; every file still reads on 3.11 (the common case)
}


def fetch(name: str, root: Path = ROOT) -> Path:
    requirement, python = WHEELS[name]
    wheels = root / "_wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    dist = requirement.split("==")[0]
    found = sorted(wheels.glob(f"{dist}-{requirement.split('==')[1]}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "--python-version", python, "-q", "-d", str(wheels), requirement], check=True)
        found = sorted(wheels.glob(f"{dist}-*.whl"))
    wheel = found[-1]
    target = root / wheel.name[: -len(".whl")]
    marker = target / ".fetched"
    if not marker.is_file():
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(target)
        marker.write_text(wheel.name + "\n")
    return target


def trees(root: Path = ROOT) -> list[Path]:
    return [fetch(name, root) for name in WHEELS]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=ROOT)
    args = ap.parse_args()
    for tree in trees(args.root):
        count = sum(1 for _ in tree.rglob("*.py"))
        print(f"{tree.name:50} {count:6} .py files  {tree}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
