"""The API contract analyzer: every OpenAPI spec in head compared with the same path at the base ref.

A spec added in head has nothing to compare; a spec deleted in head is one finding (CLA100). Findings
carry `operation` ("POST /orders"), `pointer` (into the head spec, or the base spec for removals) and the
line that pointer names.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from canary_lint.openapi.validate import cache_dir_for

RULES = (
    "spec-deleted-while-v1-clients-use-it",
    "operation-removed-while-v1-clients-call-it",
    "webhook-or-callback-removed-v1-subscribers-miss-it",
    "new-required-input-v1-clients-do-not-send",
    "input-became-required-v1-clients-may-omit",
    "request-type-narrowed-v1-values-rejected",
    "request-enum-narrowed-v1-values-rejected",
    "request-constraint-tightened-v1-values-rejected",
    "parameter-default-changed-under-v1-clients",
    "parameter-serialization-changed-v1-encoding-misread",
    "request-input-removed-v1-clients-still-send",
    "request-media-type-removed-v1-clients-send-it",
    "request-variant-removed-v1-clients-send-it",
    "success-status-removed-v1-clients-expect-it",
    "response-media-type-removed-v1-clients-accept-it",
    "response-property-removed-v1-clients-read-it",
    "response-property-may-be-missing-or-null-for-v1",
    "response-type-changed-v1-parsers-fail",
    "response-enum-value-unknown-to-v1",
    "response-constraint-loosened-beyond-v1-expectations",
    "response-header-removed-v1-clients-read-it",
    "discriminator-changed-v1-picks-wrong-variant",
    "security-requirement-added-v1-clients-lack-credentials",
    "spec-fails-openapi-validation",
    "ref-not-followed-contract-unchecked",
)

SPEC_SNIFF = re.compile(r'^(openapi|swagger)\s*:|"(openapi|swagger)"\s*:\s*"', re.M)


def _severity(name):
    if name is None:
        return None
    from canary_lint.model import Severity

    return Severity(name)


def load_spec(ctx, path: str, text: str, read, allowed, opts: dict, *, report: bool = True,
              doc_path: str | None = None):
    """A `Spec`, or None after a CL001 (when `report`) for unloadable or non-OpenAPI input."""
    from canary_lint.openapi.loader import LoadError, load
    from canary_lint.openapi.refs import Spec

    try:
        doc = load(doc_path or path, text, opts.get("max_yaml_bytes", 16 * 1024 * 1024))
    except LoadError as exc:
        if report:
            ctx.file_error(path, str(exc), exc.line)
        return None
    data = doc.data
    if not isinstance(data, dict) or not ("openapi" in data or "swagger" in data):
        if report:
            ctx.file_error(path, "not an OpenAPI document (no top-level `openapi:` or `swagger:` key); not compared")
        return None
    if not isinstance(data.get("paths", {}), dict):
        if report:
            ctx.file_error(path, "`paths` is not a mapping; not compared", doc.line_of("/paths"))
        return None
    return Spec(doc, read, allowed)


def _worth_validating(ctx, path: str, text: str, base_text: str | None) -> bool:
    """Whole-spec validation costs seconds on a large spec: a spec v1 already serves unchanged was validated
    by v1's release, and v1's own spec (judged only to tell existing findings) matters only where v2's failed."""
    if ctx.shared is not None:
        return bool(ctx.shared.cached(("openapi", "invalid", path), lambda: False))
    return base_text is None or base_text != text or bool(ctx.config.fail_on_existing)


def compare_specs(ctx, base, head, *, validate: bool = True, cache_dir: Path | None = None,
                  head_text: str | None = None) -> list:
    """Findings for v1 (`base`, may be None) against v2 (`head`, may be None)."""
    from canary_lint.openapi.diff import FIXES, diff

    findings = []
    if head is not None:
        head.check_refs()
    if head is not None and validate:
        from canary_lint.openapi.validate import SWAGGER_NEEDS, validate as run_validation

        errors = run_validation(head.root.data, head_text or "", cache_dir)
        if errors is None:
            ctx.note(f"{head.display(head.root.path)} {SWAGGER_NEEDS}")
        for pointer, reason in errors or ():
            findings.append(ctx.finding(
                "CLA190", head.display(head.root.path), head.root.line_of(pointer), subject=f"{pointer}:{reason[:60]}",
                pointer=pointer or None,
                message=f"spec fails OpenAPI validation at {pointer or '/'}: {reason}; generated v1/v2 clients and "
                        "this comparison may read it differently",
                fix="fix the spec so it validates (the comparison still ran on what could be read)"))
    if base is not None and head is not None:
        for p in diff(base, head):
            spec = base if p.side == "base" else head
            doc = spec.docs.get(p.loc.doc) or spec.root
            findings.append(ctx.finding(
                p.code, spec.display(doc.path), doc.line_of(p.loc.pointer), message=p.message, fix=FIXES.get(p.code),
                subject=p.subject, operation=p.operation, pointer=p.loc.pointer or "/",
                severity=_severity(p.severity), line_in_base=p.side == "base"))
    seen = set()
    for spec, side in ((head, "v2"), (base, "v1")):
        if spec is None:
            continue
        for prob in spec.problems:
            key = (prob.ref, prob.reason)
            if key in seen:
                continue
            seen.add(key)
            doc = spec.docs.get(prob.doc) or spec.root
            line = doc.line_of(f"{prob.pointer}/$ref") if side == "v2" else 1
            path = spec.display(doc.path) if side == "v2" else head.display(head.root.path) if head is not None else doc.path
            findings.append(ctx.finding(
                "CLA191", path, line, pointer=prob.pointer or "/", subject=f"{side}:{prob.ref}",
                message=f"$ref `{prob.ref}` in {side}'s spec is not followed: {prob.reason}; the contract behind it "
                        "is not compared",
                fix="reference files inside the repository with relative paths (or inline the schema)"))
    return findings


