"""Structure-aware inputs, where they are cheap: a YAML/JSON document with one value replaced (OpenAPI specs,
Kubernetes/compose files, rollout plans), and generated migration statements (SQL DDL, Alembic `op.*`
calls, Django operations) built from hostile names and values."""

from __future__ import annotations

import datetime
import json
import re

from fuzzkit.mutate import Chooser, pick

MAX_NODES = 3000


def _deep(depth: int, kind: str):
    value: object = "x"
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


def hostile_values(ch: Chooser, here):
    """A value to put where `here` was: wrong types, edge numbers, long or odd strings, deep structures."""
    options = (
        lambda: None, lambda: True, lambda: 0, lambda: -1, lambda: 1e308, lambda: float("nan"), lambda: float("inf"),
        lambda: 2**64, lambda: 10**4000, lambda: "", lambda: "x" * 100000, lambda: [], lambda: {},
        lambda: [here, here], lambda: {"$ref": here}, lambda: _deep(pick(ch, (50, 500, 3000)), "list"),
        lambda: _deep(pick(ch, (50, 500, 3000)), "dict"), lambda: list(range(pick(ch, (100, 20000)))),
        lambda: datetime.date(2001, 1, 1), lambda: b"\xff\x00", lambda: "\ud800", lambda: "a\x00b",
        lambda: {"$ref": pick(ch, ("#/", "#", "", "#/components/schemas/Nope", "/etc/passwd", "../../x.yaml",
                                   "http://127.0.0.1:1/x.yaml", "#/paths/~1a~1{id}/get", "#/" + "a/" * 500,
                                   "x.yaml#/$defs/y", "#/components/schemas/" + "\u00e9" * 10))},
        lambda: {str(i): i for i in range(pick(ch, (10, 5000)))}, lambda: "$version", lambda: "{{ .Values.x }}",
        lambda: "1e999%", lambda: "9" * 5000 + "s", lambda: "-1ms", lambda: {"min": "1s", "max": "0s"},
        lambda: 3.0, lambda: "3.1.0", lambda: [None], lambda: {"": None}, lambda: {None: 1}, lambda: {1: 2},
    )
    return options[ch.int(0, len(options) - 1)]()


def _walk(node, path, out, seen=None):
    """(path, node) of the document's values, each container once (a loaded alias is shared; a recursive
    one refers to its parent), at most MAX_NODES of them and 200 deep."""
    seen = set() if seen is None else seen
    if len(out) >= MAX_NODES or len(path) > 200:
        return
    out.append((path, node))
    if isinstance(node, (dict, list)):
        if id(node) in seen:
            return
        seen.add(id(node))
    if isinstance(node, dict):
        for k, v in node.items():
            _walk(v, path + (k,), out, seen)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _walk(v, path + (i,), out, seen)


def _load(data: bytes):
    text = data.decode("utf-8")
    if text.lstrip().startswith(("{", "[")):
        return json.loads(text), "json"
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)), "yaml"


def _dump(ch: Chooser, doc, kind: str) -> bytes:
    if kind == "json" and ch.int(0, 3):
        return json.dumps(doc, ensure_ascii=bool(ch.int(0, 1)), default=str, indent=pick(ch, (None, 2))).encode(
            "utf-8", "surrogatepass")
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(doc, Dumper=dumper, allow_unicode=bool(ch.int(0, 1)), sort_keys=False,
                     default_flow_style=pick(ch, (False, None, True)), width=pick(ch, (80, 10**6)))
    return text.encode("utf-8", "surrogatepass")


def mutate_document(ch: Chooser, data: bytes) -> bytes | None:
    """The document with one value replaced, one key dropped or renamed, or one value made an alias of its
    parent (a recursive document); None when `data` does not load."""
    try:
        doc, kind = _load(data)
    except Exception:  # noqa: BLE001 - not a document: the byte-level mutations take it
        return None
    nodes: list = []
    _walk(doc, (), nodes)
    for _ in range(ch.int(1, 3)):
        path, node = pick(ch, nodes)
        if not path:
            continue
        what = ch.int(0, 3)
        try:
            parent = doc
            for key in path[:-1]:  # an earlier edit may have moved it
                parent = parent[key]
            key = path[-1]
            if what == 0 or not isinstance(parent, dict):
                parent[key] = hostile_values(ch, node)
            elif what == 1:
                del parent[key]
            elif what == 2:
                parent[pick(ch, ("", "$ref", "\u00e9" * 3, "x" * 5000, "<<", "a/b~c", "{id}", "null", "123"))] = \
                    parent.pop(key)
            else:
                parent[key] = parent  # a recursive alias once dumped as YAML
                kind = "yaml"
        except (KeyError, IndexError, TypeError):
            continue
    try:
        return _dump(ch, doc, kind)
    except (ValueError, TypeError, RecursionError):  # e.g. a recursive value and json, or 10**4000 and str()
        return None


