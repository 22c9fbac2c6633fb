#!/usr/bin/env python3
"""What `pip install canary-lint` (no extras) costs: the wheel built from this tree, installed into a fresh
virtualenv; total and per-distribution MB on disk and the wall time of the install.

    python3 bench/install/size.py [--tree DIR] [--extras rollout,k8s] [--no-cache] [--keep DIR]

`--tree` measures another checkout (the main branch before a change, say) with this script.

Per-distribution sizes are the bytes of the files each distribution's RECORD lists (what `pip uninstall`
would remove); the total adds them up, without pip itself. `du` of the whole virtualenv is printed beside
it (it also counts pip, the interpreter links and `__pycache__` written later). The install goes through the
ordinary pip client against the configured index; pass `--no-cache` for a cold download.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
MB = 1024 * 1024

# run inside the new virtualenv: bytes per distribution from its RECORD
SIZES = """
import json, os
from importlib import metadata
out = {}
for dist in metadata.distributions():
    total = 0
    for f in dist.files or ():
        p = f.locate()
        try:
            if os.path.isfile(p) and not os.path.islink(p):
                total += os.path.getsize(p)
        except OSError:
            pass
    out[dist.metadata["Name"]] = total
print(json.dumps(out))
"""


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", default=str(ROOT), help="the source tree to build (default: this one)")
    ap.add_argument("--extras", default="", help="comma-separated extras to install with the wheel")
    ap.add_argument("--no-cache", action="store_true", help="pip --no-cache-dir (a cold download)")
    ap.add_argument("--keep", metavar="DIR", help="build the virtualenv here and keep it")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    tree = Path(args.tree).resolve()

    work = Path(tempfile.mkdtemp(prefix="canary-lint-size-"))
    venv = Path(args.keep) if args.keep else work / "venv"
    try:
        wheels, src = work / "wheels", work / "src"  # built from a copy: no build/ or egg-info left in the tree
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(tree / name, src / name)
        shutil.copytree(tree / "canary_lint", src / "canary_lint", ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(src)],
                       check=True, capture_output=True)
        wheel = next(wheels.glob("canary_lint-*.whl"))
        if venv.exists():
            shutil.rmtree(venv)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        if args.no_cache:
            pip.append("--no-cache-dir")
        target = f"{wheel}[{args.extras}]" if args.extras else str(wheel)
        empty = _du(venv)
        start = time.perf_counter()
        proc = subprocess.run([*pip, target], capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"pip install failed:\n{proc.stderr}")
        seconds = time.perf_counter() - start
        sizes = json.loads(subprocess.run([str(venv / "bin" / "python"), "-c", SIZES], check=True,
                                          capture_output=True, text=True).stdout)
        for own in ("pip", "setuptools"):  # the virtualenv's own tools, not canary-lint's cost
            sizes.pop(own, None)
        total = sum(sizes.values())
        figures = {"wheel": wheel.name, "extras": args.extras, "seconds": round(seconds, 1),
                   "total_mb": round(total / MB, 1), "venv_growth_mb": round((_du(venv) - empty) / MB, 1),
                   "packages": {name: round(size / MB, 2) for name, size in
                                sorted(sizes.items(), key=lambda kv: -kv[1])}}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=1))
        return 0
    print(f"{figures['wheel']}{'[' + args.extras + ']' if args.extras else ''}: {figures['total_mb']} MB in "
          f"{len(figures['packages'])} distributions (virtualenv grew {figures['venv_growth_mb']} MB), "
          f"installed in {figures['seconds']} s")
    for name, mb in figures["packages"].items():
        print(f"  {mb:8.2f} MB  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
