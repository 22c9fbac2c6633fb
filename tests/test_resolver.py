"""The shared value resolver: what an expression can be, followed through the tree, always bounded."""

from __future__ import annotations

import ast
import textwrap

import pytest

from canary_lint.migrations import ops as K
from canary_lint.migrations.alembic_reader import read_revision
from canary_lint.resolver import SCOPE, UNKNOWN, Bound, Budget, Evaluator, OneOf, Project


def project(files: dict[str, str]) -> Project:
    trees = {p: ast.parse(textwrap.dedent(t)) for p, t in files.items()}
    return Project(list(trees), trees.get)


def value_of(files: dict[str, str], module: str, name: str, budget: Budget | None = None):
    proj = project(files)
    scope = proj.scope(module)
    return Evaluator(scope, budget).lookup(name, {SCOPE: scope})


def test_lists_built_with_append_extend_and_plus_equals():
    assert value_of({"app/tables.py": """
        def build():
            out = []
            for name in ("a", "b"):
                out.append(f"t_{name}")
            out.extend(["c"])
            out += ["d"]
            out.insert(0, "z")
            return out
        TABLES = build()
    """}, "app.tables", "TABLES") == ["z", "t_a", "t_b", "c", "d"]


def test_comprehension_filters_that_cannot_be_decided_keep_the_item():
    assert value_of({"m.py": """
        NAMES = ["a", "b", "c"]
        KEPT = [n.upper() for n in NAMES if n != "b" if exists(n)]
    """}, "m", "KEPT") == ["A", "C"]


def test_constants_functions_and_classes_imported_from_other_modules():
    files = {
        "src/shop/config.py": """
            PREFIX = "shop"
            class Base:
                schema = "public"
            class Settings(Base):
                table = PREFIX + "_orders"
            def table_for(kind, suffix="v1"):
                return "%s_%s_%s" % (PREFIX, kind, suffix)
        """,
        "src/shop/migrate.py": """
            from .config import Settings, table_for
            from shop import config
            A = Settings.table
            B = Settings.schema
            C = table_for("audit", suffix="v2")
            D = config.table_for("jobs")
            E = "{}.{}".format(B, A)
        """,
    }
    got = {n: value_of(files, "shop.migrate", n) for n in "ABCDE"}
    assert got == {"A": "shop_orders", "B": "public", "C": "shop_audit_v2", "D": "shop_jobs_v1", "E": "public.shop_orders"}


def test_both_branches_of_a_conditional_and_kwargs_dicts():
    files = {"m.py": """
        import os
        NAME = "orders_v2" if os.environ.get("V2") else "orders"
        FULL = f"app_{NAME}"
        OPTIONS = {"dsn": "x", **{"release": None}}
        def init(**kwargs):
            return kwargs
        SEEN = init(**OPTIONS, debug=True)
        PAIRS = [(t, c) for t, c in [("a", "x"), ("b", "y")]]
    """}
    assert value_of(files, "m", "NAME") == OneOf(("orders_v2", "orders"))
    assert value_of(files, "m", "FULL") == OneOf(("app_orders_v2", "app_orders"))
    assert value_of(files, "m", "SEEN") == {"dsn": "x", "release": None, "debug": True}
    assert value_of(files, "m", "PAIRS") == [("a", "x"), ("b", "y")]


def test_what_cannot_be_known_is_unknown_not_a_guess():
    files = {"m.py": """
        import os
        A = os.environ["TABLE"]
        B = A + "_x"
        C = undefined_helper()
        D = [1, 2][5]
    """}
    for name in "ABCD":
        assert value_of(files, "m", name) is UNKNOWN


@pytest.mark.parametrize("source, bound", [
    ("X = '%1500000000d' % 1", "%-format"),
    ("X = '{:1500000000}'.format(1)", ".format()"),
    ("X = 'ab' * 1000000000", "repeated"),
    ("def f():\n    s = 'x' * 1000\n    for a in " + repr(list(range(999))) + ":\n        s += s\n    return s\nX = f()",
     "string over"),
    ("L = " + repr(list(range(900))) + "\nX = [(a, b) for a in L for b in L]", "comprehension over"),
])
def test_a_value_past_a_size_bound_is_unknown_not_built(source, bound):
    assert value_of({"m.py": source}, "m", "X", Budget()) is UNKNOWN


