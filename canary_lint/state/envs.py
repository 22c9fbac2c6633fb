"""Environment switches: `os.getenv("X", default)` and friends, and the variables the deploy files set."""

from __future__ import annotations

import ast

from canary_lint.pyast import const_str, dotted as _dotted  # noqa: F401 - const_str is re-exported

ENV_RECEIVERS = {"environ", "os.environ"}


def dotted(node: ast.AST) -> str:
    """`a.b.c` for a Name/Attribute chain, else ""."""
    return _dotted(node) or ""


def env_read(node: ast.AST) -> tuple[str, ast.AST | None] | None:
    """(variable, default expression or None) when `node` reads one environment variable."""
    if isinstance(node, ast.Subscript) and dotted(node.value) in ENV_RECEIVERS:
        name = const_str(node.slice)
        return (name, None) if name else None
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = dotted(node.func)
    name = const_str(node.args[0])
    if name is None:
        return None
    default = node.args[1] if len(node.args) > 1 else None
    for kw in node.keywords:
        if kw.arg == "default":
            default = kw.value
    if func in ("os.getenv", "getenv", "os.environ.get", "environ.get", "os.environ.setdefault", "environ.setdefault"):
        return name, default
    if func in ("env", "config", "env.str", "env.get_value", "decouple.config", "env.bool", "env.int", "env.float",
                "env.list", "env.tuple", "env.url", "env.path"):  # django-environ, decouple
        return name, default
    return None


def deploy_env_names(ctx) -> frozenset:
    """Names of environment variables that the release's deploy files (k8s, compose, Dockerfile, .env) set."""
    from canary_lint import deploy

    return frozenset(deploy.facts(ctx).env)
