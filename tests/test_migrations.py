"""The migration analyzer end to end (through the real engine) and its readers on their own."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap

import json

import pytest

from canary_lint.config import ConfigError
from canary_lint.examples import Case, run_case
from canary_lint.migrations import ops as K
from canary_lint.migrations.alembic_reader import read_revision
from canary_lint.migrations.schema import type_change
from canary_lint.migrations.sql_reader import SqlSyntaxError, read_sql, split


def rev(body: str, revision: str = "0002", down: str | None = "0001", header: str = "") -> str:
    down_src = "None" if down is None else repr(down)
    return (f"import sqlalchemy as sa\nfrom alembic import op\n{header}\nrevision = {revision!r}\n"
            f"down_revision = {down_src}\n\n\ndef upgrade():\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n")


def check(head: dict, base: dict | None = None, **config):
    report = run_case(Case("T", "t", dict(head), dict(base or {}), [], config))
    return [f for f in report.findings if f.family == "migration" or f.rule.startswith("CL0")]


def codes(findings) -> list[tuple[str, int]]:
    return sorted((f.rule, f.line) for f in findings)


V = "migrations/versions/"


# ---- SQL reader ------------------------------------------------------------------------------------------
def test_split_skips_comments_strings_and_dollar_bodies():
    sql = ("-- a ; comment with 'quote\nSELECT 'a;b';\n/* ; */ CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; "
           "$body$ LANGUAGE sql;\nDO $$ BEGIN PERFORM 1; END $$;\nUPDATE t SET a = E'it\\'s;';")
    stmts = [sql[s:e] for s, e in split(sql)]
    assert len(stmts) == 4
    assert stmts[0] == "SELECT 'a;b'"
    assert stmts[1].startswith("CREATE FUNCTION") and stmts[1].endswith("LANGUAGE sql")
    assert stmts[3].startswith("UPDATE t")


def test_statement_lines_are_exact_and_comments_never_match():
    sql = "-- DROP TABLE users;\n\nSELECT 'DROP TABLE users';\n  /* DROP TABLE x; */\n  DROP TABLE orders;\n"
    ops = [o for o in read_sql(sql) if o.kind != K.OTHER]
    assert [(o.kind, o.table, o.line, o.column_no) for o in ops] == [(K.DROP_TABLE, "orders", 5, 3)]


def test_command_fallback_is_classified_from_tokens():
    ops = read_sql("ALTER TABLE t ADD CHECK (a > 0) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT c;\n"
                   "ALTER TABLE t ADD PRIMARY KEY USING INDEX ix;\nALTER TYPE mood RENAME VALUE 'sad' TO 'blue';\n"
                   "ALTER SEQUENCE s RENAME TO s2;")
    got = [(o.kind, o.constraint, o.not_valid, o.using_index, o.name, o.new_name) for o in ops]
    assert got == [
        (K.ADD_CONSTRAINT, "check", True, False, None, None),
        (K.VALIDATE_CONSTRAINT, None, False, False, "c", None),
        (K.ADD_CONSTRAINT, "primary_key", False, True, None, None),
        (K.RENAME_OBJECT, None, False, False, "mood", "blue"),
        (K.RENAME_OBJECT, None, False, False, "s", "s2"),
    ]
    assert ops[3].column == "sad" and ops[3].object_kind == "enum value"


AGREEING = [
    "CREATE INDEX ix_a ON public.orders (status, created_at)",
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ux ON users USING btree (lower(email))",
    "DROP INDEX CONCURRENTLY IF EXISTS ix_a",
    "DROP TABLE IF EXISTS a, b CASCADE",
    "DROP VIEW v",
    "ALTER TABLE orders ALTER COLUMN total TYPE numeric(12, 2) USING total::numeric",
    "ALTER TABLE ONLY orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
    "ALTER TABLE orders ADD CONSTRAINT c CHECK (total >= 0) NOT VALID",
    "ALTER TABLE orders ADD COLUMN IF NOT EXISTS note varchar(20) NOT NULL DEFAULT 'x'",
    "ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid()",
    "ALTER TABLE orders DROP COLUMN IF EXISTS note, ALTER COLUMN status SET NOT NULL",
    "ALTER TABLE orders ALTER COLUMN status DROP NOT NULL",
    "ALTER TABLE orders RENAME COLUMN a TO b",
    "ALTER TABLE orders RENAME TO purchases",
    "ALTER TABLE orders DROP CONSTRAINT fk",
    ("DROP TRIGGER insert_visibility", "mysql"),  # glance's ocata_contract01
    ("DROP TRIGGER IF EXISTS shop.`Audit`", "mysql"),
    ("drop trigger if exists t_ai", "sqlite"),
]


@pytest.mark.parametrize("stmt", AGREEING)
def test_fast_paths_agree_with_sqlglot(stmt):
    from canary_lint.migrations.sql_reader import _fast_ddl, _head
    from canary_lint.migrations.sql_tree import parse_ddl

    def facts(ops):
        return [(o.kind, o.table, o.column, o.name, o.new_name, o.type, o.constraint, o.not_valid, o.concurrently,
                 o.unique, (o.spec.name, o.spec.type, o.spec.nullable, bool(o.spec.default)) if o.spec else None,
                 o.object_kind)
                for o in ops]

    stmt, dialect = stmt if isinstance(stmt, tuple) else (stmt, "postgresql")
    fast = _fast_ddl(stmt, dialect, _head(stmt))
    assert fast is not None, "the fast path should read this statement"
    assert facts(fast) == facts(parse_ddl(stmt, dialect, _head(stmt)))


def test_backquoted_trigger_name_on_postgresql_is_left_to_sqlglot():
    from canary_lint.migrations.sql_reader import _fast_ddl, _head

    assert _fast_ddl("DROP TRIGGER `x`", "postgresql", _head("DROP TRIGGER `x`")) is None


def test_create_table_columns_are_read_on_demand():
    from canary_lint.migrations.sql_reader import LazyColumns, _columns_from_tokens

    stmt = ("CREATE TABLE IF NOT EXISTS t (id bigserial PRIMARY KEY, name varchar(64) NOT NULL DEFAULT 'x', "
            "total numeric(10, 2), n BIGINT UNSIGNED, CONSTRAINT u UNIQUE (name), CHECK (total > 0))")
    cols = _columns_from_tokens(stmt)
    assert [(c.name, c.type, c.nullable, c.primary_key, bool(c.default)) for c in cols] == [
        ("id", "BIGINT", False, True, True), ("name", "VARCHAR(64)", False, False, True),
        ("total", "NUMERIC(10,2)", True, False, False), ("n", "BIGINT UNSIGNED", True, False, False)]
    assert [c.name for c in LazyColumns(stmt, "postgresql")] == ["id", "name", "total", "n"]
    assert type_change("BIGINT UNSIGNED", "INTEGER", "mysql").compatible is False


def test_unterminated_string_is_a_syntax_error_with_its_line():
    with pytest.raises(SqlSyntaxError) as exc:
        read_sql("SELECT 1;\nUPDATE t SET a = 'oops;\n")
    assert exc.value.line == 2


def test_fallback_warnings_stay_off_the_terminal(tmp_path):
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "V1__check.sql").write_text("ALTER TABLE t ADD CHECK (a > 0);\n")
    proc = subprocess.run([sys.executable, "-m", "canary_lint", "check", "--format", "json", "."], cwd=tmp_path,
                          capture_output=True, text=True)
    assert "Falling back" not in proc.stderr and "unsupported syntax" not in proc.stderr
    assert '"CLM203"' in proc.stdout


def test_import_is_cheap():
    code = ("import sys, canary_lint.migrations.analyzer; "
            "print(sorted(m for m in ('sqlglot', 'libcst', 'yaml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---- Alembic reader --------------------------------------------------------------------------------------
def read(src: str, dialect: str = "postgresql"):
    return read_revision(ast.parse(src), "x.py", dialect)


def test_reader_folds_strings_loops_helpers_and_batch_ops():
    src = rev('''
        for col in ["a", "b"]:
            _drop(TABLE, col)
        with op.batch_alter_table("orders") as batch_op:
            batch_op.drop_column("note")
        op.execute("ALTER TABLE " + TABLE + " DROP COLUMN c")
        op.execute(sa.text(f"ALTER TABLE {TABLE} DROP COLUMN d"))
        op.execute("ALTER TABLE {} DROP COLUMN {}".format(TABLE, "e"))
    ''', header='TABLE = "users"\n\ndef _drop(table, column):\n    op.drop_column(table, column)\n')
    mig = read(src)
    drops = [(o.table, o.column) for o in mig.ops if o.kind == K.DROP_COLUMN]
    assert drops == [("users", "a"), ("users", "b"), ("orders", "note"), ("users", "c"), ("users", "d"), ("users", "e")]
    assert mig.revision == "0002" and mig.down == ("0001",)


@pytest.mark.parametrize("dialect,expected", [("postgresql", ["pg", "not_mysql", "pg_in"]), ("mysql", ["my"])])
def test_dialect_branches_follow_the_configured_dialect(dialect, expected):
    src = rev('''
        bind = op.get_bind()
        if bind.dialect.name == "postgresql":
            op.drop_column("t", "pg")
        if op.get_bind().dialect.name != "mysql":
            op.drop_column("t", "not_mysql")
        else:
            op.drop_column("t", "my")
        if context.get_context().dialect.name in ("postgresql", "sqlite"):
            op.drop_column("t", "pg_in")
    ''', header="from alembic import context\n")
    assert [o.column for o in read(src, dialect).ops] == expected


@pytest.mark.parametrize("dialect,expected", [("postgresql", ["pg"]), ("mysql", ["my", "my_or_lite"]),
                                              ("sqlite", ["my_or_lite"])])
def test_isinstance_dialect_checks(dialect, expected):
    src = rev('''
        bind = op.get_bind()
        if isinstance(bind.dialect, MySQLDialect):
            op.drop_column("t", "my")
        elif not isinstance(bind.dialect, SQLiteDialect):
            op.drop_column("t", "pg")
        if isinstance(bind.dialect, (MySQLDialect, SQLiteDialect)):
            op.drop_column("t", "my_or_lite")
    ''', header="from sqlalchemy.dialects.mysql.base import MySQLDialect\n"
                  "from sqlalchemy.dialects.sqlite.base import SQLiteDialect\n")
    assert [o.column for o in read(src, dialect).ops] == expected


def test_loops_over_dict_items_and_unknown_tables():
    src = rev('''
        for table in MODELS:
            op.drop_column(table, "legacy")
        for table, column in NAMES.items():
            with op.batch_alter_table(table) as batch_op:
                batch_op.create_unique_constraint(f"uq_{table}_{column}", [column])
        for table in tables_from_the_database():
            op.create_index("ix", table, ["c"])
    ''', header='NAMES = {"a": "x", "b": "y"}\nMODELS = {t: make_model(t) for t in ["p", "q"]}\n')
    ops = read(src).ops
    assert [(o.kind, o.table, o.name) for o in ops] == [
        (K.DROP_COLUMN, "p", None), (K.DROP_COLUMN, "q", None), (K.ADD_CONSTRAINT, "a", "uq_a_x"), (K.ADD_CONSTRAINT, "b", "uq_b_y"),
        (K.CREATE_INDEX, "<table computed by each item of tables_from_the_database() at line 16>", "ix")]
    assert ops[-1].computed == "each item of tables_from_the_database() at line 16"


def test_sqlalchemy_expressions_models_and_metadata():
    src = rev('''
        bind = op.get_bind()
        bind.execute(sa.select(reports.c.id))
        bind.execute(sa.text("UPDATE users SET a = :v").bindparams(v=1))
        bind.execute(reports.update().values(extra="{}"))
        op.execute(sa.insert(Slice).from_select(["id"], sa.select(reports.c.id)))
        Base.metadata.create_all(bind=bind, tables=NEW)
        op.drop_column(Slice.__tablename__, "old")
    ''', header=('reports = sa.Table("report_schedule", sa.MetaData(), sa.Column("id", sa.Integer))\n'
                   "class Slice(Base):\n    __tablename__ = \"slices\"\n"
                   "NEW: list = [Slice.__table__, reports]\n"))
    got = [(o.kind, o.table) for o in read(src).ops]
    assert got == [(K.DATA, "users"), (K.DATA, "report_schedule"), (K.DATA, "slices"),
                   (K.CREATE_TABLE, "slices"), (K.CREATE_TABLE, "report_schedule"), (K.DROP_COLUMN, "slices")]


def test_types_named_at_module_level():
    mig = read(rev('op.alter_column("t", "c", type_=LONG, existing_type=SHORT)',
                   header="SHORT = sa.String(length=250)\nLONG = sa.String(1500).with_variant(sa.Text(), 'mysql')\n"))
    assert [(o.type, o.existing_type) for o in mig.ops] == [("VARCHAR(1500)", "VARCHAR(250)")]


def test_autocommit_block_leaves_the_transaction():
    mig = read(rev('''
        op.create_index("a", "t", ["x"], postgresql_concurrently=True)
        with op.get_context().autocommit_block():
            op.create_index("b", "t", ["x"], postgresql_concurrently=True)
    '''))
    assert [(o.name, o.in_transaction) for o in mig.ops] == [("a", True), ("b", False)]


def test_execute_of_multiline_literal_keeps_statement_lines():
    src = rev('''
        op.execute("""
            UPDATE users SET a = 1;
            DROP TABLE legacy;
        """)
    ''')
    mig = read(src)
    lines = src.splitlines()
    drop = next(o for o in mig.ops if o.kind == K.DROP_TABLE)
    assert "DROP TABLE legacy" in lines[drop.line - 1]


def test_return_in_an_undecidable_branch_does_not_hide_the_rest():
    mig = read(rev('''
        if current_length() == 128:
            return
        op.drop_column("t", "a")
    '''))
    assert [o.column for o in mig.ops] == ["a"]
    mig = read(rev('''
        if op.get_bind().dialect.name == "postgresql":
            return
        op.drop_column("t", "a")
    '''))
    assert mig.ops == []


def test_unknown_sql_and_ops_are_named():
    mig = read(rev('''
        op.execute(build())
        op.frobnicate("t")
        op.drop_column(table_name_from_env(), "x")
    '''))
    assert [o.kind for o in mig.ops] == [K.DYNAMIC, K.UNKNOWN, K.DROP_COLUMN]  # the operation decides
    assert mig.ops[-1].computed.startswith("table_name_from_env() at line")


def test_not_a_revision_without_upgrade():
    assert read("revision = '1'\n") is None
    assert read("def upgrade():\n    pass\n") is None


# ---- types -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("old,new,compatible,rewrite", [
    ("VARCHAR(64)", "VARCHAR(128)", True, False),
    ("VARCHAR(64)", "TEXT", True, False),
    ("VARCHAR(64)", "VARCHAR(10)", False, True),
    ("NUMERIC(10,2)", "NUMERIC(12,2)", True, False),
    ("NUMERIC(10,2)", "INTEGER", False, True),
    ("INTEGER", "BIGINT", True, True),
    ("BIGINT", "INTEGER", False, True),
    ("TEXT", "VARCHAR(20)", False, True),
    (None, "INTEGER", None, True),
    ("ENUM", "VARCHAR", True, True),
    ("NUMERIC(10,2)", "BIGINT", False, True),
    ("STRINGID(250)", "VARCHAR(60)", None, True),
    ("INTEGER[]", "BIGINT[]", True, True),
])
def test_type_change_verdicts(old, new, compatible, rewrite):
    v = type_change(old, new, "postgresql")
    assert (v.compatible, v.rewrite) == (compatible, rewrite)


# ---- replay and release scope ----------------------------------------------------------------------------
INITIAL = rev('''
    op.create_table("users", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("email", sa.String(255), nullable=False),
                    sa.Column("bio", sa.String(100), nullable=True))
''', revision="0001", down=None)


def test_replay_makes_restated_and_widening_changes_quiet():
    head = {V + "0001_init.py": INITIAL, V + "0002_alter.py": rev('''
        op.alter_column("users", "email", nullable=False)
        op.alter_column("users", "bio", type_=sa.Text())
        op.alter_column("users", "email", type_=sa.String(255))
    ''')}
    assert [f for f in check(head) if f.path.endswith("0002_alter.py")] == []


def test_not_null_with_a_default_set_in_the_same_call_breaks_no_v1_insert():
    head = {V + "0001_init.py": INITIAL, V + "0002_x.py": rev('''
        op.alter_column("users", "bio", nullable=False, server_default="")
    ''')}
    # v1's INSERTs get the default: only the scan that proves no NULL exists is left
    assert [f.rule for f in check(head) if f.path.endswith("0002_x.py")] == ["CLM203"]


def test_replay_knows_the_old_type_from_history():
    head = {V + "0001_init.py": INITIAL, V + "0002_alter.py": rev('op.alter_column("users", "bio", type_=sa.String(20))')}
    found = [f for f in check(head) if f.rule == "CLM105"]
    assert len(found) == 1 and "VARCHAR(100) to VARCHAR(20)" in found[0].message and found[0].severity.value == "error"


def test_without_base_each_revision_is_its_own_release():
    # 0001 creates users; 0002 indexes it: users is not new for 0002, so the lock rule applies
    head = {V + "0001_init.py": INITIAL, V + "0002_ix.py": rev('op.create_index("ix", "users", ["email"])')}
    assert codes(check(head)) == [("CLM201", 9)]


def test_with_base_tables_created_in_the_release_are_exempt():
    base = {V + "0000_root.py": rev("pass", revision="0000", down=None)}
    head = dict(base)
    head[V + "0001_init.py"] = INITIAL.replace("down_revision = None", "down_revision = '0000'")
    head[V + "0002_ix.py"] = rev('op.create_index("ix", "users", ["email"])')
    assert codes(check(head, base)) == []


def test_a_history_squashed_into_a_new_file_is_still_v1s():
    """v1 applied revision 0001 from `0001_init.py`; v2 squashes it into `initial.py` with the same id: the
    tables it creates are v1's, so v2's index on users still locks v1's writes."""
    base = {V + "0001_init.py": INITIAL}
    head = {V + "initial.py": INITIAL, V + "0002_ix.py": rev('op.create_index("ix", "users", ["email"])')}
    assert codes(check(head, base)) == [("CLM201", 9)]


