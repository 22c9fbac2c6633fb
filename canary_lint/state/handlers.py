"""Find the request, websocket and task handlers of a module the way the frameworks register them, and the
functions each handler reaches through in-module calls.

Registration forms understood:
  decorators   Flask/FastAPI/Starlette/Sanic/aiohttp `@app.route|get|post|…`, `APIRouter`, `@bp.websocket`,
               `@app.before_request`/`@app.middleware(…)`, Flask-AppBuilder `@expose`, DRF `@api_view`/`@action`,
               Django view decorators, `@sio.on(…)`/`@sio.event`/`@socketio.on(…)`, Celery/dramatiq tasks
  calls        `add_url_rule(…, view_func=)`, `add_api_route`, `add_route`, `router.add_get(…)`, `web.get(…)`,
               Starlette `Route(…)`/`WebSocketRoute(…)`, `sio.on("event", handler)`, Django `path(…)`,
               `re_path(…)`, `url(…)` (also across modules, see `django_targets`)
  classes      class-based views (Django/DRF `View`/`APIView`/`ViewSet`, Flask `MethodView`, Starlette
               `HTTPEndpoint`/`WebSocketEndpoint`, Sanic `HTTPMethodView`, aiohttp `web.View`, socket.io
               `Namespace`, Flask-AppBuilder views): their HTTP-verb, action and `on_*` methods
Start-up hooks (`on_event("startup")`, `before_first_request`, lifespan, listeners) are not handlers: a
registry they fill is filled once per process, the same way in v1 and v2.
"""

from __future__ import annotations

import ast
import bisect
import re
from dataclasses import dataclass, field

from canary_lint.pyast import line_starts
from canary_lint.state.envs import const_str, dotted

ROUTE_DECORATORS = {
    "route", "get", "post", "put", "patch", "delete", "head", "options", "api_route", "websocket",
    "websocket_route", "ws", "expose", "expose_api", "on", "event", "task", "actor", "before_request",
    "after_request", "middleware", "view", "add_route", "api_view", "action", "shared_task",
    "login_required", "require_http_methods", "require_POST", "require_GET", "require_safe", "csrf_exempt",
    "permission_required", "has_access", "has_access_api",
}
NOT_HANDLER_EVENTS = {"startup", "shutdown", "before_server_start", "after_server_start", "before_server_stop",
                      "after_server_stop", "main_process_start", "main_process_stop"}
REGISTER_CALLS = {
    "add_url_rule", "add_api_route", "add_api_websocket_route", "add_route", "add_websocket_route", "add_get",
    "add_post", "add_put", "add_patch", "add_delete", "add_head", "add_view", "Route", "WebSocketRoute", "path",
    "re_path", "url", "on",
}
AIOHTTP_SHORTCUTS = {"get", "post", "put", "patch", "delete", "head", "view", "route"}
HANDLER_KEYWORDS = {"view_func", "endpoint", "handler", "view"}
VIEW_BASE_SUFFIXES = ("View", "ViewSet", "APIView", "Endpoint", "Namespace", "Handler", "Resource", "ModelView",
                      "RestApi", "BaseApi")
VIEW_METHODS = {
    "get", "post", "put", "patch", "delete", "head", "options", "dispatch", "list", "create", "retrieve",
    "update", "partial_update", "destroy", "form_valid", "get_context_data", "get_queryset", "get_object",
    "perform_create", "perform_update", "perform_destroy", "websocket_connect", "websocket_receive",
    "receive", "connect", "disconnect", "on_connect", "on_receive", "on_disconnect",
}
FunctionNode = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(eq=False)
class Func:
    node: ast.FunctionDef | ast.AsyncFunctionDef
    qual: str  # "name", "Class.name" or "outer.name"
    cls: str | None = None
    handler: str = ""  # how it is registered ("route", "socket.io event", "task", "view") or ""

    @property
    def name(self) -> str:
        return self.node.name


@dataclass
class ModuleIndex:
    funcs: list[Func] = field(default_factory=list)
    by_name: dict = field(default_factory=dict)  # simple name -> [Func] (module level and nested)
    methods: dict = field(default_factory=dict)  # (class, name) -> Func
    reached_by: dict = field(default_factory=dict)  # Func -> the handler Funcs that reach it, by line

    @property
    def handlers(self) -> list[Func]:
        return [f for f in self.funcs if f.handler]


