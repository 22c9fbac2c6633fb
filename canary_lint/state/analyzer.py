"""Session state that lives in one process or on one host, while v1 and v2 serve the same users.

A canary sends one user's requests to v1 and v2: different processes, usually different hosts. Anything a
request leaves in process memory or on local disk for a later request is missing or stale on the other
version, and anything signed with a key made per host is rejected there.

Each Python file is parsed once per run by the engine (`ctx.python_ast`); a cheap token scan over the text
decides which of the checks below look at it at all, so most files cost one regex pass here.
The checks decided by configuration (keys, backends, Django's default cache) are in `configchecks`.
"""

from __future__ import annotations

import ast
import re

from canary_lint.model import Severity
from canary_lint.pyast import line_starts, mentions, where
from canary_lint.serving import serving
from canary_lint.state import (
    caches, crossmodule, diskroots, djrules, djthrottles, flaskcache, handlers, instances, localdisk, memory,
    sessioninterfaces, sessionkeyed, sessionstores, storage, websockets,
)
from canary_lint.state.configchecks import (
    CACHES_SET, LIMITER, backend_findings, signing_key_findings,
)
from canary_lint.state.envs import deploy_env_names
from canary_lint.textmemo import any_token, per_text

RULES = (
    "in-process-state-lost-on-other-version",
    "signing-key-rejected-by-other-version",
    "sessions-lost-on-other-version",
    "rate-limit-counted-per-process",
    "socketio-rooms-split-per-process",
    "identity-cache-stale-on-other-version",
    "local-file-missing-on-other-version",
    "user-cache-split-per-process",
)

# Cheap prefilters: substring tests on the text decide which checks look at a file's tree at all.
HANDLER_DECORATOR = re.compile(
    r"@[\w.]+\.(?:route|get|post|put|patch|delete|head|options|websocket|websocket_route|api_route|on|event|task|"
    r"actor|expose|middleware|before_request|after_request|view)\b|@(?:expose|api_view|action|shared_task|"
    r"login_required|require_\w+|csrf_exempt|permission_required|has_access\w*)\b"
)
HANDLER_TOKENS = ("add_url_rule", "add_api_route", "add_api_websocket_route", "add_route", "add_websocket_route",
                  "add_get", "add_post", "add_put", "add_patch", "add_delete", "add_view", "Route(", "as_view",
                  "urlpatterns", "View)", "View,", "ViewSet", "Endpoint)", "Namespace)", "Handler)", "Resource)",
                  "sio.on(", ".on(")


# one scan of the text for a common part ("add_", "View") before its tokens
_HOLDS_HANDLER_TOKEN = any_token(HANDLER_TOKENS, gates=("add_", "View"))


@per_text
def has_handlers(text: str) -> bool:
    """Cheap: could this module register a request, websocket or task handler?"""
    return _HOLDS_HANDLER_TOKEN(text) or ("@" in text and HANDLER_DECORATOR.search(text) is not None)


RANDOM_TOKENS = ("token_hex", "token_urlsafe", "token_bytes", "urandom", "get_random_secret_key", "generate_key",
                 "uuid4", "get_random_string")
SECRET_WORDS = ("secret", "SECRET", "Secret", "signing", "SIGNING", "jwt", "JWT")
CONFIG_TOKENS = ("SESSION_ENGINE", "SESSION_TYPE", "RATELIMIT_STORAGE", "MemoryStorage", "storage_from_string",
                 "socketio", "SocketIO")
CACHE_TOKENS = ("lru_cache", "functools.cache", "import cache", "@cache", "cached(", "ttl_cache", "alru_cache")
DISK_TOKENS = ("open(", "write_text", "write_bytes", ".save(")
QUEUE_TOKENS = (".delay(", ".apply_async(", "enqueue", ".send_task(", ".kiq(", ".defer", ".send_with_options(")

MEMORY_FIX = ("keep it where every version reads it (the database, Redis, or the user's session) instead of "
              "process memory")
