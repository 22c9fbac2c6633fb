"""`check --prove` writes SQL of its own: what the tree wrote reaches the database only as a quoted name, a
type from a known list or a literal default; anything else is replaced by a stand-in of the same kind."""

from __future__ import annotations

import pytest

from canary_lint.migrations import ops as K
from canary_lint.migrations.ops import ColumnSpec, Op
from canary_lint.prove import alter
from canary_lint.prove.db import ProveRefused, parse
from canary_lint.prove.render import Built, NotRendered, column_def, ident, sql_default, sql_type


@pytest.mark.parametrize("default", ["(SELECT pg_read_file('/etc/passwd'))", "nextval('s'); DROP TABLE x",
                                     "lo_import('/etc/shadow')", "'a\\'; DROP TABLE users; --'"])
def test_a_default_that_is_not_a_literal_becomes_a_stand_in(default):
    assert sql_default(default, sql_type("TEXT", "postgresql"), "postgresql") == "''"
    assert sql_default(default, sql_type("INTEGER", "postgresql"), "postgresql") == "0"


@pytest.mark.parametrize("default, pg, sqlite", [("'active'", "'active'", "'active'"), ("0", "0", "0"),
                                                  ("true", "true", "1"), ("now()", "CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
                                                  ("'x'::character varying", "'x'", "'x'")])
def test_literal_defaults_are_kept(default, pg, sqlite):
    assert sql_default(default, sql_type("VARCHAR(8)", "postgresql"), "postgresql") == pg
    assert sql_default(default, sql_type("VARCHAR(8)", "sqlite"), "sqlite") == sqlite


def test_names_are_quoted_and_a_type_outside_the_list_is_text():
    assert ident('a"; DROP TABLE x; --', "postgresql") == '"a""; DROP TABLE x; --"'
    assert ident("a`b", "mysql") == "`a``b`"
    col = ColumnSpec("evil", "INTEGER); DROP TABLE users; --", False, None)
    assert column_def(col, "postgresql") == '"evil" TEXT NOT NULL'
    assert sql_type("VARCHAR(64)", "mysql").text == "VARCHAR(64)" and sql_type("JSONB", "mysql").text == "JSON"
    with pytest.raises(NotRendered):
        ident("x" * 64, "postgresql")


def test_sqlite_rebuilds_a_table_for_a_change_it_cannot_alter():
    users = Built("users", {"id": ColumnSpec("id", "INTEGER", False, None, True), "email": ColumnSpec("email", "TEXT")})
    sqls, after = alter.change(Op(K.SET_NOT_NULL, "users", column="email"), {"users": users}, "sqlite")
    assert [s.split(" ")[0] for s in sqls] == ["CREATE", "INSERT", "DROP", "ALTER"]
    assert not after["users"].columns["email"].nullable and users.columns["email"].nullable
    sqls, _ = alter.change(Op(K.SET_NOT_NULL, "users", column="email"), {"users": users}, "postgresql")
    assert sqls == ['ALTER TABLE "users" ALTER COLUMN "email" SET NOT NULL']


def test_an_operation_on_a_computed_table_is_not_run():
    op = Op(K.DROP_COLUMN, "<tables>", column="x", computed="get_data() at line 12")
    with pytest.raises(NotRendered, match="computed at run time"):
        alter.change(op, {}, "postgresql")


@pytest.mark.parametrize("url, dialect, database", [
    ("postgresql+psycopg://u:secret@db:5433/stage", "postgresql", "stage"), ("mariadb://root@127.0.0.1/x", "mysql", "x"),
    ("sqlite:///rel/p.db", "sqlite", "rel/p.db"), ("sqlite://", "sqlite", "")])
def test_dsns_are_read_and_shown_without_the_password(url, dialect, database):
    dsn = parse(url)
    assert (dsn.dialect, dsn.database) == (dialect, database) and "secret" not in dsn.shown + repr(dsn)


@pytest.mark.parametrize("url", ["http://x", "postgresql://h:99999999/x", "sqlite://\n/x", ""])
def test_a_dsn_that_cannot_be_used_is_refused(url):
    with pytest.raises(ProveRefused):
        parse(url)
