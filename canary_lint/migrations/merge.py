"""One change, one finding: consequences of the same operation reported as one finding.

A narrowing type change is both "v1's writes no longer fit" (CLM105) and "the table is rewritten under a lock"
(CLM206); a UNIQUE constraint v1 violates (CLM111) also builds its index under a lock (CLM204); an index
dropped and re-created under the same name in one migration is one re-creation (CLM201). A reviewer reads one
finding per change, at the rule that says what v1 suffers first, with every consequence in its message and the
worse severity of the two.
"""

from __future__ import annotations

from dataclasses import replace

from canary_lint.model import Finding

# what v1 suffers first <- a further consequence of the same operation, at the same place
SAME_CHANGE = {
    "type-change-rewrites-table": "type-change-breaks-v1",
    "unique-constraint-build-blocks-v1-writes": "new-constraint-rejects-v1-writes",
}
INDEX_LOCK = "index-build-blocks-v1-writes"


def one_finding_per_change(findings: list[Finding], selected=lambda code: True) -> list[Finding]:
    """`selected(code)`: is the rule on? A consequence folds only into a rule the user kept."""
    by_place: dict[tuple, dict[str, int]] = {}
    for i, f in enumerate(findings):
        by_place.setdefault((f.path, f.line, f.column), {})[f.name] = i
    drop: set[int] = set()
    out = list(findings)
    for names in by_place.values():
        for extra, first in SAME_CHANGE.items():
            if extra in names and first in names and selected(findings[names[first]].rule) \
                    and selected(findings[names[extra]].rule):
                i, j = names[first], names[extra]
                out[i] = _fold(out[i], out[j])
                drop.add(j)
    _index_recreations(out, drop)
    return [f for i, f in enumerate(out) if i not in drop]


def _fold(first: Finding, extra: Finding) -> Finding:
    severity = max(first.severity, extra.severity, key=lambda s: s.rank)
    return replace(first, message=f"{first.message}; and {_consequence(extra.message)}", severity=severity)


def _consequence(message: str) -> str:
    """The consequence part of a lock finding, without the operation it restates."""
    if message.startswith("changing ") and " rewrites " in message:
        return "the change rewrites " + message.split(" rewrites ", 1)[1]
    return message.split(": ", 1)[1] if ": " in message else message


def _index_recreations(findings: list[Finding], drop: set[int]) -> None:
    """DROP INDEX n ... CREATE INDEX n in one migration file: the re-creation is the change."""
    dropped: dict[tuple, int] = {}
    for i, f in enumerate(findings):
        if f.name != INDEX_LOCK or i in drop:
            continue
        key = (f.path, f.subject)
        if f.message.startswith("drops index "):
            dropped[key] = i
        elif f.message.startswith("creates index ") and key in dropped:
            j = dropped.pop(key)
            before = findings[j]
            findings[i] = replace(
                f, message=f"re-{f.message}; and the DROP at line {before.line} before it: "
                           f"{_consequence(before.message)}",
                severity=max(f.severity, before.severity, key=lambda s: s.rank))
            drop.add(j)