# ---- rules across ops ------------------------------------------------------------------------------------
def test_columns_added_in_the_release_are_not_v1s():
    base = {V + "0001_init.py": INITIAL}
    head = {**base,
            V + "0002_add.py": rev('op.add_column("users", sa.Column("tmp", sa.String(10), nullable=True))'),
            V + "0003_fix.py": rev('''
                op.alter_column("users", "tmp", new_column_name="nick", existing_type=sa.String(10))
                op.alter_column("users", "nick", type_=sa.String(5), existing_type=sa.String(10))
                op.drop_column("users", "nick")
                op.drop_column("users", "bio")
            ''', revision="0003", down="0002")}
    got = sorted((f.rule, f.subject) for f in check(head, base) if f.rule.startswith("CLM"))
    assert got == [("CLM101", "users.bio"), ("CLM206", "users.nick")]
    # without --base each revision is its own release: 0003 renames a column v1 (0002 deployed) may use
    got = sorted(f.rule for f in check(head) if f.path.endswith("0003_fix.py"))
    assert "CLM103" in got


def test_column_swap_is_a_type_change_for_v1():
    head = {V + "0001_init.py": INITIAL, V + "0002_swap.py": rev('''
        op.add_column("users", sa.Column("bio_json", sa.JSON(), nullable=True))
        op.execute("UPDATE users SET bio_json = to_json(bio)")
        op.drop_column("users", "bio")
        op.alter_column("users", "bio_json", new_column_name="bio")
    ''')}
    found = {f.rule: f for f in check(head) if f.path.endswith("0002_swap.py")}
    assert "CLM101" in found and "CLM105" in found
    assert "from VARCHAR(100) to JSON" in found["CLM105"].message and found["CLM105"].line == 12


