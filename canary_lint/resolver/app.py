"""The resolver for application code (state and telemetry analyzers): what a config value, a log format or
an SDK's options are, read across the modules of the tree.

Application settings usually come from the environment with a fallback (`os.environ.get("REDIS_URL",
"memory://")`): such a read is `OneOf(Marker("env", "REDIS_URL"), "memory://")`, so an analyzer can judge the
fallback and say when it applies. `AppValues.choices(node)` lists what one expression of a file may be.
"""

from __future__ import annotations

import ast

from canary_lint.pyast import dotted
from canary_lint.resolver.evaluator import Evaluator
from canary_lint.resolver.modules import tree_project
from canary_lint.resolver.values import SCOPE, UNKNOWN, Bound, Budget, Marker, OneOf

ENV = "env"  # Marker("env", NAME or None): the value of an environment variable at run time
ENV_READS = {"os.environ.get", "os.getenv", "environ.get", "getenv", "os.environ.setdefault"}


class AppEvaluator(Evaluator):
    def call(self, node: ast.Call, env: dict):
        name = dotted(node.func)
        if name in ENV_READS and node.args:
            var = self.ev(node.args[0], env)
            marker = Marker(ENV, var if isinstance(var, str) else None)
            default = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "default"), None)
            if default is None:
                return marker
            fallback = self.ev(default, env)
            return OneOf.of([marker, fallback]) if fallback is not UNKNOWN else marker
        return super().call(node, env)

    def binop(self, op: ast.operator, a, b):
        # `PREFIX + "[%(asctime)s] %(message)s"` with PREFIX from the environment: the value still depends on
        # that variable (and is its fallback's text when the deployment cannot set it)
        if isinstance(op, (ast.Add, ast.Mod)) and (is_env(a) or is_env(b)) \
                and all(is_env(v) or isinstance(v, str) for v in (a, b)):
            return a if is_env(a) else b
        return super().binop(op, a, b)

    def _ev(self, node: ast.AST, env: dict):
        if isinstance(node, ast.Subscript) and dotted(node.value) in ("os.environ", "environ"):
            var = self.ev(node.slice, env)
            return Marker(ENV, var if isinstance(var, str) else None)
        return super()._ev(node, env)


class AppValues:
    """Possible values of expressions of one file, read through the tree's modules (bounded per file)."""

    def __init__(self, ctx, path: str, tree: ast.Module, env_known=lambda name: True):
        """`env_known(name)`: may the deployment set variable `name`? When it cannot, an env read's fallback
        is the value the service runs with."""
        self.scope = tree_project(ctx).scope_of_path(path, tree)
        self.evaluator = AppEvaluator(self.scope, Budget(steps=50_000, calls=300, seconds=0.5))
        self.env_known = env_known

    def value(self, node: ast.AST, env: dict | None = None):
        try:
            return self.evaluator.ev(node, {SCOPE: self.scope, **(env or {})})
        except (Bound, RecursionError):
            return UNKNOWN

    def choices(self, node: ast.AST) -> list:
        """Each value `node` may have (a single value is one choice); [] when nothing is known."""
        value = self.value(node)
        if value is UNKNOWN:
            return []
        return list(value.choices) if isinstance(value, OneOf) else [value]


    def effective(self, node: ast.AST) -> list | None:
        """The values the service may run with: an env read whose variable the deployment can set stays
        unknown (None for the whole); one it cannot set gives way to its fallback."""
        out = []
        for choice in self.choices(node):
            if is_env(choice):
                if env_name(choice) is None or self.env_known(env_name(choice)):
                    return None
                continue
            out.append(choice)
        return out or None

    def format_text(self, node: ast.AST, judge) -> tuple[bool | None, str]:
        """`judge(text) -> bool | None` over every string `node` may be: (True, "") when one passes, (False,
        the first text) when all fail, (None, "") when any is unknown or not a string."""
        values = self.effective(node)
        if not values or not all(isinstance(v, str) for v in values):
            return None, ""
        verdicts = [judge(v) for v in values]
        if any(v is True for v in verdicts):
            return True, ""
        if all(v is False for v in verdicts):
            return False, values[0]
        return None, ""

    def passes_key(self, node: ast.AST, key: str) -> bool | None:
        """Does the mapping `node` (a `**options` argument) pass a non-None `key`? None: cannot tell."""
        value = self.value(node)
        if not isinstance(value, dict):
            return None
        if key not in value:
            return False
        return value[key] is not None


def env_name(value) -> str | None:
    """The variable an env-read choice names (None: not an env read, or its name is computed)."""
    return value.value if isinstance(value, Marker) and value.kind == ENV else None


def is_env(value) -> bool:
    return isinstance(value, Marker) and value.kind == ENV
