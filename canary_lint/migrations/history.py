"""Order migrations: Alembic revisions by `revision`/`down_revision` (merges and branches included), SQL files
by their tool's version; and find what makes a history unusable (missing parent, cycle, two heads,
duplicate revision id)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from canary_lint.migrations.ops import Migration


@dataclass(frozen=True)
class HistoryProblem:
    """A broken history (a revision defined twice, a missing down revision, a cycle, several heads), on a migration."""

    migration: Migration
    message: str
    fix: str
    subject: str


def _histories(migs: list[Migration]) -> dict[str, list[Migration]]:
    """Revisions grouped into separate Alembic histories. Each directory is one history unless its
    revisions name parents that only another directory defines (several `version_locations`, or
    `recursive_version_locations`): then the directories are one. Self-contained sibling directories, such
    as one history per dialect (`versions/postgresql/`, `versions/sqlite/`), stay apart even when they reuse
    revision ids."""
    by_dir: dict[str, list[Migration]] = {}
    for m in migs:
        by_dir.setdefault(PurePosixPath(m.path).parent.as_posix(), []).append(m)
    parent = {d: d for d in by_dir}

    def find(d: str) -> str:
        while parent[d] != d:
            parent[d] = parent[parent[d]]
            d = parent[d]
        return d

    defined: dict[str, set] = {}
    for d, members in by_dir.items():
        for m in members:
            if m.revision is not None:
                defined.setdefault(m.revision, set()).add(d)
    for d, members in by_dir.items():
        own = {m.revision for m in members}
        for m in members:
            for rev in (*m.down, *m.depends):
                if rev not in own:
                    for other in defined.get(rev, ()):
                        parent[find(other)] = find(d)
    groups: dict[str, list[Migration]] = {}
    for d, members in by_dir.items():
        groups.setdefault(find(d), []).extend(members)
    return groups


def order_alembic(migs: list[Migration], defined_elsewhere=None) -> tuple[list[Migration], list[HistoryProblem]]:
    """Topological order per history (parents first, ties by path) and the problems found.

    `defined_elsewhere(mig, rev)` says whether a parent that is not among `migs` exists on disk (only some
    files were named on the command line); heads are only counted when the whole history is at hand."""
    groups = _histories(migs)
    ordered: list[Migration] = []
    problems: list[HistoryProblem] = []
    for _, members in sorted(groups.items()):
        by_rev: dict[str, Migration] = {}
        for m in sorted(members, key=lambda m: m.path):
            if m.revision is None:
                continue
            if m.revision in by_rev:
                other = by_rev[m.revision]
                problems.append(HistoryProblem(
                    m, f"revision id {m.revision!r} is also defined in {other.path}; Alembic refuses to run",
                    "give one of the two files a new revision id (and fix the down_revision that points at it)",
                    f"duplicate:{m.revision}"))
                continue
            by_rev[m.revision] = m
        children: dict[str, list[str]] = {r: [] for r in by_rev}
        indeg: dict[str, int] = {r: 0 for r in by_rev}
        partial = False
        for r, m in by_rev.items():
            for d in m.down:
                if d not in by_rev:
                    partial = True
                    if defined_elsewhere is not None and defined_elsewhere(m, d):
                        continue
                    problems.append(HistoryProblem(
                        m, f"revision {r} revises {d}, which no revision file in {PurePosixPath(m.path).parent.as_posix() or '.'} defines; "
                           "`alembic upgrade` cannot find its parent",
                        "point down_revision at an existing revision (or restore the missing file)", f"missing:{r}:{d}"))
                    continue
                children[d].append(r)
                indeg[r] += 1
            for d in m.depends:  # another branch's revision that must run first (a label is not ordered)
                if d in by_rev and d not in m.down:
                    children[d].append(r)
                    indeg[r] += 1
        ready = sorted((r for r, n in indeg.items() if n == 0), key=lambda r: by_rev[r].path)
        done: list[str] = []
        while ready:
            r = ready.pop(0)
            done.append(r)
            for c in sorted(children[r], key=lambda c: by_rev[c].path):
                indeg[c] -= 1
                if indeg[c] == 0:
                    ready.append(c)
            ready.sort(key=lambda x: by_rev[x].path)
        if len(done) < len(by_rev):
            stuck = sorted((r for r in by_rev if r not in done), key=lambda r: by_rev[r].path)
            problems.append(HistoryProblem(
                by_rev[stuck[0]], f"revisions {', '.join(stuck[:5])} form a cycle through down_revision; "
                                  "Alembic cannot order them",
                "break the cycle: each revision must revise an older one", f"cycle:{','.join(stuck)}"))
            done.extend(stuck)
        heads = [r for r in done if not any(r in by_rev[c].down for c in children.get(r, ()))]
        labelled = any(m.branch_labels for m in by_rev.values())
        if len(heads) > 1 and not labelled and not partial:
            hs = sorted(heads, key=lambda r: by_rev[r].path)
            # reported on a head this release adds (the one to merge or rebase), else on the last one
            last = max((by_rev[h] for h in hs), key=lambda m: (not m.in_base and not m.context, m.path))
            problems.append(HistoryProblem(
                last, f"the history has {len(hs)} heads ({', '.join(f'{h} in {by_rev[h].path}' for h in hs[:4])}); "
                      "`alembic upgrade head` fails and the deploy stops before v2 starts",
                "add a merge revision (`alembic merge heads`) or rebase this revision onto the current head",
                f"heads:{','.join(hs)}"))
        ordered.extend(by_rev[r] for r in done)
        ordered.extend(m for m in members if m.revision is None)
    return ordered, problems


_VERSION = re.compile(r"^[VU]?(\d+(?:[._]\d+)*)")


def sql_order(path: str) -> tuple:
    name = PurePosixPath(path).name
    if name[:1] in "Rr" and "__" in name:
        return (1, (), path)  # Flyway repeatables run after versioned ones
    m = _VERSION.match(name)
    if m:
        return (0, tuple(int(x) for x in re.split(r"[._]", m.group(1))), path)
    return (0, (), path)