def test_loop_unrolls_into_one_finding_per_column():
    head = {V + "0002_drop.py": rev('''
        for column in ("a", "b", "c"):
            op.drop_column("users", column)
    ''')}
    found = [f for f in check(head) if f.rule == "CLM101"]
    assert sorted(f.subject for f in found) == ["users.a", "users.b", "users.c"]


def test_table_swap_names_what_it_removes():
    head = {"db/migration/V1__users.sql": "CREATE TABLE users (id int, email text, nickname text);\n",
            "db/migration/V2__swap.sql": "CREATE TABLE users_new (id int, email text);\n"
                                         "INSERT INTO users_new SELECT id, email FROM users;\n"
                                         "DROP TABLE users;\nALTER TABLE users_new RENAME TO users;\n"}
    found = [f for f in check(head) if f.path.endswith("V2__swap.sql")]
    assert [f.rule for f in found if f.severity.value == "error"] == ["CLM108"]
    assert "users.nickname" in found[0].message


def test_expand_and_contract_replaces_set_not_null():
    head = {V + "0002_x.py": rev('''
        op.add_column("orders", sa.Column("t", sa.Integer(), nullable=True))
        op.execute("UPDATE orders SET t = 1")
        op.alter_column("orders", "t", nullable=False)
    ''')}
    rules = [f.rule for f in check(head)]
    assert "CLM109" in rules and "CLM107" not in rules


def test_backfill_before_the_ddl_is_not_a_held_lock():
    head = {V + "0002_x.py": rev('''
        op.execute("UPDATE accounts SET plan = 'free' WHERE plan IS NULL")
        op.create_index("ix_plan", "accounts", ["plan"])
        op.execute("UPDATE accounts SET tier = 1")
    ''')}
    found = [(f.rule, f.line) for f in check(head) if f.rule == "CLM207"]
    assert found == [("CLM207", 11)]


def test_a_backfill_beside_an_object_names_the_object_not_a_table():
    def held(ddl: str) -> list[str]:
        head = {V + "0002_x.py": rev(f'''
        op.execute("{ddl}")
        op.execute("UPDATE accounts SET tier = 1")
    ''')}
        return [f.message for f in check(head) if f.rule == "CLM207"]
    assert held("CREATE EXTENSION IF NOT EXISTS pg_trgm") == []  # locks none of v1's tables
    assert held("CREATE SEQUENCE invoice_no") == []
    [message] = held("DROP VIEW report_totals")
    assert "as DROP VIEW report_totals (line 9)" in message
    assert message.endswith("and v1's queries that use view report_totals wait")
    [message] = held("CREATE TRIGGER audit AFTER INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION log()")
    assert "as CREATE TRIGGER audit" in message and "v1's writes to the table it is defined on wait" in message


def test_unique_or_fk_on_a_column_v1_leaves_null_rejects_nothing():
    head = {V + "0002_uuid.py": rev('''
        with op.batch_alter_table("slices") as batch_op:
            batch_op.add_column(sa.Column("uuid", sa.String(36), nullable=True))
            batch_op.create_unique_constraint("uq_slices_uuid", ["uuid"])
        op.add_column("orders", sa.Column("owner_id", sa.Integer(), nullable=True))
        op.create_foreign_key("fk_owner", "orders", "users", ["owner_id"], ["id"])
        op.add_column("orders", sa.Column("code", sa.String(8), nullable=True, server_default="x"))
        op.create_unique_constraint("uq_code", "orders", ["code"])
        op.create_unique_constraint("uq_status", "orders", ["status"])
    '''), "db/migration/V3__x.sql": "ALTER TABLE t ADD COLUMN k int;\n"
                                     "ALTER TABLE t ADD CONSTRAINT uk UNIQUE (k);\n"
                                     "ALTER TABLE t ADD CONSTRAINT uj UNIQUE (j);\n"}
    found = sorted((f.path, f.subject) for f in check(head) if f.rule == "CLM111")
    assert found == [("db/migration/V3__x.sql", "t.uj"), (V + "0002_uuid.py", "orders.uq_code"),
                     (V + "0002_uuid.py", "orders.uq_status")]


def test_sql_transactions_per_tool():
    head = {
        "migrations/0001_a.up.sql": "CREATE TABLE x (id int);\nCREATE INDEX CONCURRENTLY ix ON users (a);\n",
        "migrations/0002_b.up.sql": "CREATE INDEX CONCURRENTLY ix2 ON users (b);\n",
        "db/migrations/20240101_c.sql": "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY ix3 ON users (c);\n"
                                        "-- migrate:down\nDROP TABLE users;\n",
        "db/migrations/20240102_d.sql": "-- migrate:up\nCREATE INDEX CONCURRENTLY ix4 ON users (d);\n",
    }
    found = check(head)
    assert sorted((f.path, f.line) for f in found if f.rule == "CLM202") == [
        ("db/migrations/20240102_d.sql", 2), ("migrations/0001_a.up.sql", 2)]
    assert not any(f.rule == "CLM102" for f in found), "the dbmate down section is not part of the upgrade"


def test_commit_inside_one_golang_migrate_query_does_not_end_the_implicit_transaction():
    head = {"migrations/0001_a.up.sql": "CREATE TABLE x (id int);\nCOMMIT;\nCREATE INDEX CONCURRENTLY ix ON users (a);\n"}
    found = [f for f in check(head) if f.rule == "CLM202"]
    assert [f.line for f in found] == [3] and "even after a COMMIT" in found[0].message
    plain = {"db/migrations/0001_a.sql": "BEGIN;\nCREATE TABLE x (id int);\nCOMMIT;\nCREATE INDEX CONCURRENTLY ix ON users (a);\n"}
    assert [f for f in check(plain) if f.rule == "CLM202"] == []  # psql runs the statements one by one
    still_open = {"db/migrations/0001_a.sql": plain["db/migrations/0001_a.sql"].replace("COMMIT;\n", "")}
    assert [f.line for f in check(still_open) if f.rule == "CLM202"] == [3]


def test_flyway_concurrently_alone_or_mixed():
    head = {"db/migration/V1__ix.sql": "CREATE INDEX CONCURRENTLY ix ON users (a);\n",
            "db/migration/V2__mixed.sql": "ALTER TABLE users ADD COLUMN b int;\n"
                                          "CREATE INDEX CONCURRENTLY ix2 ON users (b);\n"}
    found = [(f.path, f.line, f.message) for f in check(head) if f.rule == "CLM202"]
    assert [(p, ln) for p, ln, _ in found] == [("db/migration/V2__mixed.sql", 2)]
    assert "Flyway refuses" in found[0][2]


def test_mysql_has_no_postgres_lock_rules():
    head = {V + "0002_ix.py": rev('op.create_index("ix", "orders", ["status"])\n'
                                  'op.add_column("orders", sa.Column("c", sa.Integer(), nullable=False))', down=None)}
    assert [f.rule for f in check(head, dialect="mysql")] == ["CLM106"]


def test_mysql_copy_versus_online_alter():
    head = {"db/migration/V1__t.sql": "CREATE TABLE t (c int, a int);\n",
            "db/migration/V2__copy.sql": "ALTER TABLE t MODIFY c bigint;\n"
                                         "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (id);\n",
            "db/migration/V3__online.sql": "ALTER TABLE t MODIFY c bigint, ALGORITHM=INPLACE, LOCK=NONE;\n"}
    got = sorted((f.rule, f.path[-12:], f.line) for f in check(head, dialect="mysql") if f.rule in ("CLM203", "CLM206"))
    assert got == [("CLM203", "V2__copy.sql", 2), ("CLM206", "V2__copy.sql", 1)]


