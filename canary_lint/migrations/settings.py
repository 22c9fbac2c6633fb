"""`[tool.canary-lint.migration]`: the migration analyzer's settings.

    lock-severity = "warning" | "error"   # severity of the lock rules (CLM201, CLM203-CLM207); default warning
"""

from __future__ import annotations

from canary_lint.config import ConfigError, check_keys
from canary_lint.model import literal_repr

KEYS = {"lock-severity": ("warning", "error")}


def validate(table: dict, where: str) -> None:
    check_keys(table, where, sorted(KEYS))
    for key, value in table.items():
        allowed = KEYS[key]
        if value not in allowed:
            raise ConfigError(f"{where}: `{key}` must be one of {', '.join(allowed)}, got {literal_repr(value, 80)}")
