"""`canary-lint baseline create` and `baseline update`: write the baseline file from a check of today's tree.

The baseline document itself (entries, fingerprint counting, `check --baseline`) is `baseline.py`.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import replace
from pathlib import Path

import click

from canary_lint import config as config_mod
from canary_lint.baseline import DEFAULT_FILE, NEVER_BASELINED, BaselineError, dumps, entries_of, in_scope, load
from canary_lint.engine import run_check
from canary_lint.model import Report

# Errors are click's: `cli.main` prints them on one line and exits 2 (importing `cli` here would be a cycle).


def _run(paths: tuple[str, ...], base: str | None, config_path: str | None) -> Report:
    for p in paths:
        if not os.path.lexists(p):
            raise click.ClickException(f"path does not exist: {p}")
    cfg = config_mod.load(config_path, paths[0] if paths else None).merged(base=base)
    report = run_check(list(paths) or ["."], cfg, base=cfg.base)
    if report.internal_error:
        raise click.ClickException("an analyzer crashed (CL005); fix or report that before writing a baseline")
    return report


def _common(fn):
    fn = click.option("--config", "config_path", metavar="FILE", help="Use this config file instead of searching.")(fn)
    fn = click.option("--base", metavar="REF", help="git ref of the version still serving (v1).")(fn)
    fn = click.option("--file", "baseline_file", default=DEFAULT_FILE, show_default=True, metavar="FILE",
                      help="Baseline file to write.")(fn)
    return click.argument("paths", nargs=-1, type=click.Path())(fn)


@click.group("baseline")
def baseline_cli():
    """Adopt canary-lint on an existing repository: record today's findings, fail only on new ones."""


@baseline_cli.command("create")
@_common
@click.option("--force", is_flag=True, help="Overwrite an existing baseline file.")
def create(paths, baseline_file, base, config_path, force):
    """Record every current finding in the baseline file (then `check --baseline FILE` hides them)."""
    target = Path(baseline_file)
    if target.exists() and not force:
        raise click.ClickException(f"{baseline_file} exists: `canary-lint baseline update` drops fixed entries, "
                           "`create --force` records everything again")
    if not target.absolute().parent.is_dir():
        raise click.ClickException(f"cannot write {baseline_file}: directory {target.parent} does not exist")
    entries = entries_of(_run(paths, base, config_path).findings)
    target.write_text(dumps(entries), encoding="utf-8")
    total = sum(e.count for e in entries)
    click.echo(f"canary-lint: wrote {baseline_file}: {total} finding{'s' if total != 1 else ''} "
               f"in {len(entries)} entr{'ies' if len(entries) != 1 else 'y'}", err=True)
    return 0


@baseline_cli.command("update")
@_common
def update(paths, baseline_file, base, config_path):
    """Drop entries whose findings are fixed; new findings are never added (fix or suppress those)."""
    try:
        old = load(baseline_file)
    except BaselineError as exc:
        raise click.ClickException(str(exc)) from None
    current = Counter(f.fingerprint for f in _run(paths, base, config_path).findings
                      if f.rule not in NEVER_BASELINED)
    roots = [Path(p).resolve() for p in (paths or ["."])]
    kept, dropped = [], 0
    for e in old:
        if not in_scope(e.path, roots):
            kept.append(e)  # not checked this time: keep as is
            continue
        n = min(e.count, current.get(e.fingerprint, 0))
        dropped += e.count - n
        if n:
            kept.append(replace(e, count=n))
    listed = {e.fingerprint for e in old}
    new = sum(n for fp, n in current.items() if fp not in listed)
    Path(baseline_file).write_text(dumps(sorted(kept, key=lambda e: (e.path, e.rule, e.message, e.fingerprint))),
                                   encoding="utf-8")
    msg = f"canary-lint: updated {baseline_file}: dropped {dropped} fixed, kept {sum(e.count for e in kept)}"
    if new:
        msg += f"; {new} new finding{'s are' if new != 1 else ' is'} not added (fix or suppress, or `create --force`)"
    click.echo(msg, err=True)
    return 0


__all__ = ["baseline_cli"]