STORAGE_TOKENS = ("open(", "send_file", "send_from_directory", "FileResponse", "write_bytes", "write_text", ".save(")
_STORAGE_NOT_DISK = tuple(t for t in STORAGE_TOKENS if t not in DISK_TOKENS)  # the rest: `disk` answered them
# the same questions in fewer scans of each text (a gate is looked for once for the tokens that contain it)
_HOLDS_DISK = any_token(DISK_TOKENS, gates=("write_",))
_HOLDS_CONFIG = any_token(CONFIG_TOKENS, gates=("SESSION_", "torage", "ocket"))
_HOLDS_CACHE = any_token(CACHE_TOKENS, gates=("cache",))
_HOLDS_SESSION_STORE = any_token(sessionstores.TOKENS, gates=("InMemory", "Session"))
DISK_FIX = "write it to storage both versions share (object storage, a shared volume or the database)"
CACHE_FIX = ("keep it only if a stale answer for that long is acceptable; otherwise cache in Redis/Memcached "
             "shared by both versions, or drop the cache")


def _handler_label(func: handlers.Func) -> str:
    return f"{func.qual} ({func.handler}, line {func.node.lineno})"


def analyze(ctx):
    settings = ctx.config.state or {}
    env_set = frozenset(settings.get("env-set", ())) | deploy_env_names(ctx)
    files = []
    project = {"storage": "RATELIMIT_STORAGE_URI" in env_set or "RATELIMIT_STORAGE_URL" in env_set, "queue": False,
               "caches": set(), "classes": instances.ClassTable()}
    django_targets: list[tuple[str, str]] = []
    service = serving(ctx)
    for file in ctx.files_of("python"):
        if not service.serves(file.path):
            continue
        text = ctx.text(file)
        if not text:
            continue
        files.append((file, text))
        if "RATELIMIT_STORAGE_UR" in text and _outside_comments(text, "RATELIMIT_STORAGE_UR"):
            project["storage"] = True
        if "message_queue=" in text or "client_manager=" in text:
            project["queue"] = True
        if "CACHES" in text and CACHES_SET.search(text):
            project["caches"].add(file.path)
        if "self." in text and "class " in text:
            tree = ctx.python_ast(file)
            if tree is not None:
                project["classes"].add_module(tree, file.path, text)
        if "urlpatterns" in text:
            tree = ctx.python_ast(file)
            if tree is not None:
                with ctx.guard(file.path, "state"):
                    django_targets.extend(handlers.django_targets(tree, file.path))
    indexes: dict = {}  # path -> ModuleIndex of modules whose handlers were indexed
    reported: set = set()  # (path, container) already reported within one module
    at: set = set()  # (path, line) of each CLS101
    stores: list = []  # CLS107 of storage classes, held until the session interfaces are read
    for file, text in files:
        with ctx.guard(file.path, "state"):
            for finding in _check_file(ctx, file, text, env_set, project, django_targets, indexes):
                if finding.rule == "CLS101":
                    reported.add((finding.path, finding.subject))
                    at.add((finding.path, finding.line))
                if finding.rule == "CLS107" and (finding.path, finding.line) in storage.trips_reported(ctx):
                    stores.append(finding)
                    continue
                yield finding
    sessions = sessioninterfaces.chain_classes(ctx)  # their files are the sessions CLS103 reported
    yield from (f for f in stores if (f.path, f.subject.split(".", 1)[0]) not in sessions)
    for file, text in files:
        if "self." in text and "class " in text and any(t in text for t in sessionkeyed.TOKENS):
            with ctx.guard(file.path, "state"):
                yield from _keyed(ctx, file, text, at)
    with ctx.guard(".", "state"):
        yield from _across_modules(ctx, files, django_targets, indexes, reported)
    with ctx.guard(".", "state"):
        yield from flaskcache.analyze(ctx, files)
    with ctx.guard(".", "state"):
        yield from djrules.default_cache(ctx, files, env_set, project)
    yield from djrules.settings(ctx, env_set, project)
    with ctx.guard(".", "state"):
        yield from djrules.media(ctx, files, env_set)
    with ctx.guard(".", "state"):
        yield from djthrottles.findings(ctx, files, env_set)
    with ctx.guard(".", "state"):
        yield from websockets.channel_layer_findings(ctx, files)