def _decorator_kind(dec: ast.AST) -> str:
    call = dec if isinstance(dec, ast.Call) else None
    target = dec.func if call else dec
    name = dotted(target)
    last = name.rsplit(".", 1)[-1]
    if not last:
        return ""
    if last in ("on_event", "before_first_request", "before_serving", "listener", "lifespan", "on_startup"):
        return ""
    if last in ("on", "event", "middleware", "listener") and call and call.args:
        first = const_str(call.args[0])
        if first in NOT_HANDLER_EVENTS:
            return ""
    if last in ("task", "shared_task", "actor"):
        return "task"
    if last in ("connect_via", "receiver") or (last == "connect" and "." in name):
        return "signal receiver"  # blinker's `user_logged_in.connect_via(app)`, Django's `@receiver(post_save)`
    if last in ("on", "event"):
        if "." not in name:
            return ""
        receiver = name.rsplit(".", 2)[-2].lower()
        return "socket.io event" if "sio" in receiver or "socket" in receiver else "event"
    if last in ROUTE_DECORATORS:
        if "." not in name and last in AIOHTTP_SHORTCUTS | {"route", "on", "event", "middleware"}:
            return ""  # a bare `@get` is not a framework registration we know
        return "view" if last in ("login_required", "require_http_methods", "require_POST", "require_GET",
                                  "require_safe", "csrf_exempt", "permission_required", "api_view") else "route"
    return ""


def _is_view_class(node: ast.ClassDef) -> bool:
    for base in node.bases:
        name = dotted(base).rsplit(".", 1)[-1]
        if name.endswith(VIEW_BASE_SUFFIXES) or name in ("View", "MethodView"):
            return True
    return False


def _collect(tree: ast.Module, index: ModuleIndex) -> None:
    def add(node, qual, cls=None, handler=""):
        func = Func(node, qual, cls, handler)
        index.funcs.append(func)
        index.by_name.setdefault(node.name, []).append(func)
        if cls:
            index.methods[(cls, node.name)] = func
        return func

    def visit_body(body, prefix, depth):
        for stmt in body:
            if isinstance(stmt, FunctionNode):
                kinds = [k for k in map(_decorator_kind, stmt.decorator_list) if k]
                add(stmt, prefix + stmt.name, handler=kinds[0] if kinds else "")
                if depth < 2:
                    visit_body(stmt.body, prefix + stmt.name + ".", depth + 1)  # app factories
            elif isinstance(stmt, ast.ClassDef):
                view = _is_view_class(stmt)
                for item in stmt.body:
                    if isinstance(item, FunctionNode):
                        kinds = [k for k in map(_decorator_kind, item.decorator_list) if k]
                        kind = kinds[0] if kinds else ""
                        if not kind and view and (item.name in VIEW_METHODS or item.name.startswith("on_")):
                            kind = "view"
                        add(item, f"{stmt.name}.{item.name}", stmt.name, kind)
            elif isinstance(stmt, (ast.If, ast.Try, ast.With, ast.AsyncWith)):
                for sub in ("body", "orelse", "finalbody"):
                    visit_body(getattr(stmt, sub, []) or [], prefix, depth)
                for handler in getattr(stmt, "handlers", []) or []:
                    visit_body(handler.body, prefix, depth)

    visit_body(tree.body, "", 0)


def _registered_targets(tree: ast.Module, lines: set[int] | None = None) -> list[ast.AST]:
    """Expressions passed to a registration call (`add_url_rule(..., view_func=f)`, `path("x/", v)`, …),
    looking only at the statements on `lines` when given."""
    out: list[ast.AST] = []
    roots = [tree] if lines is None else list(_statements_at(tree.body, lines))
    for node in (n for root in roots for n in ast.walk(root)):
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func)
        last = name.rsplit(".", 1)[-1]
        if last in REGISTER_CALLS or (name.startswith("web.") and last in AIOHTTP_SHORTCUTS):
            if last == "on" and len(node.args) < 2 and not node.keywords:
                continue
            out.extend(a for a in node.args[1:] if isinstance(a, (ast.Name, ast.Attribute, ast.Call)))
            out.extend(k.value for k in node.keywords if k.arg in HANDLER_KEYWORDS)
    return out


