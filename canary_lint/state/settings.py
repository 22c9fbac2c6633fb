"""`[tool.canary-lint.state]`: settings of the session-state analyzer.

    [tool.canary-lint.state]
    env-set = ["SHOP_SECRET_KEY", "REDIS_URL"]   # variables every deployment of both versions sets

A variable listed in `env-set` counts as provided, like one set in the release's deploy files: a signing key
or a backend that it switches to shared storage is not reported.
"""

from __future__ import annotations

import re

from canary_lint.config import ConfigError, check_keys
from canary_lint.model import literal_repr

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ALLOWED = ("env-set",)


def validate(table: dict, where: str) -> None:
    check_keys(table, where, ALLOWED)
    for key, value in table.items():
        if not isinstance(value, list) or not all(isinstance(v, str) and ENV_NAME.match(v) for v in value):
            raise ConfigError(f"{where}: `{key}` must be a list of environment variable names, got {literal_repr(value, 80)}")