# ---- generated migrations ------------------------------------------------------------------------
IDENTS = ("users", "orders", "t", "nickname", "display_name", "id", "Weird Name", 'a"b', "x" * 200, "\u00fcber",
          "public.users", "", "select", "1a", "a.b.c", "%s", "{0}", "$1", "\x00", "--", "/*", "users_pkey")
SQL_TYPES = ("int", "bigint", "text", "varchar(10)", "varchar(99999999999)", "numeric(1000, 999)", "jsonb", "uuid",
             "timestamp with time zone", "int[]", "serial", "citext", "enum_t", "decimal(", "int4range", "bit(0)")
SQL_VALUES = ("0", "'x'", "NULL", "now()", "nextval('s')", "1e999", "''", "'" + "a" * 1000 + "'", "gen_random_uuid()",
              "9" * 500, "(SELECT 1)", "'{}'::jsonb", "-1", "true", "CURRENT_TIMESTAMP", "$$x$$", "E'\\n'")


def _q(ch: Chooser, ident: str) -> str:
    form = ch.int(0, 3)
    if form == 0 and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", ident or "-"):
        return ident
    if form == 3:
        return "`" + ident + "`"
    return '"' + ident.replace('"', '""') + '"'


def gen_sql(ch: Chooser) -> str:
    t, c, c2 = (_q(ch, pick(ch, IDENTS)) for _ in range(3))
    ty, v = pick(ch, SQL_TYPES), pick(ch, SQL_VALUES)
    forms = (
        f"ALTER TABLE {t} ADD COLUMN {c} {ty}{pick(ch, ('', ' NOT NULL', ' NULL'))}{pick(ch, ('', f' DEFAULT {v}'))};",
        f"ALTER TABLE {t} DROP COLUMN {pick(ch, ('', 'IF EXISTS '))}{c}{pick(ch, ('', ' CASCADE'))};",
        f"ALTER TABLE {t} RENAME COLUMN {c} TO {c2};",
        f"ALTER TABLE {t} ALTER COLUMN {c} TYPE {ty}{pick(ch, ('', f' USING {c}::{ty}'))};",
        f"ALTER TABLE {t} ALTER COLUMN {c} {pick(ch, ('SET NOT NULL', 'DROP NOT NULL', f'SET DEFAULT {v}'))};",
        f"ALTER TABLE {t} ADD CONSTRAINT {c2} "
        f"{pick(ch, (f'FOREIGN KEY ({c}) REFERENCES {t} ({c2})', f'UNIQUE ({c})', f'CHECK ({c} > {v})'))}"
        f"{pick(ch, ('', ' NOT VALID'))};",
        f"CREATE {pick(ch, ('', 'UNIQUE '))}INDEX {pick(ch, ('', 'CONCURRENTLY '))}{pick(ch, ('', 'IF NOT EXISTS '))}"
        f"{c2} ON {t} ({c}){pick(ch, ('', f' WHERE {c} IS NOT NULL'))};",
        f"DROP INDEX {pick(ch, ('', 'CONCURRENTLY '))}{c2};",
        f"DROP TABLE {t};", f"ALTER TABLE {t} RENAME TO {c2};", f"CREATE TABLE {t} ({c} {ty}, {c2} {ty});",
        f"UPDATE {t} SET {c} = {v};", "BEGIN;", "COMMIT;", "SET lock_timeout = '1s';",
        f"CREATE TYPE {c} AS ENUM ('a', 'b');", f"ALTER TYPE {c} ADD VALUE {v};", f"ALTER TABLE {t} VALIDATE CONSTRAINT {c};",
        f"CREATE VIEW {c} AS SELECT {c2} FROM {t};", f"DROP VIEW {c};", f"TRUNCATE {t};", f"INSERT INTO {t} VALUES ({v});",
    )
    return pick(ch, forms)


def _py_str(ch: Chooser) -> str:
    name = pick(ch, IDENTS)
    form = ch.int(0, 6)
    if form == 1:
        return f"f'{{NAME}}{name[:10]!s}'"
    if form == 2:
        return f"{name!r} + {pick(ch, IDENTS)!r}"
    if form == 3:
        return pick(ch, ("'%s' % NAME", "'{}'.format(NAME)", "'%1500000000d' % 1", "'x' * 10**9", "NAME", "None",
                         "str(10**5000)", "TABLES[0]", "'_'.join(['a'] * 10**8)", "CONST * 10**9"))
    return repr(name)


