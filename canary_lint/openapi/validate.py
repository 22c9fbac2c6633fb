"""Validate a spec (CLA190), cached by content hash: OpenAPI 3.x with jsonschema-rs (`fastcheck`), Swagger 2.0
with openapi-spec-validator, an optional dependency (`pip install 'canary-lint[swagger]'`).

Whole-spec validation of a multi-megabyte description takes seconds, so the verdict is stored in the user's
cache directory (`cachedir.py`: never inside the checked tree, where a pull request could commit a forged
verdict), keyed by the spec's text and the validator's version, and reused until either changes. Specs with refs to
other files are not validated here (the validator would resolve them itself); the diff still follows them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from canary_lint.model import literal_text

VERSION = "4"  # the key of cached verdicts: bumped when what is reported changes
MAX_ERRORS = 3


def _external_refs(node, limit: int = 1_000_000) -> bool:
    stack = [node]
    seen = 0
    while stack and seen < limit:
        cur = stack.pop()
        seen += 1
        if isinstance(cur, dict):
            ref = cur.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                return True
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)
    return False


def cache_dir_for(tree: Path) -> Path | None:
    from canary_lint.cachedir import cache_dir

    return cache_dir("openapi", tree)


SWAGGER_NEEDS = ("is Swagger 2.0, validated (CLA190) by openapi-spec-validator, which is not installed: "
                 "pip install 'canary-lint[swagger]' (the comparison with v1 ran)")


def _validator_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("openapi-spec-validator", "jsonschema-rs"):
        try:
            found.append(version(name))
        except (PackageNotFoundError, ValueError):  # not installed, or unreadable metadata
            found.append("-")
    return "+".join(found)


def validate(data, text: str, cache_dir: Path | None) -> list[tuple[str, str]] | None:
    """[(JSON pointer, reason)] for an invalid spec; [] when valid or not checkable here; None when the spec
    needs openapi-spec-validator and it is not installed (`SWAGGER_NEEDS` says what to do)."""
    key = f"{VERSION}\0{_validator_version()}\0{text}"
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    cached = cache_dir / f"{digest}.json" if cache_dir else None
    if cached is not None and cached.is_file():
        try:
            entries = json.loads(cached.read_text())
            if isinstance(entries, list) and all(isinstance(e, list) and len(e) == 2 and all(isinstance(x, str) for x in e) for e in entries):
                return [tuple(e) for e in entries]
        except (OSError, ValueError):
            pass
    errors = _run(data)
    if errors is None:
        return None
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps(errors))
        except OSError:
            pass
    return errors


def _run(data) -> list[tuple[str, str]] | None:
    if not isinstance(data, dict) or _external_refs(data):
        return []
    from canary_lint.openapi import fastcheck

    fast = fastcheck.check(data, MAX_ERRORS)
    if fast is not None:
        return fast
    for key in ("openapi", "swagger"):
        if key in data and not isinstance(data[key], str):
            return [(f"/{key}", f"`{key}` must be a version string such as \"3.1.0\", not {type(data[key]).__name__} "
                                f"{literal_text(data[key], 40)!r} (quote it in YAML)")]
    version = data.get("openapi") or data.get("swagger")
    unsupported = [("/openapi" if "openapi" in data else "/swagger", f"unsupported OpenAPI version {version!r}")]
    try:
        import openapi_spec_validator  # noqa: F401 - optional (the `swagger` extra): Swagger 2.0 only
    except ImportError:
        return None if "swagger" in data and "openapi" not in data and version.startswith("2.") else unsupported
    try:
        from jsonschema_path import SchemaPath
        from openapi_spec_validator.shortcuts import get_validator_cls
        from openapi_spec_validator.validation.exceptions import ValidatorDetectError
    except ImportError:  # older openapi-spec-validator: first error only, through the stable entry point
        return _run_simple(data)
    try:
        cls = get_validator_cls(data)
    except (ValidatorDetectError, KeyError, TypeError):
        return unsupported
    out = []
    try:
        for err in cls(SchemaPath.from_dict(data, base_uri="")).iter_errors():
            parts = list(getattr(err, "absolute_path", None) or getattr(err, "path", ()) or ())
            if _swagger_file_type(data, parts, getattr(err, "instance", None)):
                continue
            message = str(getattr(err, "message", err)).splitlines()[0][:300]
            if parts and parts[0] not in data:  # a schema checked on its own: the path is inside that schema
                message = f"in a schema, at {'/'.join(map(str, parts))}: {message}"
                parts = []
            path = "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
            out.append((path, message))
            if len(out) >= MAX_ERRORS:
                break
    except RecursionError:
        out.append(("", "the validator gave up: the spec nests too deeply"))
    except Exception as exc:  # noqa: BLE001 - a validator crash is a finding, not a crash of ours
        out.append(("", f"the validator failed: {type(exc).__name__}: {str(exc)[:200]}"))
    return out


def _run_simple(data) -> list[tuple[str, str]]:
    from openapi_spec_validator import validate as validate_spec

    try:
        validate_spec(data)
    except Exception as exc:  # noqa: BLE001 - the validator's own exception types differ between versions
        path = "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in getattr(exc, "path", ()) or ())
        return [(path, str(getattr(exc, "message", exc)).splitlines()[0][:300])]
    return []


def _swagger_file_type(data, parts: list, instance) -> bool:
    """Swagger 2.0 allows `type: file` at the root of a response's schema (a download) and for formData
    parameters; openapi-spec-validator checks each schema on its own and refuses it: not a problem of the spec."""
    return (instance == "file" and bool(parts) and parts[-1] == "type"
            and str(data.get("swagger", "")).startswith("2."))