def test_lock_severity_setting_and_its_validation():
    head = {V + "0002_ix.py": rev('op.create_index("ix", "orders", ["status"])', down=None)}
    found = check(head, migration={"lock-severity": "error"})
    assert [(f.rule, f.severity.value) for f in found] == [("CLM201", "error")]
    from canary_lint.migrations.settings import validate

    with pytest.raises(ConfigError, match="lock-severity"):
        validate({"lock-severity": "fatal"}, "x")
    with pytest.raises(ConfigError, match="unknown key"):
        validate({"locks": "error"}, "x")


def test_lock_severity_from_the_config_file(tmp_path):
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "0002_ix.py").write_text(rev('op.create_index("ix", "orders", ["status"])', down=None))
    (tmp_path / "canary-lint.toml").write_text('[migration]\nlock-severity = "error"\n')
    proc = subprocess.run([sys.executable, "-m", "canary_lint", "check", "--format", "json", "."], cwd=tmp_path,
                          capture_output=True, text=True)
    import json

    assert proc.returncode == 1, proc.stderr
    assert [(f["rule"], f["severity"]) for f in json.loads(proc.stdout)["findings"]] == [("CLM201", "error")]
    (tmp_path / "canary-lint.toml").write_text('[migration]\nlock-severity = "loud"\n')
    proc = subprocess.run([sys.executable, "-m", "canary_lint", "check", "."], cwd=tmp_path, capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "lock-severity" in proc.stderr


# ---- cross-version ---------------------------------------------------------------------------------------
MODELS = textwrap.dedent('''
    from sqlalchemy import Column, Integer, String, Table, MetaData
    from sqlalchemy.orm import declarative_base, Mapped, mapped_column

    Base = declarative_base()


    class User(Base):
        __tablename__ = "users"
        id = Column(Integer, primary_key=True)
        nickname: Mapped[str] = mapped_column(String(64))
        email: Mapped[str]

    audit = Table("audit", MetaData(), Column("actor", String))
    REPORT = """
        SELECT legacy_code FROM orders
    """
''').lstrip()


@pytest.mark.parametrize("stmt,where", [
    ('op.drop_column("users", "nickname")', "maps it in app/models.py:10"),
    ('op.drop_column("users", "email")', "maps it in app/models.py:11"),
    ('op.drop_column("audit", "actor")', "maps it in app/models.py:13"),
    ('op.drop_column("orders", "legacy_code")', "reads it in app/models.py:15"),
    ('op.drop_table("audit")', "maps it in app/models.py:13"),
])
def test_base_tree_uses_are_named(stmt, where):
    base = {"app/models.py": MODELS}
    head = {"app/models.py": MODELS, V + "0002_drop.py": rev(stmt)}
    found = [f for f in check(head, base) if f.rule in ("CLM101", "CLM102")]
    assert len(found) == 1 and where in found[0].message and found[0].severity.value == "error", found


def test_sql_query_files_in_the_base_are_searched_outside_comments():
    base = {"db/queries/report.sql": "-- old: SELECT bonus FROM users\nSELECT id,\n  nickname FROM users;\n"}
    head = {**base, V + "0002_drop.py": rev('op.drop_column("users", "nickname")\nop.drop_column("users", "bonus")')}
    found = {f.subject: f for f in check(head, base) if f.rule == "CLM101"}
    assert "reads it in db/queries/report.sql:3" in found["users.nickname"].message
    assert found["users.nickname"].severity.value == "error"
    assert found["users.bonus"].severity.value == "warning" and "v1 no longer reads" in found["users.bonus"].message


def test_drop_after_v2_stopped_using_it_says_to_ship_code_first():
    base = {"app/models.py": MODELS}
    head = {"app/models.py": MODELS.replace("    nickname: Mapped[str] = mapped_column(String(64))\n", ""),
            V + "0002_drop.py": rev('op.drop_column("users", "nickname")')}
    (f,) = [f for f in check(head, base) if f.rule == "CLM101"]
    assert "v2 already stopped using it" in f.message


def test_the_example_release_shows_its_migration_problems():
    proc = subprocess.run([sys.executable, "-m", "canary_lint", "check", "--example", "--format", "json"],
                          capture_output=True, text=True)
    import json

    report = json.loads(proc.stdout)
    got = {(f["rule"], f["path"], f["line"]) for f in report["findings"] if f["family"] == "migration"}
    assert {("CLM103", "migrations/versions/0002_display_name.py", 14),
            ("CLM106", "migrations/versions/0002_display_name.py", 15),
            ("CLM201", "migrations/versions/0002_display_name.py", 16),
            ("CLM105", "db/migration/V3__order_audit.sql", 2),
            ("CLM203", "db/migration/V3__order_audit.sql", 3)} <= got
    rename = next(f for f in report["findings"] if f["rule"] == "CLM103")
    assert "app/models.py:11" in rename["message"] and "db/queries/reports.sql:2" in rename["message"]


# ---- bad input -------------------------------------------------------------------------------------------
def test_syntax_errors_are_file_errors_and_the_rest_is_checked():
    head = {V + "0002_bad.py": "revision = '0002'\ndef upgrade(:\n", "db/migration/V2__bad.sql": "SELECT 'x;\n",
            "db/migration/V3__ok.sql": "DROP TABLE legacy;\n"}
    assert codes(check(head)) == [("CL001", 1), ("CL001", 2), ("CLM102", 1)]


def test_parent_defined_by_a_file_not_named_is_not_missing(tmp_path):
    from canary_lint.config import Config
    from canary_lint.engine import run_check

    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "0001_init.py").write_text(INITIAL)
    (versions / "0002_next.py").write_text(rev("pass"))
    report = run_check(["migrations/versions/0002_next.py"], Config(root=tmp_path), cwd=tmp_path)
    assert [f.rule for f in report.findings] == []
    (versions / "0001_init.py").unlink()
    report = run_check(["migrations/versions/0002_next.py"], Config(root=tmp_path), cwd=tmp_path)
    assert [f.rule for f in report.findings] == ["CLM302"]


def test_named_files_are_judged_against_the_history_beside_them(tmp_path):
    from canary_lint.config import Config
    from canary_lint.engine import run_check

    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "0001_init.py").write_text(INITIAL)
    (versions / "0002_alter.py").write_text(rev('''
        op.alter_column("users", "bio", type_=sa.Text())
        op.alter_column("users", "email", type_=sa.String(100))
    '''))
    flyway = tmp_path / "db" / "migration"
    flyway.mkdir(parents=True)
    (flyway / "V1__t.sql").write_text("CREATE TABLE t (code varchar(10));\n")
    (flyway / "V2__t.sql").write_text("ALTER TABLE t ALTER COLUMN code TYPE varchar(20);\n")
    report = run_check(["migrations/versions/0002_alter.py", "db/migration/V2__t.sql"], Config(root=tmp_path),
                       cwd=tmp_path)
    got = [(f.rule, f.path, f.line, f.severity.value) for f in report.findings]
    # bio VARCHAR(100) -> TEXT and code varchar(10) -> varchar(20) are widenings: quiet once the history is known
    assert got == [("CLM105", "migrations/versions/0002_alter.py", 10, "error")], got  # the rewrite is in it
    assert "VARCHAR(255) to VARCHAR(100)" in report.findings[0].message
    assert "the change rewrites users" in report.findings[0].message


def test_two_heads_in_a_complete_history():
    head = {V + "0001_init.py": INITIAL, V + "0002_a.py": rev("pass", revision="0002a"),
            V + "0002_b.py": rev("pass", revision="0002b")}
    (f,) = [f for f in check(head) if f.rule == "CLM302"]
    assert f.path.endswith("0002_b.py") and "2 heads" in f.message


def test_a_second_head_added_by_the_release_is_reported_with_base():
    base = {V + "0001_init.py": INITIAL, V + "0002_z.py": rev("pass", revision="0002z")}
    head = {**base, V + "0002_a.py": rev("pass", revision="0002a")}
    (f,) = [f for f in check(head, base) if f.rule == "CLM302"]
    assert f.path == V + "0002_a.py"


def test_history_problems():
    head = {V + "a.py": rev("pass", revision="a", down="c"), V + "b.py": rev("pass", revision="b", down="a"),
            V + "c.py": rev("pass", revision="c", down="b"), V + "d.py": rev("pass", revision="d", down="zzz")}
    msgs = [f.message for f in check(head) if f.rule == "CLM302"]
    assert any("cycle" in m for m in msgs) and any("zzz" in m for m in msgs)


def test_big_sql_file_is_read_with_exact_lines():
    lines = [f"INSERT INTO events (id, note) VALUES ({i}, 'row; {i}');" for i in range(100_000)]
    lines.insert(77_777, "ALTER TABLE events DROP COLUMN note;")
    head = {"db/migration/V9__bulk.sql": "\n".join(lines) + "\n"}
    found = check(head)
    assert ("CLM101", 77_778) in codes(found)


# ---- migrations v1 already applied, edited in this release (CLR101) -------------------------------------
def release_findings(head: dict, base: dict | None = None, **config):
    report = run_case(Case("T", "t", dict(head), dict(base or {}), [], config))
    return [f for f in report.findings if f.rule == "CLR101"]


PHONE = '''
op.add_column("users", sa.Column("phone", sa.String(32), nullable=True))
op.create_index("ix_users_phone", "users", ["phone"])
'''


