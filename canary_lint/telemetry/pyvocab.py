"""The shared vocabulary of the telemetry scan: the tokens that let a file be skipped unread, the words that
name a version, the verdict on a log format, and what a scan yields (`Item`s in a `FileFacts`), with the
per-module lookup tables (`Module`) the verdicts resolve names through.

A verdict is `True` (the signal carries a version), `False` (it never can) or `None` (we cannot tell from the
code, e.g. the value comes from a variable): only `False` is ever reported.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from canary_lint.pyast import dotted
from canary_lint.textmemo import any_token, per_text

# A file holds a telemetry set-up only if it names one of these; other files are never walked.
STRONG_TOKENS = ("opentelemetry", "sentry_sdk", "prometheus", "ddtrace", "datadog", "structlog", "jsonlogger", "jsonformatter",
                 "basicConfig", "dictConfig", "fileConfig", "LOGGING", "loguru", '"formatters"', "'formatters'",
                 "Formatter(")
# Files that may put a version on log records or set a telemetry env var for the process; read only when
# a finding depends on them.
ENV_TOKENS = ("OTEL_RESOURCE_ATTRIBUTES", "SENTRY_RELEASE", "SOURCE_VERSION", "DD_VERSION", "DD_TAGS")
ATTACH_TOKENS = ("extra", "LoggerAdapter", "setLogRecordFactory", "bind", "record", "event_dict")
VERSION_TOKENS = ("version", "Version", "VERSION", "release", "RELEASE", "revision")


_HOLDS_STRONG = any_token(STRONG_TOKENS, gates=("ormatter", "Config"))


@per_text
def is_telemetry_file(text: str) -> bool:
    return _HOLDS_STRONG(text)


def sets_telemetry_env(text: str) -> bool:
    return any(t in text for t in ENV_TOKENS)


def may_attach_version(text: str, extra: tuple = ()) -> bool:
    return "setLogRecordFactory" in text or (
        any(t in text for t in ATTACH_TOKENS) and any(t in text for t in VERSION_TOKENS + extra))


VERSION_WORDS = ("version", "release", "revision", "git_sha", "commit_sha", "build_id")
PLACEHOLDER = re.compile(r"%\(\s*([\w.]+)\s*\)|\{([A-Za-z_][\w.]*)[^{}]*\}|\$\{?([A-Za-z_]\w*)")
DEFAULT_BASIC_FORMAT = "%(levelname)s:%(name)s:%(message)s"


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


class Module:
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


def kw_arg(call: ast.Call, name: str) -> ast.AST | None:
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def has_star_kwargs(call: ast.Call) -> bool:
    return any(k.arg is None for k in call.keywords) or any(isinstance(a, ast.Starred) for a in call.args)


def str_const(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def format_verdict(node: ast.AST | None, mod: Module, extra: tuple = ()) -> bool | None:
    """Does a log format expression print a version? Only formats whose every possible text is known can be
    judged False: a literal, or what the resolver reads from config modules and class attributes."""
    node = mod.resolve(node)
    if node is None:
        return None
    if mod.values is not None and isinstance(node, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)) \
            and not (isinstance(node, (ast.Name, ast.Attribute)) and is_version_word(dotted(node) or "", extra)):
        verdict, text = mod.values.format_text(node, lambda s: format_verdict(ast.Constant(s), Module(), extra))
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


def mentions_version(node: ast.AST, extra: tuple = ()) -> bool:
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
