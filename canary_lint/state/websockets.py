"""CLS105 beyond socket.io: websocket connections kept by the process and broadcast to from there.

    registries     a module-level list/set/dict, or a container attribute of a class (a connection manager is
                   made once per process: `manager = ConnectionManager()`), that websocket connections are added to (`append`, `add`,
                   `[key] = ws`) and that a loop sends to (`for c in X: await c.send_text(m)`): the FastAPI
                   documentation's `ConnectionManager`, Starlette, Quart, aiohttp, Sanic and `websockets`
    channel layers Django Channels' `InMemoryChannelLayer` in the settings the service runs with, when the
                   project uses groups (`group_add`, `group_send`)
    broadcaster    `Broadcast("memory://")` of encode/broadcaster

A registry in a module that also publishes or subscribes to a shared channel (`.publish(`, `.subscribe(`) is
the local end of a fan-out every process gets, and is not reported.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from canary_lint.pyast import all_nodes, dotted, walk_body, where

TOKENS = ("ebsocket", "ws", "InMemoryChannelLayer", "memory://")  # WebSocket, websocket
SENDS = {"send", "send_text", "send_json", "send_bytes", "send_str", "send_message", "write_message", "emit"}
ADDS = {"append", "add", "setdefault", "insert"}
SOCKET_NAMES = {"websocket", "ws", "socket", "conn", "connection", "client"}
FIX = ("publish through a channel every process subscribes to (Redis pub/sub, broadcaster on redis://, a channel "
       "layer on Redis) and send to the local connections from there")


@dataclass
class Registry:
    node: ast.AST  # where the container is made
    name: str  # `active_connections` or `ConnectionManager.active_connections`
    added: int  # line of the registration
    sent: int  # line of the broadcast loop


SEND_TEXT = tuple(f".{s}(" for s in sorted(SENDS))


def registries(tree: ast.Module, text: str) -> list[Registry]:
    if ".publish(" in text or ".subscribe(" in text or not any(s in text for s in SEND_TEXT) \
            or not any(a in text for a in (".append(", ".add(", "] = ", ".setdefault(", ".insert(")):
        return []
    containers = _module_containers(tree)
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):  # a connection manager: one per process
        for attr, node in _instance_containers(cls).items():
            containers[f"self.{attr}@{cls.name}"] = node
    if not containers:
        return []
    added: dict[str, int] = {}
    sent: dict[str, int] = {}
    for func in (n for n in all_nodes(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        owner = _owner(tree, func)
        sockets = _socket_params(func)
        for node in walk_body(func):
            key = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ADDS:
                key = _container_key(node.func.value, owner, containers)
                if key and sockets and any(isinstance(a, ast.Name) and a.id in sockets for a in node.args):
                    added.setdefault(key, node.lineno)
            elif isinstance(node, ast.Assign) and sockets and isinstance(node.value, ast.Name) \
                    and node.value.id in sockets:
                for t in node.targets:
                    if isinstance(t, ast.Subscript):
                        key = _container_key(t.value, owner, containers)
                        if key:
                            added.setdefault(key, node.lineno)
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                key = _container_key(_iterated(node.iter), owner, containers)
                if key and isinstance(node.target, ast.Name) and _sends_to(node.body, node.target.id):
                    sent.setdefault(key, node.iter.lineno)
            elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):  # gather(*(c.send(m) for c in X))
                for gen in node.generators:
                    key = _container_key(_iterated(gen.iter), owner, containers)
                    if key and isinstance(gen.target, ast.Name) and _sends_to([node.elt], gen.target.id):
                        sent.setdefault(key, gen.iter.lineno)
    out = []
    for key in sorted(set(added) & set(sent)):
        attr, _, cls = key.partition("@")
        name = f"{cls}.{attr[5:]}" if cls else attr
        out.append(Registry(containers[key], name, added[key], sent[key]))
    return out


def _module_containers(tree: ast.Module) -> dict[str, ast.AST]:
    out = {}
    for stmt in tree.body:
        target, value = None, None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign):
            target, value = stmt.target, stmt.value
        if isinstance(target, ast.Name) and _is_container(value):
            out[target.id] = stmt
    return out


def _instance_containers(cls: ast.ClassDef) -> dict[str, ast.AST]:
    out = {}
    for item in cls.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and _is_container(item.value):
            out[item.target.id] = item  # a dataclass field or class-level registry
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == "__init__":
            for node in walk_body(item):
                target, value = None, None
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target, value = node.targets[0], node.value
                elif isinstance(node, ast.AnnAssign):
                    target, value = node.target, node.value
                if isinstance(target, ast.Attribute) and dotted(target.value) == "self" and _is_container(value):
                    out[target.attr] = node
    return out


def _is_container(value) -> bool:
    if isinstance(value, (ast.List, ast.Set, ast.Dict)):
        return not (getattr(value, "elts", None) or getattr(value, "keys", None))
    if isinstance(value, ast.Call):
        name = (dotted(value.func) or "").rsplit(".", 1)[-1]
        if name == "field":  # dataclasses.field(default_factory=list)
            return any(k.arg == "default_factory" and dotted(k.value) in ("list", "set", "dict") for k in value.keywords)
        return name in ("list", "set", "dict", "defaultdict", "WeakSet", "OrderedDict") and not value.args[1:]
    return False


def _owner(tree: ast.Module, func) -> str:
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        if func in cls.body:
            return cls.name
    return ""


def _container_key(expr, owner: str, containers: dict) -> str | None:
    if isinstance(expr, ast.Subscript):  # `rooms[room].add(ws)`
        expr = expr.value
    if isinstance(expr, ast.Name) and expr.id in containers:
        return expr.id
    if isinstance(expr, ast.Attribute) and dotted(expr.value) == "self" and owner:
        key = f"self.{expr.attr}@{owner}"
        return key if key in containers else None
    return None


def _iterated(expr):
    """`X`, `X.values()`, `list(X)`, `X[room]`, `self.X.copy()` -> the container expression."""
    if isinstance(expr, ast.Call):
        if isinstance(expr.func, ast.Attribute) and expr.func.attr in ("values", "copy", "items") and not expr.args:
            return expr.func.value
        if dotted(expr.func) in ("list", "set", "tuple") and len(expr.args) == 1:
            return _iterated(expr.args[0])
    return expr


def _sends_to(body: list, var: str) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in SENDS
               and isinstance(n.func.value, ast.Name) and n.func.value.id == var
               for stmt in body for n in ast.walk(stmt))


def _socket_params(func) -> set[str]:
    """Parameters that hold a websocket: annotated `WebSocket` (any library's), or so named when unannotated."""
    out = set()
    for a in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]:
        if a.annotation is not None:
            words = [n.id if isinstance(n, ast.Name) else n.attr if isinstance(n, ast.Attribute)
                     else n.value if isinstance(n, ast.Constant) and isinstance(n.value, str) else ""
                     for n in ast.walk(a.annotation)]
            if any("websocket" in w.lower() for w in words):
                out.add(a.arg)
        elif a.arg in SOCKET_NAMES:
            out.add(a.arg)
    return out