def test_long_integer_literals_are_unknown_not_a_crash():
    """A hex literal is valid Python at any length; its decimal text is over Python's 4300-digit limit."""
    files = {"m.py": "N = 0x" + "f" * 5000 + "\nX = str(N)\nY = f'{N}'\nZ = '%d' % N\n"}
    assert [value_of(files, "m", n) for n in "XYZ"] == [UNKNOWN] * 3


def test_step_budget_names_itself():
    src = "def f(n):\n    return f(n) + f(n)\nX = [f(i) for i in " + repr(list(range(900))) + "]"
    with pytest.raises(Bound, match="helper calls|evaluation steps"):
        value_of({"m.py": src}, "m", "X", Budget(calls=100))


# ---- through the Alembic reader ---------------------------------------------------------------------------
def revision(body: str, header: str = "") -> str:
    return (f"from alembic import op\nimport sqlalchemy as sa\n{header}\nrevision = '2'\ndown_revision = '1'\n\n"
            "def upgrade():\n" + textwrap.indent(textwrap.dedent(body), "    "))


def read(src: str, files: dict[str, str] | None = None, path: str = "migrations/versions/0002.py"):
    files = {**(files or {}), path: src}
    proj = project(files)
    return read_revision(ast.parse(src), path, "postgresql", proj)


def test_statements_walk_as_ast_walk_without_expressions():
    from canary_lint.resolver.modules import ModuleScope, statements

    src = textwrap.dedent("""
        import a
        def f(x=lambda: 0):
            import b as x
            class C:
                def g(self):
                    from . import c
            try:
                import d
            except ImportError:
                from e import x
            finally:
                import fin
            match x:
                case 1:
                    import g
            with open(x) as h:
                for i in h:
                    while i:
                        if i:
                            import h
                        else:
                            from i import x
        async def k():
            import x
    """)
    tree = ast.parse(src)
    assert list(statements(tree)) == [n for n in ast.walk(tree) if isinstance(n, (ast.stmt, ast.Module,
                                                                                   ast.excepthandler, ast.match_case))]
    assert ModuleScope(tree, "m").local_imports == {"x": ("b", None), "c": ("", "c"), "d": ("d", None),
                                                   "fin": ("fin", None), "g": ("g", None), "h": ("h", None)}


def test_drop_table_over_an_appended_list():
    mig = read(revision('''
        tables = []
        for t in ("a", "b", "c", "d", "e", "f"):
            tables.append("legacy_" + t)
        for t in tables:
            op.drop_table(t)
    '''))
    assert [(o.kind, o.table) for o in mig.ops] == [(K.DROP_TABLE, f"legacy_{t}") for t in "abcdef"]


def test_helper_of_another_module_reported_at_the_call_site():
    helpers = {"app/migration_utils.py": '''
        from alembic import op
        TENANT_TABLES = ["projects", "quotas"]
        def rename(table, old="tenant_id", new="project_id"):
            op.alter_column(table, old, new_column_name=new)
            op.execute(f"UPDATE {table} SET {new} = {old}")
    '''}
    src = revision('''
        for table in TENANT_TABLES:
            if not column_exists(table, "tenant_id"):
                continue
            rename(table)
    ''', header="from app.migration_utils import TENANT_TABLES, rename")
    mig = read(src, helpers)
    renames = [(o.kind, o.table, o.column, o.new_name, o.line) for o in mig.ops if o.kind == K.RENAME_COLUMN]
    call_line = src.splitlines().index("        rename(table)") + 1
    assert renames == [(K.RENAME_COLUMN, t, "tenant_id", "project_id", call_line) for t in ("projects", "quotas")]
    assert all(o.line == call_line for o in mig.ops)


def test_either_branch_of_a_conditional_name_is_an_operation():
    mig = read(revision('''
        table = "orders_v2" if is_new() else "orders"
        op.drop_column(table, "legacy")
    '''))
    assert [(o.kind, o.table) for o in mig.ops] == [(K.DROP_COLUMN, "orders_v2"), (K.DROP_COLUMN, "orders")]


