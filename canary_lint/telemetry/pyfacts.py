"""Telemetry facts read from one Python file's shared `ast` tree (one walk per file, never a re-parse).

Calls are resolved through the module's imports to a dotted name (`sentry_sdk.init`,
`opentelemetry.sdk.resources.Resource.create`), so a look-alike `Resource` or `init` from another
library is never mistaken for the real one. A verdict is `True` (the signal carries a version), `False`
(it never can) or `None` (we cannot tell from the code, e.g. the value comes from a variable): only
`False` is ever reported.

`Scanner` walks the file and dispatches calls; the readers of trace and metric set-ups are in `tracemetrics`,
those of log set-ups in `logconfig`, the shared words, verdicts and fact types in `pyvocab`.
"""

from __future__ import annotations

import ast
from bisect import bisect_left

from canary_lint.pyast import dotted, dump_of
from canary_lint.telemetry.logconfig import LogSetups
from canary_lint.telemetry.pyvocab import (
    DEFAULT_BASIC_FORMAT, VERSION_TOKENS, FileFacts, Item, Module, format_verdict, has_star_kwargs,
    is_version_word, kw_arg, mentions_version, str_const,
)
from canary_lint.telemetry.tracemetrics import EXPORTER_MODULES, TraceMetricSetups

LOG_BINDERS = {"bind", "bind_contextvars", "bind_threadlocal", "new", "wrap_logger", "get_logger", "LoggerAdapter",
               "contextualize"}


def _is_log_record(node: ast.AST) -> bool:
    """`record`, `log_record`, `event_dict`, `self.fields`: the objects a filter or processor fills in."""
    name = (dotted(node) or "").rsplit(".", 1)[-1].lower()
    return any(w in name for w in ("record", "event", "fields", "log"))


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


def _star_release(call: ast.Call, mod: Module) -> bool | None:
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


# jsonformatter's JsonFormatter takes its fmt (a dict or JSON text of output key -> record attribute) first, like
# python-json-logger's
JSONFORMATTER = ("jsonformatter.JsonFormatter", "jsonformatter.jsonformatter.JsonFormatter")

class Scanner(TraceMetricSetups, LogSetups):
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
        mod = self._mod = Module(values(tree) if values is not None else None)
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
                keys = {str_const(k) for k in value.keys}
                if "version" in keys and ("formatters" in keys or "handlers" in keys):
                    merged.add(id(value))
                    self._dict_config(value, value, mod, facts, label)
        return facts

    @staticmethod
    def _logging_dicts(tree: ast.Module, mod: Module):
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
                key = str_const(t.slice)
                if key is None:
                    continue
                if dotted(t.value) in ("os.environ", "environ"):
                    facts.env_set[key] = node.lineno
                elif is_version_word(key, self.extra) and _is_log_record(t.value):
                    facts.log_version_attached.append((node.lineno, f"{dotted(t.value)}[{key!r}] = ..."))

    # ---- calls ---------------------------------------------------------------------------------
    def _call(self, call: ast.Call, mod: Module, facts: FileFacts, merged: set, read) -> None:
        func = call.func
        attr = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        # env vars the code sets for itself
        if attr in ("setdefault", "putenv") and call.args:
            owner = dotted(func.value) if isinstance(func, ast.Attribute) else None
            if owner in ("os.environ", "environ", "os") and str_const(call.args[0]):
                facts.env_set[str_const(call.args[0])] = call.lineno
        if attr == "merge" and isinstance(func, ast.Attribute):
            # `a.merge(b)`: either side may hold the version; judge neither alone
            merged.add(id(func.value))
            merged.update(id(a) for a in call.args)
        if attr in LOG_BINDERS or attr == "setLogRecordFactory":
            if attr == "setLogRecordFactory" or any(k.arg and is_version_word(k.arg, self.extra) for k in call.keywords) \
                    or any(isinstance(a, ast.Dict) and mentions_version(a, self.extra) for a in call.args):
                facts.log_version_attached.append((call.lineno, f"{attr}(...)"))
        extra = kw_arg(call, "extra")
        if isinstance(extra, ast.Dict) and any(is_version_word(str_const(k) or "", self.extra) for k in extra.keys):
            facts.log_version_attached.append((call.lineno, "extra={...version...}"))
        if attr in ("set_tag", "set_tags") and mentions_version(call, self.extra):
            facts.dd_version_in_code = True
        if attr == "info" and len(call.args) >= 2 and all(str_const(a) for a in call.args[:2]) \
                and any(k.arg and is_version_word(k.arg, self.extra) for k in call.keywords):
            facts.version_info.append((call.lineno, f"{str_const(call.args[0])} (info metric)"))

        q = mod.qualname(func)
        if q is None:
            return
        if q.startswith("opentelemetry."):
            self._otel(call, q, mod, facts, merged)
        elif q == "sentry_sdk.init":
            release = kw_arg(call, "release")
            verdict = True if release is not None and not (isinstance(release, ast.Constant) and release.value is None) \
                else (_star_release(call, mod) if has_star_kwargs(call) else False)
            facts.items.append(Item("sentry", call, "sentry_sdk.init", verdict))
        elif q.startswith("prometheus_client."):
            self._prometheus(call, q, facts)
        elif q.startswith(EXPORTER_MODULES):
            self._exporter(call, q, facts)
        elif q == "logging.basicConfig":
            fmt = kw_arg(call, "format")
            if has_star_kwargs(call) or (fmt is None and kw_arg(call, "handlers") is not None):
                verdict = None
            elif fmt is None:
                verdict = False
                fmt_text = DEFAULT_BASIC_FORMAT
            else:
                verdict = format_verdict(fmt, mod, self.extra)
                fmt_text = str_const(mod.resolve(fmt)) or mod.resolved_text.get(id(mod.resolve(fmt)), "")
            if verdict is False:
                facts.items.append(Item("log-text", call, "logging.basicConfig", False, fmt_text))
        elif q == "logging.Formatter" and self._installs_handler(call):
            fmt = call.args[0] if call.args else kw_arg(call, "fmt")
            if fmt is not None and not has_star_kwargs(call):
                verdict = format_verdict(fmt, mod, self.extra)
                fmt_text = str_const(mod.resolve(fmt)) or mod.resolved_text.get(id(mod.resolve(fmt)), "")
                if verdict is False:
                    facts.items.append(Item("log-text", call, "logging.Formatter", False, fmt_text))
        elif q == "logging.config.dictConfig" and call.args:
            config = mod.resolve(call.args[0])
            if isinstance(config, ast.Dict):
                merged.add(id(config))
                self._dict_config(config, call, mod, facts, "dictConfig")
        elif q == "logging.config.fileConfig" and call.args:
            self._file_config(call, mod, facts, read)
        elif (q.startswith("pythonjsonlogger.") and q.endswith("JsonFormatter")) or q in JSONFORMATTER:
            self._json_formatter(call, mod, facts)
        elif q == "structlog.configure":
            self._structlog(call, mod, facts)
        elif q == "loguru.logger.add":
            self._loguru_handler(call, call.keywords, mod, facts, "loguru logger.add")
        elif q == "loguru.logger.configure":
            handlers = mod.resolve(kw_arg(call, "handlers"))
            if isinstance(handlers, (ast.List, ast.Tuple)):
                for h in handlers.elts:
                    h = mod.resolve(h)
                    if isinstance(h, ast.Dict) and None not in h.keys:
                        kws = [ast.keyword(arg=str_const(k), value=v) for k, v in zip(h.keys, h.values)]
                        self._loguru_handler(h, kws, mod, facts, "loguru logger.configure handler")
