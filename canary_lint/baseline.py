"""Baselines: adopt canary-lint on a repository that already has findings, and fail only on new ones.

`canary-lint baseline create` writes `.canary-lint-baseline.json`: one entry per line-independent fingerprint
(rule + path + subject), with how many findings share it. `check --baseline FILE` hides up to that many findings
per fingerprint and reports every entry that no longer matches as `stale-baseline-entry` (CL010), at the entry's
line in the baseline file, so a fixed problem cannot come back silently under an old entry.
`canary-lint baseline update` drops what is fixed and never adds new findings (the commands: `baseline_commands.py`).

Fingerprints hold the path as reported, so run `check` from the directory the baseline was created in.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from canary_lint.config import ConfigError
from canary_lint.model import Finding, Report

DEFAULT_FILE = ".canary-lint-baseline.json"
SCHEMA = 1
STALE_RULE = "CL010"
NEVER_BASELINED = ("CL005", STALE_RULE)  # a crash is never hidden; a stale entry is fixed by `baseline update`


class BaselineError(ConfigError):
    """The baseline file is missing, not JSON or not a canary-lint baseline (exit 2)."""


@dataclass(frozen=True)
class Entry:
    fingerprint: str
    rule: str
    name: str
    path: str
    count: int
    message: str
    line: int = 1  # where the entry sits in the baseline file

    def to_dict(self) -> dict:
        return {"fingerprint": self.fingerprint, "rule": self.rule, "name": self.name, "path": self.path,
                "count": self.count, "message": self.message}


def entries_of(findings) -> list[Entry]:
    counts: Counter = Counter()
    first: dict[str, Finding] = {}
    for f in findings:
        if f.rule in NEVER_BASELINED:
            continue
        counts[f.fingerprint] += 1
        first.setdefault(f.fingerprint, f)
    out = [Entry(fp, first[fp].rule, first[fp].name, first[fp].path, n, first[fp].message) for fp, n in counts.items()]
    return sorted(out, key=lambda e: (e.path, e.rule, e.message, e.fingerprint))


def dumps(entries: list[Entry]) -> str:
    """Stable, diff-friendly JSON: one entry per line, sorted by path and rule."""
    lines = [json.dumps(e.to_dict(), ensure_ascii=False, sort_keys=False) for e in entries]
    body = ",\n    ".join(lines)
    return ('{\n  "schema": %d,\n  "tool": "canary-lint",\n  "findings": [%s\n  ]\n}\n'
            % (SCHEMA, f"\n    {body}" if lines else ""))


def load(path: str | Path) -> list[Entry]:
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BaselineError(f"baseline file {where} does not exist (create it with `canary-lint baseline create`)") \
            from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"cannot read baseline file {where}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"baseline file {where} is not JSON ({exc.msg} at line {exc.lineno})") from None
    except ValueError:  # json reads integers with int(): past Python's 4,300-digit limit it raises
        raise BaselineError(f"baseline file {where} holds an integer of more than 4,300 digits") from None
    return parse(data, where, text.splitlines())


def parse(data, where: str, lines: list[str] = ()) -> list[Entry]:
    """The entries of a baseline document (already read as JSON); `lines` of its text place each entry."""
    if not isinstance(data, dict) or data.get("tool") != "canary-lint" or not isinstance(data.get("findings"), list):
        raise BaselineError(f"{where} is not a canary-lint baseline (expected {{\"tool\": \"canary-lint\", "
                            "\"findings\": [...]}})")
    if data.get("schema") != SCHEMA:
        raise BaselineError(f"baseline file {where} has schema {data.get('schema')!r}; this canary-lint reads "
                            f"schema {SCHEMA} (re-create it with `canary-lint baseline create --force`)")
    entries = []
    for i, raw in enumerate(data["findings"]):
        try:
            fp = str(raw["fingerprint"])
            entry = Entry(fp, str(raw["rule"]), str(raw.get("name", "")), str(raw["path"]), int(raw.get("count", 1)),
                          str(raw.get("message", "")))
        except (KeyError, TypeError, ValueError):
            raise BaselineError(f"baseline file {where}: entry {i + 1} lacks fingerprint, rule or path") from None
        line = next((n for n, text_line in enumerate(lines, 1) if fp in text_line), 1)
        entries.append(replace(entry, line=line))
    return entries


def counts(entries: list[Entry]) -> dict[str, int]:
    """How many findings each fingerprint covers (a fingerprint listed twice: only its first entry counts)."""
    out: dict[str, int] = {}
    for e in entries:
        out.setdefault(e.fingerprint, e.count)
    return out


def split(findings, budget: dict[str, int]) -> tuple[list[Finding], list[Finding], dict[str, int]]:
    """(covered, rest, left): in order, each fingerprint covers up to `budget[fp]` findings; CL005 and CL010
    never. `left` is what each fingerprint had over. A baseline file hides what it covers; v1's own
    findings mark it existing (`existing.py`)."""
    left = dict(budget)
    covered: list[Finding] = []
    rest: list[Finding] = []
    for f in findings:
        n = left.get(f.fingerprint, 0)
        if n > 0 and f.rule not in NEVER_BASELINED:
            left[f.fingerprint] = n - 1
            covered.append(f)
        else:
            rest.append(f)
    return covered, rest, left


def _display(path: str | Path) -> str:
    p = Path(path)
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def in_scope(entry_path: str, roots: list[Path]) -> bool:
    target = Path(entry_path).resolve()
    return any(target == root or root in target.parents for root in roots)


def _selected(code: str, config) -> bool:
    from canary_lint.registry import registry

    return registry().selected(code, config)


def stale_finding(entry: Entry, baseline_path: str, gone: int) -> Finding:
    from canary_lint.registry import UnknownRule, registry
    from canary_lint.model import Severity

    try:
        rule = registry().get(STALE_RULE)
        name, family, severity = rule.name, rule.family, rule.severity
    except UnknownRule:  # pragma: no cover - the page ships with the package
        name, family, severity = "stale-baseline-entry", "meta", Severity.WARNING
    what = "it is" if gone == entry.count else f"{gone} of its {entry.count} findings are"
    return Finding(
        rule=STALE_RULE, name=name, family=family, severity=severity, path=baseline_path,
        line=entry.line, column=1, end_line=entry.line, end_column=1,
        message=(f"baseline entry {entry.rule} {entry.name} in {entry.path} (\"{entry.message}\") matches nothing now: "
                 f"{what} no longer reported"),
        fix="run `canary-lint baseline update` to drop fixed entries",
        subject=f"{entry.fingerprint}",
    )


def apply(report: Report, path: str | Path, *, paths: list[str] | None = None, config=None) -> Report:
    """Hide findings the baseline lists; add a CL010 finding for every entry that matched nothing.

    Entries outside the checked `paths` or of rules not selected by `config` are neither used nor stale.
    """
    entries = load(path)
    roots = [Path(p).resolve() for p in (paths or ["."])]
    hidden, kept, budget = split(report.findings, counts(entries))
    shown_path = _display(path)
    stale = [stale_finding(e, shown_path, budget[e.fingerprint]) for e in entries
             if budget.get(e.fingerprint, 0) > 0 and in_scope(e.path, roots) and _selected(e.rule, config)
             and _selected(STALE_RULE, config)]
    override = (config.severity.get(STALE_RULE) if config is not None else None)
    if override is not None:  # the user's `severity` table wins, as for every other rule
        stale = [f.with_severity(override) for f in stale]
    findings = tuple(sorted([*kept, *stale], key=lambda f: f.sort_key))
    extra = {**report.extra, "baselined": len(hidden), "stale_baseline_entries": len(stale)}
    return replace(report, findings=findings, suppressed=report.suppressed + len(hidden), extra=extra)


__all__ = ["apply", "load", "dumps", "entries_of", "BaselineError", "DEFAULT_FILE"]