def gen_alembic(ch: Chooser) -> str:
    t, c = _py_str(ch), _py_str(ch)
    sa_type = pick(ch, ("String(50)", "Integer()", "Text", "Boolean()", 'Enum("a", name="e")', "JSON"))
    nullable = pick(ch, ("", ", nullable=False", ", nullable=True", ", nullable=X"))
    default = pick(ch, ("", ', server_default="0"', ', server_default=sa.text("now()")', ", default=1"))
    col = f"sa.Column({c}, sa.{sa_type}{nullable}{default})"
    alter = pick(ch, ('new_column_name="d"', "nullable=False", "type_=sa.Text()", "server_default=None", "**kw"))
    sql = pick(ch, ('"' + gen_sql(ch).replace('"', "'") + '"', "sa.text(SQL)", "SQL % NAME", 'f"DROP TABLE {NAME}"'))
    forms = (
        f"op.add_column({t}, {col})", f"op.drop_column({t}, {c})",
        f"op.alter_column({t}, {c}, {alter})",
        f"op.create_index({c}, {t}, [{c}]{pick(ch, ('', ', unique=True', ', postgresql_concurrently=True'))})",
        f"op.drop_index({c}{pick(ch, ('', f', table_name={t}'))})", f"op.rename_table({t}, {c})", f"op.drop_table({t})",
        f"op.execute({sql})",
        f"op.create_foreign_key(None, {t}, {t}, [{c}], ['id'])", f"op.create_unique_constraint(None, {t}, [{c}])",
        f"with op.batch_alter_table({t}) as b:\n        b.drop_column({c})",
        f"op.create_table({t}, sa.Column('id', sa.Integer, primary_key=True), {col})",
        f"op.bulk_insert({t}, [{{'a': 1}}] * 10**9)", f"for NAME in TABLES:\n        op.drop_column(NAME, {c})",
        f"if context.is_offline_mode():\n        op.drop_column({t}, {c})", f"op.{pick(ch, IDENTS).replace(' ', '_')}({t})",
    )
    return pick(ch, forms)


def gen_django(ch: Chooser) -> str:
    m, f = _py_str(ch), _py_str(ch)
    cls = pick(ch, ("CharField", "IntegerField", "ForeignKey", "TextField", "BooleanField", "JSONField", "X"))
    kw = pick(ch, ("", "max_length=10", "null=True", "default=0", "db_index=True", "unique=True",
                   'to="a.b", on_delete=models.CASCADE', "db_column=NAME", "**KW"))
    field = f"models.{cls}({kw})"
    forms = (
        f"migrations.AddField(model_name={m}, name={f}, field={field})", f"migrations.RemoveField(model_name={m}, name={f})",
        f"migrations.RenameField(model_name={m}, old_name={f}, new_name={_py_str(ch)})",
        f"migrations.AlterField(model_name={m}, name={f}, field={field})", f"migrations.DeleteModel(name={m})",
        f"migrations.RenameModel(old_name={m}, new_name={f})", f"migrations.CreateModel(name={m}, fields=[('id', {field})])",
        f"migrations.AddIndex(model_name={m}, index=models.Index(fields=[{f}], name={_py_str(ch)}))",
        f"migrations.RunSQL({pick(ch, (repr(gen_sql(ch)), 'SQL', '[(SQL, None)]', 'migrations.RunSQL.noop'))})",
        "migrations.RunPython(forwards, migrations.RunPython.noop)", f"migrations.AlterModelTable(name={m}, table={f})",
        f"migrations.SeparateDatabaseAndState(state_operations=[migrations.RemoveField({m}, {f})])",
        f"migrations.AddConstraint(model_name={m}, constraint=models.UniqueConstraint(fields=[{f}], name='u'))",
        f"migrations.AlterUniqueTogether(name={m}, unique_together={{({f},)}})", "*OPS", f"migrations.{pick(ch, IDENTS)}()",
    )
    return pick(ch, forms)


PY_PRELUDE = "NAME = 'users'\nTABLES = ['users', 'orders']\nCONST = 'x'\nSQL = 'ALTER TABLE users DROP COLUMN nickname'\n"


def generate_into(ch: Chooser, front: str, data: bytes) -> bytes | None:
    n = pick(ch, (1, 3, 20, 500))
    if front == "sql":
        stmts = "\n".join(gen_sql(ch) for _ in range(n))
        at = pick(ch, (len(data), 0))
        return data[:at] + b"\n" + stmts.encode("utf-8", "surrogatepass") + b"\n" + data[at:]
    if front == "alembic":
        m = re.search(rb"^def upgrade\([^)]*\)[^:\n]*:\n", data, re.M)
        if not m:
            return None
        body = "".join(f"    {gen_alembic(ch)}\n" for _ in range(n)).encode("utf-8", "surrogatepass")
        return PY_PRELUDE.encode() + data[:m.end()] + body + data[m.end():]
    if front == "django":
        m = re.search(rb"operations\s*=\s*\[\n?", data)
        if not m:
            return None
        body = "".join(f"        {gen_django(ch)},\n" for _ in range(n)).encode("utf-8", "surrogatepass")
        return PY_PRELUDE.encode() + data[:m.end()] + body + data[m.end():]
    return None