def _outside_comments(text: str, token: str) -> bool:
    """Does `token` occur on a line that is not a comment (`#RATELIMIT_STORAGE_URL = ...` sets nothing)?"""
    at = text.find(token)
    while at >= 0:
        start = text.rfind("\n", 0, at) + 1
        if not text[start:at].lstrip().startswith("#"):
            return True
        at = text.find(token, at + len(token))
    return False


def _extra_handlers(path: str, targets: list[tuple[str, str]]) -> frozenset:
    if not targets:
        return frozenset()
    name = handlers.module_name(path)
    return frozenset(q for mod, q in targets if name == mod or name.endswith("." + mod))


def _check_file(ctx, file, text, env_set, project, django_targets, indexes):
    tree = ctx.python_ast(file)  # parsed once per run and shared; the engine parses every file anyway
    if tree is None:
        return
    path = file.path
    containers = memory.module_containers(tree)  # module-level statements only: cheap
    if containers:
        written = memory.written_in_text(text, containers)
        containers = {k: v for k, v in containers.items() if k in written}
    disk = _HOLDS_DISK(text)
    roots = localdisk.local_roots(tree) if disk else {}
    objects = instances.singletons(tree, path, project["classes"]) \
        if project["classes"].by_suffix or ("self." in text and "class " in text) else {}
    if containers or disk or objects:
        extra = _extra_handlers(path, django_targets)
        if extra or has_handlers(text):
            if disk:  # directories configured in other modules: only where a handler may use them
                roots = {**diskroots.imported_roots(ctx, path, tree, text), **roots}
            queued = disk and any(t in text for t in QUEUE_TOKENS)
            index = handlers.module_index(tree, text, extra) if containers or roots or objects or queued else None
            if index is not None:
                indexes[path] = index
            if index is not None and index.reached_by:
                yield from _memory(ctx, path, containers, index, text)
                yield from _disk(ctx, path, roots, index)
                if objects:
                    yield from _objects(ctx, path, tree, index, objects)
    if _HOLDS_SESSION_STORE(text):
        yield from sessionstores.findings(ctx, path, tree, text, env_set)
    if "session_interface" in text:
        yield from sessioninterfaces.findings(ctx, path, tree, text)
    if any(t in text for t in websockets.TOKENS):
        yield from websockets.findings(ctx, path, tree, text)
    if "self." in text and (disk or any(t in text for t in _STORAGE_NOT_DISK)):
        yield from storage.findings(ctx, path, tree, text)
    if any(t in text for t in SECRET_WORDS):  # a random call here, or a helper that makes the key elsewhere
        yield from signing_key_findings(ctx, path, tree, text, env_set)
    if _HOLDS_CONFIG(text) or ("Limiter(" in text and LIMITER.search(text)):
        yield from backend_findings(ctx, path, tree, text, env_set, project)
    if _HOLDS_CACHE(text):
        for f in caches.identity_caches(tree, text):
            yield ctx.finding(
                "CLS106", path, **where(f.node), subject=f"{f.func}:{f.param}",
                message=(f"{f.func}() is cached per process by {f.decorator} on `{f.param}` {f.bound}: v1 and v2 "
                         f"each keep their own answer per {f.param}, so after a change made through one version the "
                         f"other keeps serving the old value; fine only for data derivable from {f.param} that "
                         f"may be stale that long"),
                fix=CACHE_FIX,
            )


