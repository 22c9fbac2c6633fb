"""`check --prove` on the rule pages' bad examples of the v1 rules (CLM101-111), on the three databases,
beside what the proof harness observed running the same example for real (alembic upgrade, the SQL files
as a migration tool runs them: tests/proof/results.json).

An example that shows only the release gets v1's world (worlds.yaml, its portable or dialect SQL) as an
applied SQL migration of v1's tree, as a real repository's history would hold it; an example whose world is
v1's SQLAlchemy models has no history `--prove` can replay, and says so.

    python3 tests/proof/prove_pages.py            # print the table as JSON lines
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from proof_cases import V1_RULES, load_worlds, page_examples, world_statements  # noqa: E402

WORLD_FILE = "db/v1_world/V0__v1_world.sql"


def _with_world(case, world: dict, dialect: str):
    """(head, base) of the example, v1's world added as v1's applied SQL history when the example has none."""
    has_history = any(p.endswith((".py", ".sql")) and ("migration" in p or "versions" in p) for p in case.base)
    statements = world_statements(world, dialect)
    if has_history or not statements:
        return dict(case.head), dict(case.base)
    sql = "".join(s.rstrip().rstrip(";") + ";\n" for s in statements)
    return {**case.head, WORLD_FILE: sql}, {**case.base, WORLD_FILE: sql}


def prove_case(case, world: dict, dialect: str, url: str) -> list[dict]:
    from canary_lint.config import Config
    from canary_lint.engine import run_check
    from canary_lint.examples import materialize

    head, base = _with_world(case, world, dialect)
    tmp = Path(tempfile.mkdtemp(prefix="canary-lint-prove-"))
    try:
        ref = materialize(head, base, tmp)
        config = Config(root=tmp, **{**case.config, "dialect": dialect})
        report = run_check(["."], config, base=ref, cwd=tmp, prove=(url, None))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [{"ident": case.ident, "dialect": dialect, "rule": f.rule, "line": f.line, "proof": f.proof,
             "message": f.message.rsplit("; ", 1)[-1]} for f in report.findings if f.rule == case.rule]


def run(servers: dict) -> list[dict]:
    """servers: dialect -> URL (without the SQLAlchemy driver)."""
    worlds = load_worlds()
    out = []
    for case in page_examples(V1_RULES):
        if not case.expect:
            continue  # a good example has no finding to prove
        entry = worlds["examples"].get(case.ident)
        world = worlds["worlds"][entry["world"]] if entry else {}
        for dialect, url in servers.items():
            rows = prove_case(case, world, dialect, url)
            out += rows or [{"ident": case.ident, "dialect": dialect, "rule": case.rule, "proof": "no finding",
                             "message": f"the engine reports no {case.rule} on {dialect}"}]
    return out


def harness_status(results: list, ident: str, dialect: str) -> str:
    hit = next((r for r in results if r["ident"] == ident and r["dialect"] == dialect), None)
    return hit["status"] if hit else "not run"


if __name__ == "__main__":
    from proof_servers import SERVERS

    started = {d: cls().start() for d, cls in SERVERS.items()}
    try:
        urls = {}
        for d, srv in started.items():
            url = srv.url().replace("+psycopg", "").replace("+pymysql", "")
            urls[d] = url.rsplit("/", 1)[0] + "/" if d == "mysql" else url
        harness = json.loads((HERE / "results.json").read_text())["results"]
        for row in run(urls):
            row["harness"] = harness_status(harness, row["ident"], row["dialect"])
            print(json.dumps(row))
    finally:
        for srv in started.values():
            srv.stop()