def test_edited_revision_is_reported_at_the_changed_operation():
    base = {V + "0002_phone.py": rev(PHONE)}
    head = {V + "0002_phone.py": rev(PHONE.replace('["phone"]', '["phone", "id"]'))}
    found = release_findings(head, base)
    assert [(f.rule, f.line) for f in found] == [("CLR101", 10)]
    assert "revision 0002" in found[0].message and "ix_users_phone" in found[0].message
    assert "columns (phone) -> (phone, id)" in found[0].message
    assert "new migration" in found[0].fix


def test_moving_computed_sql_down_the_file_is_no_edit():
    """The reader names what computed a value "at line N": a line, not content."""
    body = """
        query = sa.text(build_delete())
        op.execute(query)
        for table in get_tables():
            op.drop_column(table, "legacy")
    """
    base = {V + "0002_phone.py": rev(body)}
    head = {V + "0002_phone.py": rev("# cleaned up\n# in two steps\n" + textwrap.dedent(body))}
    assert release_findings(head, base) == []
    head = {V + "0002_phone.py": rev(body.replace("build_delete()", "build_purge()"))}
    assert [f.rule for f in release_findings(head, base)] == ["CLR101"]


def test_a_type_decorator_swapped_for_its_impl_is_no_edit():
    types = {"app/types.py": "import sqlalchemy as sa\n\nclass PseudoJSON(sa.types.TypeDecorator):\n    impl = sa.Text\n"}
    col = 'op.add_column("queries", sa.Column("schedule", {}, nullable=True))'
    base = {**types, V + "0002_s.py": rev(col.format("MutableDict.as_mutable(PseudoJSON)"),
                                          header="from app.types import PseudoJSON\nfrom x import MutableDict")}
    head = {**types, V + "0002_s.py": rev(col.format("sa.Text()"))}
    assert release_findings(head, base) == []
    head = {**types, V + "0002_s.py": rev(col.format("sa.String(10)"))}
    assert "type TEXT -> VARCHAR(10)" in release_findings(head, base)[0].message


def test_a_helper_of_the_app_whose_data_code_changed_is_no_edit_but_its_schema_change_is():
    body = """
        set_policy("push")
    """
    helper = """
        import sqlalchemy as sa
        from alembic import op
        from app.db import session
        def set_policy(name):
            {}
    """
    imports = "from app.policy import set_policy"
    edited = body.replace('"push")', '"push")  # the constant was renamed')  # the revision's text changed too
    base = {"app/policy.py": textwrap.dedent(helper.format("session.execute(sa.select(name))")), V + "0002_p.py": rev(body, header=imports)}
    head = {"app/policy.py": textwrap.dedent(helper.format("session.add(name)")), V + "0002_p.py": rev(edited, header=imports)}
    assert release_findings(head, base) == []
    head = {"app/policy.py": textwrap.dedent(helper.format('op.drop_column("policy", "old")')), V + "0002_p.py": rev(edited, header=imports)}
    assert [f.rule for f in release_findings(head, base)] == ["CLR101"]


def test_removed_operation_is_reported_at_the_revision_line():
    base = {V + "0002_phone.py": rev(PHONE)}
    head = {V + "0002_phone.py": rev(PHONE.splitlines()[1])}
    found = release_findings(head, base)
    assert [f.line for f in found] == [4]
    assert "no longer runs create index ix_users_phone on users" in found[0].message


def test_comment_docstring_and_layout_edits_are_not_edits():
    base = {V + "0002_phone.py": rev(PHONE)}
    reformatted = ('"""Phone numbers."""\n' + rev('''
        # v1 never writes phone: keep it nullable
        op.add_column(
            "users",
            sa.Column("phone", sa.String(32), nullable=True),
        )
        op.create_index("ix_users_phone", "users", ["phone"])  # lookups by phone
    '''))
    assert release_findings({V + "0002_phone.py": reformatted}, base) == []
    assert release_findings(dict(base), base) == []


def test_edits_need_the_base_and_new_migrations_are_not_edits():
    head = {V + "0002_phone.py": rev(PHONE)}
    assert release_findings(head) == []
    base = {V + "0001_init.py": rev("pass", revision="0001", down=None)}
    assert release_findings({**base, **head}, base) == []


def test_edited_sql_migration_names_the_changed_type():
    base = {"db/migrations/V3__status.sql": "ALTER TABLE orders ADD COLUMN status text;\n"}
    head = {"db/migrations/V3__status.sql": "-- the status\nALTER TABLE orders\n  ADD COLUMN status varchar(16);\n"}
    found = release_findings(head, base)
    assert [f.line for f in found] == [2]
    assert "type TEXT -> VARCHAR(16)" in found[0].message


def test_dbmate_down_section_is_not_part_of_what_v1_applied():
    old = "-- migrate:up\nCREATE INDEX ix_a ON orders (a);\n\n-- migrate:down\nDROP INDEX ix_a;\n"
    base = {"db/migrations/20240101000000_ix.sql": old}
    down_edit = {"db/migrations/20240101000000_ix.sql": old.replace("DROP INDEX ix_a;", "DROP INDEX IF EXISTS ix_a;")}
    assert release_findings(down_edit, base) == []
    up_edit = {"db/migrations/20240101000000_ix.sql": old.replace("(a)", "(a, b)")}
    assert [f.line for f in release_findings(up_edit, base)] == [2]


# ---- op.execute("COMMIT") ends Alembic's transaction ----------------------------------------------------
@pytest.mark.parametrize("driver, after_commit", [("psycopg2", False), ("psycopg", True), ("", True)])
def test_commit_in_its_own_execute_ends_the_transaction_until_begin_or_autocommit_block(driver, after_commit):
    """psycopg2 sends no BEGIN after a raw COMMIT; psycopg 3 and asyncpg begin a new transaction before the next
    statement (seen on a real PostgreSQL: tests/proof), and a tree that names no driver keeps the finding."""
    mig = read_revision(ast.parse(rev('''
        op.create_index("a", "t", ["x"], postgresql_concurrently=True)
        op.execute("COMMIT")
        op.execute("CREATE INDEX CONCURRENTLY b ON t (x)")
        op.create_index("c", "t", ["x"], postgresql_concurrently=True)
        op.execute("BEGIN")
        op.create_index("d", "t", ["x"], postgresql_concurrently=True)
        op.execute("COMMIT")
        with op.get_context().autocommit_block():
            op.create_index("e", "t", ["x"], postgresql_concurrently=True)
        op.create_index("f", "t", ["x"], postgresql_concurrently=True)
    ''')), "x.py", "postgresql", None, driver)
    got = [(o.name, o.in_transaction) for o in mig.ops if o.kind == K.CREATE_INDEX]
    assert got == [("a", True), ("b", after_commit), ("c", after_commit), ("d", True), ("e", False), ("f", True)]


def test_concurrent_index_after_commit_is_quiet_only_with_psycopg2_and_stays_reported_without_the_commit():
    after_commit = rev('''
        op.execute("COMMIT")
        op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)
    ''', down=None)
    psycopg2 = {"requirements.txt": "alembic==1.13.1\npsycopg2-binary==2.9.9\n"}
    assert [f.rule for f in check({V + "0002_ix.py": after_commit, **psycopg2})] == []
    three = check({V + "0002_ix.py": after_commit, "requirements.txt": "psycopg[binary]>=3.1\n"})
    assert codes(three) == [("CLM202", 10)] and "psycopg 3 begins a new transaction" in three[0].message
    unnamed = check({V + "0002_ix.py": after_commit})
    assert codes(unnamed) == [("CLM202", 10)] and "unless it is psycopg2" in unnamed[0].message
    without = after_commit.replace('op.execute("COMMIT")', 'op.execute("SET lock_timeout = \'5s\'")')
    assert codes(check({V + "0002_ix.py": without, **psycopg2})) == [("CLM202", 10)]


def test_commit_in_the_same_string_still_fails_on_postgresql():
    head = {V + "0002_ix.py": rev('''
        op.execute("COMMIT; CREATE INDEX CONCURRENTLY ix_users_email ON users (email)")
    ''', down=None)}
    found = check(head)
    assert codes(found) == [("CLM202", 9)]
    assert "one implicit transaction" in found[0].message and "op.execute() call of its own" in found[0].fix


def test_backfill_after_commit_holds_no_ddl_lock():
    body = '''
        op.add_column("accounts", sa.Column("tier", sa.Integer(), nullable=True))
        op.execute("COMMIT")
        op.execute("UPDATE accounts SET tier = 1")
    '''
    psycopg2 = {"pyproject.toml": '[project]\nname = "x"\ndependencies = ["psycopg2>=2.9"]\n'}
    assert [f.rule for f in check({V + "0002_x.py": rev(body, down=None), **psycopg2}) if f.rule == "CLM207"] == []
    held = "\n".join(line for line in body.splitlines() if "COMMIT" not in line)
    assert [f.rule for f in check({V + "0002_x.py": rev(held, down=None)}) if f.rule == "CLM207"] == ["CLM207"]


# ---- SET NOT NULL: the scan under lock, and the PostgreSQL 12+ way around it -----------------------------
NN_CHECK = "ALTER TABLE users ADD CONSTRAINT users_phone_nn CHECK (phone IS NOT NULL) NOT VALID;\n"
NN_VALIDATE = "ALTER TABLE users VALIDATE CONSTRAINT users_phone_nn;\n"
NN_SET = "ALTER TABLE users ALTER COLUMN phone SET NOT NULL;\n"
M = "db/migrations/"


