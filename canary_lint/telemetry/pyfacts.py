"""Telemetry facts read from one Python file's shared `ast` tree (one walk per file, never a re-parse).

Calls are resolved through the module's imports to a dotted name (`sentry_sdk.init`,
`opentelemetry.sdk.resources.Resource.create`), so a look-alike `Resource` or `init` from another
library is never mistaken for the real one. A verdict is `True` (the signal carries a version), `False`
(it never can) or `None` (we cannot tell from the code, e.g. the value comes from a variable): only
`False` is ever reported.
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_left
from dataclasses import dataclass, field

from canary_lint.pyast import dotted, dump_of  # noqa: F401 - dotted used here and re-exported

# A file holds a telemetry set-up only if it names one of these; other files are never walked.
STRONG_TOKENS = ("opentelemetry", "sentry_sdk", "prometheus", "ddtrace", "datadog", "structlog", "jsonlogger",
                 "basicConfig", "dictConfig", "fileConfig", "LOGGING", "loguru", '"formatters"', "'formatters'",
                 "Formatter(")
# Files that may put a version on log records or set a telemetry env var for the process; read only when
# a finding depends on them.
ENV_TOKENS = ("OTEL_RESOURCE_ATTRIBUTES", "SENTRY_RELEASE", "SOURCE_VERSION", "DD_VERSION", "DD_TAGS")
ATTACH_TOKENS = ("extra", "LoggerAdapter", "setLogRecordFactory", "bind", "record", "event_dict")
VERSION_TOKENS = ("version", "Version", "VERSION", "release", "RELEASE", "revision")


def is_telemetry_file(text: str) -> bool:
    return any(t in text for t in STRONG_TOKENS)


def sets_telemetry_env(text: str) -> bool:
    return any(t in text for t in ENV_TOKENS)


def may_attach_version(text: str, extra: tuple = ()) -> bool:
    return "setLogRecordFactory" in text or (
        any(t in text for t in ATTACH_TOKENS) and any(t in text for t in VERSION_TOKENS + extra))


VERSION_WORDS = ("version", "release", "revision", "git_sha", "commit_sha", "build_id")
PLACEHOLDER = re.compile(r"%\(\s*([\w.]+)\s*\)|\{([A-Za-z_][\w.]*)[^{}]*\}|\$\{?([A-Za-z_]\w*)")
DEFAULT_BASIC_FORMAT = "%(levelname)s:%(name)s:%(message)s"
METRIC_TYPES = {"Counter", "Gauge", "Histogram", "Summary", "Enum"}
EXPORTER_MODULES = ("prometheus_flask_exporter", "starlette_exporter", "prometheus_fastapi_instrumentator",
                    "aioprometheus", "starlette_prometheus")
EXPORTER_LABEL_KWARGS = {"default_labels", "labels", "group_by", "custom_labels", "const_labels", "static_labels"}
PROVIDERS = {
    "opentelemetry.sdk.trace.TracerProvider": "TracerProvider",
    "opentelemetry.sdk.metrics.MeterProvider": "MeterProvider",
    "opentelemetry.sdk._logs.LoggerProvider": "LoggerProvider",
}
# the positional index of `resource` in each provider's signature
PROVIDER_RESOURCE_POS = {"TracerProvider": 1, "MeterProvider": 1, "LoggerProvider": 0}
# formatter classes that print exactly their format string (anything else may add fields)
TEXT_FORMATTERS = {"logging.Formatter", "django.utils.log.ServerFormatter", "uvicorn.logging.DefaultFormatter",
                   "uvicorn.logging.AccessFormatter", "colorlog.ColoredFormatter"}
LOG_BINDERS = {"bind", "bind_contextvars", "bind_threadlocal", "new", "wrap_logger", "get_logger", "LoggerAdapter",
               "contextualize"}
# loguru's default handler format: time, level, module, function, line, message
LOGURU_DEFAULT_FORMAT = "{time} | {level} | {name}:{function}:{line} - {message}"


def is_version_word(name: str, extra: tuple = ()) -> bool:
    low = name.lower()
    return any(w in low for w in VERSION_WORDS) or any(e.lower() == low for e in extra)


def is_service_version_key(node: ast.AST) -> bool | None:
    """A Resource attribute key: True for service.version, False for any other known key, None if unknown."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value == "service.version"
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
    if name is None:
        return None
    if name == "SERVICE_VERSION":
        return True
    if name.isupper():
        return False  # SERVICE_NAME, TELEMETRY_SDK_VERSION, DEPLOYMENT_ENVIRONMENT, ...
    return None


