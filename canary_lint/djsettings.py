"""Django settings as the service runs them, shared by the state rules.

The settings module is the one `DJANGO_SETTINGS_MODULE` names: the deployment's environment (Dockerfile `ENV`,
compose, Kubernetes) first, else `os.environ.setdefault("DJANGO_SETTINGS_MODULE", …)` in the service's code
(wsgi.py, asgi.py, manage.py). When nothing names one, every module with Django settings that no other
settings module star-imports is judged, leaving out development and test variants (`settings/dev.py`,
`local_dev.py`, `ci.py`) when a production one exists.

A module's top-level `from .base import *` is read in place (split settings: base + production), so a setting
is judged with the value the process gets, and every statement keeps the file it comes from.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from canary_lint.resolver.modules import absolute, module_name, tree_project
from canary_lint.serving import non_serving_path

MARKERS = ("INSTALLED_APPS", "MIDDLEWARE", "ROOT_URLCONF", "DATABASES")
MAX_DEPTH = 8
DEV_MODULE = re.compile(r"(?i)(?:^|[._])(?:dev|devel|develop|development|local|test|tests|testing|ci|debug)(?:$|[._])")
ENV_KEY = "DJANGO_SETTINGS_MODULE"


@dataclass
class SettingsChain:
    path: str  # the settings module the process loads
    body: list  # its top-level statements with star imports of project modules read in place
    named_by: str = ""  # "DJANGO_SETTINGS_MODULE in wsgi.py" when something names it
    files: list = field(default_factory=list)  # the modules read, leaf first
    origin: dict = field(default_factory=dict)  # id(node) -> path of the module that holds it

    def path_of(self, node: ast.AST) -> str:
        return self.origin.get(id(node), self.path)


def is_settings(tree: ast.Module) -> bool:
    names = {t.id for s in tree.body if isinstance(s, (ast.Assign, ast.AnnAssign))
             for t in (s.targets if isinstance(s, ast.Assign) else [s.target]) if isinstance(t, ast.Name)}
    return len(names & set(MARKERS)) >= 2


def _star_modules(path: str, tree: ast.Module) -> list[tuple[ast.ImportFrom, str]]:
    name, package = module_name(path), path.endswith("__init__.py")
    return [(s, absolute(name, s.module or "", s.level, package)) for s in tree.body
            if isinstance(s, ast.ImportFrom) and any(a.name == "*" for a in s.names)]


def chain(ctx, path: str, named_by: str = "") -> SettingsChain | None:
    project = tree_project(ctx)
    by_path = {f.path: f for f in ctx.files_of("python")}
    out = SettingsChain(path, [], named_by)

    def expand(p: str, depth: int, seen: frozenset) -> list:
        f = by_path.get(p)
        tree = ctx.python_ast(f) if f is not None else None
        if tree is None:
            return []
        out.files.append(p)
        for node in ast.walk(tree):
            out.origin.setdefault(id(node), p)
        stars = dict((id(s), m) for s, m in _star_modules(p, tree))
        body = []
        for stmt in tree.body:
            target = project.path_of(stars[id(stmt)]) if id(stmt) in stars else None
            if target and target not in seen and depth < MAX_DEPTH:
                body.extend(expand(target, depth + 1, seen | {target}))
            else:
                body.append(stmt)
        return body

    out.body = expand(path, 0, frozenset({path}))
    return out if out.files else None


def _named_modules(ctx) -> list[tuple[str, str]]:
    """(module, where) for every DJANGO_SETTINGS_MODULE the deployment sets, else the code's defaults."""
    from canary_lint import deploy

    named = [(v.value, f"{ENV_KEY} in {v.path}") for v in deploy.facts(ctx).env.get(ENV_KEY, ()) if v.value]
    if named:
        return named
    for f in ctx.files_of("python"):
        if non_serving_path(f.path) and not f.path.endswith("manage.py"):
            continue
        text = ctx.text(f)
        if not text or ENV_KEY not in text:
            continue
        tree = ctx.python_ast(f)
        for node in ast.walk(tree) if tree is not None else ():
            value = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "setdefault" \
                    and len(node.args) == 2 and _const(node.args[0]) == ENV_KEY:
                value = _const(node.args[1])
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Subscript) \
                    and _const(node.targets[0].slice) == ENV_KEY:
                value = _const(node.value)
            if value:
                named.append((value, f"{ENV_KEY} in {f.path}"))
    return named


def _const(node) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def chains(ctx) -> list[SettingsChain]:
    """The settings modules the service runs with, each read with the modules it star-imports (cached)."""
    return ctx.cached(("state", "django-settings"), lambda: _chains(ctx))


def _chains(ctx) -> list[SettingsChain]:
    project = tree_project(ctx)
    out: list[SettingsChain] = []
    for module, where in _named_modules(ctx):
        path = project.path_of(module)
        if path and path not in (c.path for c in out):
            found = chain(ctx, path, where)
            if found is not None:
                out.append(found)
    if out:
        return out
    candidates: dict[str, list[str]] = {}  # settings-like module -> modules it star-imports
    for f in ctx.files_of("python"):
        text = ctx.text(f)
        if not text or non_serving_path(f.path) or not (("import *" in text) or sum(m in text for m in MARKERS) >= 2):
            continue
        tree = ctx.python_ast(f)
        if tree is None:
            continue
        stars = [p for _s, m in _star_modules(f.path, tree) if (p := project.path_of(m))]
        if is_settings(tree) or stars:
            candidates[f.path] = stars
    imported = {p for stars in candidates.values() for p in stars}
    leaves = []
    for path in sorted(candidates):
        if path in imported:
            continue
        found = chain(ctx, path)
        if found is not None and is_settings(ast.Module(body=found.body, type_ignores=[])):
            leaves.append(found)
    production = [c for c in leaves if not DEV_MODULE.search(module_name(c.path).rsplit(".", 1)[-1])]
    return production or leaves


def listed(chain: SettingsChain, key: str, prefix: str) -> ast.Constant | None:
    """The first string starting with `prefix` in a list or tuple assigned to (or `+=`-extended into) `key`,
    e.g. a django-prometheus middleware in MIDDLEWARE; None when none is there."""
    for stmt in chain.body:
        for node in ast.walk(stmt):
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if not any(isinstance(t, ast.Name) and t.id == key for t in targets):
                    continue
                for item in ast.walk(node.value):
                    if isinstance(item, ast.Constant) and isinstance(item.value, str) and item.value.startswith(prefix):
                        return item
    return None


def overridden(ctx, key: str) -> list[tuple[str, int, int]]:
    """(path, first line, last line) of top-level `KEY = …` assignments in modules the service never runs with
    as they are: every settings module that star-imports them assigns KEY again later, without reading the
    earlier value (`LOGGING = {...}` in production replaces the base module's). A leaf itself is never listed."""
    found = chains(ctx)
    leaves = {c.path for c in found}
    verdict: dict = {}
    for c in found:
        writes = [s for s in c.body if isinstance(s, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == key for t in s.targets)]
        for i, stmt in enumerate(writes):
            later = writes[i + 1:]
            replaced = any(not any(isinstance(n, ast.Name) and n.id == key for n in ast.walk(w.value)) for w in later)
            k = (c.path_of(stmt), stmt.lineno, stmt.end_lineno or stmt.lineno)
            verdict[k] = verdict.get(k, True) and replaced
    return [k for k, v in verdict.items() if v and k[0] not in leaves]
