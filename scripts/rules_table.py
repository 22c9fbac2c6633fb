#!/usr/bin/env python3
"""Regenerate the rule table in README.md from the rule pages (`--check` fails when it is stale)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- rules-table:start -->", "<!-- rules-table:end -->"


def table() -> str:
    sys.path.insert(0, str(ROOT))
    from canary_lint.registry import registry

    rows = ["| code | name | family | severity | what it catches |", "| --- | --- | --- | --- | --- |"]
    for r in registry().rules:
        summary = r.summary.split(". ")[0].rstrip(".").replace("|", "\\|")
        rows.append(f"| [{r.code}](rules/{r.code}.md) | `{r.name}` | {r.family} | {r.severity.value} | {summary} |")
    return "\n".join(rows)


def render(readme: str) -> str:
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main() -> int:
    path = ROOT / "README.md"
    current = path.read_text(encoding="utf-8")
    new = render(current)
    if "--check" in sys.argv:
        if new != current:
            print("README.md rule table is stale: run python3 scripts/rules_table.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