def by_file(findings) -> dict:
    out: dict = {}
    for f in findings:
        out.setdefault(f.path.rsplit("/", 1)[-1], []).append(f.rule)
    return {k: sorted(v) for k, v in out.items()}


def test_set_not_null_scans_under_lock_and_breaks_v1_inserts():
    found = check({M + "V3__phone.sql": NN_SET})
    assert by_file(found) == {"V3__phone.sql": ["CLM107", "CLM203"]}
    scan = next(f for f in found if f.rule == "CLM203")
    assert "ACCESS EXCLUSIVE" in scan.message and "NOT VALID" in scan.fix and "VALIDATE" in scan.fix


def test_validated_not_null_check_avoids_the_scan_but_not_v1s_nulls_in_the_same_release():
    head = {M + "V3__phone_check.sql": NN_CHECK, M + "V4__phone_validate.sql": NN_VALIDATE,
            M + "V5__phone_not_null.sql": NN_SET}
    base = {"README.md": "v1\n"}
    # one release: v1 has never lived with the check, so the CHECK and the NOT NULL both reject its NULLs
    assert by_file(check(head, base)) == {"V3__phone_check.sql": ["CLM111"], "V5__phone_not_null.sql": ["CLM107"]}
    # validating in the same migration (its own transaction) is as good
    head = {M + "V3__phone.sql": "-- migrate:up transaction:false\n" + NN_CHECK + NN_VALIDATE + NN_SET}
    assert [f.rule for f in check(head, base) if f.rule == "CLM203"] == []


def test_not_null_check_v1_already_lives_with_leaves_nothing_to_report():
    base = {M + "V3__phone_check.sql": NN_CHECK, M + "V4__phone_validate.sql": NN_VALIDATE}
    assert by_file(check({**base, M + "V5__phone_not_null.sql": NN_SET}, base)) == {}
    # without --base, every earlier migration is an earlier release
    assert by_file(check({**base, M + "V5__phone_not_null.sql": NN_SET})) == {"V3__phone_check.sql": ["CLM111"]}


def test_not_valid_check_without_validation_still_scans():
    base = {M + "V3__phone_check.sql": NN_CHECK}
    found = check({**base, M + "V5__phone_not_null.sql": NN_SET}, base)
    assert by_file(found) == {"V5__phone_not_null.sql": ["CLM203"]}  # v1 already lives with the NOT VALID check


def test_before_postgresql_12_the_check_does_not_help():
    base = {M + "V3__phone_check.sql": NN_CHECK, M + "V4__phone_validate.sql": NN_VALIDATE}
    found = check({**base, M + "V5__phone_not_null.sql": NN_SET}, base, postgres_version=11)
    assert [f.rule for f in found] == ["CLM203"] and "PostgreSQL 11" in found[0].message


def test_dropped_or_other_column_checks_do_not_count():
    other = NN_CHECK.replace("(phone IS NOT NULL)", "(phone IS NOT NULL OR email IS NOT NULL)")
    dropped = NN_CHECK + NN_VALIDATE + "ALTER TABLE users DROP CONSTRAINT users_phone_nn;\n"
    for history in (other + NN_VALIDATE, dropped):
        base = {M + "V3__phone_check.sql": history}
        found = check({**base, M + "V5__phone_not_null.sql": NN_SET}, base)
        assert by_file(found) == {"V5__phone_not_null.sql": ["CLM107", "CLM203"]}


def test_alembic_check_constraint_condition_is_read():
    base = {V + "0002_check.py": rev('''
        op.create_check_constraint("users_phone_nn", "users", "phone IS NOT NULL", postgresql_not_valid=True)
        op.execute("COMMIT")
        op.execute("ALTER TABLE users VALIDATE CONSTRAINT users_phone_nn")
    ''', down=None)}
    head = {**base, V + "0003_nn.py": rev('op.alter_column("users", "phone", nullable=False)', "0003", "0002")}
    assert by_file(check(head, base)) == {}
    assert [o.proves_not_null for o in read(base[V + "0002_check.py"]).ops][:1] == ["phone"]


def test_flyway_checksums_every_line_of_an_applied_versioned_migration():
    old = "ALTER TABLE orders ADD COLUMN note text;\n"
    base = {"db/migration/V4__note.sql": old}
    comment = {"db/migration/V4__note.sql": old + "-- free text\n"}
    found = release_findings(comment, base)
    assert [f.line for f in found] == [2] and "checksum mismatch" in found[0].message
    assert release_findings({"db/migration/V4__note.sql": old.replace("\n", "\r\n")}, base) == []
    # the same edit under a tool without checksums is quiet
    dbmate_old = "-- migrate:up\n" + old
    assert release_findings({"db/migrations/20240101_note.sql": dbmate_old + "-- free text\n"},
                            {"db/migrations/20240101_note.sql": dbmate_old}) == []


def test_repeatable_flyway_migrations_are_meant_to_change():
    view = "CREATE OR REPLACE VIEW v AS SELECT id FROM orders;\n"
    changed = view.replace("SELECT id", "SELECT id, total")
    assert release_findings({"db/migration/R__v.sql": changed}, {"db/migration/R__v.sql": view}) == []
    assert [f.rule for f in release_findings({"db/migration/V5__v.sql": "DROP VIEW v;\n" + changed},
                                             {"db/migration/V5__v.sql": "DROP VIEW v;\n" + view})] == ["CLR101"]


def test_an_applied_revision_replaced_under_its_file_name_is_lost_to_v1s_databases():
    base = {V + "0002_phone.py": rev(PHONE)}
    renamed = {V + "0002_phone.py": rev(PHONE, revision="0002b")}
    found = release_findings(renamed, base)
    assert [f.line for f in found] == [4] and "Can't locate revision identified by '0002'" in found[0].message
    moved = {**renamed, V + "0002_moved.py": rev(PHONE)}  # the revision still exists, in another file
    assert release_findings(moved, base) == []


def _rev(rev, down):
    return (f'revision = "{rev}"\ndown_revision = {down!r}\n\nfrom alembic import op\n\n\n'
            'def upgrade():\n    op.create_table("t_%s")\n' % rev)


def test_one_history_per_dialect_directory_is_not_a_duplicate_or_second_head(tmp_path):
    from canary_lint.config import Config
    from canary_lint.engine import run_check

    for dialect in ("postgresql", "sqlite"):  # prefect's layout: the same ids, one history per dialect
        d = tmp_path / "migrations" / "versions" / dialect
        d.mkdir(parents=True)
        (d / "0001_a.py").write_text(_rev("a1", None))
        (d / "0002_b.py").write_text(_rev("b2", "a1"))
    report = run_check(["."], Config(root=tmp_path), cwd=tmp_path)
    assert [f.message for f in report.findings if f.rule == "CLM302"] == []


def test_directories_that_name_each_others_revisions_are_one_history(tmp_path):
    from canary_lint.config import Config
    from canary_lint.engine import run_check

    (tmp_path / "versions" / "2023").mkdir(parents=True)
    (tmp_path / "versions" / "2024").mkdir(parents=True)
    (tmp_path / "versions" / "2023" / "0001_a.py").write_text(_rev("a1", None))
    (tmp_path / "versions" / "2024" / "0002_b.py").write_text(_rev("b2", "a1"))
    (tmp_path / "versions" / "2024" / "0003_c.py").write_text(_rev("c3", "a1"))  # a second head
    report = run_check(["."], Config(root=tmp_path), cwd=tmp_path)
    history = [f.message for f in report.findings if f.rule == "CLM302"]
    assert len(history) == 1 and "heads" in history[0]


# ---- compound statements: one statement with its inner semicolons, on every dialect --------------------
COMPOUND = {
    "mysql trigger": """CREATE TRIGGER trg BEFORE INSERT ON orders FOR EACH ROW
BEGIN
  SET NEW.total = NEW.price * NEW.qty;
  IF NEW.total < 0 THEN SET NEW.total = IF(NEW.qty > 0, 0, 1); END IF;
  CASE WHEN NEW.qty = 0 THEN SET NEW.total = 0; ELSE BEGIN END; END CASE;
END;
""",
    "delimiter block": """DELIMITER $$
CREATE PROCEDURE p()
BEGIN
  UPDATE orders SET x = 1;
  WHILE 1 = 0 DO SET @a = 1; END WHILE;
END$$
DELIMITER ;
""",
    "postgres dollar body": "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN NEW.x := 1; RETURN NEW; END; $$ LANGUAGE plpgsql;\n",
    "sql-standard body": "CREATE PROCEDURE p() LANGUAGE SQL\nBEGIN ATOMIC\n  UPDATE t SET a = 1;\n  UPDATE t SET b = 2;\nEND;\n",
}


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite"])
@pytest.mark.parametrize("shape", sorted(COMPOUND))
def test_compound_bodies_are_one_statement(shape, dialect):
    text = COMPOUND[shape] + "ALTER TABLE orders DROP COLUMN legacy;\n"
    ops = read_sql(text, dialect)
    drop_line = text.count("\n")
    assert [(o.kind, o.line) for o in ops if o.kind != K.OTHER] == [(K.CREATE_OBJECT, ops[0].line), (K.DROP_COLUMN, drop_line)]


def test_a_body_that_never_closes_hides_nothing_after_it():
    text = "CREATE TRIGGER t BEFORE INSERT ON o FOR EACH ROW BEGIN SET NEW.a = 1;\nALTER TABLE o DROP COLUMN b;\n"
    assert K.DROP_COLUMN in [o.kind for o in read_sql(text, "mysql")]


