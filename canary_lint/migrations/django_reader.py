"""Django migrations, read statically with stdlib `ast` (the project and Django are never imported).

A migration is `<app>/migrations/NNNN_name.py` defining `class Migration(migrations.Migration)`. Its
`dependencies` (across apps), `replaces` (squashed migrations), `run_before` and `initial` order the
history; the app label comes from the app's `apps.py` (`label`, else the last part of `name`) or its
directory. The migrations are replayed in Django's order through one model state, and each becomes a
`Migration` of normalized `Op`s that the same CLM rules judge as Alembic revisions and SQL files.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from canary_lint.pyast import source_of
from canary_lint.migrations.django_fields import literal
from canary_lint.migrations.django_ops import Converter, State
from canary_lint.migrations.history import HistoryProblem
from canary_lint.migrations import ops as K
from canary_lint.migrations.ops import Migration, Op

APPS_PY_LIMIT = 1_000_000


@dataclass
class DjangoFile:
    path: str
    app: str
    name: str
    tree: ast.Module
    cls: ast.ClassDef
    deps: list = field(default_factory=list)  # [(app, name)]
    replaces: list = field(default_factory=list)
    run_before: list = field(default_factory=list)
    atomic: bool = True
    operations: list = field(default_factory=list)  # ast nodes
    readable: bool = True  # `operations` was a literal list

    @property
    def key(self) -> tuple[str, str]:
        return self.app, self.name


def migration_class(tree: ast.Module) -> ast.ClassDef | None:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Migration":
            for b in node.bases:
                if (isinstance(b, ast.Attribute) and b.attr == "Migration") or (isinstance(b, ast.Name)
                                                                                and b.id == "Migration"):
                    return node
    return None


def app_dir(rel: str) -> str:
    """`shop/migrations/0001_initial.py` -> `shop`."""
    return PurePosixPath(rel).parent.parent.as_posix()


def app_label(apps: ast.Module | None, directory: str) -> str:
    """The label Django uses: `AppConfig.label`, else the last part of `AppConfig.name` (read from the app's
    apps.py module), else the directory."""
    label = name = None
    for node in ast.walk(apps) if apps is not None else ():
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                    value = literal(stmt.value)
                    if isinstance(value, str) and stmt.targets[0].id == "label":
                        label = label or value
                    elif isinstance(value, str) and stmt.targets[0].id == "name":
                        name = name or value
    if label or name:
        return label or name.rpartition(".")[2]
    return PurePosixPath(directory).name or directory


def label_of(ctx, directory: str, side: str = "head") -> str:
    """The label of the app in `directory` (display path) of the head or base tree, read once per run. The
    head's apps.py comes from the run's files (parsed once, shared), else from beside the migrations package
    on disk when only migrations directories were named: a regular file inside the checked tree only."""
    rel = f"{directory}/apps.py" if directory not in ("", ".") else "apps.py"

    def tree() -> ast.Module | None:
        if side == "base":
            return ctx.base_python_ast(rel)
        file = next((f for f in ctx.files if f.path == rel), None)
        if file is not None:
            return ctx.python_ast(file)
        from canary_lint.discovery import read_regular
        from canary_lint.pysource import TemplateSource
        from canary_lint.pysource import parse as parse_python

        path = (ctx.cwd / rel)
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if ctx.cwd.resolve() not in real.parents:
            return None
        data = read_regular(real, APPS_PY_LIMIT)
        if data is None:
            return None
        try:
            return parse_python(data.decode("utf-8", "replace"), rel)
        except (SyntaxError, ValueError, RecursionError, MemoryError, TemplateSource):
            return None
    return ctx.cached(("django", "label", side, directory), lambda: app_label(tree(), directory))


def _dep(node: ast.AST) -> tuple[str, str] | None:
    value = literal(node)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return value[0], value[1]
    return None  # swappable_dependency(settings.AUTH_USER_MODEL) and friends: another project's app


def parse(tree: ast.Module, path: str, app: str) -> DjangoFile | None:
    cls = migration_class(tree)
    if cls is None:
        return None
    f = DjangoFile(path, app, PurePosixPath(path).stem, tree, cls)
    for stmt in cls.body:
        if not (isinstance(stmt, (ast.Assign, ast.AnnAssign))):
            continue
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        value = stmt.value
        if value is None:
            continue
        if "dependencies" in names or "replaces" in names or "run_before" in names:
            items = [d for d in (_dep(e) for e in getattr(value, "elts", [])) if d]
            if "dependencies" in names:
                f.deps = items
            elif "replaces" in names:
                f.replaces = items
            else:
                f.run_before = items
        elif "atomic" in names:
            f.atomic = literal(value) is not False
        elif "operations" in names:  # the last assignment is the one Django reads
            if isinstance(value, (ast.List, ast.Tuple)):
                f.readable = True
                f.operations = list(value.elts)
            else:
                f.readable = False
                f.operations = [value]
    return f


def order(files: list[DjangoFile], complete: bool) -> tuple[list[DjangoFile], list[HistoryProblem], set]:
    """Django's order (dependencies first, ties by app and name), the history problems, and the squashed
    or replaced migrations that are not replayed (keys). `complete`: every migration of the apps is at hand
    (not a pre-commit run on some files), so missing dependencies and extra leaves can be reported."""
    by_key = {f.key: f for f in files}
    problems: list[HistoryProblem] = []
    skipped: set = set()
    alias: dict = {}
    for f in files:  # a squash replaces its originals when they are gone, else the originals are replayed
        if f.replaces:
            if all(r in by_key for r in f.replaces):
                skipped.add(f.key)
            else:
                for r in f.replaces:
                    alias[r] = f.key
                    if r in by_key:
                        skipped.add(r)
    apps = {f.app for f in files}
    live = [f for f in files if f.key not in skipped]
    first: dict = {}
    for f in sorted(live, key=lambda f: f.name):
        first.setdefault(f.app, f.key)
    deps: dict = {f.key: set() for f in live}
    for f in live:
        for app, name in f.deps:
            if name == "__first__":
                target = first.get(app)
            elif name == "__latest__":
                target = None
            else:
                target = alias.get((app, name), (app, name))
            if target is None:
                continue
            if target in deps:
                deps[f.key].add(target)
            elif target in skipped:  # a squash replayed as its originals: depend on all of them
                if target in by_key:
                    deps[f.key].update(r for r in by_key[target].replaces if r in deps)
                continue
            elif app in apps and complete:
                problems.append(HistoryProblem(
                    f, f"depends on migration {app}.{name}, which does not exist in the tree; Django refuses to "
                       "migrate (NodeNotFoundError)",
                    "fix the dependency to name an existing migration of the app (or add the missing file)",
                    f"django-missing:{app}.{name}"))
        for app, name in f.run_before:
            target = alias.get((app, name), (app, name))
            if target in deps:
                deps[target].add(f.key)
    # leaves: one per app, or Django refuses to migrate until they are merged
    if complete:
        needed = {d for ds in deps.values() for d in ds}
        for app in sorted(apps):
            leaves = sorted(k for k in deps if k[0] == app and k not in needed)
            if len(leaves) > 1:
                for key in leaves[1:]:
                    f = by_key[key]
                    problems.append(HistoryProblem(
                        f, f"app {app} has {len(leaves)} leaf migrations ({', '.join(k[1] for k in leaves)}): Django "
                           "refuses to migrate (\"Conflicting migrations detected\")",
                        "run `manage.py makemigrations --merge` (or make one depend on the other)",
                        f"django-leaves:{app}"))
    out: list[DjangoFile] = []
    done: set = set()
    pending = sorted(deps, key=lambda k: (k[1][:4], k[0], k[1]))
    while pending:
        progress = False
        rest = []
        for key in pending:
            if deps[key] <= done:
                out.append(by_key[key])
                done.add(key)
                progress = True
            else:
                rest.append(key)
        if not progress:  # a cycle: Django refuses it; replay the rest by name
            f = by_key[rest[0]]
            problems.append(HistoryProblem(
                f, f"migrations of {', '.join(sorted({k[0] for k in rest}))} depend on each other in a cycle; Django "
                   "refuses to migrate (CircularDependencyError)", "break the cycle in `dependencies`",
                f"django-cycle:{rest[0][0]}"))
            out.extend(by_key[k] for k in rest)
            break
        pending = rest
    return out, problems, skipped


def replay(files: list[DjangoFile], dialect: str) -> list[Migration]:
    """Each migration's `Migration` of normalized ops, in Django's order, through one model state."""
    state = State()
    out = []
    for f in files:
        conv = Converter(state, f.app, dialect, f.atomic, f.path)
        if not f.readable:
            node = f.operations[0]
            conv.add(Op(K.DYNAMIC, detail=f"operations = {source_of(node)}"), node)
        else:
            for node in f.operations:
                conv.operation(node)
        out.append(Migration(f.path, "django", "django", revision=f"{f.app}.{f.name}",
                             down=tuple(f"{a}.{n}" for a, n in f.deps), ops=conv.ops, revision_line=f.cls.lineno))
    return out


def read_alone(text: str, path: str, app: str, dialect: str) -> Migration | None:
    """One migration read without its history (fresh model state): to compare two versions of one file."""
    from canary_lint.pysource import TemplateSource
    from canary_lint.pysource import parse as parse_python

    try:
        tree = parse_python(text, path)
    except (SyntaxError, ValueError, RecursionError, MemoryError, TemplateSource):
        return None
    f = parse(tree, path, app)
    return replay([f], dialect)[0] if f is not None else None


def read_django(ctx) -> tuple[list[Migration], list[HistoryProblem]]:
    """Every Django migration of the release as `Migration`s in Django's order, and the history problems."""
    from canary_lint.discovery import is_test_path

    # the test apps of a package are not the service's history (unless named on the command line)
    files = [f for f in ctx.files_of("django") if f.explicit or not is_test_path(f.path)]
    if not files:
        return [], []
    parsed: list[DjangoFile] = []
    for file in files:
        with ctx.guard(file.path, "migrations"):
            tree = ctx.python_ast(file)
            if tree is None:
                continue
            f = parse(tree, file.path, label_of(ctx, app_dir(file.path)))
            if f is not None:
                parsed.append(f)
    complete = not any(f.explicit for f in files)
    ordered, problems, _ = order(parsed, complete)
    migrations = replay(ordered, ctx.config.dialect)
    by_file = {m.path: m for m in migrations}
    problems = [HistoryProblem(by_file[p.migration.path], p.message, p.fix, p.subject) for p in problems
                if p.migration.path in by_file]
    return migrations, problems
