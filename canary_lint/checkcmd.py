"""The `check` command without click: what `cli.check` runs, and what `entry.main` runs for a plain
`canary-lint check ...` before click (about 20 ms to import) is loaded. Also the report writing and the
error exits every command shares."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class UsageFailure(Exception):
    """A usage/config problem found after parsing; printed as one line, exit 2."""


def echo_err(message: str) -> None:
    """`click.echo(message, err=True)`: written and flushed as is to a plain text stderr; handed to click
    where click would change something (ANSI codes off a terminal, an ASCII or odd stream, Windows)."""
    stream = sys.stderr
    if ("\x1b" in message or sys.platform == "win32" or type(stream) is not io.TextIOWrapper
            or not stream.errors or _ascii(stream.encoding)):
        import click

        click.echo(message, err=True)
        return
    stream.write(message + "\n")
    stream.flush()


def _ascii(encoding: str | None) -> bool:
    import codecs

    try:
        return not encoding or codecs.lookup(encoding).name == "ascii"
    except LookupError:
        return False


def fail(message: str) -> None:
    echo_err(f"canary-lint: error: {message}")
    sys.exit(EXIT_ERROR)


def fail_on_exception(exc: Exception) -> None:
    """Usage/config/git problems and internal errors: exit 2, never 1."""
    from canary_lint.config import ConfigError
    from canary_lint.gitio import GitError

    if isinstance(exc, (UsageFailure, ConfigError, GitError)) or type(exc).__name__ == "ProveRefused":
        fail(str(exc))
    import traceback

    traceback.print_exc()
    fail(f"internal error: {type(exc).__name__}: {exc}")


def _use_color(choice: str, stream) -> bool:
    if choice == "always":
        return True
    if choice == "never" or "NO_COLOR" in os.environ:
        return False
    return stream.isatty()


def _read_source(path: str, root: Path | None = None) -> list[str] | None:
    """Lines of a reported file for excerpts: a regular file that stays inside the checked root (a path named
    outside it is the user's own), bounded like every read."""
    from canary_lint.context import MAX_BYTES
    from canary_lint.discovery import read_regular

    root = (root or Path.cwd()).resolve()
    data = read_regular(root / path, MAX_BYTES, None if Path(path).is_absolute() else root)
    return None if data is None else data.decode("utf-8", "replace").splitlines()


def echo_notes(report) -> None:
    """What the run could not do and how to get it (an optional dependency missing), one line each."""
    for note in report.extra.get("notes", ()):
        echo_err(f"canary-lint: {note}")


def write_reports(report, formats: tuple[str, ...], output: str | None, color_choice: str,
                  read_source=None) -> None:
    """Render each `FMT` or `FMT:PATH`; a bare format goes to --output or stdout."""
    from canary_lint import formatters

    targets = []
    for spec in formats or ("text",):
        name, _, path = spec.partition(":")
        try:
            render = formatters.get(name)
        except KeyError:
            raise UsageFailure(f"unknown --format {name!r} (available: {', '.join(formatters.available())})") from None
        targets.append((name, render, path or output))
    for _name, _render, path in targets:
        if path and not Path(path).absolute().parent.is_dir():
            raise UsageFailure(f"cannot write report to {path}: directory {Path(path).parent} does not exist")
        if path and Path(path).is_dir():
            raise UsageFailure(f"cannot write report to {path}: it is a directory; name a file")
    from canary_lint.publish.ci import link_options

    links = link_options(os.environ, report.commit)  # repo/commit links for markdown and SARIF, from CI env
    for name, render, path in targets:
        color = name == "text" and not path and _use_color(color_choice, sys.stdout)
        text = render(report, color=color, read_source=read_source or _read_source, **links)
        if path:
            try:
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(text)
                    fh.flush()
            except OSError as exc:
                raise UsageFailure(f"cannot write report to {path}: {exc.strerror or exc}") from None
        else:
            sys.stdout.write(text)
            sys.stdout.flush()


def exit_code(report, fail_on, fail_on_existing: bool = False) -> int:
    if report.internal_error:
        return EXIT_ERROR
    return EXIT_FINDINGS if report.blocking(fail_on, fail_on_existing) else EXIT_OK


NO_BASE_HINT = ("canary-lint: no --base: every migration is judged as new; pass --base REF, the release still "
                "serving (e.g. --base origin/main or --base v1.2.0), to judge only what this release adds")


def _csv(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


def check(paths, base, formats, output, select, ignore, config_path, baseline_path, exit_zero, fail_on,
          fail_on_existing, color, example, verbose, prove=None, prove_schema=None):
    """The `check` command (its options are declared in `cli.py`, and read again by `entry.py`)."""
    from canary_lint import config as config_mod
    from canary_lint.engine import run_check
    from canary_lint.formatters.text import summary_line
    from canary_lint.model import Severity
    from canary_lint.registry import registry

    for flag, values in (("--select", select), ("--ignore", ignore)):
        for s in _csv(values):
            if not registry().is_selector(s):
                raise UsageFailure(f"{flag} names unknown rule {s!r} (see `canary-lint rules`)")
    if prove_schema and not prove:
        raise UsageFailure("--prove-schema names where --prove runs: give --prove DSN too")
    if prove:
        from canary_lint.prove.db import parse

        parse(prove)  # a URL that cannot be read is a usage error before any work
    if example and (paths or base or config_path or baseline_path):
        raise UsageFailure("--example checks the bundled release: it takes no PATHs, --base, --config or --baseline")
    for p in paths:
        if not os.path.lexists(p):
            raise UsageFailure(f"path does not exist: {p}")
    cfg = config_mod.Config() if example else config_mod.load(config_path, paths[0] if paths else None)
    cfg = cfg.merged(
        select=_csv(select) or None,
        ignore=(cfg.ignore + _csv(ignore)) if ignore else None,
        fail_on=Severity(fail_on) if fail_on else None,
        fail_on_existing=fail_on_existing,
        base=base,
    )
    # only the machine reports name the commit they describe
    record_commit = bool({spec.partition(":")[0] for spec in formats} & {"json", "markdown", "sarif"})
    if example:
        from canary_lint.example import example_release

        with example_release() as (root, base_ref):
            echo_err(f"canary-lint: example release: v1 (serving) -> v2 (canary), in {root}")
            report = run_check(["."], cfg.merged(root=root, base=base_ref), base=base_ref, cwd=root,
                               record_commit=record_commit, prove=(prove, prove_schema) if prove else None)
            report.extra.update(fail_on=cfg.fail_on.value, fail_on_existing=cfg.fail_on_existing)
            write_reports(report, formats, output, color, read_source=lambda path: _read_source(path, root))
        echo_notes(report)
        echo_err(summary_line(report))
        return 0 if exit_zero and not report.internal_error else exit_code(report, cfg.fail_on, cfg.fail_on_existing)

    report = run_check(list(paths) or ["."], cfg, base=cfg.base, record_commit=record_commit,
                       prove=(prove, prove_schema) if prove else None)
    if baseline_path:
        from canary_lint import baseline as baseline_mod

        report = baseline_mod.apply(report, baseline_path, paths=list(paths) or ["."], config=cfg)
    # the verdicts of the text and markdown reports match the exit code
    report.extra.update(fail_on=cfg.fail_on.value, fail_on_existing=cfg.fail_on_existing)
    if verbose:
        for line in report.extra.get("serving", ["serving code: no app rule ran (no Python files judged)"]):
            echo_err(f"canary-lint: {line}")
    write_reports(report, formats, output, color)
    echo_notes(report)
    if cfg.base is None and report.extra.get("migration_files"):
        echo_err(NO_BASE_HINT)
    if report.files == 0:
        echo_err(f"canary-lint: nothing to check in {', '.join(paths) or '.'} "
                   "(no migrations, OpenAPI specs, Python or deployment files found)")
    else:
        echo_err(summary_line(report))
    return 0 if exit_zero and not report.internal_error else exit_code(report, cfg.fail_on, cfg.fail_on_existing)