def memory_broadcasts(tree: ast.Module) -> list[ast.Call]:
    """encode/broadcaster's `Broadcast("memory://")`: publish and subscribe within this process only."""
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and (dotted(n.func) or "").rsplit(".", 1)[-1] == "Broadcast" and n.args
            and isinstance(n.args[0], ast.Constant) and isinstance(n.args[0].value, str)
            and n.args[0].value.startswith("memory://")]


def in_memory_channel_layers(ctx, files) -> list[tuple[str, ast.AST]]:
    """(path, node) of `InMemoryChannelLayer` in CHANNEL_LAYERS of the settings the service runs with, when the
    project sends to or joins groups."""
    if not any("group_send" in text or "group_add" in text for _f, text in files):
        return []
    from canary_lint import djsettings

    out = []
    for chain in djsettings.chains(ctx):
        for stmt in chain.body:
            if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "CHANNEL_LAYERS"
                                                    for t in stmt.targets):
                for n in ast.walk(stmt.value):
                    if isinstance(n, ast.Constant) and isinstance(n.value, str) \
                            and n.value.endswith("InMemoryChannelLayer"):
                        out.append((chain.path_of(stmt), n))
    return out


def findings(ctx, path, tree, text):
    for r in registries(tree, text):
        yield ctx.finding(
            "CLS105", path, **where(r.node), subject=f"websockets:{r.name}",
            message=(f"`{r.name}` keeps this process's websocket connections (added line {r.added}) and a loop "
                     f"sends to them (line {r.sent}): a message sent through v2 reaches only the clients connected "
                     f"to v2, never those whose websocket v1 holds (and back)"),
            fix=FIX,
        )
    if "memory://" in text:
        for node in memory_broadcasts(tree):
            yield ctx.finding(
                "CLS105", path, **where(node), subject="broadcaster:memory",
                message=('Broadcast("memory://") publishes within this process only: subscribers connected to the '
                         "other version never get what this one publishes (and back)"),
                fix=FIX,
            )


def channel_layer_findings(ctx, files):
    for at_path, node in in_memory_channel_layers(ctx, files):
        yield ctx.finding(
            "CLS105", at_path, **where(node), subject="CHANNEL_LAYERS:InMemoryChannelLayer",
            message=("CHANNEL_LAYERS is Django Channels' InMemoryChannelLayer while the project sends to groups: "
                     "a group_send from v2 reaches only the consumers in that process, never the websockets v1 "
                     "holds (and back)"),
            fix="use channels_redis (RedisChannelLayer or RedisPubSubChannelLayer) shared by every version",
        )
