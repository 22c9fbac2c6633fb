"""Signing keys made per host (CLS102): a secret generated at start-up, or generated and saved to a local file,
when the environment does not provide one. v1 and v2 then reject each other's cookies and tokens."""

from __future__ import annotations

import ast
import bisect
import re
from dataclasses import dataclass

from canary_lint.state.envs import const_str, dotted, env_read
from canary_lint.state.handlers import _statements_at
from canary_lint.pyast import line_starts

RANDOM_TOKENS = ("token_hex", "token_urlsafe", "token_bytes", "urandom", "get_random_secret_key", "generate_key",
                 "uuid4", "get_random_string", "randbytes", "getrandbits", "gen_salt")
RANDOM_CALLS = {"token_hex", "token_urlsafe", "token_bytes", "urandom", "get_random_secret_key", "generate_key",
                "uuid4", "get_random_string", "randbytes", "getrandbits", "gen_salt"}
SECRET_NAME = re.compile(r"(?i)(^|_|\.)(secret(_?key)?|signing_?key|jwt_?(secret|key)|session_?secret|cookie_?secret|"
                         r"secret_?key_?base|auth_?secret|csrf_?secret)$")
STRONG_KEY_NAME = re.compile(r"(?i)(secret_?key|signing_?key|jwt_?(secret|key)|session_?secret|cookie_?secret)$")
SECRET_KEYWORDS = {"secret_key", "secret", "signing_key", "jwt_secret", "session_secret", "cookie_secret"}


@dataclass
class KeyFinding:
    node: ast.AST
    target: str
    generator: str
    switch: str  # env variable that provides the key instead, or ""
    saved_to_file: bool = False


def _token_lines(text: str, tokens) -> list[int]:
    """Sorted numbers of the lines on which any of `tokens` occurs."""
    starts = line_starts(text)
    found: set[int] = set()
    for token in tokens:
        idx = text.find(token)
        while idx >= 0:
            found.add(bisect.bisect_right(starts, idx))
            idx = text.find(token, idx + len(token))
    return sorted(found)


def _random_call(expr: ast.AST | None) -> str:
    if expr is None:
        return ""
    for node in ast.walk(expr):
        if isinstance(node, ast.Call):
            name = dotted(node.func)
            if name.rsplit(".", 1)[-1] in RANDOM_CALLS:
                return name + "()"
    return ""


def _target_text(target: ast.AST, values=None) -> str:
    if isinstance(target, ast.Subscript):
        key = const_str(target.slice)
        if not key and values is not None and isinstance(target.slice, (ast.Name, ast.Attribute)):
            named = values.value(target.slice)  # `app.config[ConfigKey.SECRET_KEY]`: the key a class names
            key = named if isinstance(named, str) else ""
        base = dotted(target.value)
        return f'{base}["{key}"]' if key and base else ""
    return dotted(target)


def _secret_target(text: str) -> bool:
    if not text:
        return False
    last = text.rsplit("[", 1)[-1].strip('"]') if "[" in text else text
    return bool(SECRET_NAME.search(last)) and "client_secret" not in last.lower()


def _switch(expr: ast.AST) -> str:
    """The env variable that, when set, replaces the generated value in `expr`."""
    for node in ast.walk(expr):
        read = env_read(node)
        if read:
            return read[0]
    return ""


def _writes_to_file(body: list[ast.stmt], names: set[str]) -> bool:
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                "write_text", "write_bytes", "write", "dump"
            ):
                for arg in node.args:
                    if any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(arg)):
                        return True
    return False


def _kept(body: list[ast.stmt], name: str) -> bool:
    """`name` is returned or written to a file in this scope (the function hands out the key it made)."""
    if _writes_to_file(body, {name}):
        return True
    return any(isinstance(n, ast.Return) and isinstance(n.value, ast.Name) and n.value.id == name
               for stmt in body for n in ast.walk(stmt))


def _scope_env_switch(body: list[ast.stmt], name: str, memo: dict | None = None) -> str:
    """`name = os.getenv("X")` (or any env read bound to `name`) in the same scope: X. `memo` keeps each
    scope's map of name -> first switch, so a scope with many keys is walked once, not once per key."""
    found = memo.get(id(body)) if memo is not None else None
    if found is None:
        found = {}
        for stmt in body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Assign):
                    names = [t for t in (_target_text(t) for t in node.targets) if t and t not in found]
                    sw = _switch(node.value) if names else ""
                    for n in names if sw else ():
                        found[n] = sw
        if memo is not None:
            memo[id(body)] = found
    return found.get(name, "")


def _settings_prefix(cls: ast.ClassDef) -> str | None:
    """env_prefix of a pydantic BaseSettings class, "" when none is set, None when not a settings class."""
    if not any(dotted(b).endswith("Settings") for b in cls.bases):
        return None
    for node in ast.walk(cls):
        if isinstance(node, ast.keyword) and node.arg == "env_prefix":
            return const_str(node.value) or ""
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "env_prefix" for t in node.targets):
            return const_str(node.value) or ""
    return ""


SECRET_KEYWORD_TEXT = ("secret_key=", "secret=", "SECRET_KEY=", "signing_key=", "_secret=", "_SECRET=")


# a secret target may be assigned from a helper whose random call is elsewhere: these lines are read too
SECRET_LINE_TOKENS = ("SECRET", "secret", "Secret", "SIGNING", "signing", "JWT", "jwt")


