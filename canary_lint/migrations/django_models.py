"""What a tree's Django models map: `class Order(models.Model)` with its fields, read with stdlib `ast`.

The table is `Meta.db_table`, else `<app_label>_<model>`; each concrete field maps its column (`db_column`,
`<name>_id` for foreign keys), and fields of abstract bases and mixins defined in the same module are
inherited. Django's ORM selects every column of a model on every query, so a column a v1 model still maps is
a column v1 reads.
"""

from __future__ import annotations

import ast
import re
from pathlib import PurePosixPath

from canary_lint.migrations.django_fields import RELATIONS, field_info, literal
from canary_lint.migrations.usage import Use, UsageIndex
from canary_lint.pyast import call_name

MODELS_WORD = re.compile(r"\bmodels\b|\bModel\b")
MODEL_BASES = {"Model", "PolymorphicModel", "TimeStampedModel", "MPTTModel", "AbstractUser", "AbstractBaseUser"}


def names_models(text: str) -> bool:
    """Does the text name Django's `models` or a `Model` (as a word)? A substring test first: the word search
    tries every position of a text that holds neither."""
    return ("models" in text or "Model" in text) and MODELS_WORD.search(text) is not None


def app_dir_of(path: str) -> str:
    """`shop/models.py` -> `shop`; `shop/models/order.py` -> `shop`."""
    p = PurePosixPath(path)
    parent = p.parent
    if parent.name == "models":
        parent = parent.parent
    return parent.as_posix()


def _meta(cls: ast.ClassDef) -> dict:
    out: dict = {}
    for stmt in cls.body:
        if isinstance(stmt, ast.ClassDef) and stmt.name == "Meta":
            for s in stmt.body:
                if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name):
                    out[s.targets[0].id] = literal(s.value)
    return out


def _fields(cls: ast.ClassDef) -> list[tuple[str, ast.Call, int]]:
    out = []
    for stmt in cls.body:
        target = value = None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            target, value = stmt.targets[0].id, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            target, value = stmt.target.id, stmt.value
        if target and isinstance(value, ast.Call):
            name = call_name(value)
            if name.endswith("Field") or name in RELATIONS:
                out.append((target, value, stmt.lineno))
    return out


def _is_models_call(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name) and \
        call.func.value.id == "models"


def _base_names(cls: ast.ClassDef) -> list[str]:
    return [call_name(b) if not isinstance(b, ast.Name) else b.id for b in cls.bases]


def index_django(index: UsageIndex, path: str, tree: ast.Module, label: str, dialect: str = "postgresql") -> int:
    """Add the tables and columns of the module's Django models to `index`; returns how many models."""
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}

    def is_model(cls: ast.ClassDef, seen: frozenset = frozenset()) -> bool:
        for b in _base_names(cls):
            if b in MODEL_BASES:
                return True
            if b in classes and b not in seen and is_model(classes[b], seen | {cls.name}):
                return True
        return False

    def inherited(cls: ast.ClassDef, seen: frozenset = frozenset()) -> list:
        out = []
        for b in _base_names(cls):
            if b in classes and b not in seen:
                base = classes[b]
                out += inherited(base, seen | {cls.name}) + _fields(base)
        return out

    count = 0
    for cls in classes.values():
        # a model: a subclass of models.Model (directly or through a base of this module), or a class with
        # Django fields whose base lives in another module (an abstract base or a mixin)
        if not is_model(cls) and not any(_is_models_call(v) for _, v, _ in _fields(cls)):
            continue
        meta = _meta(cls)
        if meta.get("abstract") is True or meta.get("proxy") is True:
            continue
        table = meta.get("db_table") if isinstance(meta.get("db_table"), str) else f"{label}_{cls.name.lower()}"
        count += 1
        index.add_table(table, Use(path, cls.lineno, "maps"))
        for name, call, line in inherited(cls) + _fields(cls):
            f = field_info(name, call, dialect)
            if f is None:
                continue
            if f.m2m:  # the join table Django makes for the field (`<table>_<field>`) is v1's too
                if not f.through:
                    through = f.kwargs.get("db_table")
                    through = literal(through) if through is not None else None
                    index.add_table(through if isinstance(through, str) else f"{table}_{name}".lower(),
                                    Use(path, line, "maps"))
                continue
            index.add_column(table, f.column, Use(path, line, "maps"))
    return count