def test_a_constraint_v1_cannot_satisfy_is_an_error_with_its_reason(tmp_path):
    from conftest import run_cli

    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "0009_slug.py").write_text(rev('''
        op.add_column("shops", sa.Column("slug", sa.String(64), nullable=False, server_default="default"))
        op.create_unique_constraint("uq_shops_slug", "shops", ["slug"])
        op.add_column("shops", sa.Column("code", sa.String(8), nullable=True))
        op.create_check_constraint("ck_code", "shops", "code IS NOT NULL")
        op.add_column("shops", sa.Column("ref", sa.String(8), nullable=False, server_default="x"))
        op.create_unique_constraint("uq_shops_id_ref", "shops", ["id", "ref"])
    ''', revision="0009", down=None, header="import sqlalchemy as sa\n"))
    report = json.loads(run_cli("check", "--select", "CLM111", "--format", "json", cwd=tmp_path).stdout)
    got = {f["message"].split(":")[0]: (f["severity"], f["message"]) for f in report["findings"]}
    assert got["adds UNIQUE constraint uq_shops_slug on shops"][0] == "error"
    assert "every row it inserts gets the server default (slug = 'default')" in got["adds UNIQUE constraint uq_shops_slug on shops"][1]
    assert got["adds CHECK constraint ck_code on shops"][0] == "error"
    assert got["adds UNIQUE constraint uq_shops_id_ref on shops"][0] == "warning"  # id tells v1's rows apart


def test_a_constraint_on_a_column_v1_never_writes_is_quiet_across_the_release(tmp_path):
    """Expand adds the column nullable, contract (a later revision of the same release) adds the UNIQUE / FK:
    v1 leaves the column NULL, which neither duplicates nor dangles."""
    from conftest import git, run_cli

    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "0001_init.py").write_text(rev('op.create_table("ports", sa.Column("id", sa.Integer, primary_key=True))',
                                               revision="0001", down=None, header="import sqlalchemy as sa\n"))
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "v1")
    (versions / "0002_expand.py").write_text(rev('op.add_column("ports", sa.Column("sa_id", sa.Integer, nullable=True))',
                                                 revision="0002", down="0001", header="import sqlalchemy as sa\n"))
    (versions / "0003_contract.py").write_text(rev('''
        op.create_unique_constraint("uq_ports_sa", "ports", ["sa_id"])
        op.create_foreign_key("fk_ports_sa", "ports", "standardattributes", ["sa_id"], ["id"])
    ''', revision="0003", down="0002", header="import sqlalchemy as sa\n"))
    report = json.loads(run_cli("check", "--base", "main", "--select", "CLM111", "--format", "json", cwd=tmp_path).stdout)
    assert report["findings"] == []


@pytest.mark.parametrize("layout", ["directory", "alembic.ini", "env.py"])
def test_a_history_kept_per_dialect_is_judged_in_its_dialect(tmp_path, layout):
    """No PostgreSQL lock advice on a SQLite history, whatever the configured dialect."""
    from conftest import run_cli

    index = rev('op.create_index("ix_orders_total", "orders", ["total"])', revision="0002", down=None)
    if layout == "directory":
        sqlite, pg = tmp_path / "migrations" / "sqlite" / "versions", tmp_path / "migrations" / "postgres" / "versions"
    else:
        sqlite, pg = tmp_path / "lite" / "versions", tmp_path / "main" / "versions"
        url = {"alembic.ini": ("[alembic]\nsqlalchemy.url = sqlite:///app.db\n", "[alembic]\nsqlalchemy.url = postgresql://db/app\n"),
               "env.py": ("URL = 'sqlite:///app.db'\n", "URL = 'postgresql+psycopg://db/app'\n")}[layout]
        for folder, text in zip((sqlite.parent, pg.parent), url):
            folder.mkdir(parents=True)
            (folder / layout).write_text(text)
    for folder in (sqlite, pg):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "0002_ix.py").write_text(index)
    report = json.loads(run_cli("check", "--select", "CLM201", "--format", "json", cwd=tmp_path).stdout)
    assert [f["path"] for f in report["findings"]] == [str((pg / "0002_ix.py").relative_to(tmp_path))]


# ---- "v1 no longer uses it" only with proof ------------------------------------------------------------
V1_MODELS = {
    "sqlmodel": ("from sqlmodel import Field, SQLModel\n\n\nclass Order(SQLModel, table=True):\n"
                 "    id: int = Field(primary_key=True)\n    note: str | None = None\n", "order", "note", "maps it"),
    "declared_attr": ("from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declared_attr\n\n\n"
                      "class Base:\n    @declared_attr\n    def __tablename__(cls):\n        return cls.__name__.lower()\n\n\n"
                      "class Invoice(Base):\n    id = Column(Integer, primary_key=True)\n    total = Column(Integer)\n",
                      "invoice", "total", "maps it"),
    "naming helper": ("from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declared_attr\n"
                      "from app.util import camel_to_snake\n\n\n"
                      "class Base:\n    @declared_attr\n    def __tablename__(cls):\n        return camel_to_snake(cls.__name__)\n\n\n"
                      "class ServiceIncident(Base):\n    id = Column(Integer, primary_key=True)\n    flag = Column(Integer)\n",
                      "service_incident", "flag", "could not be mapped to a table"),
}


@pytest.mark.parametrize("shape", sorted(V1_MODELS))
def test_a_drop_stays_an_error_unless_v1s_models_prove_it_unused(tmp_path, shape):
    from conftest import git, run_cli

    models, table, column, says = V1_MODELS[shape]
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "models.py").write_text(models)
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "cleanup.sql").write_text("DROP TABLE IF EXISTS legacy_jobs;\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "v1")
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "0002_drop.py").write_text(rev(f'op.drop_column("{table}", "{column}")\nop.drop_table("legacy_jobs")',
                                               revision="0002", down=None))
    report = json.loads(run_cli("check", "--base", "main", "--select", "CLM101,CLM102", "--format", "json",
                                cwd=tmp_path).stdout)
    by_rule = {f["rule"]: f for f in report["findings"]}
    assert by_rule["CLM101"]["severity"] == "error" and says in by_rule["CLM101"]["message"]
    # a DROP ... IF EXISTS in a script is no evidence that v1 reads legacy_jobs; a model whose table cannot be
    # read is no proof that v1 does not
    if shape == "naming helper":
        assert by_rule["CLM102"]["severity"] == "error"
        assert "ServiceIncident (app/models.py:12) could not be mapped" in by_rule["CLM102"]["message"]
        assert "Base (" not in by_rule["CLM102"]["message"]
    else:
        assert by_rule["CLM102"]["severity"] == "warning"
        assert "v1 no longer reads legacy_jobs" in by_rule["CLM102"]["message"]


def test_a_unique_key_mixing_a_v1_column_with_a_constant_default_is_an_error(tmp_path):
    from conftest import run_cli

    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "0001_init.py").write_text(rev('''
        op.create_table("bindings", sa.Column("id", sa.Integer, primary_key=True), sa.Column("router_id", sa.String(36)))
    ''', revision="0001", down=None, header="import sqlalchemy as sa\n"))
    (versions / "0002_index.py").write_text(rev('''
        op.add_column("bindings", sa.Column("binding_index", sa.Integer, nullable=False, server_default="1"))
        op.create_unique_constraint("uq_router_binding", "bindings", ["router_id", "binding_index"])
        op.create_unique_constraint("uq_id_binding", "bindings", ["id", "binding_index"])
    ''', revision="0002", down="0001", header="import sqlalchemy as sa\n"))
    report = json.loads(run_cli("check", "--select", "CLM111", "--format", "json", cwd=tmp_path).stdout)
    got = {f["message"].split(":")[0]: f for f in report["findings"]}
    mixed = got["adds UNIQUE constraint uq_router_binding on bindings"]
    assert mixed["severity"] == "error" and "two rows v1 writes with the same router_id violate it" in mixed["message"]
    assert "adds UNIQUE constraint uq_id_binding on bindings" not in got  # id is v1's key: every pair is unique


def test_a_table_name_derived_through_declarative_base_cls_is_mapped(tmp_path):
    """neutron's models: `BASEV2 = declarative_base(cls=NeutronBaseV2)`, whose `__tablename__` is
    `cls.__name__.lower() + 's'`; v1 maps networks.mtu, so dropping it is an error naming the model."""
    from conftest import git, run_cli

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "model_base.py").write_text(
        "from sqlalchemy.ext import declarative\nfrom sqlalchemy.orm import declared_attr\n\n\n"
        "class NeutronBaseV2:\n    @declared_attr\n    def __tablename__(cls):\n        return cls.__name__.lower() + 's'\n\n\n"
        "BASEV2 = declarative.declarative_base(cls=NeutronBaseV2)\n")
    (tmp_path / "app" / "models.py").write_text(
        "import sqlalchemy as sa\nfrom app import model_base\n\n\nclass Network(model_base.BASEV2):\n"
        "    id = sa.Column(sa.String(36), primary_key=True)\n    mtu = sa.Column(sa.Integer)\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "v1")
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "0002_mtu.py").write_text(rev('op.drop_column("networks", "mtu")', revision="0002", down=None))
    report = json.loads(run_cli("check", "--base", "main", "--select", "CLM101", "--format", "json", cwd=tmp_path).stdout)
    (finding,) = report["findings"]
    assert finding["severity"] == "error" and "maps it in app/models.py:7" in finding["message"]


