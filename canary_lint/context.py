"""The release context handed to every analyzer: head files, the lazily read base tree, shared parses.

Each file is read once and each parse is cached here, so two analyzers that look at the same Python file
share one `ast` tree. Analyzers build findings with `ctx.finding(...)`, which fills the rule's code,
family and severity from its page (and the user's severity overrides).
"""

from __future__ import annotations

import ast
import contextlib
import gc
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from canary_lint.config import Config
from canary_lint.discovery import SourceFile
from canary_lint.model import FileError, Finding, Severity, compact_numbers, printable
from canary_lint.registry import Registry

MAX_BYTES = 64 * 1024 * 1024


class Unreadable(Exception):
    """A file that cannot be read or decoded; the message says why."""


def decode(data: bytes) -> str:
    if b"\0" in data[:8192]:
        raise Unreadable("binary file (contains NUL bytes); not checked")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); not checked") from None
    if "\r" in text:  # CRLF and old-Mac CR-only files: one line ending for every reader (lines stay the same)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


@dataclass
class ReleaseContext:
    """What every analyzer of one run reads: the files, the shared parses, the base tree, the findings."""

    config: Config
    files: list[SourceFile]
    registry: Registry
    base_ref: str | None = None
    cwd: Path = field(default_factory=Path.cwd)
    tree: object = None  # the checked tree when it is not the work tree on disk: v1's, read from git (`existing`)
    shared: "ReleaseContext | None" = None  # the head run's context: its parses serve files of identical text
    _base: object = None
    _text: dict = field(default_factory=dict)
    _ast: dict = field(default_factory=dict)
    _base_ast: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict)
    errors: list[FileError] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    meta_findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one line each for stderr: what the run could not do, and why
    crashed: bool = False

    # ---- the head tree -------------------------------------------------------------------------
    def files_of(self, *kinds: str) -> list[SourceFile]:
        return [f for f in self.files if f.kinds.intersection(kinds)]

    def text(self, file: SourceFile) -> str | None:
        """The file's text, or None after recording why it could not be read (CL001)."""
        if file.path not in self._text:
            if self.tree is not None:
                data = self.tree.read(file.path, MAX_BYTES + 1)
            else:
                from canary_lint.discovery import read_regular

                data = read_regular(file.abspath, MAX_BYTES + 1)
            self._text[file.path] = self._decoded(file.path, data)
        return self._text[file.path]

    def _decoded(self, path: str, data: bytes | None) -> str | None:
        try:
            if data is None:
                raise Unreadable("cannot read: not a regular file, or no permission; not checked")
            if len(data) > MAX_BYTES:
                raise Unreadable(f"file is over the {MAX_BYTES // (1024 * 1024)} MB limit; not checked")
            return decode(data)
        except Unreadable as exc:
            self.file_error(path, str(exc))
            return None

    def read_text(self, path: str) -> str | None:
        """Another file of the checked tree (a `$ref`'d schema, a logging INI), by POSIX path relative to the
        current directory: None when it is missing, leaves the tree, is no regular file, is over the size limit
        or is not UTF-8. Never a CL001: the file that names it reports what it misses."""
        norm = posixpath.normpath(path)
        if norm.startswith(("../", "/")) or norm in ("..", "."):
            return None
        if self.tree is not None:
            data = self.tree.read(norm, MAX_BYTES + 1)
        else:
            from canary_lint.discovery import read_regular

            data = read_regular(self.cwd / norm, MAX_BYTES + 1, self.cwd.resolve())  # symlinks must stay inside
        if data is None or len(data) > MAX_BYTES:
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None

    def python_ast(self, file: SourceFile) -> ast.Module | None:
        """The head file's stdlib `ast`, parsed once per run; None (and a CL001) on a syntax error."""
        if file.path not in self._ast:
            source = self.text(file)
            other = self.shared
            if source is not None and other is not None and other._ast.get(file.path) is not None \
                    and other._text.get(file.path) == source:
                self._ast[file.path] = other._ast[file.path]  # v1's file is v2's: parsed once
            else:
                self._ast[file.path] = None if source is None else self._parse_python(source, file.path)
        return self._ast[file.path]

    def _parse_python(self, source: str, path: str, *, report: bool = True) -> ast.Module | None:
        from canary_lint.pysource import TemplateSource, parse

        try:
            tree = parse(source, path)
            gc.freeze()  # trees live for the whole run: keep the cyclic GC from rescanning them (3-4x slower parsing)
            return tree
        except TemplateSource:
            self.templates.append(path)  # a Jinja/Cookiecutter template named *.py: not Python, not an error
            return None
        except SyntaxError as exc:
            if report:
                self.file_error(path, f"Python syntax error: {exc.msg}", line=exc.lineno or 1, column=exc.offset or 1)
            return None
        except (ValueError, RecursionError, MemoryError) as exc:
            if report:
                self.file_error(path, f"cannot parse Python: {exc}")
            return None

    def cache_items(self) -> list:
        """(key, value) of what this run has computed once (read by the v1 run's cache key)."""
        return list(self._cache.items())

    def cached(self, key, compute):
        """Share any derived fact between analyzers (e.g. a symbol table per file)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    # ---- the base tree (v1) --------------------------------------------------------------------
    @property
    def base(self):
        """The base tree (`gitio.BaseTree`) when `--base` was given, else None. Opened on first use."""
        if self.base_ref is None:
            return None
        if self._base is None:
            from canary_lint.gitio import BaseTree

            self._base = BaseTree(self.base_ref, self.cwd)
        return self._base

    def base_python_ast(self, path: str) -> ast.Module | None:
        """v1's version of `path` parsed, or None (missing at base, or not parseable: v1 is not ours to lint)."""
        if self.base is None:
            return None
        if path not in self._base_ast:
            source = self.base.read_text(path)
            self._base_ast[path] = None if source is None else self._parse_python(source, path, report=False)
        return self._base_ast[path]

    def close(self) -> None:
        """Stop the git reader of the base tree, when one was started."""
        if self._base is not None:
            self._base.close()

    # ---- findings ------------------------------------------------------------------------------
    def finding(
        self,
        rule: str,
        path: str,
        line: int = 1,
        column: int = 1,
        end_line: int | None = None,
        end_column: int | None = None,
        *,
        message: str,
        fix: str | None = None,
        subject: str = "",
        operation: str | None = None,
        pointer: str | None = None,
        severity: Severity | None = None,
        line_in_base: bool = False,
    ) -> Finding:
        """Build a finding for `rule` (code or name). `severity` overrides the page's default for
        rules whose severity depends on the case (e.g. warning when v1 no longer uses a column);
        the user's per-rule severity from config always wins."""
        meta = self.registry.get(rule)
        sev = self.config.severity.get(meta.code) or severity or meta.severity
        line = max(1, int(line or 1))
        column = max(1, int(column or 1))
        end_line = max(line, int(end_line or line))
        end_column = int(end_column or column)
        if end_line == line and end_column < column:
            end_column = column
        return Finding(
            rule=meta.code, name=meta.name, family=meta.family, severity=sev, path=printable(path), line=line,
            column=column, end_line=end_line, end_column=end_column, message=printable(compact_numbers(message)),
            fix=printable(compact_numbers(fix)) if fix else fix, operation=printable(operation) if operation else operation,
            pointer=printable(pointer) if pointer else pointer, subject=printable(subject), line_in_base=line_in_base,
        )

    def note(self, text: str) -> None:
        """A line the CLI prints on stderr once (`canary-lint: TEXT`): an optional part that did not run."""
        text = printable(text)
        if self.shared is None and text not in self.notes:  # v1's run (`shared` set) repeats the head's
            self.notes.append(text)

    def file_error(self, path: str, message: str, line: int = 1, column: int = 1) -> None:
        """Record that `path` could not be read/decoded/parsed: a CL001 finding and a JSON `errors` entry."""
        if any(e.path == printable(path) for e in self.errors):
            return
        message = compact_numbers(message)
        self.errors.append(FileError(printable(path), printable(message if line <= 1 else f"line {line}: {message}")))
        self.meta_findings.append(
            self.finding("CL001", path, line, column, message=f"{message}", subject=path,
                         fix="fix the file so it can be read; the rest of the release was still checked")
        )

    @contextlib.contextmanager
    def guard(self, path: str, analyzer: str) -> Iterator[None]:
        """Turn an analyzer crash on one file into a CL005 finding; the run goes on, exit is 2."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - every crash must surface, never a silent pass
            self.internal_error(path, analyzer, exc)

    def internal_error(self, path: str, analyzer: str, exc: BaseException) -> None:
        self.crashed = True
        import traceback  # only for a crash

        tb = traceback.extract_tb(exc.__traceback__)
        where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
        self.meta_findings.append(
            self.finding("CL005", path, message=f"the {analyzer} analyzer crashed on this file: "
                         f"{type(exc).__name__}: {exc}{where}; this file was not fully checked",
                         subject=f"{analyzer}:{path}",
                         fix="report this as a bug in canary-lint with the file attached")
        )
