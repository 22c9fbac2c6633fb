"""The `canary-lint` program. A plain `canary-lint check ...` (the pre-commit hook, CI) is read here and run
without click, which costs about 20 ms to import, a fifth of a small check; every other command line (help,
other commands, anything this reader does not know) goes to click in `cli.py`, which declares the options.
`tests/test_cli.py` checks that both read every command line the same."""

from __future__ import annotations

import sys

from canary_lint import __version__

# `check`'s options as click reads them: long and short name -> (parameter, kind); kinds: "value" (the last
# one counts), "many" (repeatable), "flag", or a tuple of the choices
CHECK_OPTIONS: dict[str, tuple[str, object]] = {
    "--base": ("base", "value"),
    "--format": ("formats", "many"),
    "--output": ("output", "value"), "-o": ("output", "value"),
    "--select": ("select", "many"),
    "--ignore": ("ignore", "many"),
    "--config": ("config_path", "value"),
    "--baseline": ("baseline_path", "value"),
    "--exit-zero": ("exit_zero", "flag"),
    "--fail-on": ("fail_on", ("error", "warning")),
    "--fail-on-existing": ("fail_on_existing", "flag"),
    "--color": ("color", ("auto", "always", "never")),
    "--example": ("example", "flag"),
    "--verbose": ("verbose", "flag"), "-v": ("verbose", "flag"),
    "--prove": ("prove", "value"),
    "--prove-schema": ("prove_schema", "value"),
}
CHECK_DEFAULTS = {"base": None, "formats": (), "output": None, "select": (), "ignore": (), "config_path": None,
                  "baseline_path": None, "exit_zero": False, "fail_on": None, "fail_on_existing": None,
                  "color": "auto", "example": False, "verbose": False, "prove": None, "prove_schema": None}


def parse_check(args: list[str]) -> dict | None:
    """The parameters click would pass to `check` for `args` (what follows `check`), or None when the line
    is not one this reader takes (help, `--`, `-`, joined short options, an unknown option, a missing or
    dash-led value, a choice click would refuse): click then reads it, and says what is wrong."""
    params: dict = {k: list(v) if isinstance(v, tuple) else v for k, v in CHECK_DEFAULTS.items()}
    paths: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-"):
            paths.append(arg)
            continue
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name not in CHECK_OPTIONS:
            return None
        dest, kind = CHECK_OPTIONS[name]
        if kind == "flag":
            if eq:
                return None
            params[dest] = True
            continue
        if not eq:
            if i >= len(args):
                return None
            value = args[i]
            i += 1
        if value.startswith("-") or (isinstance(kind, tuple) and value not in kind):
            return None
        if kind == "many":
            params[dest].append(value)
        else:
            params[dest] = value
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    return {"paths": tuple(paths), **params}


class _QuietFlush:
    """A standard stream whose flush ignores a closed pipe (as click leaves them after EPIPE)."""

    def __init__(self, wrapped):
        self.wrapped = wrapped

    def flush(self) -> None:
        import errno

        try:
            self.wrapped.flush()
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise

    def __getattr__(self, attr: str):
        return getattr(self.wrapped, attr)


def _check(params: dict) -> None:
    """Run `check` as `cli.main` runs it under click: the same exits for every outcome."""
    import errno

    from canary_lint import checkcmd

    try:
        rv = checkcmd.check(**params)
    except (EOFError, KeyboardInterrupt):
        checkcmd.echo_err("")
        checkcmd.echo_err("canary-lint: aborted")
        sys.exit(checkcmd.EXIT_ERROR)
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            checkcmd.fail_on_exception(exc)
        sys.stdout, sys.stderr = _QuietFlush(sys.stdout), _QuietFlush(sys.stderr)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - usage/config/git problems and internal errors: exit 2, never 1
        checkcmd.fail_on_exception(exc)
    sys.exit(rv if isinstance(rv, int) else checkcmd.EXIT_OK)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:  # answered before click and the engine are imported
        sys.stdout.write(f"canary-lint {__version__}\n")
        sys.exit(0)
    params = parse_check(args[1:]) if args[:1] == ["check"] else None
    if params is not None:
        _check(params)
    from canary_lint.cli import main as click_main

    click_main(args)
