"""Existing findings: what v1's tree (the `--base` ref) already has is not news about this release.

With `--base`, the analyzers that judge one tree alone (state, telemetry, deployment files, spec validation,
meta) also run on v1's tree, read from git (`gitio.BaseTree`: nothing checked out, nothing executed). A head
finding whose fingerprint (rule + path + subject, no line) v1 already has is *existing*: `Finding.new` is
False, it is shown and counted apart, and it fails the gate only with `--fail-on-existing`. Analyzers that
compare v1 with v2 (migrations, the API diff) judge only what the release adds, so they do not run on v1.
Fingerprints are matched with the baseline's counting (`baseline.split`): when v1 has one finding with a
fingerprint and v2 two, one of v2's is new.

v1's findings are cached in the user's cache directory (`cachedir`), as a baseline document keyed by this
build of canary-lint, the effective configuration, the checked paths and the blob ids of every file the run
could read (discovery's candidates); files read beyond those (a logging INI, a `$ref`'d file) are listed in
the entry with their blob ids and checked on every hit. An entry that does not parse or does not match is
ignored and written again, so a miss gives the same answer as a hit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from canary_lint import baseline
from canary_lint.config import Config
from canary_lint.context import MAX_BYTES
from canary_lint.gitio import GitError
from canary_lint.model import Finding

CACHE_NAME = "existing"
ENTRY_SCHEMA = 1
READ_CAP = MAX_BYTES + 1  # a blob up to this size is read whole (as a work-tree file would be), then cut
NOT_CONFIG = ("source", "root", "base", "fail_on", "fail_on_existing")  # settings that do not change findings


def mark(findings: list[Finding], v1: dict[str, int]) -> list[Finding]:
    """The findings with `new=False` on those v1's fingerprint counts cover, in the same order."""
    covered, _, _ = baseline.split(findings, v1)
    old = {id(f) for f in covered}
    return [replace(f, new=False) if id(f) in old else f for f in findings]


def v1_counts(paths: list[str], config: Config, base, cwd: Path, shared=None) -> dict[str, int]:
    """How many findings v1's tree has per fingerprint, from the cache or from a run on v1's tree (which
    reuses the parses of `shared`, the head run's context, for files whose text did not change)."""
    tree = V1Tree(base)
    candidates = _candidates(paths, config, cwd, tree)
    key = _key(paths, config, cwd, base, {p: tree.blobs[p] for p in candidates if p in tree.blobs},
               _asks(shared))
    folder = _cache_folder(cwd)
    entry = folder / f"{key}.json" if folder is not None else None
    cached = _load(entry, key, tree) if entry is not None else None
    if cached is not None:
        return cached
    entries, crashed = _run_on_v1(paths, config, cwd, tree, candidates, shared)
    if entry is not None and not crashed:
        extra = {p: oid for p, oid in tree.reads.items() if p not in candidates}
        _store(entry, key, extra, entries)
    return baseline.counts(entries)


# ---- v1's tree ---------------------------------------------------------------------------------


def blob_ids(base) -> dict[str, str]:
    """path (relative to the current directory) -> blob id of every regular file of v1's tree."""
    return {path: base.blob_id(path) for path in base.paths()}


class V1Tree:
    """v1's files as discovery and the release context read them: bounded reads, every read recorded."""

    def __init__(self, base):
        self.base = base
        self.blobs = blob_ids(base)
        self.reads: dict[str, str | None] = {}  # path -> blob id (None: asked for, not in v1's tree)
        self._sizes: dict[str, int] = {}

    def sizes(self, paths) -> None:
        """Ask git once for the sizes of these files' blobs (so no read holds more than it needs)."""
        oids = sorted({self.blobs[p] for p in paths if p in self.blobs} - set(self._sizes))
        if not oids:
            return
        proc = subprocess.run(["git", "cat-file", "--batch-check"], cwd=self.base.cwd, capture_output=True,
                              input="".join(f"{oid}\n" for oid in oids).encode("ascii"), check=False)
        for line in proc.stdout.decode("ascii", "replace").splitlines():
            fields = line.split()
            if len(fields) == 3 and fields[1] == "blob" and fields[2].isdigit():
                self._sizes[fields[0]] = int(fields[2])

    def read(self, path: str, limit: int) -> bytes | None:
        """At most `limit` bytes of `path`, or None when v1's tree has no such regular file."""
        oid = self.blobs.get(path)
        self.reads[path] = oid
        if oid is None:
            return None
        if oid not in self._sizes:
            self.sizes([path])
        if oid not in self._sizes:
            return None  # an object this clone lacks (partial or damaged): unread, so nothing is called old
        if self._sizes[oid] <= READ_CAP:
            try:
                data = self.base.read_bytes(path)
            except GitError:
                return None
            return None if data is None else data[:limit]
        # over the size limit of every read: stream the first `limit` bytes, never the whole blob
        with subprocess.Popen(["git", "cat-file", "blob", oid], cwd=self.base.cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL) as proc:
            assert proc.stdout is not None
            data = proc.stdout.read(limit)
            proc.kill()
        return data


