"""Log set-ups read from Python code: `logging.Formatter` on a handler, dictConfig tables and their
formatters, fileConfig INI files, python-json-logger, loguru sinks and structlog processor chains."""

from __future__ import annotations

import ast

from canary_lint.pyast import dotted
from canary_lint.resolver.modules import definition
from canary_lint.telemetry.pyvocab import (
    FileFacts, Item, Module, format_verdict, has_star_kwargs, is_version_word, kw_arg, mentions_version,
    str_const,
)

# formatter classes that print exactly their format string (anything else may add fields)
TEXT_FORMATTERS = {"logging.Formatter", "django.utils.log.ServerFormatter", "uvicorn.logging.DefaultFormatter",
                   "uvicorn.logging.AccessFormatter", "colorlog.ColoredFormatter"}
# loguru's default handler format: time, level, module, function, line, message
LOGURU_DEFAULT_FORMAT = "{time} | {level} | {name}:{function}:{line} - {message}"


def _module_logger(node: ast.AST) -> bool:
    """`logging.getLogger(__name__)`: a library's own logger, which its embedder configures."""
    return isinstance(node, ast.Call) and (dotted(node.func) or "").endswith("getLogger") and bool(node.args) \
        and isinstance(node.args[0], ast.Name) and node.args[0].id == "__name__"


class LogSetups:
    """Mixed into `pyfacts.Scanner`, which provides `extra`, `_enclosing` and `_tree`."""

    def _formatter_entries(self, formatters: ast.Dict, mod: Module) -> list[tuple[str, bool, bool | None]]:
        """(name, is_structured, verdict) for each formatter of a dictConfig `formatters` table."""
        out = []
        for k, v in zip(formatters.keys, formatters.values):
            name = str_const(k) or "?"
            v = mod.resolve(v)
            if not isinstance(v, ast.Dict):
                out.append((name, False, None))
                continue
            entries = {str_const(kk): vv for kk, vv in zip(v.keys, v.values)}
            if None in entries:
                out.append((name, False, None))
                continue
            factory = " ".join(filter(None, (str_const(entries.get("()")) or dotted(entries.get("()")) if "()" in entries else None,
                                              str_const(entries.get("class")))))
            if ("()" in entries and not factory) or "structlog" in factory.lower():
                out.append((name, True, None))  # a callable we cannot see / a structlog chain judged elsewhere
                continue
            structured = "json" in factory.lower() or "ecs" in factory.lower()
            fmt = entries.get("format", entries.get("fmt"))
            verdict = format_verdict(fmt, mod, self.extra) if fmt is not None else False
            if structured and verdict is False:
                extras = [vv for kk, vv in entries.items() if kk not in ("()", "class", "format", "fmt", "datefmt", "style")]
                if any(mentions_version(e, self.extra) for e in extras):
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

    def _plain_formatter(self, factory: str, mod: Module) -> bool:
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
        return not mentions_version(cls, self.extra)

    def _dict_config(self, config: ast.Dict, where: ast.AST, mod: Module, facts: FileFacts, label: str) -> None:
        table = {str_const(k): v for k, v in zip(config.keys, config.values)}
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

    def _json_formatter(self, call: ast.Call, mod: Module, facts: FileFacts) -> None:
        if has_star_kwargs(call):
            return
        fmt = call.args[0] if call.args else kw_arg(call, "fmt")
        verdict = _mapping_verdict(_defining_node(mod, mod.resolve(fmt)), self.extra) if fmt is not None else None
        if verdict is None:
            verdict = format_verdict(fmt, mod, self.extra) if fmt is not None else False
        if verdict is False and any(k.arg in ("static_fields", "rename_fields", "defaults") and mentions_version(k.value, self.extra)
                                    for k in call.keywords):
            verdict = True
        if verdict is False:
            facts.items.append(Item("log-json", call, "JsonFormatter", False))

    def _file_config(self, call: ast.Call, mod: Module, facts: FileFacts, read) -> None:
        import configparser
        import posixpath

        rel = str_const(mod.resolve(call.args[0]))
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

    def _loguru_handler(self, node: ast.AST, keywords: list, mod: Module, facts: FileFacts, what: str) -> None:
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
            facts.items.append(Item("log-text", node, what, False, str_const(mod.resolve(fmt)) or ""))

    def _structlog(self, call: ast.Call, mod: Module, facts: FileFacts) -> None:
        procs = mod.resolve(kw_arg(call, "processors"))
        if not isinstance(procs, (ast.List, ast.Tuple)) or has_star_kwargs(call):
            return
        for el in procs.elts:
            if isinstance(el, ast.Starred):
                return
            target = el.func if isinstance(el, ast.Call) else el
            q = mod.qualname(target)
            if q and q.startswith("structlog."):
                if isinstance(el, ast.Call) and mentions_version(el, self.extra):
                    return  # e.g. a processor configured with the version
                continue
            name = dotted(target)
            fn = mod.functions.get(name) if name else None
            if fn is None:
                return  # a processor we cannot see may add it
            if mentions_version(fn, self.extra):
                return
        facts.items.append(Item("structlog", call, "structlog.configure", False))


def _mapping_verdict(node, extra: tuple = ()) -> bool | None:
    """jsonformatter's fmt as a mapping of output key -> record attribute (a dict literal, `dict(...)` or
    `OrderedDict([(key, attr), ...])`): does a key or attribute name a version? None when not all constant."""
    pairs = None
    if isinstance(node, ast.Dict) and None not in node.keys:
        pairs = list(zip(node.keys, node.values))
    elif isinstance(node, ast.Call) and (dotted(node.func) or "").rsplit(".", 1)[-1] in ("OrderedDict", "dict") \
            and len(node.args) == 1 and isinstance(node.args[0], (ast.List, ast.Tuple)):
        items = node.args[0].elts
        if all(isinstance(e, ast.Tuple) and len(e.elts) == 2 for e in items):
            pairs = [(e.elts[0], e.elts[1]) for e in items]
    if not pairs:
        return None
    words = [str_const(x) for pair in pairs for x in pair]
    if any(w is None for w in words):
        return None
    return any(is_version_word(w, extra) or "version" in w.lower() for w in words)


def _defining_node(mod: Module, node):
    """`config.LOG_FORMAT_JSON` of a module of the tree (imported at the top or inside the function): the
    expression assigned to it there; `node` itself otherwise."""
    scope = getattr(getattr(mod, "values", None), "scope", None)
    if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)) or scope is None \
            or scope.project is None:
        return node
    target = scope.imports.get(node.value.id) or scope.local_imports.get(node.value.id)
    if not target:
        return node
    module = target[0] if target[1] is None else f"{target[0]}.{target[1]}"
    found = definition(scope.project.scope(module), node.attr)
    return found[1] if found is not None else node
