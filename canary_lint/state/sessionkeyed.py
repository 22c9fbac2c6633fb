"""CLS101 for an object's container keyed by the request's user: `self.managers[session.sid] = ...`.

A class whose `__init__` makes a container (`self.managers = dict()`) and whose method writes it under the
identity of the request being served (the Flask/Quart `session`'s id or keys, `current_user`, Django's
`request.session` / `request.user`, `g.user`) keeps per-user state in that object: one object serves every
user of the process, so the user's next request, routed to the other version, finds nothing there. How long
the object lives is not read (a registry, an attribute of the app, a module global): the finding is a
warning unless the class is one the tree makes once per process, which the singleton reading reports as an
error on its own. Classes the frameworks make per request (views, serializers, forms, request handlers) are
not judged.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from canary_lint.pyast import all_nodes, const_str, dotted, statements
from canary_lint.state import instances

# names of the request's identity, by the module they must come from (`session` of SQLAlchemy is no user)
REQUEST_NAMES = {"session": ("flask", "quart"), "current_user": ("flask_login", "flask_security", "quart_auth"),
                 "g": ("flask", "quart")}
# the objects that name the request's session or user, as dotted parts (after the local import names)
SESSIONS = {("session",), ("flask", "session"), ("request", "session"), ("self", "request", "session")}
USERS = {("current_user",), ("flask_login", "current_user"), ("g", "user"), ("flask", "g", "user"),
         ("request", "user"), ("self", "request", "user")}
SESSION_IDS = {"sid", "session_id", "session_key"}
USER_IDS = {"id", "pk", "uid", "user_id", "username", "email", "get_id"}
ID_WORDS = ("user", "uid", "sid", "account", "login", "email")  # of a session key: session["user_id"]
PER_REQUEST_BASES = ("View", "ViewSet", "Serializer", "Form", "RequestHandler", "WebSocketHandler", "Resource",
                     "Endpoint", "Consumer", "Request", "Response", "Schema", "Command")
TOKENS = ("session", "current_user", "request.user", "g.user")


@dataclass
class Keyed:
    cls: ast.ClassDef
    attr: str
    kind: str
    made: ast.AST  # the container's assignment in __init__
    writer: str  # method
    write: ast.AST
    identity: str  # `session.sid`
    reader: str


def _request_names(tree: ast.Module) -> set[str]:
    """Local names bound to the request's identity objects by the module's imports."""
    out = set()
    for node in statements(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                mods = REQUEST_NAMES.get(alias.name)
                if mods and node.module.split(".")[0] in mods:
                    out.add(alias.asname or alias.name)
    return out


def _parts(node: ast.AST, names: set[str]) -> tuple | None:
    """The dotted parts of `node`, its head a request name the module imports (or a module spelling it out)."""
    text = dotted(node)
    if not text:
        return None
    parts = tuple(text.split("."))
    if parts[0] in ("session", "current_user", "g") and parts[0] not in names:
        return None  # a `session` of the database, a `g` of something else
    return parts


def _identity(key: ast.AST | None, names: set[str]) -> str:
    """The request identity a key expression reads (`session.sid`, `current_user.id`, `session["user_id"]`,
    `request.user`), or "": other attributes of those objects (`current_user.is_authenticated`, `g.tenant`,
    `session.get("lang")`, `request.user_agent`) name no user."""
    todo = [key] if key is not None else []
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Subscript) or (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                                               and node.func.attr == "get" and node.args):
            base = node.value if isinstance(node, ast.Subscript) else node.func.value
            word = const_str(node.slice if isinstance(node, ast.Subscript) else node.args[0]) or ""
            if _parts(base, names) in SESSIONS:
                if any(w in word.lower() for w in ID_WORDS):
                    return f"{dotted(base)}[{word!r}]"
                continue  # another key of the session: `session.get("lang")`
        func = node.func if isinstance(node, ast.Call) else None  # current_user.get_id()
        text = dotted(func if func is not None else node)
        if text:  # judged whole: `current_user.is_authenticated` is not `current_user`
            parts = _parts(func if func is not None else node, names) or ()
            if parts in USERS and func is None:
                return text  # the user object itself
            if (parts[:-1] in SESSIONS and parts[-1:] and parts[-1] in SESSION_IDS) \
                    or (parts[:-1] in USERS and parts[-1:] and parts[-1] in USER_IDS):
                return text + ("()" if func is not None else "")
            if func is None:
                continue
        todo.extend(ast.iter_child_nodes(node))
    return ""


def _per_request(cls: ast.ClassDef) -> bool:
    return any((dotted(b) or "").rsplit(".", 1)[-1].endswith(PER_REQUEST_BASES) for b in cls.bases)


def _key_of_write(node: ast.AST, attrs) -> tuple[str, ast.AST | None] | None:
    """(attribute, key) of `self.X[key] = ...` / `self.X.setdefault(key, ...)`."""
    if isinstance(node, (ast.Assign, ast.AugAssign)):
        for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
            if isinstance(t, ast.Subscript) and instances._is_self_container(t.value, attrs):
                return t.value.attr, t.slice
    if isinstance(node, ast.Expr):
        node = node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "setdefault" \
            and instances._is_self_container(node.func.value, attrs) and node.args:
        return node.func.value.attr, node.args[0]
    return None


def keyed_objects(tree: ast.Module) -> list[Keyed]:
    names = _request_names(tree)
    out: list[Keyed] = []
    for cls in statements(tree):
        if not isinstance(cls, ast.ClassDef) or _per_request(cls):
            continue
        containers = instances._containers(cls)
        if not containers:
            continue
        uses = instances._method_uses(cls, containers)
        for item in cls.body:
            if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) or item.name == "__init__":
                continue
            unread: set[str] = set()  # containers of this method already found read by no method
            for node in (*statements(item), *(n for n in all_nodes(item) if isinstance(n, ast.Call))):
                hit = _key_of_write(node, containers)
                if hit is None or hit[0] in unread:
                    continue
                ident = _identity(hit[1], names)
                if not ident:
                    continue
                attr = hit[0]
                reader = next((m for m, u in uses.items() if attr in u and not u[attr][0] and m != item.name), "") \
                    or (item.name if _reads(item, attr) else "")
                if not reader:
                    unread.add(attr)
                if reader:
                    kind, made = containers[attr]
                    out.append(Keyed(cls, attr, kind, made, item.name, node, ident, reader))
                    break
            else:
                continue
            break
    return out


def _reads(func: ast.AST, attr: str) -> bool:
    """Does the method read `self.<attr>` besides writing it (`if sid not in self.x`, `return self.x[sid]`)?"""
    written = {id(t.value) for stmt in statements(func) if isinstance(stmt, (ast.Assign, ast.AugAssign))
               for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]) if isinstance(t, ast.Subscript)}
    return any(isinstance(n, ast.Attribute) and n.attr == attr and isinstance(n.value, ast.Name)
               and n.value.id == "self" and isinstance(n.ctx, ast.Load) and id(n) not in written
               for n in ast.walk(func))
