"""Rule pages are tests: parse the fenced examples of a page into cases and run them through the engine.

A fence's info string is a language followed by `key=value` words:

    ```python expect=CLM101 path=migrations/versions/0002_drop.py line=14
    ```sql expect=clean
    ```python role=base path=app/models.py      (v1's file: the case runs with --base)
    ```python role=both path=app/models.py      (the same file in v1 and v2)
    ```python role=head path=app/other.py       (an extra head file)

Blocks without `expect=` collect into the next block that has one; that block closes the case.
`expect=CODE[,CODE…]`: each code is reported at least once (at `line=N` when given);
`expect=clean`: the page's own rule is not reported. Other keys: `dialect=`, `postgres-version=`.
Multi-file cases live in `fixtures/rules/<CODE>/<case>/{base,head}/` with an `expect.yaml`.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from canary_lint.gitio import git

FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.S | re.M)
DEFAULT_PATHS = {
    "python": "app.py", "py": "app.py", "sql": "migrations/V2__example.sql", "yaml": "openapi.yaml",
    "yml": "openapi.yaml", "json": "openapi.json", "dockerfile": "Dockerfile", "toml": "pyproject.toml",
    "ini": "alembic.ini", "env": ".env", "dotenv": ".env",
}
CONFIG_KEYS = {"dialect": "dialect", "postgres-version": "postgres_version"}


@dataclass
class Case:
    rule: str  # the page's code
    ident: str
    head: dict = field(default_factory=dict)  # path -> text
    base: dict = field(default_factory=dict)
    expect: list = field(default_factory=list)  # [(code, line|None)]; empty = clean
    config: dict = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.expect


def _info(info: str) -> tuple[str, dict]:
    words = info.split()
    lang = words[0] if words and "=" not in words[0] else ""
    opts = dict(w.split("=", 1) for w in words if "=" in w)
    return lang.lower(), opts


def page_cases(code: str, page: str) -> list[Case]:
    cases: list[Case] = []
    pending_head: dict = {}
    pending_base: dict = {}
    for m in FENCE.finditer(page):
        lang, opts = _info(m.group(1))
        if not opts:
            continue  # an illustration, not an example
        text = m.group(2)
        path = opts.get("path") or DEFAULT_PATHS.get(lang, f"example.{lang or 'txt'}")
        role = opts.get("role", "head")
        if role in ("base", "both"):
            pending_base[path] = text
        if role in ("head", "both") and "expect" not in opts:
            pending_head[path] = text
        if "expect" not in opts:
            continue
        pending_head[path] = text
        expect = [] if opts["expect"] == "clean" else [
            (c, int(opts["line"]) if "line" in opts else None) for c in opts["expect"].split(",")
        ]
        config = {CONFIG_KEYS[k]: (int(v) if k == "postgres-version" else v) for k, v in opts.items() if k in CONFIG_KEYS}
        ident = f"{code}-{'bad' if expect else 'good'}-{len(cases) + 1}"
        cases.append(Case(code, ident, pending_head, pending_base, expect, config))
        pending_head, pending_base = {}, {}
    return cases


def fixture_cases(root: Path) -> list[Case]:
    """`fixtures/rules/<CODE>/<case>/{base,head}/` + `expect.yaml` (`expect: clean` or a list)."""
    import yaml

    cases = []
    if not root.is_dir():
        return cases
    for rule_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for case_dir in sorted(p for p in rule_dir.iterdir() if p.is_dir()):
            spec = yaml.safe_load((case_dir / "expect.yaml").read_text()) or {}
            def tree(sub: str) -> dict:
                d = case_dir / sub
                return {p.relative_to(d).as_posix(): p.read_text() for p in sorted(d.rglob("*")) if p.is_file()} if d.is_dir() else {}
            exp = spec.get("expect", "clean")
            expect = [] if exp == "clean" else [(e["rule"], e.get("line")) if isinstance(e, dict) else (e, None) for e in exp]
            cfg = {k.replace("-", "_"): v for k, v in (spec.get("config") or {}).items()}
            cases.append(Case(rule_dir.name, f"{rule_dir.name}-{case_dir.name}", tree("head"), tree("base"), expect, cfg))
    return cases


def materialize(head: dict, base: dict, where: Path) -> str | None:
    """Write the trees; with a base, commit it as tag `base` and leave head in the work tree."""
    def write(files: dict) -> None:
        for rel, text in files.items():
            p = where / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
    if not base:
        write(head)
        return None
    git(where, "init", "-q", "-b", "main")
    write(base)
    git(where, "add", "-A")
    git(where, "commit", "-q", "-m", "v1")
    git(where, "tag", "base")
    for rel in base:
        (where / rel).unlink()
    write(head)
    return "base"


def run_case(case: Case):
    """Run the case through the real engine; returns the Report."""
    from canary_lint.config import Config
    from canary_lint.engine import run_check

    tmp = Path(tempfile.mkdtemp(prefix="canary-lint-case-"))
    try:
        base_ref = materialize(case.head, case.base, tmp)
        config = Config(root=tmp, **case.config)
        return run_check(["."], config, base=base_ref, cwd=tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_case(case: Case, report) -> list[str]:
    """Problems with the outcome (empty when the case holds)."""
    problems = []
    got = [(f.rule, f.line) for f in report.findings]
    for code, line in case.expect:
        if not any(r == code and (line is None or l == line) for r, l in got):
            problems.append(f"expected {code}{f' at line {line}' if line else ''}, got {got or 'nothing'}")
    if case.clean and any(r == case.rule for r, _ in got):
        problems.append(f"expected no {case.rule}, got {[f.message for f in report.findings if f.rule == case.rule]}")
    parse_errors = [f"{f.path}:{f.line} {f.message}" for f in report.findings if f.rule in ("CL001", "CL005") and f.rule != case.rule
                    and (f.rule, f.line) not in case.expect and all(c != f.rule for c, _ in case.expect)]
    if parse_errors:
        problems.append(f"example does not parse or crashed the engine: {parse_errors}")
    return problems