def _candidates(paths, config: Config, cwd: Path, tree: V1Tree) -> list[str]:
    """The files of v1's tree a run may read, by name alone (in scope, not excluded, of a kind we read)."""
    from canary_lint.discovery import discover_listing

    return [f.path for f in discover_listing(paths, config, cwd, tree.blobs, lambda path, limit: None).files]


def _run_on_v1(paths, config: Config, cwd: Path, tree: V1Tree, candidates: list[str], shared):
    """v1's findings as baseline entries, and whether an analyzer crashed (then nothing is cached)."""
    from canary_lint.context import ReleaseContext
    from canary_lint.discovery import discover_listing
    from canary_lint.analysis import analyze
    from canary_lint.registry import registry

    tree.sizes(candidates)
    files = discover_listing(paths, config, cwd, candidates, tree.read).files
    ctx = ReleaseContext(config, files, registry(), cwd=cwd, tree=tree, shared=shared)
    findings, _ = analyze(ctx, single_tree=True)
    return baseline.entries_of(findings), ctx.crashed


# ---- the cache ---------------------------------------------------------------------------------


def _cache_folder(cwd: Path) -> Path | None:
    from canary_lint.cachedir import cache_dir

    return cache_dir(CACHE_NAME, cwd)  # never inside the checked tree


def _tool() -> str:
    """This build: version, Python and every source file and rule page of the package (size, mtime)."""
    from canary_lint import __version__

    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(f"{__version__}\0{sys.version_info[:2]}".encode())
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".md"):
            stat = path.stat()
            digest.update(f"{path.relative_to(package).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _config(config: Config, cwd: Path) -> str:
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in NOT_CONFIG}
    root = Path(config.root).resolve()
    settings["root"] = root.relative_to(cwd).as_posix() if root == cwd or cwd in root.parents else str(root)
    return json.dumps(settings, sort_keys=True, default=str)


def _asks(shared) -> list:
    """What the head run asks of v1's run beyond v1's own files (the specs whose v2 failed validation, where
    v1's spec is validated too): part of the cache key, since v1's findings depend on it."""
    if shared is None:
        return []
    return sorted(str(key[2]) for key, value in shared.cache_items() if key[:2] == ("openapi", "invalid") and value)


def _key(paths, config: Config, cwd: Path, base, blobs: dict[str, str], asks: list | None = None) -> str:
    from canary_lint.discovery import display_path

    prefix = cwd.relative_to(base.root).as_posix() if cwd != base.root else ""
    scope = sorted(display_path(cwd / p, cwd) for p in (paths or ["."]))
    digest = hashlib.sha256(json.dumps([_tool(), _config(config, cwd), prefix, scope, asks or []]).encode())
    for path in sorted(blobs):
        digest.update(f"{path}\0{blobs[path]}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:40]


def _load(entry: Path, key: str, tree: V1Tree) -> dict[str, int] | None:
    """The counts of a cache entry that is whole and still true of v1's tree, else None (a miss)."""
    try:
        data = json.loads(entry.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("entry_schema") != ENTRY_SCHEMA or data.get("key") != key:
            return None
        reads = data.get("reads")
        if not isinstance(reads, dict) or any(tree.blobs.get(p) != oid for p, oid in reads.items()):
            return None  # a file read beyond the candidates changed
        return baseline.counts(baseline.parse(data, str(entry)))
    except (OSError, UnicodeDecodeError, ValueError, baseline.BaselineError):
        return None


def _store(entry: Path, key: str, reads: dict, entries: list) -> None:
    doc = json.loads(baseline.dumps(entries))
    doc.update({"entry_schema": ENTRY_SCHEMA, "key": key, "reads": reads})
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, entry)  # readers see the old entry or the new one, never half of one
    except OSError:
        tmp.unlink(missing_ok=True)
