"""A real headless Chromium (Debian's `chromium`) for the HTML report: the DOM after loading a file, the
console messages it logged, a screenshot."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

_CONSOLE = re.compile(r":CONSOLE(?:\(\d+\)|:\d+)\] (.*)")


def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "chromium is missing: `python3 scripts/dev.py test` installs it (Debian packages chromium, chromium-driver)"
    return binary


def _run(page: Path, *flags: str, tmp: Path) -> subprocess.CompletedProcess:
    argv = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            f"--user-data-dir={tmp / 'chromium-profile'}", "--enable-logging=stderr", "--v=0", *flags,
            page.resolve().as_uri()]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def load(page: Path, tmp: Path) -> tuple[str, list[str]]:
    """(the serialized DOM after load, the console messages)."""
    out = _run(page, "--dump-dom", tmp=tmp)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout, [m.group(1) for m in _CONSOLE.finditer(out.stderr)]


def screenshot(page: Path, png: Path, tmp: Path, size: str = "1280,2400") -> Path:
    out = _run(page, f"--screenshot={png}", f"--window-size={size}", "--hide-scrollbars", tmp=tmp)
    assert out.returncode == 0 and png.exists(), out.stderr[-2000:]
    return png
