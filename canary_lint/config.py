"""Configuration: `[tool.canary-lint]` in pyproject.toml or a `canary-lint.toml`.

The nearest file wins (walking up from the first path), `--config` overrides the search, and CLI flags
beat the file. Unknown keys and bad values raise `ConfigError`, which the CLI turns into exit 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from canary_lint.model import Severity, literal_repr, literal_text

DEFAULT_EXCLUDE = (
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "node_modules", "build", "dist",
    "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", "site-packages", ".eggs",
)
DIALECTS = ("postgresql", "mysql", "sqlite")


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Config:
    """The settings of a run: the config file's, merged with the command line's."""

    source: str | None = None  # the file the settings came from
    root: Path = field(default_factory=Path.cwd)  # the directory that holds it (or cwd)
    select: tuple[str, ...] = ("ALL",)
    ignore: tuple[str, ...] = ()
    severity: dict = field(default_factory=dict)  # rule code/name -> Severity
    exclude: tuple[str, ...] = ()
    extend_exclude: tuple[str, ...] = ()
    base: str | None = None
    fail_on: Severity = Severity.ERROR
    fail_on_existing: bool = False  # findings v1's tree already has fail the gate too
    dialect: str = "postgresql"
    postgres_version: int | None = None
    migrations: tuple[str, ...] = ()  # extra migration locations (dirs or globs)
    openapi: tuple[str, ...] = ()  # extra OpenAPI spec locations (files or globs)
    state: dict = field(default_factory=dict)  # analyzer-specific tables, validated by the analyzer
    telemetry: dict = field(default_factory=dict)
    api: dict = field(default_factory=dict)
    migration: dict = field(default_factory=dict)

    @property
    def all_excludes(self) -> tuple[str, ...]:
        return (self.exclude or DEFAULT_EXCLUDE) + self.extend_exclude

    def merged(self, **overrides) -> "Config":
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


# [tool.canary-lint.<table>] -> the analyzer package whose `settings.validate(table, where)` checks it
FAMILY_TABLES = {"migration": "migrations", "api": "openapi", "state": "state", "telemetry": "telemetry"}


def check_keys(table: dict, where: str, allowed) -> None:
    """Raise ConfigError for the first key of an analyzer's table that is not in `allowed`."""
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key `{key}` (allowed: {', '.join(allowed)})")


def _validate_family_table(key: str, table: dict, where: str) -> None:
    import importlib
    import importlib.util

    module = f"canary_lint.{FAMILY_TABLES[key]}.settings"
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        if table:
            raise ConfigError(f"{where}: this build has no settings for `{key}`")
        return
    importlib.import_module(module).validate(table, where)  # raises ConfigError naming key and allowed values


def _str_list(where: str, key: str, value) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        if any("\0" in v for v in value):  # names no file or rule, and no path of the OS takes it
            raise ConfigError(f"{where}: `{key}` holds a NUL byte: {literal_repr(value, 80)}")
        return tuple(value)
    raise ConfigError(f"{where}: `{key}` must be a list of strings, got {literal_repr(value, 80)}")


def _parse(table: dict, where: str, source: str | None, root: Path) -> Config:
    from canary_lint.registry import registry

    reg = registry()
    kw: dict = {"source": source, "root": root}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key in ("select", "ignore"):
            items = _str_list(where, raw_key, value)
            for item in items:
                if not reg.is_selector(item):
                    raise ConfigError(f"{where}: `{raw_key}` names unknown rule {item!r} (see `canary-lint rules`)")
            kw[key] = items
        elif key in ("exclude", "extend_exclude", "migrations", "openapi"):
            kw[key] = _str_list(where, raw_key, value)
        elif key == "severity":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: `severity` must be a table of rule = \"error|warning|info\"")
            sev = {}
            for rule_key, level in value.items():
                if rule_key not in reg:
                    raise ConfigError(f"{where}: `severity` names unknown rule {rule_key!r}")
                try:
                    sev[reg.get(rule_key).code] = Severity.parse(literal_text(level, 80))
                except ValueError as exc:
                    raise ConfigError(f"{where}: `severity.{rule_key}`: {exc}") from None
            kw["severity"] = sev
        elif key == "base":
            if not isinstance(value, str):
                raise ConfigError(f"{where}: `base` must be a git ref string")
            kw["base"] = value
        elif key == "fail_on":
            if value not in ("error", "warning"):
                raise ConfigError(f"{where}: `fail-on` must be \"error\" or \"warning\", got {literal_repr(value, 80)}")
            kw["fail_on"] = Severity(value)
        elif key == "fail_on_existing":
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: `fail-on-existing` must be true or false, got {literal_repr(value, 80)}")
            kw["fail_on_existing"] = value
        elif key == "dialect":
            if value not in DIALECTS:
                raise ConfigError(f"{where}: `dialect` must be one of {', '.join(DIALECTS)}, got {literal_repr(value, 80)}")
            kw["dialect"] = value
        elif key == "postgres_version":
            if not isinstance(value, int) or isinstance(value, bool) or not 9 <= value <= 30:
                raise ConfigError(f"{where}: `postgres-version` must be a major version number like 16, got {literal_repr(value, 80)}")
            kw["postgres_version"] = value
        elif key in FAMILY_TABLES:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: `{raw_key}` must be a table")
            _validate_family_table(key, value, f"{where} [{raw_key}]")
            kw[key] = dict(value)
        else:
            allowed = (
                "select, ignore, severity, exclude, extend-exclude, base, fail-on, fail-on-existing, dialect, "
                "postgres-version, migrations, openapi, and the tables migration, api, state, telemetry"
            )
            raise ConfigError(f"{where}: unknown key `{raw_key}` (allowed: {allowed})")
    return Config(**kw)


def load_file(path: Path) -> Config:
    import tomllib  # only a run with a config file reads TOML

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except ValueError:  # tomllib reads decimal integers with int(): past Python's 4,300-digit limit it raises
        raise ConfigError(f"{path}: invalid TOML: an integer of more than 4,300 digits") from None
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("canary-lint", {})
        where = f"{path} [tool.canary-lint]"
    else:
        table = data.get("tool", {}).get("canary-lint", data) if "tool" in data else data
        where = str(path)
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    return _parse(table, where, str(path), path.parent.resolve())


def find_config(start: Path) -> Path | None:
    """Nearest canary-lint.toml, or pyproject.toml with a [tool.canary-lint] table, walking up."""
    start = start.resolve()
    here = start if start.is_dir() else start.parent
    for directory in (here, *here.parents):
        own = directory / "canary-lint.toml"
        if own.is_file():
            return own
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            try:
                text = pyproject.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if "[tool.canary-lint" in text:
                return pyproject
        if (directory / ".git").exists():
            break
    return None


def load(config_path: str | None, first_path: str | None) -> Config:
    if config_path:
        path = Path(config_path)
        if not path.is_file():
            raise ConfigError(f"{config_path}: config file does not exist")
        return load_file(path)
    found = find_config(Path(first_path or "."))
    return load_file(found) if found else Config()
