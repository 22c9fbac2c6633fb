"""Command line: wiring only. Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage/config/internal."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from canary_lint import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

# Subcommands that live with their feature, imported only when called: name -> "module:attribute".
LAZY_COMMANDS = {
    "openapi-diff": "canary_lint.openapi.cli:openapi_diff",
    "comment": "canary_lint.publish.cli:comment",
    "baseline": "canary_lint.baseline_commands:baseline_cli",
    "rollout": "canary_lint.rollout.cli:rollout",
}


class UsageFailure(Exception):
    """A usage/config problem found after parsing; printed as one line, exit 2."""


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted([*super().list_commands(ctx), *self._available()])

    def _available(self):
        import importlib.util

        return [name for name, target in LAZY_COMMANDS.items()
                if importlib.util.find_spec(target.split(":")[0]) is not None]

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is not None or name not in LAZY_COMMANDS:
            return cmd
        import importlib

        module, attr = LAZY_COMMANDS[name].split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                return None
            raise


def _print_version(ctx, _param, value):
    if value and not ctx.resilient_parsing:
        click.echo(f"canary-lint {__version__}")
        ctx.exit(0)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
def cli():
    """canary-lint: can v1 and v2 run side by side, and can we tell them apart?"""


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
        click.echo(f"canary-lint: {note}", err=True)


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


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--base", "base", metavar="REF", help="git ref of the version still serving (v1).")
@click.option("--format", "formats", multiple=True, metavar="FMT[:PATH]",
              help="text, concise, json, sarif, github, gitlab, junit, markdown; repeat with FMT:PATH for several "
                   "reports.")
@click.option("--output", "-o", metavar="FILE", help="Write the report to FILE instead of stdout.")
@click.option("--select", multiple=True, metavar="RULES", help="Only these rules (codes, names, prefixes; comma-separated).")
@click.option("--ignore", multiple=True, metavar="RULES", help="Never these rules.")
@click.option("--config", "config_path", metavar="FILE", help="Use this config file instead of searching.")
@click.option("--baseline", "baseline_path", metavar="FILE", help="Hide findings listed in this baseline file.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings are reported.")
@click.option("--fail-on", type=click.Choice(["error", "warning"]), help="Lowest severity that fails (default error).")
@click.option("--fail-on-existing", is_flag=True, default=None,
              help="Fail on findings v1's tree (--base) already has too; by default only new ones fail.")
@click.option("--color", "color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True)
@click.option("--example", is_flag=True, help="Check the bundled example release (v1 -> v2 of a shop service).")
@click.option("--verbose", "-v", is_flag=True, help="Say on stderr what was taken as the serving code, and why.")
def check(paths, base, formats, output, select, ignore, config_path, baseline_path, exit_zero, fail_on,
          fail_on_existing, color, example, verbose):
    """Check a release: migrations, API contract, session state and telemetry."""
    from canary_lint import config as config_mod
    from canary_lint.engine import run_check
    from canary_lint.formatters.text import summary_line
    from canary_lint.model import Severity
    from canary_lint.registry import registry

    for flag, values in (("--select", select), ("--ignore", ignore)):
        for s in _csv(values):
            if not registry().is_selector(s):
                raise UsageFailure(f"{flag} names unknown rule {s!r} (see `canary-lint rules`)")
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
            click.echo(f"canary-lint: example release: v1 (serving) -> v2 (canary), in {root}", err=True)
            report = run_check(["."], cfg.merged(root=root, base=base_ref), base=base_ref, cwd=root,
                               record_commit=record_commit)
            report.extra.update(fail_on=cfg.fail_on.value, fail_on_existing=cfg.fail_on_existing)
            write_reports(report, formats, output, color, read_source=lambda path: _read_source(path, root))
        click.echo(summary_line(report), err=True)
        return 0 if exit_zero and not report.internal_error else exit_code(report, cfg.fail_on, cfg.fail_on_existing)

    report = run_check(list(paths) or ["."], cfg, base=cfg.base, record_commit=record_commit)
    if baseline_path:
        from canary_lint import baseline as baseline_mod

        report = baseline_mod.apply(report, baseline_path, paths=list(paths) or ["."], config=cfg)
    # the verdicts of the text and markdown reports match the exit code
    report.extra.update(fail_on=cfg.fail_on.value, fail_on_existing=cfg.fail_on_existing)
    if verbose:
        for line in report.extra.get("serving", ["serving code: no app rule ran (no Python files judged)"]):
            click.echo(f"canary-lint: {line}", err=True)
    write_reports(report, formats, output, color)
    echo_notes(report)
    if cfg.base is None and report.extra.get("migration_files"):
        click.echo(NO_BASE_HINT, err=True)
    if report.files == 0:
        click.echo(f"canary-lint: nothing to check in {', '.join(paths) or '.'} "
                   "(no migrations, OpenAPI specs, Python or deployment files found)", err=True)
    else:
        click.echo(summary_line(report), err=True)
    return 0 if exit_zero and not report.internal_error else exit_code(report, cfg.fail_on, cfg.fail_on_existing)


@cli.command("rules")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules_cmd(fmt):
    """List every rule: code, name, family, default severity."""
    import json

    from canary_lint.registry import registry

    rules = registry().rules
    if fmt == "json":
        click.echo(json.dumps([{"code": r.code, "name": r.name, "family": r.family, "severity": r.severity.value,
                                "since": r.since, "fix": r.fix, "aliases": list(r.aliases), "summary": r.summary}
                               for r in rules], indent=2))
        return 0
    width = max(len(r.name) for r in rules)
    for r in rules:
        click.echo(f"{r.code}  {r.name:<{width}}  {r.family:<9}  {r.severity.value:<7}  {r.summary[:90]}")
    return 0


@cli.command("rule")
@click.argument("key")
def rule_cmd(key):
    """Print a rule's page (by code, name or old alias)."""
    from canary_lint.registry import UnknownRule, registry

    try:
        rule = registry().get(key)
    except UnknownRule:
        raise UsageFailure(f"unknown rule {key!r} (see `canary-lint rules`)") from None
    click.echo(rule.page.rstrip())
    return 0


def _fail(message: str) -> None:
    click.echo(f"canary-lint: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:  # answered before click and the engine are imported
        sys.stdout.write(f"canary-lint {__version__}\n")
        sys.exit(EXIT_OK)
    try:
        rv = cli.main(args=args, prog_name="canary-lint", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("canary-lint: aborted", err=True)
        sys.exit(EXIT_ERROR)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "canary-lint"
        _fail(f"{exc.format_message().rstrip('.')} (see `{where} --help`)")
    except click.ClickException as exc:
        _fail(exc.format_message())
    except BrokenPipeError:
        sys.exit(EXIT_ERROR)
    except Exception as exc:  # noqa: BLE001 - usage/config/git problems and internal errors: exit 2, never 1
        from canary_lint.config import ConfigError
        from canary_lint.gitio import GitError

        if isinstance(exc, (UsageFailure, ConfigError, GitError)):
            _fail(str(exc))
        import traceback

        traceback.print_exc()
        _fail(f"internal error: {type(exc).__name__}: {exc}")
    sys.exit(rv if isinstance(rv, int) else EXIT_OK)