def test_a_computed_subject_keeps_the_operation_and_names_the_expression():
    mig = read(revision('''
        for table in get_data():
            op.alter_column(table, "tenant_id", new_column_name="project_id")
    '''))
    (op,) = mig.ops
    assert op.kind == K.RENAME_COLUMN and op.computed.startswith("each item of get_data() at line")


def test_a_hostile_revision_stops_at_a_named_bound():
    mig = read(revision('''
        s = "x" * 1000
        for a in ''' + repr(list(range(999))) + ''':
            s += s
        op.execute(s)
    '''))
    assert [o.kind for o in mig.ops] == [K.DYNAMIC]
    assert "s is a string over 1,000,000 characters at line" in mig.ops[0].detail


def test_relative_imports_of_a_package_init_are_the_package_itself():
    files = {"pkg/__init__.py": "from .conf import NAME\nfrom . import conf\nALSO = conf.NAME\n", "pkg/conf.py": "NAME = 'orders'\n"}
    assert value_of(files, "pkg", "NAME") == "orders" and value_of(files, "pkg", "ALSO") == "orders"


def test_dicts_built_by_item_assignment_update_and_setdefault():
    files = {"m.py": """
        def options(extra):
            opts = {"dsn": "x"}
            opts["release"] = "1.2"
            opts.update(env="prod", debug=False)
            opts.setdefault("sample", 0.1)
            opts.pop("debug")
            return opts
        def opaque(key):
            opts = {"dsn": "x"}
            opts[key] = 1
            return opts
        def merged(other):
            opts = {"dsn": "x"}
            opts.update(other)
            return opts
        A = options(1)
        B = opaque("k")
        C = merged(unknown())
    """}
    assert value_of(files, "m", "A") == {"dsn": "x", "release": "1.2", "env": "prod", "sample": 0.1}
    assert value_of(files, "m", "B") == {"dsn": "x", "k": 1}
    assert value_of(files, "m", "C") is UNKNOWN  # keys that cannot be known: the dict is not known either


def test_environment_reads_keep_their_fallback_for_app_readers():
    from canary_lint.resolver.app import AppEvaluator, env_name

    proj = project({"conf.py": """
        import os
        STORAGE = os.environ.get("REDIS_URL", "memory://")
        SECRET = os.environ["SECRET_KEY"]
        PLAIN = os.getenv("PLAIN")
    """})
    scope = proj.scope("conf")
    ev = AppEvaluator(scope)
    storage = ev.lookup("STORAGE", {SCOPE: scope})
    assert isinstance(storage, OneOf) and "memory://" in storage.choices
    assert [env_name(c) for c in storage.choices if c != "memory://"] == ["REDIS_URL"]
    assert env_name(ev.lookup("SECRET", {SCOPE: scope})) == "SECRET_KEY"
    assert env_name(ev.lookup("PLAIN", {SCOPE: scope})) == "PLAIN"
    # the plain evaluator (migrations) knows no environment: unknown, never a guess
    assert value_of({"conf.py": "import os\nX = os.environ.get('T', 'orders')\n"}, "conf", "X") is UNKNOWN


def test_an_undecided_if_or_try_leaves_one_of_its_blocks_values():
    files = {"m.py": """
        import os
        from conf import settings
        URL = settings.REDIS_URL
        KIND = "simple"
        if URL:
            KIND = "redis"
        if settings.MEMCACHED:
            BACKEND = "memcached"
        else:
            BACKEND = "filesystem"
        try:
            PORT = int(settings.PORT)
        except ValueError:
            PORT = 6379
        try:
            from ujson import dumps
        except ImportError:
            dumps = None
        def pick(flag):
            if flag:
                return "early"
            else:
                name = "late"
            return name
        LATE = pick(settings.FLAG)
        class Config:
            if URL:
                CACHE_TYPE = "redis"
            else:
                CACHE_TYPE = "filesystem"
            TIMEOUT = 300
        CONFIGURED = Config.CACHE_TYPE
    """}
    assert value_of(files, "m", "KIND") == OneOf(("redis", "simple"))
    assert value_of(files, "m", "BACKEND") == OneOf(("memcached", "filesystem"))
    assert value_of(files, "m", "PORT") is UNKNOWN  # the body's int() is unknown, so one of them is
    assert value_of(files, "m", "dumps") is not None  # the import decides, not the fallback
    assert value_of(files, "m", "LATE") == "late"  # the branch that returned does not reach the second return
    assert value_of(files, "m", "CONFIGURED") == OneOf(("redis", "filesystem"))


