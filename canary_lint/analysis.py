"""One pass of the analyzers over a release context: analyzers -> select/ignore -> suppressions.

`engine.run_check` runs it on the checked tree; `existing.py` runs it on v1's tree.
"""

from __future__ import annotations

import importlib

from canary_lint.analyzers import ANALYZERS
from canary_lint.context import ReleaseContext
from canary_lint.model import Finding
from canary_lint.registry import Registry
from canary_lint import suppress


CHECKED_KINDS = {"python", "alembic", "django", "sql_migration", "sql", "openapi", "deploy"}


def _unused(ctx: ReleaseContext, sup: suppress.Suppression, entry: str, span: dict) -> Finding:
    return ctx.finding("CL002", sup.path, **span, subject=f"{sup.line}:{entry}",
                       message=f"unused suppression for `{entry}`: nothing here is reported by it",
                       fix="remove the suppression (the problem it hid is gone)")


def _apply_suppressions(ctx: ReleaseContext, findings: list[Finding], reg: Registry) -> tuple[list[Finding], int]:
    by_path: dict[str, list[suppress.Suppression]] = {}
    checked = {f.path for f in ctx.files if f.kinds & CHECKED_KINDS}
    paths = {f.path for f in findings} | checked
    by_name = {f.path: f for f in ctx.files}
    for path in sorted(paths):
        src = by_name.get(path)
        text = ctx.text(src) if src else None
        if text:
            sups = suppress.parse(path, text)
            if sups:
                by_path[path] = sups
    if not by_path:
        return findings, 0
    # per file: file-wide suppressions, and line -> the suppressions that may cover it (their own line and the
    # next), each with its place in the file, so a finding looks at a few, not at every one (a file may hold
    # thousands of suppressions and as many findings)
    index: dict[str, tuple[list, dict]] = {}
    for path, sups in by_path.items():
        wide, lines = [], {}
        for n, sup in enumerate(sups):
            if sup.file_wide:
                wide.append((n, sup))
            else:
                lines.setdefault(sup.line, []).append((n, sup))
                lines.setdefault(sup.line + 1, []).append((n, sup))
        index[path] = (wide, lines)

    def candidates(f: Finding) -> list:
        wide, lines = index.get(f.path, ((), {}))
        near = lines.get(f.line, ())
        return [sup for _n, sup in sorted([*wide, *near], key=lambda pair: pair[0])] if wide and near else \
            [sup for _n, sup in (wide or near)]

    def silence(f: Finding, skip: suppress.Suppression | None = None) -> bool:
        if f.rule in ("CL001", "CL005"):
            return False  # a file that was not checked, or a crash, is never hidden
        rule = reg.get(f.rule)
        for sup in candidates(f):
            if sup is skip:
                continue
            entry = sup.covers(f.rule, f.name, rule.aliases, f.line, reg)
            if entry:
                sup.used.add(entry)
                return True
        return False

    kept = [f for f in findings if not silence(f)]
    suppressed = len(findings) - len(kept)
    unused_rule = reg.get("CL002")
    meta: list[tuple[Finding, suppress.Suppression]] = []
    late: list[tuple[suppress.Suppression, str]] = []  # entries that silence CL002 itself: judged last
    for sups in by_path.values():
        for sup in sups:
            span = dict(line=sup.line, column=sup.column, end_column=sup.end_column)
            for entry in sup.rules:
                if entry != "ALL" and entry not in reg:
                    meta.append((ctx.finding("CL003", sup.path, **span, subject=f"{sup.line}:{entry}",
                                             message=f"suppression names unknown rule `{entry}`; it silences nothing",
                                             fix="use a code or name listed by `canary-lint rules`"), sup))
                elif entry != "ALL" and reg.get(entry) is unused_rule:
                    late.append((sup, entry))
                elif entry not in sup.used and (entry == "ALL" or reg.selected(reg.get(entry).code, ctx.config)):
                    meta.append((_unused(ctx, sup, entry, span), sup))
            if not sup.reason:
                meta.append((ctx.finding("CL004", sup.path, **span, subject=f"{sup.line}:{','.join(sup.rules)}",
                                         message=f"suppression of {', '.join(sup.rules) or 'nothing'} gives no reason",
                                         fix="say after the brackets why v1 and v2 can live with it"), sup))
    for finding, origin in meta:
        if silence(finding, skip=origin):
            suppressed += 1
        else:
            kept.append(finding)
    for sup, entry in late:
        if entry not in sup.used and reg.selected("CL002", ctx.config):
            kept.append(_unused(ctx, sup, entry, dict(line=sup.line, column=sup.column, end_column=sup.end_column)))
    return kept, suppressed


def analyze(ctx: ReleaseContext, *, single_tree: bool = False) -> tuple[list[Finding], int]:
    """Run the analyzers on `ctx`, then select/ignore and suppressions: (findings sorted, suppressed count).

    `single_tree` runs only the analyzers that judge one tree alone (what v1's own findings are made of)."""
    reg, config, base = ctx.registry, ctx.config, ctx.base_ref
    findings: list[Finding] = []
    for spec in ANALYZERS:
        if (spec.needs_base and base is None) or (single_tree and not spec.single_tree):
            continue
        if spec.families and not any(r.family in spec.families and reg.selected(r.code, config) for r in reg.rules):
            continue  # none of its rules is selected (`--select CLM` never runs the app analyzers)
        wanted = [f for f in ctx.files_of(*spec.kinds) if not f.kinds & spec.not_for]
        if not wanted and not (spec.also_on_base and base is not None):
            continue
        try:
            module = importlib.import_module(spec.module)
        except ModuleNotFoundError as exc:
            if exc.name and spec.module.startswith(exc.name):
                continue  # analyzer not installed in this build
            raise
        try:
            for finding in module.analyze(ctx):
                findings.append(finding)
        except Exception as exc:  # noqa: BLE001 - a crash becomes CL005 and exit 2, never a silent pass
            ctx.internal_error(".", spec.name, exc)
    for file in ctx.files_of("python"):
        ctx.python_ast(file)  # every Python file is at least parsed: a syntax error is never a pass
    findings.extend(ctx.meta_findings)
    findings = [f for f in findings if reg.selected(f.rule, config)]
    findings, suppressed = _apply_suppressions(ctx, findings, reg)
    findings = [f for f in findings if reg.selected(f.rule, config)]
    unique = {(f.rule, f.path, f.line, f.column, f.message): f for f in findings}
    return sorted(unique.values(), key=lambda f: f.sort_key), suppressed