def _is_log_record(node: ast.AST) -> bool:
    """`record`, `log_record`, `event_dict`, `self.fields`: the objects a filter or processor fills in."""
    name = (dotted(node) or "").rsplit(".", 1)[-1].lower()
    return any(w in name for w in ("record", "event", "fields", "log"))


@dataclass
class Item:
    """One telemetry call site."""

    kind: str  # resource-create | resource-ctor | provider | sentry | metric | log-text | log-json | structlog | datadog
    node: ast.AST
    what: str = ""  # a short name for messages: metric name, provider class, formatter names, ...
    verdict: bool | None = None  # True carries a version, False never does, None unknown
    detail: str = ""
    scope: int = 0  # the function whose body holds it (0: module level): one logging set-up per function


@dataclass
class FileFacts:
    path: str
    items: list = field(default_factory=list)
    version_info: list = field(default_factory=list)  # (line, what): Info / *_build_info / exporter default labels
    log_version_attached: list = field(default_factory=list)  # (line, what): filters, adapters, bind(version=...)
    env_set: dict = field(default_factory=dict)  # env var -> line, set by the code itself
    dd_version_in_code: bool = False


class _Module:
    """Per-file lookup tables built during the single walk."""

    def __init__(self, values=None) -> None:
        self.aliases: dict[str, str] = {}
        self.consts: dict[str, ast.AST] = {}  # module-level NAME = <expr>
        self.functions: dict[str, ast.AST] = {}
        self.values = values  # ValueReader of this file, or None: literals of this module only
        self.resolved_text: dict[int, str] = {}  # id(node) -> the format text the resolver found

    def qualname(self, func: ast.AST) -> str | None:
        d = dotted(func)
        if d is None:
            return None
        head, _, rest = d.partition(".")
        full = self.aliases.get(head)
        if full is None:
            return None
        return f"{full}.{rest}" if rest else full

    def resolve(self, node: ast.AST | None, depth: int = 0) -> ast.AST | None:
        while isinstance(node, ast.Name) and node.id in self.consts and depth < 3:
            node = self.consts[node.id]
            depth += 1
        return node


# substrings that a line we act on holds: a call we judge, an import, an env var or version assignment
HIT_TOKENS = ("import", "Resource", "Provider", "init(", "Counter", "Gauge", "Histogram", "Summary", "Enum", "Info",
              "info(", "basicConfig", "dictConfig", "fileConfig", "JsonFormatter", "configure", "merge", "setdefault",
              "putenv", "environ", "set_tag", "bind", "new(", "wrap_logger", "get_logger", "LoggerAdapter",
              "setLogRecordFactory", "extra", "version", "Version", "VERSION", "release", "Release", "RELEASE",
              "revision", "Metrics", "Instrumentator", "Middleware", "Prometheus", "config.", "add(", "Formatter(")
ENV_HIT_TOKENS = ("environ", "putenv", "setdefault")
ATTACH_HIT_TOKENS = VERSION_TOKENS + ("setLogRecordFactory",)
_BLOCK_FIELDS = ("body", "orelse", "finalbody")


def _hit_lines(text: str, tokens: tuple) -> list[int]:
    offsets = []
    for tok in tokens:
        start = text.find(tok)
        while start >= 0:
            offsets.append(start)
            start = text.find(tok, start + 1)
    if not offsets:
        return []
    offsets.sort()
    lines, line, pos = [], 1, 0
    for off in offsets:
        line += text.count("\n", pos, off)
        pos = off
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines


def _kw(call: ast.Call, name: str) -> ast.AST | None:
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def _has_star_kwargs(call: ast.Call) -> bool:
    return any(k.arg is None for k in call.keywords) or any(isinstance(a, ast.Starred) for a in call.args)


def _star_release(call: ast.Call, mod: _Module) -> bool | None:
    """`sentry_sdk.init(**options)`: False when every `**` mapping is known (through the resolver) and none
    passes a release; True when one does; None when any is unknown."""
    if mod.values is None or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    verdicts = [mod.values.passes_key(k.value, "release") for k in call.keywords if k.arg is None]
    if any(v is True for v in verdicts):
        return True
    return None if any(v is None for v in verdicts) else False


SERVE_CALLS = ("run", "serve", "run_simple", "run_server", "start", "execute_from_command_line")