def _objects(ctx, path, tree, index, objects):
    for f in instances.instance_state(tree, index, objects):
        keyed = f" keyed on `{f.identity}`" if f.identity else ""
        single = f.single
        made = f"line {single.node.lineno}" if not single.cls_path else f"{path}:{single.node.lineno}"
        yield ctx.finding(
            "CLS101", single.cls_path or path, **where(single.defs[f.attr]), subject=f"{single.name}.{f.attr}",
            message=(f"`{single.name}.{f.attr}` is a {single.attrs[f.attr]} of the one {single.cls.name} this process "
                     f"makes ({made}): {_handler_label(f.writer_handler)} writes it{keyed} through "
                     f"{f.writer_method}() ({path}:{f.writer.lineno}) and {_handler_label(f.reader_handler)} reads "
                     f"it back through {f.reader_method}() (line {f.reader.lineno}): each process has its own copy, "
                     f"so when the user's next request reaches the other version it is not there"),
            fix=MEMORY_FIX,
        )


def _keyed(ctx, file, text, at):
    tree = ctx.python_ast(file)
    for k in sessionkeyed.keyed_objects(tree) if tree is not None else ():
        if (file.path, k.made.lineno) in at:
            continue  # the object made once per process is reported as such
        yield ctx.finding(
            "CLS101", file.path, **where(k.made), subject=f"{k.cls.name}.{k.attr}", severity=Severity.WARNING,
            message=(f"`{k.cls.name}.{k.attr}` is a {k.kind} each {k.cls.name} object keeps, which {k.writer}() "
                     f"writes keyed on the user's `{k.identity}` (line {k.write.lineno}) and {k.reader}() reads "
                     f"back: one object serves every user of its process, so when the user's next request reaches "
                     f"the other version the entry is not there (a warning: how long a {k.cls.name} lives is not "
                     f"read)"),
            fix=MEMORY_FIX,
        )


def _memory(ctx, path, containers, index, text):
    for m in memory.memory_state(index, containers, text):
        keyed = f" keyed on `{m.identity}`" if m.identity else ""
        yield ctx.finding(
            "CLS101", path, **where(m.container.node), subject=m.container.name,
            message=(f"`{m.container.name}` is a module-level {m.container.kind} that {_handler_label(m.writer_handler)} "
                     f"writes{keyed} (line {m.writer.node.lineno}) and {_handler_label(m.reader_handler)} reads back "
                     f"(line {m.reader.node.lineno}): each process has its own copy, so when the user's next request "
                     f"reaches the other version the data is missing or stale"
                     f"{f'; safe when {m.container.switch}' if m.container.switch else ''}"),
            fix=MEMORY_FIX,
        )


def _imported_modules(nodes, path: str) -> set[str]:
    """Dotted names a module imports from (and the names it imports, which may be submodules)."""
    current = handlers.module_name(path)
    is_package = path.endswith("__init__.py")
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            src = handlers._resolve_from(node.module or "", node.level, current, is_package)
            if src:
                out.add(src)
            out.update(f"{src}.{a.name}" if src else a.name for a in node.names)
        else:
            out.update(a.name for a in node.names)
    return out


