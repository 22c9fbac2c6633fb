"""Fetch real application trees from their PyPI wheels into bench/.work/pyapps/<name>/.

    python bench/pyapps/fetch.py [NAME ...]

Each application is downloaded with `pip download --no-deps` (the wheel only, never its dependencies) and
unzipped into its own directory; a tree that is already there is reused. Prints one line per tree:
name, version and the number of Python files. Used by the state and telemetry benchmarks.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / ".work" / "pyapps"
APPS = {
    "weblate": "weblate",  # Django
    "prefect": "prefect",  # FastAPI server
    "chainlit": "chainlit",  # FastAPI + Socket.IO
    "langflow": "langflow-base",  # FastAPI; the application code lives in langflow-base
    "dagster-webserver": "dagster-webserver",  # Starlette
    "superset": "apache-superset",  # Flask-AppBuilder, Flask-Caching, Flask-Limiter
    "mlflow": "mlflow",  # Flask tracking server + FastAPI
    "open-webui": "open-webui",  # FastAPI + python-socketio (WEBSOCKET_MANAGER switch)
    "flaskbb": "flaskbb",  # Flask, Flask-Limiter, Flask-Caching
    "ckan": "ckan",  # Flask
}


def fetch(name: str) -> Path:
    target = ROOT / name
    marker = target / ".fetched"
    if marker.is_file():
        return target
    wheels = ROOT / "_wheels" / name
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(wheels), APPS[name]],
        check=True,
    )
    wheel = sorted(wheels.glob("*.whl"))[-1]
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    marker.write_text(wheel.name + "\n")
    return target


def main(argv: list[str]) -> int:
    names = argv or list(APPS)
    unknown = [n for n in names if n not in APPS]
    if unknown:
        print(f"unknown application(s): {', '.join(unknown)} (known: {', '.join(APPS)})", file=sys.stderr)
        return 2
    for name in names:
        tree = fetch(name)
        wheel = (tree / ".fetched").read_text().strip()
        count = sum(1 for _ in tree.rglob("*.py"))
        print(f"{name:20} {wheel:60} {count:6} .py files  {tree}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