def _made_by_helper(call: ast.AST, values) -> tuple[str, bool, str] | None:
    """`SECRET_KEY = load_or_create(path)`: a helper of the tree (this module or another) that makes the key
    with a random call, two calls deep: (what generates it, whether it saves it to a file, the env variable
    it reads first), else None."""
    if values is None or not isinstance(call, ast.Call):
        return None
    from canary_lint.resolver import Marker

    target = values.value(call.func)
    if not (isinstance(target, Marker) and target.kind in ("func", "localfunc")):
        return None
    scope, fn = target.value
    frontier, seen = [(scope, fn)], set()
    for _depth in range(2):
        nxt = []
        for sc, f in frontier:
            if id(f) in seen:
                continue
            seen.add(id(f))
            generator = _random_call(f)
            if generator:
                where = f"{sc.name.replace('.', '/')}.py:{f.lineno}" if sc is not None and sc.name else f"line {f.lineno}"
                names = {t.id for n in ast.walk(f) if isinstance(n, ast.Assign) for t in n.targets
                         if isinstance(t, ast.Name)}
                saved = _writes_to_file(f.body, names) or any(
                    isinstance(n, ast.Call) and dotted(n.func) == "open" and len(n.args) > 1
                    and const_str(n.args[1]) in ("w", "wb", "x", "xb") for n in ast.walk(f))
                return f"{generator} in {fn.name}() ({where})", saved, _switch(fn)
            for node in ast.walk(f):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and sc is not None \
                        and node.func.id in sc.funcs:
                    nxt.append((sc, sc.funcs[node.func.id]))
        frontier = nxt
    return None


def signing_keys(tree: ast.Module, text: str = "", values=None) -> list[KeyFinding]:
    """`values`: the resolver's reader of this file (AppValues), to follow keys a helper makes."""
    out: list[KeyFinding] = []
    switches: dict = {}  # id(scope body) -> {name: env switch}

    def check_assign(node, targets, value, scope_body, in_function, func_name=""):
        key_function = bool(re.search(r"(?i)secret|signing_?key|jwt_?(key|secret)", func_name))
        for target in targets:
            text = _target_text(target, values)
            local = in_function and isinstance(target, ast.Name)
            if not (_secret_target(text) or (local and key_function and _kept(scope_body, target.id))):
                continue
            generator = _random_call(value)
            saved = False
            if not generator and not local:
                made = _made_by_helper(value, values) if _secret_target(text) else None
                if made is None:
                    continue
                generator, saved, switch = made
                out.append(KeyFinding(node, text, generator, switch or _scope_env_switch(scope_body, text, switches), saved))
                continue
            if not generator:
                continue
            if in_function and isinstance(target, ast.Attribute) and dotted(target.value) in ("self", "cls") \
                    and not STRONG_KEY_NAME.search(target.attr):
                continue  # `self.secret = uuid4()`: a per-object secret (an API client's), not the app's signing key
            if local:
                saved = _writes_to_file(scope_body, {target.id})
                if not saved and not key_function:
                    continue  # a local variable holding a fresh per-object secret (an API key, a nonce)
            else:
                saved = False
            switch = _switch(value) or _scope_env_switch(scope_body, text, switches)
            out.append(KeyFinding(node, text, generator, switch, saved))

    lines = _token_lines(text, RANDOM_TOKENS + (SECRET_LINE_TOKENS if values is not None else ())) if text else None

    def visit(body, in_function, func_name="", scope=None):
        scope = body if scope is None else scope  # the enclosing function's (or the module's) statements
        for stmt in body:
            if lines is not None:
                i = bisect.bisect_left(lines, stmt.lineno)
                if i == len(lines) or lines[i] > (stmt.end_lineno or stmt.lineno):
                    continue  # no random call written on these lines
            if isinstance(stmt, ast.Assign):
                check_assign(stmt, stmt.targets, stmt.value, scope, in_function, func_name)
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                check_assign(stmt, [stmt.target], stmt.value, scope, in_function, func_name)
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(stmt.body, True, stmt.name)
            elif isinstance(stmt, ast.ClassDef):
                prefix = _settings_prefix(stmt)
                for item in stmt.body:
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None:
                        name = item.target.id
                        gen = _random_call(item.value)
                        if gen and _secret_target(name):
                            switch = f"{prefix}{name}".upper() if prefix is not None else ""
                            out.append(KeyFinding(item, f"{stmt.name}.{name}", gen, switch))
                    elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        visit(item.body, True, item.name)
            elif isinstance(stmt, (ast.If, ast.Try, ast.With, ast.AsyncWith, ast.For, ast.While)):
                for sub in ("body", "orelse", "finalbody"):
                    visit(getattr(stmt, sub, []) or [], in_function, func_name, scope)
                for handler in getattr(stmt, "handlers", []) or []:
                    visit(handler.body, in_function, func_name, scope)

    visit(tree.body, False)
    if not text or any(t in text for t in SECRET_KEYWORD_TEXT):  # `SessionMiddleware(app, secret_key=...)`, `.update(SECRET_KEY=...)`
        roots = [tree] if lines is None else list(_statements_at(tree.body, lines))
        for node in (n for root in roots for n in ast.walk(root)):
            if isinstance(node, ast.Call) and node.keywords:
                _check_call(node, out)
    seen: set[int] = set()
    unique = []
    for f in out:
        if id(f.node) not in seen:
            seen.add(id(f.node))
            unique.append(f)
    return unique


def _check_call(call: ast.Call, out: list[KeyFinding]) -> None:
    """`SessionMiddleware(app, secret_key=token_hex())`, `app.config.update(SECRET_KEY=...)`."""
    for kw in call.keywords:
        if kw.arg and (kw.arg in SECRET_KEYWORDS or _secret_target(kw.arg)):
            gen = _random_call(kw.value)
            if gen:
                out.append(KeyFinding(kw.value, f"{dotted(call.func) or 'call'}({kw.arg}=…)", gen, _switch(kw.value)))