def _mark_target(expr: ast.AST, index: ModuleIndex, kind: str) -> None:
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "as_view":
        cls = dotted(expr.func.value).rsplit(".", 1)[-1]
        for (c, name), func in index.methods.items():
            if c == cls and (name in VIEW_METHODS or name.startswith("on_")) and not func.handler:
                func.handler = "view"
        return
    if isinstance(expr, ast.Name):
        for func in index.by_name.get(expr.id, ()):
            if func.cls is None and not func.handler:
                func.handler = kind


# a name starts where no word character or dot precedes it: without the look-behind, every position of a long
# word not followed by `(` began a new attempt over the rest of it (a 100 KB string literal took 63 s)
CALLED = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*)\s*\(")


def _callees_from_text(func: Func, index: ModuleIndex, segment: str) -> list[Func]:
    """In-module callees found by scanning the function's source: `name(` and `self.name(`/`cls.name(`."""
    out: list[Func] = []
    seen: set[str] = set()
    for called in CALLED.findall(segment):
        if called in seen:
            continue
        seen.add(called)
        if "." not in called:
            out.extend(g for g in index.by_name.get(called, ()) if g.cls is None and g is not func)
        elif func.cls and called.count(".") == 1 and called.startswith(("self.", "cls.")):
            target = index.methods.get((func.cls, called.split(".", 1)[1]))
            if target is not None:
                out.append(target)
    return out


def _callees(func: Func, index: ModuleIndex) -> list[Func]:
    out: list[Func] = []
    for node in ast.walk(func.node):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name):
            out.extend(g for g in index.by_name.get(f.id, ()) if g.cls is None)
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in ("self", "cls") and func.cls:
            target = index.methods.get((func.cls, f.attr))
            if target is not None:
                out.append(target)
    return out


REGISTER_TEXT = re.compile(r"add_url_rule|add_api_route|add_api_websocket_route|add_route|add_websocket_route|"
                           r"add_(?:get|post|put|patch|delete|head|view)\(|Route\(|path\(|url\(|\.on\(|web\.\w+\(")


def _candidate_lines(text: str) -> set[int]:
    """Lines that may hold a registration call (cheap: one literal-led regex scan)."""
    lines: set[int] = set()
    line, pos = 1, 0
    for m in REGISTER_TEXT.finditer(text):
        start = m.start()
        token = m.group()
        if token in ("path(", "url(") and start and (text[start - 1].isalnum() or text[start - 1] in "_."):
            if not (token == "path(" and text[start - 3:start] == "re_"):
                continue  # os.path(...), make_url(...)
        line += text.count("\n", pos, start)
        pos = start
        lines.add(line)
    return lines


def _statements_at(body: list, lines):
    """Simple statements whose span covers one of `lines`, descending into compound statements."""
    ordered = lines if isinstance(lines, list) else sorted(lines)
    for stmt in body:
        end = getattr(stmt, "end_lineno", stmt.lineno) or stmt.lineno
        i = bisect.bisect_left(ordered, stmt.lineno)
        if i == len(ordered) or ordered[i] > end:
            continue
        subs = [getattr(stmt, f, None) for f in ("body", "orelse", "finalbody")]
        subs += [h.body for h in getattr(stmt, "handlers", None) or ()]
        subs += [c.body for c in getattr(stmt, "cases", None) or ()]
        if any(isinstance(sub, list) for sub in subs):
            for sub in subs:
                if isinstance(sub, list):
                    yield from _statements_at(sub, ordered)
        else:
            yield stmt


