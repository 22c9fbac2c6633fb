"""Which rule-page examples the proof harness runs, on which dialects, and in which v1 world.

Each migration example of the proven rules (its page's fenced blocks, canary_lint.examples) becomes a
ProofCase: the release's migration files (head files v1's tree does not have as they are), v1's applied
history (base files that are migrations), the world v1 serves (tests/proof/worlds.yaml) and the dialects
the example claims for (`dialect=` on the fence, else PostgreSQL, the engine's default)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from canary_lint.examples import Case, page_cases
from canary_lint.registry import registry

HERE = Path(__file__).resolve().parent
V1_RULES = ("CLM101", "CLM102", "CLM103", "CLM104", "CLM105", "CLM106", "CLM107", "CLM108", "CLM109", "CLM110",
            "CLM111")
LOCK_RULES = ("CLM201", "CLM203", "CLM204", "CLM205", "CLM206", "CLM207")
FAIL_RULES = ("CLM202",)  # the release's migration itself fails (v1 keeps serving; the deploy stops)
DIALECTS = ("postgresql", "sqlite", "mysql")
ENGINE_DIALECT = {"mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite", "postgresql": "postgresql",
                  "postgres": "postgresql"}
_REVISION = re.compile(r"^revision\s*(?::[^=]+)?=", re.M)
_DJANGO = re.compile(r"^\s*(?:from|import)\s+django\b", re.M)
_FLYWAY = re.compile(r"(?:^|/)V(\d+(?:[._]\d+)*)__")


@dataclass
class ProofCase:
    ident: str
    rule: str
    bad: bool
    family: str  # "v1" (v1's statements fail), "lock" (v1's writes wait) or "fails" (the migration fails)
    tool: str  # "alembic" | "sql" | "django"
    path: str  # the example's file with expect=
    head: dict
    base: dict
    release: list  # [(path, text)] in the order they run
    history: list  # v1's applied SQL migrations [(path, text)]
    world_name: str
    world: dict
    claimed: tuple  # dialects the page's claim is about
    postgres_version: int | None = None
    expect: list = field(default_factory=list)
    config: dict = field(default_factory=dict)  # the example's engine settings (its fence's keys)

    @property
    def fingerprint(self) -> str:
        blob = json.dumps([self.head, self.base, self.world, self.claimed, self.postgres_version], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def dialects(self) -> tuple:
        """Where the case runs: lock claims only where the page makes them; v1's failures everywhere the
        world can be built (the claim does not depend on the dialect)."""
        if self.family in ("lock", "fails"):
            return self.claimed
        return tuple(d for d in DIALECTS if world_statements(self.world, d) is not None)


def world_statements(world: dict, dialect: str) -> list | None:
    if dialect in world:
        return list(world[dialect])
    if "sql" in world:
        return list(world["sql"])
    return [] if "models" in world or "django" in world else None


def _tool(text: str) -> str | None:
    if _DJANGO.search(text):
        return "django" if "class Migration" in text else None
    if _REVISION.search(text) and "def upgrade" in text:
        return "alembic"
    return None


def _migration_kind(path: str, text: str) -> str | None:
    if path.endswith(".sql"):
        return "sql"
    if path.endswith(".py"):
        return _tool(text)
    return None


def _sql_order(path: str) -> tuple:
    m = _FLYWAY.search(path)
    if m:
        return (0, tuple(int(x) for x in re.split(r"[._]", m.group(1))), path)
    return (1, (), path)


def engine_reports(case: ProofCase, dialect: str) -> bool:
    """Does canary-lint, set for `dialect`, report the example's rule? (A page's claim is the engine's.)"""
    import shutil
    import tempfile

    from canary_lint.config import Config
    from canary_lint.engine import run_check
    from canary_lint.examples import materialize

    tmp = Path(tempfile.mkdtemp(prefix="canary-lint-proof-engine-"))
    try:
        ref = materialize(case.head, case.base, tmp)
        report = run_check(["."], Config(root=tmp, **{**case.config, "dialect": dialect}), base=ref, cwd=tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return any(f.rule == case.rule for f in report.findings)


def load_worlds() -> dict:
    return yaml.safe_load((HERE / "worlds.yaml").read_text(encoding="utf-8"))


def page_examples(rules=V1_RULES + LOCK_RULES + FAIL_RULES) -> list[Case]:
    by_code = {r.code: r for r in registry().rules}
    return [c for code in rules for c in page_cases(code, by_code[code].page)]


def expect_path(case: Case) -> str:
    """The file of the block with expect= (the last head file the case collected)."""
    return list(case.head)[-1]


def build(case: Case, worlds: dict) -> ProofCase | str:
    """A ProofCase, or the reason the example is not run (a string)."""
    path = expect_path(case)
    kind = _migration_kind(path, case.head[path])
    if kind is None:
        return "no migration of a tool the harness runs (Alembic, SQL files, Django)"
    entry = worlds["examples"].get(case.ident)
    if entry is None:
        return "no v1 world in tests/proof/worlds.yaml"
    if entry["path"] != path:
        raise ValueError(f"{case.ident}: worlds.yaml says {entry['path']}, the page's example is {path}: "
                         "an example moved; update tests/proof/worlds.yaml")
    new = {p: t for p, t in case.head.items() if case.base.get(p) != t}
    release = sorted(((p, t) for p, t in new.items() if _migration_kind(p, t) == kind), key=lambda pt: _sql_order(pt[0]))
    history = sorted(((p, t) for p, t in case.base.items() if p.endswith(".sql") and case.head.get(p) == t),
                     key=lambda pt: _sql_order(pt[0]))
    dialect = case.config.get("dialect")
    claimed = (ENGINE_DIALECT[dialect],) if dialect else ("postgresql",)
    family = "lock" if case.rule in LOCK_RULES else "fails" if case.rule in FAIL_RULES else "v1"
    return ProofCase(case.ident, case.rule, bool(case.expect), family, kind,
                     path, case.head, case.base, release, history, entry["world"],
                     worlds["worlds"][entry["world"]], claimed, case.config.get("postgres_version"), case.expect,
                     dict(case.config))


def proof_cases() -> tuple[list[ProofCase], dict]:
    """(cases, {ident: reason}) for every example of the proven rules' pages."""
    worlds = load_worlds()
    cases, not_run = [], {}
    for case in page_examples():
        built = build(case, worlds)
        if isinstance(built, str):
            not_run[case.ident] = built
        else:
            cases.append(built)
    return cases, not_run