def test_depends_on_orders_the_contract_branch_after_the_expand_it_needs(tmp_path):
    """neutron's expand/contract branches: the contract revision depends_on the expand one, in another
    directory; the column the expand adds is of this release when the contract constrains it."""
    from conftest import git, run_cli

    root = tmp_path / "alembic_migrations" / "versions"
    for d in ("expand", "contract", "base"):
        (root / d).mkdir(parents=True)
    (root / "base" / "0001_init.py").write_text(rev('op.create_table("ports", sa.Column("id", sa.Integer, primary_key=True))',
                                                    revision="0001", down=None, header="import sqlalchemy as sa\n"))
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "v1")
    (root / "expand" / "zz_expand.py").write_text(rev('op.add_column("ports", sa.Column("sa_id", sa.Integer, nullable=True))',
                                                      revision="e1", down="0001", header="import sqlalchemy as sa\n"))
    (root / "contract" / "aa_contract.py").write_text(
        rev('op.create_unique_constraint("uq_sa", "ports", ["sa_id"])', revision="c1", down="0001",
            header="import sqlalchemy as sa\ndepends_on = ('e1',)\nbranch_labels = ('contract',)\n"))
    report = json.loads(run_cli("check", "--base", "main", "--select", "CLM111,CLM302", "--format", "json", cwd=tmp_path).stdout)
    assert [f["rule"] for f in report["findings"]] == []


@pytest.mark.parametrize("filler", ["$a$ " * 50_000, "' " * 50_000, "/* " * 50_000, "\\' " * 50_000])
def test_a_hostile_compound_body_is_read_in_one_pass(filler):
    """Unclosed quotes, comments and dollar tags inside a trigger body: every character is read once (the
    statements after it stay visible, the run ends)."""
    text = f"CREATE TRIGGER t BEFORE INSERT ON o FOR EACH ROW BEGIN {filler}\nEND;\nALTER TABLE o DROP COLUMN b;\n"
    from canary_lint.migrations.sql_lex import _depth

    assert isinstance(_depth(text, 0, len(text)), int)


def test_blank_runs_in_query_strings_are_read_linearly():
    from canary_lint.migrations.usage import queries_only

    text = "select 1;" + " " * 200_000 + ";DROP TABLE IF EXISTS x"
    out = queries_only(text)
    assert out.startswith("select 1;") and "DROP" not in out and len(out) == len(text)


def test_one_change_one_finding_and_ignoring_the_first_keeps_the_other(tmp_path):
    from canary_lint.config import Config
    from canary_lint.engine import run_check

    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "0001_init.py").write_text(INITIAL)
    (versions / "0002_alter.py").write_text(rev('''
        op.alter_column("users", "email", type_=sa.String(100))
        op.drop_index("ix_users_email", "users")
        op.create_index("ix_users_email", "users", ["email", "id"])
    '''))

    def found(**cfg):
        report = run_check(["."], Config(root=tmp_path, **cfg), cwd=tmp_path)
        return sorted((f.rule, f.line) for f in report.findings if f.path.endswith("0002_alter.py"))

    assert found() == [("CLM105", 9), ("CLM201", 11)]  # the re-created index once, at its CREATE
    assert found(ignore=("CLM105",)) == [("CLM201", 11), ("CLM206", 9)]


def test_a_key_widened_over_v1s_primary_key_rejects_nothing_v1_writes():
    base = {V + "0001_init.py": rev('''
        op.create_table("bindings", sa.Column("port_id", sa.String(36), primary_key=True),
                        sa.Column("host", sa.String(255), nullable=False), sa.Column("note", sa.String(10)))
    ''', revision="0001", down=None)}
    widened = rev('''
        op.drop_constraint("bindings_pkey", "bindings", type_="primary")
        op.create_primary_key("pk_bindings", "bindings", ["port_id", "host"])
    ''')
    head = {**base, V + "0002_pk.py": widened}
    assert [c for c, _ in codes(check(head, base))] == ["CLM204"]  # the lock stays; v1's rows fit the key
    narrowed = widened.replace('["port_id", "host"]', '["host"]')
    assert "CLM111" in [c for c, _ in codes(check({**base, V + "0002_pk.py": narrowed}, base))]
    nullable = widened.replace('"host"]', '"note"]')
    assert "CLM111" in [c for c, _ in codes(check({**base, V + "0002_pk.py": nullable}, base))]


def test_the_root_of_a_history_new_to_the_tree_creates_v1s_schema_when_v1_maps_it():
    """Moving to Alembic: the root revision creates what v1 already has (through its former tool)."""
    models = ("import sqlalchemy as sa\nfrom sqlalchemy.orm import declarative_base\nBase = declarative_base()\n"
              "class User(Base):\n    __tablename__ = 'users'\n    id = sa.Column(sa.Integer, primary_key=True)\n"
              "    bio = sa.Column(sa.String(100))\n"
              "class Order(Base):\n    __tablename__ = 'orders'\n    id = sa.Column(sa.Integer, primary_key=True)\n")
    root = rev('''
        op.create_table("users", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("bio", sa.String(100)))
        op.create_table("orders", sa.Column("id", sa.Integer(), primary_key=True))
    ''', revision="0001", down=None)
    drop = rev('op.drop_column("users", "bio")')
    base = {"app/models.py": models}
    head = {"app/models.py": models.replace("    bio = sa.Column(sa.String(100))\n", ""),
            V + "0001_initial.py": root, V + "0002_drop.py": drop}
    assert ("CLM101", 9) in codes(check(head, base))
    # a brand-new schema nobody mapped in v1 is the release's own
    assert codes(check({**head, "app/models.py": "x = 1\n"}, {"app/models.py": "x = 1\n"})) == []


def test_the_migration_tools_own_table_is_not_v1s():
    base = {V + "0001_init.py": INITIAL}
    head = {**base, V + "0002_pk.py": rev('op.create_primary_key("pk_alembic_version", "alembic_version", ["version_num"])')}
    assert codes(check(head, base)) == []


def test_a_history_moved_to_another_folder_is_still_v1s():
    base = {V + "0001_init.py": INITIAL, V + "0002_ix.py": rev('op.create_index("ix", "users", ["email"])')}
    moved = {f"app/{path}": text for path, text in base.items()}
    head = {**moved, "app/" + V + "0003_drop.py": rev('op.drop_column("users", "bio")', revision="0003", down="0002")}
    assert [c for c, _ in codes(check(head, base))] == ["CLM101"]  # only the release's own revision is judged


def test_partial_unique_index_whose_condition_no_v1_row_meets():
    v1 = {"db/migration/V1__prefs.sql": "CREATE TABLE prefs (id BIGSERIAL PRIMARY KEY, user_id BIGINT NOT NULL, "
                                        "event_id BIGINT NOT NULL, deleted_at TIMESTAMPTZ);\n"}
    release = {
        "db/migration/V2__global.sql": "ALTER TABLE prefs ALTER COLUMN event_id DROP NOT NULL;\n"
                                       "CREATE UNIQUE INDEX prefs_global ON prefs (user_id) WHERE event_id IS NULL;\n",
        "db/migration/V3__live.sql": "CREATE UNIQUE INDEX prefs_live ON prefs (user_id) WHERE deleted_at IS NULL;\n",
    }
    found = [f for f in check({**v1, **release}, v1) if f.rule == "CLM111"]
    # event_id is NOT NULL in v1: none of its rows enters prefs_global; deleted_at is NULL in every live v1 row
    assert [(f.path, f.line) for f in found] == [("db/migration/V3__live.sql", 1)]
    alembic = {V + "0001_prefs.py": rev("""
        op.create_table("prefs", sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column("user_id", sa.Integer, nullable=False), sa.Column("event_id", sa.Integer, nullable=False))
    """, revision="0001", down=None)}
    head = {**alembic, V + "0002_global.py": rev("""
        op.alter_column("prefs", "event_id", existing_type=sa.Integer, nullable=True)
        op.create_index("prefs_global", "prefs", ["user_id"], unique=True, postgresql_where=sa.text("event_id IS NULL"))
        op.create_index("prefs_any", "prefs", ["user_id"], unique=True, postgresql_where=sa.text("event_id IS NULL OR user_id > 0"))
    """)}
    assert [f.line for f in check(head, alembic) if f.rule == "CLM111"] == [11]  # only the OR condition
    assert K.null_only_columns('"event_id" IS NULL AND deleted_at IS NULL') == ("event_id", "deleted_at")
    assert K.null_only_columns("event_id IS NULL OR x = 1") == ()


def test_sqlite_enforces_no_length_or_precision_so_a_narrowing_keeps_v1s_values():
    from canary_lint.migrations.schema import type_change

    for old, new in (("VARCHAR(64)", "VARCHAR(8)"), ("NUMERIC(10,2)", "NUMERIC(8,2)"), ("BIGINT", "INTEGER"),
                     ("NUMERIC(10,2)", "INTEGER")):
        assert type_change(old, new, "sqlite").compatible is True
        assert type_change(old, new, "postgresql").compatible is False
    assert type_change("INTEGER", "TEXT", "sqlite").compatible is False  # another kind: v1 reads text back
