"""`[tool.canary-lint.telemetry]`:

    version-fields = ["git_sha", "build"]   # extra field/label names that carry the version
    platform-env = ["SENTRY_RELEASE"]        # env vars the platform sets outside this repository
"""

from __future__ import annotations

from canary_lint.model import literal_repr

KEYS = {
    "version-fields": "field, label or attribute names that carry the version besides version/release/revision",
    "platform-env": "environment variables the platform sets outside this repository (e.g. SENTRY_RELEASE)",
}


def validate(table: dict, where: str) -> None:
    from canary_lint.config import ConfigError, check_keys

    check_keys(table, where, KEYS)
    for key, value in table.items():
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{where}: `{key}` must be a list of non-empty strings ({KEYS[key]}), got {literal_repr(value, 80)}")
