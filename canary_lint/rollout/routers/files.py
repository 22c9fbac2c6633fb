"""What routers share below the routing itself: the file a router owns, replaced whole by an atomic rename and
put back as it was when a change fails; and requests to a proxy's admin or status endpoint.

A watcher (Envoy's filesystem subscription, Traefik's file provider) or a reload (nginx) only ever sees the old
file or the new one, never half of one: the text goes to a temporary file in the same directory, is flushed to
disk, then renamed over the old name. The temporary name ends in `.tmp`, which none of those proxies loads
from a watched directory.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from canary_lint.rollout.routers import RouterError

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # an http_proxy never sees admin calls


def read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def write(path: Path, text: str, newer: bool = False) -> None:
    """`newer`: the new file's mtime is later than the old one's by at least a microsecond, even when both are
    written within one tick of the file system's clock (a few ms), for readers that notice a change by its mtime
    alone (mod_rewrite's map cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    before = _mtime_ns(path) if newer else None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".canary-lint-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        if before is not None and _mtime_ns(Path(tmp)) < before + 1000:
            os.utime(tmp, ns=(before + 1000, before + 1000))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mtime_ns(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def restore(path: Path, old: str | None) -> None:
    """Put back the file as it was before a change (none at all when there was none)."""
    try:
        if old is None:
            path.unlink(missing_ok=True)
        else:
            write(path, old)
    except OSError:
        pass


MAX_BODY = 32 * 1024 * 1024  # an admin endpoint's answer; more is refused, not read


def get(url: str, what: str, timeout: float = 1.0, missing_ok: bool = False,
        headers: dict[str, str] | None = None, form: dict[str, str] | None = None) -> bytes | None:
    """The body of a GET to a local endpoint (a POST of `form`, URL-encoded, when given), at most MAX_BODY
    bytes; None for a 404 when `missing_ok`."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with _NO_PROXY.open(urllib.request.Request(url, data=data, headers=headers or {}), timeout=timeout) as resp:
            body = resp.read(MAX_BODY + 1)
            if len(body) > MAX_BODY:
                raise RouterError(f"{what} {url} answered more than {MAX_BODY // (1024 * 1024)} MB; not read")
            return body
    except urllib.error.HTTPError as exc:
        if missing_ok and exc.code == 404:
            return None
        raise RouterError(f"{what} {url} answered {exc.code}") from None
    except OSError as exc:
        raise RouterError(f"{what} {url} did not answer: {exc}") from None


def get_json(url: str, what: str, timeout: float = 1.0, missing_ok: bool = False):
    body = get(url, what, timeout, missing_ok)
    if body is None:
        return None
    try:
        return json.loads(body.decode("utf-8", errors="replace"))
    except ValueError:
        raise RouterError(f"{what} {url} answered something that is not JSON: {body[:120]!r}") from None