def _admin_command(func: ast.AST | None) -> bool:
    """A function registered as a CLI command (click, typer, Flask's `app.cli`) that does not start a server."""
    if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    command = False
    for dec in func.decorator_list:
        name = dotted(dec.func if isinstance(dec, ast.Call) else dec) or ""
        command = command or name.rsplit(".", 1)[-1] == "command"
    if not command:
        return False
    return not any(isinstance(n, ast.Call) and (dotted(n.func) or "").rsplit(".", 1)[-1] in SERVE_CALLS
                   for n in ast.walk(func))


def _debug_switch(test: ast.AST) -> bool:
    """`if DEBUG:`, `if self.DEBUG_ENABLED:`, `if settings.debug:`: a branch only a debugging run takes."""
    name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else ""
    return "debug" in name.lower()


def _module_logger(node: ast.AST) -> bool:
    """`logging.getLogger(__name__)`: a library's own logger, which its embedder configures."""
    return isinstance(node, ast.Call) and (dotted(node.func) or "").endswith("getLogger") and bool(node.args) \
        and isinstance(node.args[0], ast.Name) and node.args[0].id == "__name__"


def _str(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def format_verdict(node: ast.AST | None, mod: _Module, extra: tuple = ()) -> bool | None:
    """Does a log format expression print a version? Only formats whose every possible text is known can be
    judged False: a literal, or what the resolver reads from config modules and class attributes."""
    node = mod.resolve(node)
    if node is None:
        return None
    if mod.values is not None and isinstance(node, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)) \
            and not (isinstance(node, (ast.Name, ast.Attribute)) and is_version_word(dotted(node) or "", extra)):
        verdict, text = mod.values.format_text(node, lambda s: format_verdict(ast.Constant(s), _Module(), extra))
        if verdict is not None:
            mod.resolved_text[id(node)] = text
            return verdict
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, str):
            return None
        names = [next(g for g in m.groups() if g) for m in PLACEHOLDER.finditer(node.value)]
        # a placeholder named like a version, or the version written into the format itself ("version=1.4")
        return any(is_version_word(n, extra) for n in names) or "version" in node.value.lower()
    if isinstance(node, (ast.Name, ast.Attribute)):
        d = dotted(node) or ""
        return True if is_version_word(d, extra) else None
    if isinstance(node, ast.FormattedValue):
        return format_verdict(node.value, mod, extra)
    parts: list[ast.AST] | None = None
    if isinstance(node, ast.JoinedStr):
        parts = list(node.values)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        parts = [node.left, node.right]
    elif isinstance(node, ast.Call):
        texts = [d for d in (dotted(n) for n in ast.walk(node) if isinstance(n, (ast.Name, ast.Attribute))) if d]
        return True if any(is_version_word(t, extra) for t in texts) else None
    elif isinstance(node, ast.Tuple):
        parts = list(node.elts)
    if parts is None:
        return None
    verdicts = [format_verdict(p, mod, extra) for p in parts]
    if any(v is True for v in verdicts):
        return True
    return None if any(v is None for v in verdicts) else False


def _mentions_version(node: ast.AST, extra: tuple = ()) -> bool:
    """Any identifier, attribute, keyword or string in the subtree that names a version."""
    for n in ast.walk(node):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and len(n.value) < 80 and is_version_word(n.value, extra):
            return True
        if isinstance(n, ast.Name) and is_version_word(n.id, extra):
            return True
        if isinstance(n, ast.Attribute) and is_version_word(n.attr, extra):
            return True
        if isinstance(n, ast.keyword) and n.arg and is_version_word(n.arg, extra):
            return True
    return False


