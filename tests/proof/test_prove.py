"""`check --prove DSN` on real PostgreSQL, MariaDB and SQLite started for this module: the rule pages' bad
examples of the v1 rules are proven where --prove runs their operation, agree with what the proof harness
observed running the same migrations for real, and a database that could lose data is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from proof_cases import ENGINE_DIALECT, V1_RULES, page_examples
from proof_servers import SERVERS
from prove_pages import HERE, harness_status, run

ROOT = HERE.parent.parent


def _plain(srv) -> str:
    url = srv.url().replace("+psycopg", "").replace("+pymysql", "")
    return url.rsplit("/", 1)[0] + "/" if srv.dialect == "mysql" else url


@pytest.fixture(scope="module")
def servers():
    started = {}
    try:
        for dialect, cls in SERVERS.items():
            started[dialect] = cls().start()
        yield started
    finally:
        for srv in started.values():
            srv.stop()


@pytest.fixture(scope="module")
def rows(servers):
    return run({d: _plain(s) for d, s in servers.items()})


def _claimed() -> dict:
    return {c.ident: ENGINE_DIALECT.get(c.config.get("dialect", ""), "postgresql")
            for c in page_examples(V1_RULES) if c.expect}


def test_a_bad_example_run_on_its_pages_dialect_is_proven(rows):
    claimed = _claimed()
    wrong = [r for r in rows if r["dialect"] == claimed[r["ident"]] and r["proof"] not in ("proven", "not run")]
    assert wrong == []
    proven = [r for r in rows if r["dialect"] == claimed[r["ident"]] and r["proof"] == "proven"]
    assert len({r["ident"] for r in proven}) * 2 > len(claimed), "most bad examples are proven on their dialect"


def test_what_prove_does_not_run_says_why(rows):
    for r in rows:
        if r["proof"] == "not run":
            assert r["message"].startswith("--prove does not run line "), r


def test_prove_agrees_with_the_harness_where_both_ran(rows):
    harness = json.loads((HERE / "results.json").read_text(encoding="utf-8"))["results"]
    disagree = [r for r in rows if harness_status(harness, r["ident"], r["dialect"]) == "proven"
                and r["proof"] not in ("proven", "not run")]
    assert disagree == []


def test_every_finding_it_runs_is_reproduced(rows):
    assert [r for r in rows if r["proof"] == "not reproduced"] == []


def test_only_sqlites_narrowings_are_not_claimed(rows):
    # SQLite keeps any value in any column (type affinity): the engine set for SQLite reports no narrowing
    silent = {(r["rule"], r["dialect"]) for r in rows if r["proof"] == "no finding"}
    assert silent == {("CLM105", "sqlite")}


# ---- the database --prove may use ----------------------------------------------------------------------
REVISIONS = {
    "migrations/versions/0001_users.py": (
        'revision = "0001"\ndown_revision = None\n\nfrom alembic import op\nimport sqlalchemy as sa\n\n\n'
        'def upgrade():\n    op.create_table("users", sa.Column("id", sa.Integer, primary_key=True),\n'
        '                    sa.Column("nickname", sa.String(64)))\n'),
}
RELEASE = {
    "migrations/versions/0002_drop.py": (
        'revision = "0002"\ndown_revision = "0001"\n\nfrom alembic import op\n\n\n'
        'def upgrade():\n    op.drop_column("users", "nickname")\n'),
}


def _check(tmp_path: Path, *args: str, files: dict | None = None) -> subprocess.CompletedProcess:
    tree = tmp_path / "tree"
    if not tree.exists():
        for rel, text in {**REVISIONS, **RELEASE, **(files or {})}.items():
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            (tree / rel).write_text(text, encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "canary_lint", "check", ".", "--format", "json", *args],
                          cwd=tree, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def _finding(out: str) -> dict:
    return next(f for f in json.loads(out)["findings"] if f["rule"] == "CLM101")


def test_prove_on_a_new_sqlite_file_proves_and_removes_it(tmp_path):
    db = tmp_path / "proof.db"
    r = _check(tmp_path, "--prove", f"sqlite:///{db}")
    assert r.returncode == 1, r.stderr
    f = _finding(r.stdout)
    assert f["proof"] == "proven" and "no column named nickname" in f["message"]
    assert "--prove on SQLite" in r.stderr and not db.exists()


def test_a_sqlite_file_that_holds_tables_is_refused(tmp_path):
    import sqlite3

    db = tmp_path / "prod.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE orders (id integer)")
    r = _check(tmp_path, "--prove", f"sqlite:///{db}")
    assert r.returncode == 2 and "already holds tables (orders)" in r.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 1


def test_the_database_the_apps_alembic_ini_names_is_refused(tmp_path):
    db = tmp_path / "app.db"
    ini = f"[alembic]\nscript_location = migrations\nsqlalchemy.url = sqlite:///{db}\n"
    r = _check(tmp_path, "--prove", f"sqlite:///{db}", files={"alembic.ini": ini})
    assert r.returncode == 2 and "alembic.ini [alembic] sqlalchemy.url" in r.stderr and not db.exists()


@pytest.mark.parametrize("args, said", [
    (["--prove", "ftp://x/y"], "ftp scheme"),
    (["--prove-schema", "s"], "give --prove DSN too"),
    (["--prove", "sqlite://", "--prove-schema", "s"], "SQLite has no schemas"),
])
def test_usage_errors_exit_2_with_one_line(tmp_path, args, said):
    r = _check(tmp_path, *args)
    assert r.returncode == 2 and said in r.stderr and len(r.stderr.strip().splitlines()) == 1


def _pg(servers):
    import psycopg

    srv = servers["postgresql"]
    return psycopg.connect(host="127.0.0.1", port=srv.port, user=srv.role, dbname="postgres", autocommit=True)


def test_postgres_runs_in_a_throwaway_schema_and_drops_it(servers, tmp_path):
    r = _check(tmp_path, "--prove", _plain(servers["postgresql"]))
    assert r.returncode == 1 and _finding(r.stdout)["proof"] == "proven", r.stderr
    assert 'column "nickname" of relation "users" does not exist' in _finding(r.stdout)["message"]
    with _pg(servers) as conn:
        left = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'canary_lint_prove_%'").fetchall()
    assert left == []


def test_postgres_with_tables_is_refused_unless_an_empty_schema_is_named(servers, tmp_path):
    with _pg(servers) as conn:
        conn.execute("CREATE TABLE public.keep_me (id integer)")
        conn.execute("CREATE SCHEMA IF NOT EXISTS scratch")
    try:
        refused = _check(tmp_path, "--prove", _plain(servers["postgresql"]))
        assert refused.returncode == 2 and "public.keep_me" in refused.stderr
        ran = _check(tmp_path, "--prove", _plain(servers["postgresql"]), "--prove-schema", "scratch")
        assert ran.returncode == 1 and _finding(ran.stdout)["proof"] == "proven", ran.stderr
        with _pg(servers) as conn:
            assert conn.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                "WHERE n.nspname = 'scratch'").fetchone()[0] == 0
            assert conn.execute("SELECT to_regclass('public.keep_me')").fetchone()[0] == "keep_me"
        conn_args = _check(tmp_path, "--prove", _plain(servers["postgresql"]), "--prove-schema", "public")
        assert conn_args.returncode == 2 and "keep_me" in conn_args.stderr
    finally:
        with _pg(servers) as conn:
            conn.execute("DROP TABLE public.keep_me")
            conn.execute("DROP SCHEMA scratch")


def test_mariadb_database_with_tables_is_refused(servers, tmp_path):
    import pymysql

    srv = servers["mysql"]
    conn = pymysql.connect(host="127.0.0.1", port=srv.port, user="root", autocommit=True)
    try:
        conn.cursor().execute("CREATE DATABASE shop")
        conn.cursor().execute("CREATE TABLE shop.orders (id integer)")
        refused = _check(tmp_path, "--prove", _plain(srv) + "shop")
        assert refused.returncode == 2 and "shop at" in refused.stderr and "(orders)" in refused.stderr
        ran = _check(tmp_path, "--prove", _plain(srv) + "shop", "--prove-schema", "shop_proof")
        assert ran.returncode == 1 and _finding(ran.stdout)["proof"] == "proven", ran.stderr
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'shop_proof'")
        assert cur.fetchone()[0] == 0
    finally:
        conn.cursor().execute("DROP DATABASE IF EXISTS shop")
        conn.close()


def test_a_table_the_history_only_alters_is_taken_from_v1s_models(tmp_path):
    # v1's orders came from the models' create_all; its history only added a column: v1's INSERT names both
    tree = tmp_path / "tree"
    files = {
        "app/models.py": ("import sqlalchemy as sa\nfrom sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\n\n"
                          "class Order(Base):\n    __tablename__ = 'orders'\n    id = sa.Column(sa.Integer, primary_key=True)\n"
                          "    legacy = sa.Column(sa.String(20), nullable=False)\n    note = sa.Column(sa.String(20))\n"),
        "migrations/versions/0001_note.py": ('revision = "0001"\ndown_revision = None\n\nfrom alembic import op\n'
                                             'import sqlalchemy as sa\n\n\ndef upgrade():\n'
                                             '    op.add_column("orders", sa.Column("note", sa.String(20)))\n'),
    }
    for rel, text in files.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text, encoding="utf-8")
    git = lambda *a: subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *a], cwd=tree,  # noqa: E731
                                    check=True, capture_output=True)
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "v1")
    (tree / "migrations/versions/0002_drop.py").write_text(
        'revision = "0002"\ndown_revision = "0001"\n\nfrom alembic import op\n\n\n'
        'def upgrade():\n    op.drop_column("orders", "legacy")\n', encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "canary_lint", "check", ".", "--base", "main", "--format", "json",
                        "--prove", "sqlite://"], cwd=tree, capture_output=True, text=True,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    f = _finding(r.stdout)
    assert f["proof"] == "proven", f["message"]
    assert "INSERT INTO orders (" in f["message"] and "legacy" in f["message"]
    assert "v1's orders as its models in app/models.py map it" in f["message"]
