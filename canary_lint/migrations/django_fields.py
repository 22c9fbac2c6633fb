"""Django model fields read from `ast` (never imported): the column each one makes and its SQL type.

`field_info(call, dialect)` turns `models.CharField(max_length=64, null=True)` into a `Field` holding what
the database sees (column name, type, NULL, server default, unique, index, foreign key) and a signature of
the database-relevant attributes, so an `AlterField` that only changes Python-side attributes (choices,
verbose_name, help_text, validators, a Python `default`) is known to be a no-op.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from canary_lint.model import literal_text
from canary_lint.pyast import call_name, dump_of

# Python-side attributes: changing them never touches the database
PYTHON_ONLY = frozenset({
    "verbose_name", "help_text", "choices", "validators", "default", "editable", "blank", "error_messages",
    "auto_now", "auto_now_add", "related_name", "related_query_name", "limit_choices_to", "on_delete",
    "upload_to", "storage", "serialize", "unique_for_date", "unique_for_month", "unique_for_year", "db_comment",
    "db_tablespace", "to_field", "swappable", "symmetrical", "parent_link", "max_digits_help", "width_field",
    "height_field", "path", "match", "recursive", "allow_files", "allow_folders", "protocol", "unpack_ipv4",
    "encoder", "decoder", "through_fields", "form_class",
})

_PG = {
    "AutoField": "INTEGER", "BigAutoField": "BIGINT", "SmallAutoField": "SMALLINT",
    "IntegerField": "INTEGER", "BigIntegerField": "BIGINT", "SmallIntegerField": "SMALLINT",
    "PositiveIntegerField": "INTEGER", "PositiveBigIntegerField": "BIGINT", "PositiveSmallIntegerField": "SMALLINT",
    "BooleanField": "BOOLEAN", "NullBooleanField": "BOOLEAN", "TextField": "TEXT", "DateField": "DATE",
    "DateTimeField": "TIMESTAMP WITH TIME ZONE", "TimeField": "TIME", "DurationField": "INTERVAL",
    "FloatField": "DOUBLE PRECISION", "UUIDField": "UUID", "JSONField": "JSONB", "BinaryField": "BYTEA",
    "GenericIPAddressField": "INET", "IPAddressField": "CHAR(15)",
}
_MYSQL = {**_PG, "TextField": "LONGTEXT", "DateTimeField": "DATETIME", "DurationField": "BIGINT",
          "FloatField": "DOUBLE PRECISION", "UUIDField": "CHAR(32)", "JSONField": "JSON", "BinaryField": "LONGBLOB",
          "GenericIPAddressField": "CHAR(39)"}
_SQLITE = {**_PG, "DateTimeField": "DATETIME", "UUIDField": "CHAR(32)", "JSONField": "TEXT", "BinaryField": "BLOB",
           "GenericIPAddressField": "CHAR(39)", "DurationField": "BIGINT"}
TYPES = {"postgresql": _PG, "mysql": _MYSQL, "sqlite": _SQLITE}
# fields with a max_length and its default
CHAR_FIELDS = {"CharField": None, "EmailField": 254, "SlugField": 50, "URLField": 200, "FileField": 100,
               "ImageField": 100, "FilePathField": 100, "CommaSeparatedIntegerField": None}
INDEXED_BY_DEFAULT = {"SlugField"}
RELATIONS = {"ForeignKey", "OneToOneField", "ManyToManyField", "ParentalKey", "TreeForeignKey",
             "ParentalManyToManyField"}


@dataclass
class Field:
    name: str  # the model attribute
    kind: str  # the field class name
    column: str
    type: str | None
    null: bool = False
    primary_key: bool = False
    unique: bool = False
    db_index: bool = False
    db_default: str | None = None  # a server default (Django 5 `db_default`)
    has_default: bool = False  # a Python `default` (not in the database after the migration)
    target: str | None = None  # relations: "app.Model", "Model" or "setting:AUTH_USER_MODEL"
    m2m: bool = False
    through: bool = False  # an explicit `through=` model (no auto-created table)
    db_constraint: bool = True
    signature: str = ""  # the database-relevant attributes, for AlterField
    line: int = 1
    kwargs: dict = field(default_factory=dict)


def literal(node: ast.AST | None):
    """A Python literal (or None when it is not one); `True`/`False`/numbers/strings/tuples/lists."""
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _sql_default(node: ast.AST) -> str | None:
    """`db_default=` as SQL text: literals become SQL literals, `Now()`/`Value(x)`/functions their call."""
    if isinstance(node, ast.Call) and call_name(node) == "Value" and node.args:
        node = node.args[0]
    if isinstance(node, ast.Constant) and node.value is None:
        return None  # db_default=None: DEFAULT NULL, which a NOT NULL column rejects
    value = literal(node)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return literal_text(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(node, ast.Call):
        name = call_name(node)
        return {"Now": "now()", "RandomUUID": "gen_random_uuid()", "Random": "random()"}.get(name, f"{name}()")
    return "<expression>" if node is not None else None


def _target(node: ast.AST | None) -> str | None:
    """The model a relation points at, normalized as Django compares it: "app.model" with the model name
    in lower case (`"shop.Customer"` and `"shop.customer"` are one model), or "setting:NAME"."""
    if node is None:
        return None
    value = literal(node)
    if isinstance(value, str):
        app, dot, model = value.rpartition(".")
        return f"{app}{dot}{model.lower()}" if model != "self" else value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "settings":
        return f"setting:{node.attr}"
    if isinstance(node, ast.Name):
        return node.id.lower()
    if isinstance(node, ast.Call) and call_name(node) == "get_model_name" and len(node.args) == 2:
        app, model = literal(node.args[0]), literal(node.args[1])  # swapper.get_model_name("app", "Model")
        if isinstance(app, str) and isinstance(model, str):
            return f"{app}.{model.lower()}"
    return None


def field_info(name: str, call: ast.AST, dialect: str) -> Field | None:
    """The `Field` of `name = <call>`, or None when `call` is not a field constructor."""
    if not isinstance(call, ast.Call):
        return None
    kind = call_name(call)
    kwargs = {k.arg: k.value for k in call.keywords if k.arg}
    lit = {k: literal(v) for k, v in kwargs.items()}
    types = TYPES.get(dialect, _PG)
    f = Field(name, kind, name, None, line=call.lineno, kwargs=kwargs)
    f.null = lit.get("null") is True
    f.primary_key = lit.get("primary_key") is True
    f.unique = lit.get("unique") is True or kind == "OneToOneField" or f.primary_key
    f.has_default = "default" in kwargs
    if "db_default" in kwargs:
        f.db_default = _sql_default(kwargs["db_default"])
    if kind in RELATIONS:
        f.target = _target(kwargs.get("to") or (call.args[0] if call.args else None))
        f.db_constraint = lit.get("db_constraint") is not False
        if kind in ("ManyToManyField", "ParentalManyToManyField"):
            f.m2m = True
            f.through = "through" in kwargs
            f.column = ""
        else:
            f.column = f"{name}_id"
            f.db_index = lit.get("db_index") is not False
    else:
        f.db_index = lit.get("db_index") is True or (kind in INDEXED_BY_DEFAULT and lit.get("db_index") is not False)
    if isinstance(lit.get("db_column"), str):
        f.column = lit["db_column"]
    f.type = _type(kind, call, lit, types, dialect)
    relevant = sorted((k, dump_of(v)) for k, v in kwargs.items() if k not in PYTHON_ONLY and k != "to")
    f.signature = f"{kind}|{f.target}|{relevant}"
    return f


def _type(kind: str, call: ast.Call, lit: dict, types: dict, dialect: str) -> str | None:
    if kind in CHAR_FIELDS:
        n = lit.get("max_length", CHAR_FIELDS[kind])
        if isinstance(n, int) and not isinstance(n, bool):
            return f"VARCHAR({literal_text(n)})"
        return "VARCHAR" if dialect != "mysql" else None
    if kind == "DecimalField":
        digits, places = lit.get("max_digits"), lit.get("decimal_places")
        if isinstance(digits, int) and isinstance(places, int):
            return f"NUMERIC({literal_text(digits)},{literal_text(places)})"
        return "NUMERIC"
    if kind == "ArrayField":
        base = call.args[0] if call.args else None
        for k in call.keywords:
            if k.arg == "base_field":
                base = k.value
        inner = field_info("item", base, dialect) if base is not None else None
        return f"{inner.type}[]" if inner is not None and inner.type else None
    if kind in ("ForeignKey", "OneToOneField", "ParentalKey", "TreeForeignKey"):
        return None  # the target's primary key type: resolved against the model state
    return types.get(kind)


def null_only(cond, columns) -> tuple:
    """A conditional UniqueConstraint's `Q(event__isnull=True)`, `Q(("event__isnull", True))` (the form
    makemigrations writes) or `Q(event=None, deleted_at__isnull=True)` -> the columns it requires NULL
    (`columns(fields)` maps field names to columns); () for any other condition (OR, negated, comparisons)."""
    if not (isinstance(cond, ast.Call) and isinstance(cond.func, ast.Name | ast.Attribute)
            and (cond.func.id if isinstance(cond.func, ast.Name) else cond.func.attr) == "Q"):
        return ()
    pairs = [(k.arg, k.value) for k in cond.keywords]
    for a in cond.args:
        if not (isinstance(a, ast.Tuple) and len(a.elts) == 2 and isinstance(a.elts[0], ast.Constant)
                and isinstance(a.elts[0].value, str)):
            return ()  # a nested Q, an expression
        pairs.append((a.elts[0].value, a.elts[1]))
    fields = []
    for lookup, value in pairs:
        if lookup == "_connector" and literal(value) == "AND":
            continue
        if lookup and lookup.endswith("__isnull") and literal(value) is True:
            fields.append(lookup[:-len("__isnull")])
        elif lookup and not lookup.startswith("_") and "__" not in lookup \
                and isinstance(value, ast.Constant) and value.value is None:
            fields.append(lookup)
        else:
            return ()
    return tuple(columns(fields)) if fields else ()
