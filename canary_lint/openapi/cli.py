"""`canary-lint openapi-diff BASE_SPEC HEAD_SPEC`: the API analyzer on two files, outside git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click

from canary_lint.openapi.validate import cache_dir_for


def _tree_root(path: Path) -> Path:
    """The git work tree holding `path`, else its directory: `$ref`s may not leave it."""
    try:
        proc = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=path.parent, capture_output=True,
                              timeout=10)
        if proc.returncode == 0 and proc.stdout.strip():
            return Path(proc.stdout.decode().strip()).resolve()
    except (OSError, subprocess.SubprocessError):
        pass
    return path.parent.resolve()


def _display(path: Path, cwd: Path) -> str:
    try:
        return path.resolve().relative_to(cwd).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def diff_files(base_path: str, head_path: str, *, validate: bool = True, config=None):
    """Compare two spec files; returns a `Report`. Refs resolve inside each file's tree only."""
    from canary_lint import __version__
    from canary_lint.config import Config
    from canary_lint.context import MAX_BYTES, ReleaseContext, Unreadable, decode
    from canary_lint.model import Report
    from canary_lint.openapi.analyzer import _disk_reader, _inside, compare_specs, load_spec
    from canary_lint.openapi.settings import options
    from canary_lint.registry import registry

    cwd = Path.cwd().resolve()
    config = config or Config(root=cwd)
    ctx = ReleaseContext(config, [], registry(), cwd=cwd)
    opts = options(config.api or {})
    specs = []
    for raw in (base_path, head_path):
        path = Path(raw)
        shown = _display(path, cwd)
        try:
            if path.stat().st_size > MAX_BYTES:
                raise Unreadable(f"file is over the {MAX_BYTES // (1024 * 1024)} MB limit; not checked")
            text = decode(path.read_bytes())
        except Unreadable as exc:
            ctx.file_error(shown, str(exc))
            specs.append((None, None))
            continue
        except OSError as exc:
            ctx.file_error(shown, f"cannot read: {exc.strerror or exc}")
            specs.append((None, None))
            continue
        root = _tree_root(path.resolve())
        name = path.resolve().relative_to(root).as_posix()
        allowed = _inside(root)
        spec = load_spec(ctx, shown, text, _disk_reader(root, allowed), allowed, opts, doc_path=name)
        if spec is not None:
            spec.display = lambda p, r=root: _display(r / p, cwd)
        specs.append((spec, text))
    (base, _), (head, head_text) = specs
    findings = []
    if base is not None and head is not None:
        findings = compare_specs(ctx, base, head, validate=validate and opts["validate"],
                                 cache_dir=cache_dir_for(cwd), head_text=head_text)
    findings.extend(ctx.meta_findings)
    unique = {(f.rule, f.path, f.line, f.column, f.message): f for f in findings}
    return Report(findings=tuple(sorted(unique.values(), key=lambda f: f.sort_key)), errors=tuple(ctx.errors),
                  files=2, tool_version=__version__, internal_error=ctx.crashed, extra={"notes": list(ctx.notes)})


@click.command("openapi-diff")
@click.argument("base_spec", type=click.Path(dir_okay=False))
@click.argument("head_spec", type=click.Path(dir_okay=False))
@click.option("--format", "formats", multiple=True, metavar="FMT[:PATH]",
              help="text, json, sarif, github, gitlab, junit, markdown; repeat with FMT:PATH for several reports.")
@click.option("--output", "-o", metavar="FILE", help="Write the report to FILE instead of stdout.")
@click.option("--fail-on", type=click.Choice(["error", "warning"]), default="error", show_default=True)
@click.option("--no-validate", is_flag=True, help="Skip the validation of HEAD_SPEC (CLA190).")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings are reported.")
@click.option("--color", "color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True)
def openapi_diff(base_spec, head_spec, formats, output, fail_on, no_validate, exit_zero, color):
    """Compare two OpenAPI specs: what breaks a client of BASE_SPEC (v1) when HEAD_SPEC (v2) answers."""
    from canary_lint.cli import UsageFailure, echo_notes, exit_code, write_reports
    from canary_lint.formatters.text import summary_line
    from canary_lint.model import Severity

    for p in (base_spec, head_spec):
        if not Path(p).exists():
            raise UsageFailure(f"path does not exist: {p}")
    report = diff_files(base_spec, head_spec, validate=not no_validate)
    write_reports(report, formats, output, color)
    echo_notes(report)
    click.echo(summary_line(report), err=True)
    return 0 if exit_zero and not report.internal_error else exit_code(report, Severity(fail_on))