def _across_modules(ctx, files, django_targets, indexes, reported):
    """CLS101 for containers whose writer or reader handler sits in another module."""
    handler_files = []
    needed: set[str] = set()
    for file, text in files:
        extra = _extra_handlers(file.path, django_targets)
        if "import" not in text or not (extra or has_handlers(text)):
            continue
        tree = ctx.python_ast(file)
        if tree is None:
            continue
        nodes = list(crossmodule._import_nodes(tree, text))
        imported = _imported_modules(nodes, file.path)
        if imported:
            handler_files.append((file, text, tree, extra, nodes))
            needed |= imported
    if not needed:
        return
    modules = []
    texts = {}
    for file, text in files:
        parts = handlers.module_name(file.path).split(".")
        if not any(".".join(parts[i:]) in needed for i in range(len(parts))):
            continue  # no handler module imports it
        tree = ctx.python_ast(file)
        if tree is None:
            continue
        module = crossmodule.state_module(tree, text, file.path, indexes.get(file.path))
        if module is not None:
            modules.append(module)
            texts[file.path] = (file, text, tree)
    if not modules:
        return
    table = crossmodule.ModuleTable(modules)
    stems = {m.dotted.rsplit(".", 1)[-1] for m in modules}
    writers: dict = {}
    readers: dict = {}
    for file, text, tree, extra, nodes in handler_files:
        path = file.path
        if not any(stem in text for stem in stems):
            continue
        imported = crossmodule._imports(tree, path, table, text, nodes)
        if not imported:
            continue
        index = indexes.get(path) or handlers.module_index(tree, text, extra)
        indexes[path] = index
        if not index.reached_by:
            continue
        for mod, cname, write, site in crossmodule.handler_accesses(tree, text, path, table, index, imported):
            side = writers if write else readers
            side.setdefault((mod.path, cname), {}).setdefault((site.path, site.handler.qual), site)
    crossed = {key for key in (*writers, *readers)}
    for module in modules:
        index = indexes.get(module.path)
        names = {c for p, c in crossed if p == module.path}
        if index is None or not index.reached_by or not names:
            continue
        text = texts[module.path][1]
        starts = line_starts(text)
        for func, roots in index.reached_by.items():
            if not mentions(text, starts, func.node, names):
                continue
            for use in memory.function_uses(func, names):
                if (use.write and (use.memo or memory._is_eviction(use))) or (not use.write and use.len_only):
                    continue
                side = writers if use.write else readers
                for root in roots:
                    site = crossmodule.Site(root, module.path, use.node.lineno, bool(memory.key_words(use.key)))
                    side.setdefault((module.path, memory._name_of(use)), {}).setdefault((module.path, root.qual), site)
    by_path = {m.path: m for m in modules}
    for key in sorted(set(writers) & set(readers)):
        path, cname = key
        if (path, cname) in reported:
            continue
        w_sites, r_sites = writers[key], readers[key]
        candidates = [(hid, site) for hid, site in sorted(r_sites.items()) if hid not in w_sites]
        if not candidates:
            continue
        (_, w), (_, r) = min(w_sites.items()), candidates[0]
        if w.path == path and r.path == path:
            continue  # both in the container's own module: the in-module check decides
        if not any(site.identity for site in [*w_sites.values(), *r_sites.values()]):
            continue  # across modules, report only state keyed on a user, session or token: tasks, handles
            # and counters a module keeps for its own worker are bookkeeping
        container = by_path[path].containers[cname]
        yield ctx.finding(
            "CLS101", path, **where(container.node), subject=cname,
            message=(f"`{cname}` is a module-level {container.kind} that {_handler_label(w.handler)} in {w.path} "
                     f"writes (line {w.line}) and {_handler_label(r.handler)} in {r.path} reads back (line {r.line}): "
                     f"each process has its own copy, so when the user's next request reaches the other version "
                     f"the data is missing or stale{f'; safe when {container.switch}' if container.switch else ''}"),
            fix=MEMORY_FIX,
        )


def _disk(ctx, path, roots, index):
    for h in localdisk.hand_offs(index, roots):
        where_text = roots.get(h.write.root, "a temporary directory of the host")
        yield ctx.finding(
            "CLS107", path, **where(h.write.node), subject=f"hand-off:{h.task}",
            message=(f"{_handler_label(h.handler)} writes a file under `{h.write.root}` ({where_text}) and hands "
                     f"its path to `{h.task}` (line {h.call.lineno}), which runs on whichever worker takes it: on "
                     f"another host, v1's workers included, the file is not there"),
            fix=DISK_FIX,
        )
    for root, w, r, wh, rh in localdisk.disk_round_trips(index, roots):
        yield ctx.finding(
            "CLS107", path, **where(w.node), subject=root,
            message=(f"{_handler_label(wh)} writes a file under `{root}` ({roots[root]}) and {_handler_label(rh)} "
                     f"reads it back (line {r.node.lineno}): the file exists only on the host that took the first "
                     f"request, so when the next one reaches the other version it is not there"),
            fix=DISK_FIX,
        )