class Scanner:
    def __init__(self, extra_words: tuple = (), tokens: tuple = ()) -> None:
        self.extra = tuple(extra_words)
        self.tokens = (tokens or HIT_TOKENS) + self.extra

    def _nodes(self, tree: ast.Module, text: str | None):
        """The nodes of every statement whose lines hold a token we act on; other statements are skipped
        without being walked (a full `ast.walk` costs about as much as the parse)."""
        if text is None:
            yield from ast.walk(tree)
            return
        hits = _hit_lines(text, self.tokens)
        if not hits:
            return
        stack = [(tree.body, None)]
        while stack:
            body, func = stack.pop()
            for stmt in body:
                i = bisect_left(hits, stmt.lineno)
                if i == len(hits) or hits[i] > (stmt.end_lineno or stmt.lineno):
                    continue
                blocks = [getattr(stmt, f) for f in _BLOCK_FIELDS if getattr(stmt, f, None)]
                if not blocks:
                    for node in ast.walk(stmt):
                        if isinstance(node, ast.Call):
                            self._enclosing[id(node)] = func
                        yield node
                    continue
                yield stmt
                if isinstance(stmt, ast.If) and _debug_switch(stmt.test):
                    blocks = [stmt.orelse] if stmt.orelse else []  # a debugging aid, not how the service logs
                for name, value in ast.iter_fields(stmt):
                    if name in _BLOCK_FIELDS or name in ("handlers", "cases"):
                        continue
                    for v in value if isinstance(value, list) else (value,):
                        if isinstance(v, ast.AST):
                            yield from ast.walk(v)
                inner = stmt if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
                stack.extend((b, inner) for b in reversed(blocks))
                for h in getattr(stmt, "handlers", ()) or getattr(stmt, "cases", ()):
                    stack.append((h.body, inner))

    def scan(self, path: str, tree: ast.Module, read=None, text: str | None = None, values=None) -> FileFacts:
        """Facts of one file; `read(path) -> str | None` reads another file of the checked tree (a fileConfig
        INI), by path relative to the current directory; `values(tree)` gives the resolver's reader of it."""
        facts = FileFacts(path)
        mod = self._mod = _Module(values(tree) if values is not None else None)
        self._tree = tree
        self._enclosing: dict[int, ast.AST | None] = {}  # id(call) -> the function whose body holds it
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                mod.consts[stmt.targets[0].id] = stmt.value
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
                mod.consts[stmt.target.id] = stmt.value
        script = path.endswith("__main__.py") or any(
            isinstance(s, ast.If) and "__main__" in dump_of(s.test) for s in tree.body)
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                mod.functions.setdefault(stmt.name, stmt)
        calls: list[ast.Call] = []
        merged: set[int] = set()
        for node in self._nodes(tree, text):
            if isinstance(node, ast.Call):
                calls.append(node)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        mod.aliases[a.asname] = a.name
                    else:
                        top = a.name.split(".", 1)[0]
                        mod.aliases[top] = top
                    if a.name.split(".", 1)[0] in ("ddtrace", "datadog"):
                        facts.items.append(Item("datadog", node, a.name, False))
            elif isinstance(node, ast.ImportFrom):
                if node.level or not node.module:
                    continue
                for a in node.names:
                    mod.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                if node.module.split(".", 1)[0] in ("ddtrace", "datadog"):
                    facts.items.append(Item("datadog", node, node.module, False))
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                self._assignment(node, facts)
        for call in calls:
            self._call(call, mod, facts, merged, read)
        for item in facts.items:
            func = self._enclosing.get(id(item.node))
            item.scope = id(func) if func is not None else 0
        # a one-off CLI command (`@manager.command def reencrypt(...)`) is not how the service starts
        facts.items = [i for i in facts.items if not _admin_command(self._enclosing.get(id(i.node)))]
        if script:  # a script's console set-up (basicConfig without a format) is not the service's log format
            facts.items = [i for i in facts.items if not (i.kind == "log-text" and i.detail == DEFAULT_BASIC_FORMAT)]
        # dictConfig-shaped constants: Django's LOGGING, and LOG*-named dicts of a module or a config class that
        # the app hands to dictConfig elsewhere (DEFAULT_LOGGING_CONFIG, DefaultConfig.LOG_DEFAULT_CONF)
        for label, value in self._logging_dicts(tree, mod):
            if id(value) not in merged:
                keys = {_str(k) for k in value.keys}
                if "version" in keys and ("formatters" in keys or "handlers" in keys):
                    merged.add(id(value))
                    self._dict_config(value, value, mod, facts, label)
        return facts

    @staticmethod
    def _logging_dicts(tree: ast.Module, mod: _Module):
        for name, value in mod.consts.items():
            if (name == "LOGGING" or "LOG" in name.upper()) and isinstance(value, ast.Dict):
                yield name, value
        for cls in (s for s in tree.body if isinstance(s, ast.ClassDef)):
            for stmt in cls.body:
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) \
                        and "LOG" in stmt.targets[0].id.upper() and isinstance(stmt.value, ast.Dict):
                    yield f"{cls.name}.{stmt.targets[0].id}", stmt.value

    # ---- statements ------------------------------------------------------------------------------
    def _assignment(self, node: ast.AST, facts: FileFacts) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for t in targets:
            if isinstance(t, ast.Attribute) and is_version_word(t.attr, self.extra):
                d = dotted(t) or ""
                if d.endswith("config.version") or d.endswith("config.service_version"):
                    facts.dd_version_in_code = True
                if _is_log_record(t.value):  # record.version = ... in a filter or record factory
                    facts.log_version_attached.append((node.lineno, f"{d} = ..."))
            elif isinstance(t, ast.Subscript):
                key = _str(t.slice)
                if key is None:
                    continue
                if dotted(t.value) in ("os.environ", "environ"):
                    facts.env_set[key] = node.lineno
                elif is_version_word(key, self.extra) and _is_log_record(t.value):
                    facts.log_version_attached.append((node.lineno, f"{dotted(t.value)}[{key!r}] = ..."))

    # ---- calls ---------------------------------------------------------------------------------
    def _call(self, call: ast.Call, mod: _Module, facts: FileFacts, merged: set, read) -> None:
        func = call.func
        attr = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        # env vars the code sets for itself
        if attr in ("setdefault", "putenv") and call.args:
            owner = dotted(func.value) if isinstance(func, ast.Attribute) else None
            if owner in ("os.environ", "environ", "os") and _str(call.args[0]):
                facts.env_set[_str(call.args[0])] = call.lineno
        if attr == "merge" and isinstance(func, ast.Attribute):
            # `a.merge(b)`: either side may hold the version; judge neither alone
            merged.add(id(func.value))
            merged.update(id(a) for a in call.args)
        if attr in LOG_BINDERS or attr == "setLogRecordFactory":
            if attr == "setLogRecordFactory" or any(k.arg and is_version_word(k.arg, self.extra) for k in call.keywords) \
                    or any(isinstance(a, ast.Dict) and _mentions_version(a, self.extra) for a in call.args):
                facts.log_version_attached.append((call.lineno, f"{attr}(...)"))
        extra = _kw(call, "extra")
        if isinstance(extra, ast.Dict) and any(is_version_word(_str(k) or "", self.extra) for k in extra.keys):
            facts.log_version_attached.append((call.lineno, "extra={...version...}"))
        if attr in ("set_tag", "set_tags") and _mentions_version(call, self.extra):
            facts.dd_version_in_code = True
        if attr == "info" and len(call.args) >= 2 and all(_str(a) for a in call.args[:2]) \
                and any(k.arg and is_version_word(k.arg, self.extra) for k in call.keywords):
            facts.version_info.append((call.lineno, f"{_str(call.args[0])} (info metric)"))

        q = mod.qualname(func)
        if q is None:
            return
        if q.startswith("opentelemetry."):
            self._otel(call, q, mod, facts, merged)
        elif q == "sentry_sdk.init":
            release = _kw(call, "release")
            verdict = True if release is not None and not (isinstance(release, ast.Constant) and release.value is None) \
                else (_star_release(call, mod) if _has_star_kwargs(call) else False)
            facts.items.append(Item("sentry", call, "sentry_sdk.init", verdict))
        elif q.startswith("prometheus_client."):
            self._prometheus(call, q, facts)
        elif q.startswith(EXPORTER_MODULES):
            self._exporter(call, q, facts)
        elif q == "logging.basicConfig":
            fmt = _kw(call, "format")
            if _has_star_kwargs(call) or (fmt is None and _kw(call, "handlers") is not None):
                verdict = None
            elif fmt is None:
                verdict = False
                fmt_text = DEFAULT_BASIC_FORMAT
            else:
                verdict = format_verdict(fmt, mod, self.extra)
                fmt_text = _str(mod.resolve(fmt)) or mod.resolved_text.get(id(mod.resolve(fmt)), "")
            if verdict is False:
                facts.items.append(Item("log-text", call, "logging.basicConfig", False, fmt_text))
        elif q == "logging.Formatter" and self._installs_handler(call):
            fmt = call.args[0] if call.args else _kw(call, "fmt")
            if fmt is not None and not _has_star_kwargs(call):
                verdict = format_verdict(fmt, mod, self.extra)
                fmt_text = _str(mod.resolve(fmt)) or mod.resolved_text.get(id(mod.resolve(fmt)), "")
                if verdict is False:
                    facts.items.append(Item("log-text", call, "logging.Formatter", False, fmt_text))
        elif q == "logging.config.dictConfig" and call.args:
            config = mod.resolve(call.args[0])
            if isinstance(config, ast.Dict):
                merged.add(id(config))
                self._dict_config(config, call, mod, facts, "dictConfig")
        elif q == "logging.config.fileConfig" and call.args:
            self._file_config(call, mod, facts, read)
        elif q.startswith("pythonjsonlogger.") and q.endswith("JsonFormatter"):
            self._json_formatter(call, mod, facts)
        elif q == "structlog.configure":
            self._structlog(call, mod, facts)
        elif q == "loguru.logger.add":
            self._loguru_handler(call, call.keywords, mod, facts, "loguru logger.add")
        elif q == "loguru.logger.configure":
            handlers = mod.resolve(_kw(call, "handlers"))
            if isinstance(handlers, (ast.List, ast.Tuple)):
                for h in handlers.elts:
                    h = mod.resolve(h)
                    if isinstance(h, ast.Dict) and None not in h.keys:
                        kws = [ast.keyword(arg=_str(k), value=v) for k, v in zip(h.keys, h.values)]
                        self._loguru_handler(h, kws, mod, facts, "loguru logger.configure handler")

    def _otel(self, call: ast.Call, q: str, mod: _Module, facts: FileFacts, merged: set) -> None:
        if q.endswith("Resource.create") or q.endswith("resources.Resource"):
            kind = "resource-create" if q.endswith(".create") else "resource-ctor"
            attrs = call.args[0] if call.args else _kw(call, "attributes")
            if id(call) in merged:
                return
            if _has_star_kwargs(call):
                verdict = None
            elif attrs is None:
                verdict = False
            else:
                resolved = mod.resolve(attrs)
                if isinstance(attrs, ast.Name) and not isinstance(resolved, ast.Dict):
                    verdict = self._local_dict_verdict(attrs.id, self._enclosing.get(id(call)))
                else:
                    verdict = self._resource_attrs(resolved)
            facts.items.append(Item(kind, call, "Resource.create" if kind == "resource-create" else "Resource", verdict))
            return
        cls = PROVIDERS.get(q)
        if cls is None:
            return
        pos = PROVIDER_RESOURCE_POS[cls]
        has = _kw(call, "resource") is not None or len(call.args) > pos or _has_star_kwargs(call)
        facts.items.append(Item("provider", call, cls, None if has else False))

    def _local_dict_verdict(self, name: str, func: ast.AST | None) -> bool | None:
        """`attrs = {...}; attrs["k"] = v; Resource.create(attrs)` inside one function: judge the keys
        written there. Anything else done to the name (update, |=, passing it on) makes it unknown."""
        if func is None:
            return None
        literal, keys = None, []
        for node in ast.walk(func):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                if literal is not None or not isinstance(node.value, ast.Dict):
                    return None
                literal = node.value
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name) \
                    and node.target.id == name:
                if isinstance(node, ast.AugAssign) or literal is not None or not isinstance(node.value, ast.Dict):
                    return None
                literal = node.value
            elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == name \
                    and isinstance(node.ctx, ast.Store):
                keys.append(node.slice)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == name \
                    and node.attr in ("update", "setdefault", "__setitem__", "__ior__"):
                return None
        if literal is None:
            return None
        verdict = self._resource_attrs(literal)
        if verdict is not False:
            return verdict
        judged = [is_service_version_key(k) for k in keys]
        if any(v is True for v in judged):
            return True
        return None if any(v is None for v in judged) else False

    def _resource_attrs(self, node: ast.AST | None) -> bool | None:
        if not isinstance(node, ast.Dict):
            return None
        verdicts = []
        for k, v in zip(node.keys, node.values):
            if k is None:  # **other
                verdicts.append(None)
                continue
            verdicts.append(is_service_version_key(k))
        if any(v is True for v in verdicts):
            return True
        return None if any(v is None for v in verdicts) else False

    def _prometheus(self, call: ast.Call, q: str, facts: FileFacts) -> None:
        cls = q.rsplit(".", 1)[-1]
        if cls not in METRIC_TYPES and cls != "Info":
            return
        name = _str(call.args[0]) if call.args else _str(_kw(call, "name"))
        prefix = "_".join(p for p in (_str(_kw(call, "namespace")), _str(_kw(call, "subsystem"))) if p)
        full = f"{prefix}_{name}" if prefix and name else name or "<dynamic name>"
        labels = self._mod.resolve(_kw(call, "labelnames") or (call.args[2] if len(call.args) > 2 else None))
        has_version_label = isinstance(labels, (ast.List, ast.Tuple)) and any(
            is_version_word(_str(e) or "", self.extra) for e in labels.elts)
        lowered = full.lower()
        if "exporter" in lowered:
            return  # an exporter's own *_exporter_info carries the library's version, not the app's
        if cls == "Info" or (lowered.endswith("_info") and ("build" in lowered or "version" in lowered or has_version_label)):
            facts.version_info.append((call.lineno, f"{full} ({cls})"))
            return
        unknown = labels is not None and not isinstance(labels, (ast.List, ast.Tuple))
        facts.items.append(Item("metric", call, full, True if has_version_label else (None if unknown else False), cls))

    def _exporter(self, call: ast.Call, q: str, facts: FileFacts) -> None:
        for k in call.keywords:
            if k.arg in EXPORTER_LABEL_KWARGS and _mentions_version(k.value, self.extra):
                facts.version_info.append((call.lineno, f"{q.rsplit('.', 1)[-1]}({k.arg}=...version...)"))
                return
        cls = q.rsplit(".", 1)[-1]
        if cls[:1].isupper() and not cls.endswith(("Metric", "Error", "Exception")):
            facts.items.append(Item("metric", call, f"{cls} (HTTP metrics)", None if _has_star_kwargs(call) else False, cls))

    # ---- logs ------------------------------------------------------------------------------------
    def _formatter_entries(self, formatters: ast.Dict, mod: _Module) -> list[tuple[str, bool, bool | None]]:
        """(name, is_structured, verdict) for each formatter of a dictConfig `formatters` table."""
        out = []
        for k, v in zip(formatters.keys, formatters.values):
            name = _str(k) or "?"
            v = mod.resolve(v)
            if not isinstance(v, ast.Dict):
                out.append((name, False, None))
                continue
            entries = {_str(kk): vv for kk, vv in zip(v.keys, v.values)}
            if None in entries:
                out.append((name, False, None))
                continue
            factory = " ".join(filter(None, (_str(entries.get("()")) or dotted(entries.get("()")) if "()" in entries else None,
                                              _str(entries.get("class")))))
            if ("()" in entries and not factory) or "structlog" in factory.lower():
                out.append((name, True, None))  # a callable we cannot see / a structlog chain judged elsewhere
                continue
            structured = "json" in factory.lower() or "ecs" in factory.lower()
            fmt = entries.get("format", entries.get("fmt"))
            verdict = format_verdict(fmt, mod, self.extra) if fmt is not None else False
            if structured and verdict is False:
                extras = [vv for kk, vv in entries.items() if kk not in ("()", "class", "format", "fmt", "datefmt", "style")]
                if any(_mentions_version(e, self.extra) for e in extras):
                    verdict = True
            if factory and not structured and factory not in TEXT_FORMATTERS and not self._plain_formatter(factory, mod):
                verdict = None if verdict is False else verdict  # a custom formatter class may add it
            out.append((name, structured, verdict))
        return out

    def _installs_handler(self, call: ast.Call) -> bool:
        """A `logging.Formatter(...)` that the same function (or module) sets on a handler it adds to a logger
        other than a library's own `getLogger(__name__)`: the app's log format."""
        scope = self._enclosing.get(id(call)) or self._tree
        formatter_names = {t.id for n in ast.walk(scope) if isinstance(n, ast.Assign) and n.value is call
                           for t in n.targets if isinstance(t, ast.Name)}
        own_loggers = {t.id for n in ast.walk(scope) if isinstance(n, ast.Assign) and _module_logger(n.value)
                       for t in n.targets if isinstance(t, ast.Name)}
        handlers: set[str] = set()
        for n in ast.walk(scope):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "setFormatter" \
                    and n.args and (n.args[0] is call or (isinstance(n.args[0], ast.Name) and n.args[0].id in formatter_names)):
                handlers.add(dotted(n.func.value) or "")
        for n in ast.walk(scope):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "addHandler" and n.args:
                owner = n.func.value
                if _module_logger(owner) or (isinstance(owner, ast.Name) and owner.id in own_loggers):
                    continue
                if (dotted(n.args[0]) or "") in handlers:
                    return True
        return False

    def _plain_formatter(self, factory: str, mod: _Module) -> bool:
        """A `logging.Formatter` subclass of the tree that never names a version: it prints the format it is
        given (a SecureFormatter that masks secrets, say), so the format decides."""
        if mod.values is None or "." not in factory or " " in factory:
            return False
        module, _, name = factory.replace(":", ".").rpartition(".")
        project = mod.values.scope.project
        scope = project.scope(module) if project is not None else None
        cls = scope.classes.get(name) if scope is not None else None
        if cls is None or not any((dotted(b) or "").endswith("Formatter") for b in cls.bases):
            return False
        return not _mentions_version(cls, self.extra)

    def _dict_config(self, config: ast.Dict, where: ast.AST, mod: _Module, facts: FileFacts, label: str) -> None:
        table = {_str(k): v for k, v in zip(config.keys, config.values)}
        if None in table:
            return  # **base: part of the config comes from elsewhere
        formatters = mod.resolve(table.get("formatters"))
        if not isinstance(formatters, ast.Dict) or not formatters.keys:
            return
        entries = self._formatter_entries(formatters, mod)
        if not entries or any(v is not False for _, _, v in entries):
            return
        names = ", ".join(n for n, _, _ in entries)
        structured = all(s for _, s, _ in entries)
        node = where if isinstance(where, ast.Call) else formatters
        facts.items.append(Item("log-json" if structured else "log-text", node, f"{label} formatters ({names})", False))

    def _json_formatter(self, call: ast.Call, mod: _Module, facts: FileFacts) -> None:
        if _has_star_kwargs(call):
            return
        fmt = call.args[0] if call.args else _kw(call, "fmt")
        verdict = format_verdict(fmt, mod, self.extra) if fmt is not None else False
        if verdict is False and any(k.arg in ("static_fields", "rename_fields", "defaults") and _mentions_version(k.value, self.extra)
                                    for k in call.keywords):
            verdict = True
        if verdict is False:
            facts.items.append(Item("log-json", call, "JsonFormatter", False))

    def _file_config(self, call: ast.Call, mod: _Module, facts: FileFacts, read) -> None:
        import configparser
        import posixpath

        rel = _str(mod.resolve(call.args[0]))
        if rel is None or read is None:
            return
        ini_text = None
        # beside the module, else from the directory the check runs in (where the app usually starts)
        for ini_path in (posixpath.join(posixpath.dirname(facts.path), rel), rel):
            ini_text = read(ini_path)
            if ini_text is not None:
                break
        if ini_text is None:
            return
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(ini_text)
        except configparser.Error:
            return
        names = [n.strip() for n in parser.get("formatters", "keys", fallback="").split(",") if n.strip()]
        if not names:
            return
        for name in names:
            sect = f"formatter_{name}"
            fmt = parser.get(sect, "format", fallback=None)
            cls = parser.get(sect, "class", fallback="")
            if fmt is None or (cls and cls != "logging.Formatter" and "json" not in cls.lower()):
                return  # default or custom formatter class: cannot tell
            if format_verdict(ast.Constant(fmt), mod, self.extra) is not False:
                return
        what = f"fileConfig {posixpath.basename(ini_path)} formatters ({', '.join(names)})"
        facts.items.append(Item("log-text", call, what, False))

    def _loguru_handler(self, node: ast.AST, keywords: list, mod: _Module, facts: FileFacts, what: str) -> None:
        """A loguru sink: its `format` (default: no extra fields) or, with `serialize=True`, JSON that
        carries whatever was bound into `extra`."""
        if any(k.arg is None for k in keywords):
            return
        kw = {k.arg: k.value for k in keywords}
        serialize = kw.get("serialize")
        if isinstance(serialize, ast.Constant) and serialize.value is True:
            facts.items.append(Item("log-json", node, what, False))
            return
        if serialize is not None and not isinstance(serialize, ast.Constant):
            return
        fmt = kw.get("format")
        if fmt is None:
            facts.items.append(Item("log-text", node, what, False, LOGURU_DEFAULT_FORMAT))
        elif format_verdict(fmt, mod, self.extra) is False:
            facts.items.append(Item("log-text", node, what, False, _str(mod.resolve(fmt)) or ""))

    def _structlog(self, call: ast.Call, mod: _Module, facts: FileFacts) -> None:
        procs = mod.resolve(_kw(call, "processors"))
        if not isinstance(procs, (ast.List, ast.Tuple)) or _has_star_kwargs(call):
            return
        for el in procs.elts:
            if isinstance(el, ast.Starred):
                return
            target = el.func if isinstance(el, ast.Call) else el
            q = mod.qualname(target)
            if q and q.startswith("structlog."):
                if isinstance(el, ast.Call) and _mentions_version(el, self.extra):
                    return  # e.g. a processor configured with the version
                continue
            name = dotted(target)
            fn = mod.functions.get(name) if name else None
            if fn is None:
                return  # a processor we cannot see may add it
            if _mentions_version(fn, self.extra):
                return
        facts.items.append(Item("structlog", call, "structlog.configure", False))