def test_a_name_rebound_after_the_if_is_the_later_value():
    assert value_of({"m.py": """
        from conf import settings
        if settings.X:
            MODE = "a"
        else:
            MODE = "b"
        MODE = "c"
    """}, "m", "MODE") == "c"


def test_one_of_several_dicts_gains_keys_and_answers_pure_methods_per_choice():
    files = {"m.py": """
        from conf import settings
        DEFAULTS = {"a": 1}
        def build():
            if settings.X:
                data = {"b": 2}
            else:
                data = DEFAULTS
            data["id"] = 3
            columns = ", ".join(data.keys())
            marks = ", ".join(f":{k}" for k in data.keys())
            return f"INSERT INTO t ({columns}) VALUES ({marks})"
        SQL = build()
    """}
    sql = value_of(files, "m", "SQL")
    # both statements the code can run; the names' choices are not tied to each other (no path sensitivity),
    # so the mixed ones are among the choices too
    assert isinstance(sql, OneOf) and len(sql.choices) == 4
    assert {"INSERT INTO t (b, id) VALUES (:b, :id)", "INSERT INTO t (a, id) VALUES (:a, :id)"} <= set(sql.choices)


def test_a_module_imported_inside_a_function_is_read():
    files = {"web/config.py": "LOG_FORMAT = '%(message)s'\n",
             "web/app.py": """
        def create_app():
            import config
            from config import LOG_FORMAT as fmt
            return config.LOG_FORMAT
        SEEN = create_app()
    """}
    assert value_of(files, "web.app", "SEEN") == "%(message)s"


def test_names_a_star_import_brings_are_read_from_that_module():
    files = {
        "conf/base.py": """
            TABLES = ["users", "orders"]
            _PRIVATE = ["hidden"]
        """,
        "conf/prod.py": """
            from .base import *  # noqa: F403
            EXTRA = TABLES + ["audit"]
        """,
        "conf/local.py": """
            from conf.prod import *  # noqa: F403
            from conf.missing import *  # noqa: F403
        """,
    }
    assert value_of(files, "conf.prod", "EXTRA") == ["users", "orders", "audit"]
    assert value_of(files, "conf.local", "TABLES") == ["users", "orders"]  # two star imports deep
    assert value_of(files, "conf.local", "_PRIVATE") is UNKNOWN  # `import *` leaves out underscore names


def test_star_imports_that_import_each_other_stay_bounded():
    files = {"a.py": "from b import *\nX = 1\n", "b.py": "from a import *\n"}
    assert value_of(files, "b", "X") == 1
    assert value_of(files, "a", "Y") is UNKNOWN


def test_dict_calls_ordered_and_default_dicts_are_dicts():
    assert value_of({"app/conf.py": """
        import collections
        from collections import OrderedDict, defaultdict
        BASE = {"timeout": 5}
        A = dict(BASE, retries=3)
        B = OrderedDict([("first", 1), ("second", 2)])
        C = collections.OrderedDict(dict(x=1), y=2)
        D = defaultdict(list, seen=[])
        E = dict(**A, name="x")
        ALL = [A, B, C, D, E]
    """}, "app.conf", "ALL") == [{"timeout": 5, "retries": 3}, {"first": 1, "second": 2}, {"x": 1, "y": 2},
                                 {"seen": []}, {"timeout": 5, "retries": 3, "name": "x"}]


def test_dict_call_of_an_unknown_mapping_stays_unknown():
    assert value_of({"app/conf.py": """
        import os
        A = dict(os.environ, extra=1)
    """}, "app.conf", "A") is UNKNOWN
