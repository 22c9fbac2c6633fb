"""`[tool.canary-lint.api]`:

    validate = true        # run openapi-spec-validator on head specs (cached by content hash)
    max-yaml-mb = 16       # refuse YAML specs larger than this (parsing YAML is ~50x slower than JSON)
"""

from __future__ import annotations

from canary_lint.model import literal_repr

KEYS = {
    "validate": "true/false: validate head specs with openapi-spec-validator (default true)",
    "max-yaml-mb": "a positive integer: the largest YAML spec loaded, in MB (default 16)",
}


def validate(table: dict, where: str) -> None:
    from canary_lint.config import ConfigError, check_keys

    check_keys(table, where, KEYS)
    for key, value in table.items():
        if key == "validate" and not isinstance(value, bool):
            raise ConfigError(f"{where}: `validate` must be true or false, got {literal_repr(value, 80)}")
        if key == "max-yaml-mb" and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise ConfigError(f"{where}: `max-yaml-mb` must be a positive integer ({KEYS[key]}), got {literal_repr(value, 80)}")


def options(table: dict) -> dict:
    return {"validate": table.get("validate", True), "max_yaml_bytes": int(table.get("max-yaml-mb", 16)) * 1024 * 1024}
