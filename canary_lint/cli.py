"""Command line: wiring only. Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage/config/internal."""

from __future__ import annotations

import sys

import click

from canary_lint import __version__, checkcmd
from canary_lint.checkcmd import (  # noqa: F401 - shared by the other commands, importable from here
    EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, NO_BASE_HINT, UsageFailure, _csv, _read_source, _use_color, echo_notes,
    exit_code, write_reports,
)

# Subcommands that live with their feature, imported only when called: name -> "module:attribute".
LAZY_COMMANDS = {
    "openapi-diff": "canary_lint.openapi.cli:openapi_diff",
    "comment": "canary_lint.publish.cli:comment",
    "baseline": "canary_lint.baseline_commands:baseline_cli",
    "rollout": "canary_lint.rollout.cli:rollout",
}


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
@click.option("--prove", "prove", metavar="DSN",
              help="Check each migration finding on this throwaway database (postgresql://, mysql://, sqlite:///PATH): "
                   "v1's schema, the release's operations, v1's statements. Refuses a database that holds tables.")
@click.option("--prove-schema", "prove_schema", metavar="NAME",
              help="With --prove: run in this empty (or new) schema (PostgreSQL) or database (MySQL).")
def check(**options):
    """Check a release: migrations, API contract, session state and telemetry."""
    return checkcmd.check(**options)


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


_fail = checkcmd.fail


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
        checkcmd.fail_on_exception(exc)
    sys.exit(rv if isinstance(rv, int) else EXIT_OK)
