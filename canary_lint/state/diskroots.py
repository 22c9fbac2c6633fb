"""Local directories a module writes files under when they are configured elsewhere in the tree (CLS107).

A module's own `UPLOAD_DIR = "/srv/uploads"` is read by `localdisk.local_roots`. Real services configure the
directory once and use it everywhere:

    from shop.config import UPLOAD_DIR          a module-level path of another module of the tree
    import config; config.STORAGE_DIR           (also `from shop import config`, or imported inside a function)
    from django.conf import settings            a setting of the Django settings the service runs with
    settings.MEDIA_ROOT / "originals"           (see djsettings: DJANGO_SETTINGS_MODULE, split settings)
    current_app.config["UPLOAD_FOLDER"]         a key set in a `config`/`settings` module or a `*Config` class

Each is found statically through the resolver's module table; nothing is imported. The names read are the
ones `local_roots` accepts: `*_DIR`, `*_FOLDER`, `*_PATH`, `*_ROOT`, `*STORAGE*` bound to a local path.
"""

from __future__ import annotations

import ast

from canary_lint import djsettings
from canary_lint.resolver.modules import ModuleScope, definition, module_name, tree_project
from canary_lint.state.localdisk import dir_like, local_roots

CONFIG_MODULE_WORDS = ("config", "settings", "conf")


def imported_roots(ctx, path: str, tree: ast.Module, text: str) -> dict[str, str]:
    """Roots this module reaches through imports: `name` (from-import), `alias.NAME` (module or Django
    settings attribute) or a bare config key -> the path text of its definition."""
    project = tree_project(ctx)
    scope = project.scope_of_path(path, tree)
    out: dict[str, str] = {}
    for local, (module, attr) in {**scope.local_imports, **scope.imports}.items():
        if (module, attr) == ("django.conf", "settings"):
            out.update({f"{local}.{k}": v for k, v in django_roots(ctx).items()})
            continue
        if attr is not None and dir_like(attr):
            found = module_roots(ctx, project.scope(module)).get(attr)
            if found:
                out[local] = found
                continue
        target = project.scope(module if attr is None else f"{module}.{attr}")
        if target is not None:
            out.update({f"{local}.{k}": v for k, v in module_roots(ctx, target).items()})
        elif attr is not None:  # `from app.core.config import settings`, an instance of a settings class
            out.update({f"{local}.{k}": v for k, v in instance_roots(scope, local).items()})
    for name in scope.nodes:  # `settings = Settings()` in this module
        if isinstance(scope.nodes[name], ast.Call):
            out.update({f"{name}.{k}": v for k, v in instance_roots(scope, name).items()})
    if ".config" in text:
        for key, value in config_keys(ctx).items():
            out.setdefault(f"config[{key}]", value)
    return out


def instance_roots(scope: ModuleScope, name: str, depth: int = 0) -> dict[str, str]:
    """Directory fields of the tree class whose instance `name` is (`settings = Settings()`, also through a
    factory: `settings = get_settings()` returning `Settings()`): pydantic-settings and dataclass configs,
    `upload_dir: Path = Path("/data/uploads")`."""
    found = definition(scope, name)
    if found is None or depth > 2:
        return {}
    where, node = found
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):  # a factory: what it returns
        returns = [n.value for n in ast.walk(node) if isinstance(n, ast.Return) and isinstance(n.value, ast.Call)]
        node = returns[0] if len(returns) == 1 else None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return {}
    cls = definition(where, node.func.id)
    if cls is None:
        return {}
    if isinstance(cls[1], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return instance_roots(cls[0], node.func.id, depth + 1)
    if not isinstance(cls[1], ast.ClassDef):
        return {}
    return local_roots(ast.Module(body=cls[1].body, type_ignores=[]))


def module_roots(ctx, scope: ModuleScope | None) -> dict[str, str]:
    if scope is None:
        return {}
    return ctx.cached(("state", "disk-roots", scope.name), lambda: local_roots(scope.tree))


def django_roots(ctx) -> dict[str, str]:
    """Path settings of the Django settings modules the service runs with (star imports read in place)."""
    def build() -> dict[str, str]:
        out: dict[str, str] = {}
        for chain in djsettings.chains(ctx):
            for k, v in local_roots(ast.Module(body=chain.body, type_ignores=[])).items():
                out.setdefault(k, v)
        return out
    return ctx.cached(("state", "disk-roots", "django"), build)


def config_keys(ctx) -> dict[str, str]:
    """Directory keys of the app's configuration: top-level names of modules named like a configuration
    (`config.py`, `settings/production.py`) and class attributes of `*Config` classes (Flask's
    `app.config.from_object`), each bound to a local path."""
    def build() -> dict[str, str]:
        out: dict[str, str] = {}
        for f in ctx.files_of("python"):
            last = module_name(f.path).rsplit(".", 1)[-1].lower()
            text = ctx.text(f) or ""
            named = any(w in last for w in CONFIG_MODULE_WORDS)
            if not named and "Config" not in text:
                continue
            tree = ctx.python_ast(f)
            if tree is None:
                continue
            if named:
                for k, v in local_roots(tree).items():
                    out.setdefault(k, v)
            for node in tree.body:
                if isinstance(node, ast.ClassDef) and node.name.endswith("Config"):
                    for k, v in local_roots(ast.Module(body=node.body, type_ignores=[])).items():
                        out.setdefault(k, v)
        return out
    return ctx.cached(("state", "disk-roots", "config-keys"), build)