def _inside(root: Path):
    root = root.resolve()

    def allowed(path: str) -> bool:
        try:
            target = (root / path).resolve()
        except (OSError, RuntimeError, ValueError):  # ValueError: a NUL byte in the path
            return False
        return target == root or root in target.parents

    return allowed


def _disk_reader(root: Path, allowed):
    def read(path: str) -> str | None:
        if not allowed(path):
            return None
        p = root / path
        try:
            if not p.is_file() or p.stat().st_size > 64 * 1024 * 1024:
                return None
            return p.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError):
            return None

    return read


def analyze(ctx):
    from canary_lint.openapi.settings import options

    opts = options(ctx.config.api or {})
    cwd = Path(ctx.cwd)
    # the checked tree: the work tree, or v1's read from git when its own findings are computed (`existing`)
    head_allowed = _inside(cwd) if ctx.tree is None else (lambda path: True)
    head_read = ctx.read_text
    cache_dir = cache_dir_for(ctx.cwd)
    findings = []
    files = ctx.files_of("openapi")
    for file in files:
        with ctx.guard(file.path, "openapi"):
            text = ctx.text(file)
            if text is None:
                continue
            head = load_spec(ctx, file.path, text, head_read, head_allowed, opts)
            if head is None:
                continue
            base = None
            if ctx.base is not None:
                base_text = ctx.base.read_text(file.path)
                if base_text is not None:
                    base = load_spec(ctx, file.path, base_text, lambda p: ctx.base.read_text(p),
                                     lambda p: not p.startswith("../"), opts, report=False)
                    if base is None:
                        findings.append(ctx.finding(
                            "CLA191", file.path, 1, subject="v1-unloadable",
                            message="v1's version of this spec (at the base ref) cannot be loaded as OpenAPI; the "
                                    "contract change was not compared",
                            fix="check the spec at the base ref; the comparison needs a loadable v1 spec"))
            checks = _worth_validating(ctx, file.path, text, base_text if ctx.base is not None else None)
            found = compare_specs(ctx, base, head, validate=opts["validate"] and checks, cache_dir=cache_dir,
                                  head_text=text)
            if ctx.shared is None:  # the v1 run validates v1's spec only where v2's failed (to tell existing)
                ctx.cached(("openapi", "invalid", file.path), lambda found=found: any(f.rule == "CLA190" for f in found))
            findings.extend(found)
    if ctx.base is not None:
        findings.extend(_deleted_specs(ctx, {f.path for f in files}))
    return findings


def _deleted_specs(ctx, present: set) -> list:
    from canary_lint.discovery import excluded

    out = []
    cwd = Path(ctx.cwd)
    patterns = ctx.config.all_excludes
    for path in ctx.base.paths():
        if path in present or not path.lower().endswith((".yaml", ".yml", ".json")):
            continue
        parts = PurePosixPath(path).parts
        # excluded exactly as discovery excludes head files: a spec v2 would not check is not "deleted"
        if any(excluded("/".join(parts[: i + 1]), parts[i], patterns) for i in range(len(parts))):
            continue
        if (cwd / path).exists():
            continue
        text = ctx.base.read_text(path)
        if not text or not SPEC_SNIFF.search(text[:65536]):
            continue
        out.append(ctx.finding(
            "CLA100", path, 1, subject=f"deleted:{path}", pointer="/",
            message=f"the API description {path} was deleted; every operation it declared disappears from the "
                    "contract while v1 clients still call them",
            fix="keep the spec (and the operations) in this release, or move it and keep the same path shape"))
    return out
