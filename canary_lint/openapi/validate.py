"""Validate a spec with openapi-spec-validator, cached by content hash.

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

VERSION = "3"  # the key of cached verdicts: bumped when what is reported changes
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


def _validator_version() -> str:
    try:
        from importlib.metadata import version

        return f"{version('openapi-spec-validator')}+{version('jsonschema-rs') if _has_rs() else '-'}"
    except Exception:  # noqa: BLE001 - not installed, or unreadable metadata: the key still changes with ours
        return "?"


def _has_rs() -> bool:
    from canary_lint.openapi import fastcheck

    return fastcheck.available()


def validate(data, text: str, cache_dir: Path | None) -> list[tuple[str, str]]:
    """[(JSON pointer, reason)] for an invalid spec; [] when valid or not checkable here."""
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
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps(errors))
        except OSError:
            pass
    return errors


def _run(data) -> list[tuple[str, str]]:
    if not isinstance(data, dict) or _external_refs(data):
        return []
    from canary_lint.openapi import fastcheck

    fast = fastcheck.check(data, MAX_ERRORS)
    if fast is not None:
        return fast
    try:
        from jsonschema_path import SchemaPath
        from openapi_spec_validator.shortcuts import get_validator_cls
        from openapi_spec_validator.validation.exceptions import ValidatorDetectError
    except ImportError:  # older openapi-spec-validator: first error only, through the stable entry point
        return _run_simple(data)

    for key in ("openapi", "swagger"):
        if key in data and not isinstance(data[key], str):
            return [(f"/{key}", f"`{key}` must be a version string such as \"3.1.0\", not {type(data[key]).__name__} "
                                f"{literal_text(data[key], 40)!r} (quote it in YAML)")]
    try:
        cls = get_validator_cls(data)
    except (ValidatorDetectError, KeyError, TypeError):
        version = data.get("openapi") or data.get("swagger")
        return [("/openapi" if "openapi" in data else "/swagger", f"unsupported OpenAPI version {version!r}")]
    out = []
    try:
        for err in cls(SchemaPath.from_dict(data, base_uri="")).iter_errors():
            path = "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in getattr(err, "path", ()) or ())
            message = str(getattr(err, "message", err)).splitlines()[0][:300]
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