def module_index(tree: ast.Module, text: str = "", extra_handlers: frozenset = frozenset(), depth: int = 3) -> ModuleIndex:
    """Functions of the module, which are handlers, and which handlers reach each function (`depth` calls)."""
    index = ModuleIndex()
    _collect(tree, index)
    lines = _candidate_lines(text) if text else None
    if lines is None or lines:
        for expr in _registered_targets(tree, lines):
            _mark_target(expr, index, "route")
    socketio = not text or "socketio" in text.lower()
    for func in index.funcs:  # `@bus.on("x")` on an in-process event emitter is not a socket.io event
        if func.handler == "event":
            func.handler = "socket.io event" if socketio else ""
    for qual in extra_handlers:  # Django URLconf targets found in other modules
        for func in index.funcs:
            if func.qual == qual or (func.cls == qual and (func.name in VIEW_METHODS or func.name.startswith("on_"))):
                func.handler = func.handler or "view"
    callees: dict = {}
    starts = line_starts(text) if text else None  # one cached table per text

    def calls(func) -> list:
        if func not in callees:
            if starts is None:
                callees[func] = _callees(func, index)
            else:
                lo = starts[func.node.lineno - 1]
                end = func.node.end_lineno or func.node.lineno
                segment = text[lo:starts[end]] if end < len(starts) else text[lo:]
                callees[func] = _callees_from_text(func, index, segment)
        return callees[func]

    # Which handlers reach each function within `depth` calls: every handler's walk at once, a handler being
    # one bit of a mask that moves along each call once per distance. A walk per handler went over every call
    # of every function it reached, once per handler: a file of many copied handlers calling the same names
    # made that cubic (a 220 KB file took a minute).
    handlers = list(index.handlers)
    reach: dict = {}  # func -> mask of the handlers that reach it
    first: dict = {}  # func -> (the first handler reaching it, its distance from that handler), for the order
    frontier = {}
    for i, handler in enumerate(handlers):
        frontier[handler] = frontier.get(handler, 0) | 1 << i
    for distance in range(depth + 1):
        for func, mask in frontier.items():
            reach[func] = reach.get(func, 0) | mask
            low = (mask & -mask).bit_length() - 1
            if func not in first or (low, distance) < first[func]:
                first[func] = (low, distance)
        if distance == depth:
            break
        nxt: dict = {}
        for func, mask in frontier.items():
            for callee in calls(func):
                new = mask & ~reach.get(callee, 0)
                if new:
                    nxt[callee] = nxt.get(callee, 0) | new
        frontier = nxt
    for func in sorted(reach, key=lambda f: (*first[f], f.node.lineno, f.node.col_offset)):
        mask, reached = reach[func], []
        while mask:
            low = mask & -mask
            reached.append(handlers[low.bit_length() - 1])
            mask ^= low
        # ordered by line: a finding names the first handler, the same one on every run (a set named whichever
        # its hashes put first)
        index.reached_by[func] = tuple(sorted(reached, key=lambda h: (h.node.lineno, h.node.col_offset)))
    return index


# ---- Django URLconf across modules ------------------------------------------------------------------------
def module_name(path: str) -> str:
    """Dotted module name for a display path (`src/shop/views.py` -> `src.shop.views`)."""
    stem = path[:-3] if path.endswith(".py") else path
    if stem.endswith("/__init__"):
        stem = stem[: -len("/__init__")]
    return stem.replace("/", ".")


def _resolve_from(module: str, level: int, current: str, is_package: bool) -> str:
    if not level:
        return module
    parts = current.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, module] if module else base)


def django_targets(tree: ast.Module, path: str) -> list[tuple[str, str]]:
    """(dotted module, qualified name) of every view a URLconf in this file routes to, best effort."""
    current = module_name(path)
    is_package = path.endswith("__init__.py")
    imported: dict[str, str] = {}  # local name -> dotted target ("pkg.views" or "pkg.views.func")
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            src = _resolve_from(node.module or "", node.level, current, is_package)
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{src}.{alias.name}" if src else alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                imported[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
    out: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and dotted(node.func).rsplit(".", 1)[-1] in ("path", "re_path", "url")):
            continue
        if len(node.args) < 2:
            continue
        target = node.args[1]
        if isinstance(target, ast.Call) and isinstance(target.func, ast.Attribute) and target.func.attr == "as_view":
            target = target.func.value
        name = dotted(target)
        if not name:
            continue
        head, _, rest = name.partition(".")
        full = imported.get(head)
        if full is None:
            continue
        full = f"{full}.{rest}" if rest else full
        mod, _, qual = full.rpartition(".")
        out.append((mod, qual))
    return out
