"""The Django state rules, judged on the settings the service runs with (see `djsettings`): sessions in a
per-process or per-host cache (CLS103), django-axes counting failed logins there (CLS104), and state or
invalidated memos in Django's default cache (CLS101)."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from canary_lint.model import Severity
from canary_lint.pyast import where
from canary_lint.resolver.modules import tree_project
from canary_lint import djsettings
from canary_lint.state import djcache
from canary_lint.state.backends import LOCAL_CACHE_BACKENDS, BackendFinding, _dict_get, _named, deployment_sets, emit
from canary_lint.state.settingvalues import Setting, module_settings, resolve

DJANGO_KEYS = {"SESSION_ENGINE", "SESSION_CACHE_ALIAS", "CACHES", "AXES_HANDLER", "AXES_CACHE"}
DEFAULT_CACHE = "django.core.cache.backends.locmem.LocMemCache"


@dataclass
class CacheBackend:
    alias: str
    backend: str  # dotted class name
    node: ast.AST | None  # where it is written; None: no CACHES setting (Django's default)
    switches: tuple[str, ...]

    @property
    def local(self) -> bool:
        return any(b in self.backend.lower() for b in LOCAL_CACHE_BACKENDS)

    @property
    def stores(self) -> bool:
        """Per process or per host, and keeps what is put in it (DummyCache keeps nothing)."""
        return self.local and self.kind != "no cache at all"

    @property
    def kind(self) -> str:
        low = self.backend.lower()
        return "per-process memory" if "locmem" in low else "no cache at all" if "dummy" in low else "local files"

    @property
    def name(self) -> str:
        return self.backend.rsplit(".", 1)[-1]


def cache_backend(s: dict[str, Setting], alias: str, caches_elsewhere: bool = False,
                  untaken: dict | None = None) -> CacheBackend | None:
    """The backend of cache `alias` in resolved settings; None when it cannot be read (or CACHES is missing
    here but set in another module that may be the production settings)."""
    caches = s.get("CACHES")
    if caches is None:
        if caches_elsewhere:
            return None
        return CacheBackend(alias, DEFAULT_CACHE, None, tuple((untaken or {}).get("CACHES", ())))
    entry = _dict_get(caches.value, alias) if isinstance(caches.value, ast.Dict) else None
    backend_node = _dict_get(entry, "BACKEND") if entry is not None else None
    if backend_node is None:
        return None
    sw = list(caches.switches) + list((untaken or {}).get("CACHES", ()))
    backend = resolve(backend_node, sw)
    return CacheBackend(alias, backend, backend_node, tuple(sw)) if isinstance(backend, str) else None


def django(body: list[ast.stmt], caches_elsewhere: bool = False, settings_name: str = "") -> list[BackendFinding]:
    """Sessions and django-axes counters of one settings module (`body`: its statements, star imports read in
    place). `caches_elsewhere`: another module of the project sets CACHES and may be the one production runs."""
    untaken: dict = {}
    s = module_settings(body, DJANGO_KEYS, untaken=untaken)
    return [*_sessions(s, untaken, caches_elsewhere, settings_name), *_axes(s, untaken, caches_elsewhere)]


def _alias(s: dict[str, Setting], key: str) -> str | None:
    setting = s.get(key)
    alias = setting.value if setting else "default"
    return alias if isinstance(alias, str) else None


def _sessions(s, untaken, caches_elsewhere, settings_name) -> list[BackendFinding]:
    engine = s.get("SESSION_ENGINE")
    if engine is None or not isinstance(engine.value, str):
        return []
    switches = list(engine.switches)
    where_node = engine.node
    severity = None
    lost = "a user logged in on v2 is logged out (or loses the session) when the next request reaches v1"
    if engine.value.endswith(".file"):
        reason, effect = "keeps sessions in files on the local disk (SESSION_FILE_PATH)", lost
    elif engine.value.endswith((".cache", ".cached_db")):
        cached_db = engine.value.endswith(".cached_db")
        alias = _alias(s, "SESSION_CACHE_ALIAS")
        cache = cache_backend(s, alias, caches_elsewhere, untaken) if alias else None
        if cache is None or not cache.local or (cached_db and not cache.stores):
            return []  # cached_db on DummyCache reads the database every time
        switches.extend(cache.switches)
        where_node = cache.node or engine.node
        if cache.node is None:
            store = f"with no CACHES setting{f' in {settings_name}' if settings_name else ''} that is the per-process LocMemCache"
        else:
            store = f"the `{alias}` cache, {cache.name} ({cache.kind})"
        if not cached_db:
            reason = (f"keeps sessions only in the cache, and {store}" if cache.node is None
                      else f"keeps sessions only in {store}")
            effect = lost
        else:
            severity = "warning"
            reason = (f"reads sessions from the cache before the database, and {store}" if cache.node is None
                      else f"reads sessions from {store} before the database")
            effect = ("a session v2 changes or ends (logout, a new login, a permission change) stays as it was in "
                      "v1's cache until it expires, so v1 still serves the logged-out user")
    else:
        return []
    safe = f"; safe when {_named(switches)} points it at a shared store" if switches else ""
    return [BackendFinding(
        "CLS103", where_node, "SESSION_ENGINE", f"SESSION_ENGINE {engine.value!r} {reason}: {effect}{safe}",
        "store sessions where every version reads them: `django.contrib.sessions.backends.db`, or a cache every "
        "version shares (Redis, Memcached) for the `cache`/`cached_db` engines",
        severity,
    )]


def _axes(s, untaken, caches_elsewhere) -> list[BackendFinding]:
    """django-axes with its cache handler counts failed logins in a Django cache."""
    handler = s.get("AXES_HANDLER")
    if handler is None or not isinstance(handler.value, str) or not handler.value.endswith("AxesCacheHandler"):
        return []
    alias = _alias(s, "AXES_CACHE")
    cache = cache_backend(s, alias, caches_elsewhere, untaken) if alias else None
    if cache is None or not cache.stores:
        return []
    switches = [*handler.switches, *cache.switches]
    safe = f"; safe when {_named(switches)} points it at a shared store" if switches else ""
    store = ("no CACHES setting, so the per-process LocMemCache" if cache.node is None
             else f"the `{alias}` cache, {cache.name} ({cache.kind})")
    return [BackendFinding(
        "CLS104", handler.node, "AXES_HANDLER",
        f"django-axes counts failed logins with AxesCacheHandler in {store}: v1 and v2 (and every worker) count "
        f"separately, so a client gets AXES_FAILURE_LIMIT attempts per process and a lockout on one version is "
        f"not seen by the other{safe}",
        "point AXES_CACHE at a cache every version shares (Redis, Memcached), or use "
        "`axes.handlers.database.AxesDatabaseHandler`",
    )]


def settings(ctx, env_set, project):
    """Sessions and django-axes of each settings module the service runs with (star imports read in place)."""
    seen: set = set()
    for chain in djsettings.chains(ctx):
        elsewhere = not chain.named_by and bool(project["caches"] - set(chain.files))
        with ctx.guard(chain.path, "state"):
            name = chain.path if not chain.named_by else f"{chain.path} ({chain.named_by})"
            for finding in emit(ctx, django(chain.body, elsewhere, name), env_set, chain.path_of):
                key = (finding.rule, finding.path, finding.line)
                if key not in seen:
                    seen.add(key)
                    yield finding


def default_cache(ctx, files, env_set, project):
    """CLS101: state kept in Django's default cache while that cache is per process (LocMemCache: no CACHES
    setting, or one that says so) or per host (FileBasedCache), in the settings the service runs with."""
    users = [(file, text) for file, text in files if "django.core.cache" in text]
    if not users:
        return
    local = None
    for chain in djsettings.chains(ctx):
        untaken: dict = {}
        settings = module_settings(chain.body, {"CACHES"}, untaken=untaken)
        elsewhere = not chain.named_by and bool(project["caches"] - set(chain.files))
        cache = cache_backend(settings, "default", elsewhere, untaken)
        if cache is not None and cache.stores and not deployment_sets(cache.switches, env_set):
            local = (chain, cache)
            break
    if local is None:
        return  # no settings in this tree, or a shared (or unreadable) default cache
    chain, cache = local
    if cache.node is None:
        store = f"with no CACHES setting ({chain.path} has none) that is LocMemCache, one per process"
    else:
        store = (f"CACHES of {chain.path_of(cache.node)}:{cache.node.lineno} makes it {cache.name}, "
                 + ("one per process" if "locmem" in cache.backend.lower() else "one per host"))
    safe = f"; safe when {_named(cache.switches)} points it at a shared cache" if cache.switches else ""
    fix = ("configure CACHES with a backend every version shares (Redis, Memcached or the database cache), "
           "or keep this state in the database")
    found: dict = {}
    tree_of = tree_project(ctx)
    for file, _text in users:
        tree = ctx.python_ast(file)
        if tree is None:
            continue
        for key, uses in djcache.uses(file.path, tree, djcache.Helpers(tree_of, file.path, tree)).items():
            found.setdefault(key, []).extend(uses)
    for write, read, key in djcache.state_in_default_cache(found):
        method = write.node.func.attr
        yield ctx.finding(
            "CLS101", write.path, **where(write.node), subject=f"django-cache:{key}",
            message=(f"`cache.{method}({key!r}…)` in {write.func} keeps state that {read.func} "
                     f"({read.path}:{read.node.lineno}) reads back from Django's default cache; {store}: when the "
                     f"next request reaches the other version, or another worker, the state is not there{safe}"),
            fix=fix,
        )
    by_function: dict = {}  # one finding per function that invalidates: one place to look, one fix
    for memo, drop, key in djcache.invalidated_memos(found):
        by_function.setdefault((drop.path, drop.func), []).append((memo, drop, key))
    for group in by_function.values():
        group.sort(key=lambda g: (g[1].node.lineno, g[1].node.col_offset))
        memo, drop, key = group[0]
        more = f" and {len(group) - 1} more key{'s' if len(group) > 2 else ''} ({', '.join(repr(k) for _m, _d, k in group[1:4])}{', …' if len(group) > 4 else ''})" if len(group) > 1 else ""
        yield ctx.finding(
            "CLS101", drop.path, **where(drop.node), subject=f"django-cache-invalidation:{drop.func}",
            message=(f"`cache.{drop.node.func.attr}({key!r}…)`{more} in {drop.func} drops what {memo.func} "
                     f"({memo.path}:{memo.node.lineno}) keeps in Django's default cache when the data changes; "
                     f"{store}, so only the process that made the change forgets it: v1 (and every other worker) "
                     f"goes on serving the old value after v2 changes the data{safe}"),
            fix=fix, severity=Severity.WARNING,
        )


# ---- uploads on the default storage ------------------------------------------------------------------------
UPLOAD_FIELDS = {"FileField", "ImageField"}
STORAGE_KEYS = {"STORAGES", "DEFAULT_FILE_STORAGE", "MEDIA_ROOT"}
LOCAL_STORAGE = "django.core.files.storage.FileSystemStorage"


def upload_fields(tree: ast.Module) -> list[tuple[str, ast.Call]]:
    """(Model.field, call) of model `FileField`/`ImageField`s that use the default storage (no `storage=`)."""
    models_names, field_names = set(), set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "django.db":
            models_names |= {a.asname or a.name for a in node.names if a.name == "models"}
        elif isinstance(node, ast.ImportFrom) and node.module == "django.db.models":
            field_names |= {a.asname or a.name for a in node.names if a.name in UPLOAD_FIELDS}
    out = []
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for stmt in cls.body:
            if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name)):
                continue
            func = stmt.value.func
            is_field = (isinstance(func, ast.Attribute) and func.attr in UPLOAD_FIELDS and isinstance(func.value, ast.Name)
                        and func.value.id in models_names) or (isinstance(func, ast.Name) and func.id in field_names)
            if is_field and not any(k.arg == "storage" for k in stmt.value.keywords):
                out.append((f"{cls.name}.{stmt.targets[0].id}", stmt.value))
    return out


def media(ctx, files, env_set):
    """CLS107: model file fields saved by FileSystemStorage, the default, under MEDIA_ROOT of the host."""
    fields = []
    for file, text in files:
        if ("FileField" in text or "ImageField" in text) and "/migrations/" not in f"/{file.path}":
            tree = ctx.python_ast(file)
            fields += [(file.path, name, call) for name, call in (upload_fields(tree) if tree is not None else ())]
    if not fields:
        return
    for chain in djsettings.chains(ctx):
        untaken: dict = {}
        s = module_settings(chain.body, STORAGE_KEYS, untaken=untaken)
        switches: list[str] = list(untaken.get("STORAGES", ())) + list(untaken.get("DEFAULT_FILE_STORAGE", ()))
        node, backend = None, LOCAL_STORAGE
        if "STORAGES" in s:
            entry = _dict_get(s["STORAGES"].value, "default") if isinstance(s["STORAGES"].value, ast.Dict) else None
            node = _dict_get(entry, "BACKEND") if entry is not None else None
            switches += s["STORAGES"].switches
            backend = resolve(node, switches) if node is not None else None
        elif "DEFAULT_FILE_STORAGE" in s:
            node = s["DEFAULT_FILE_STORAGE"].node
            switches += s["DEFAULT_FILE_STORAGE"].switches
            backend = s["DEFAULT_FILE_STORAGE"].value
        if not (isinstance(backend, str) and backend.endswith("FileSystemStorage")):
            continue  # object storage, a storage class of the app's own, or unreadable
        if deployment_sets(switches, env_set):
            continue  # the deployment sets the switch
        root = s.get("MEDIA_ROOT")
        where_root = f" ({chain.path_of(root.node)}:{root.node.lineno})" if root is not None else ""
        path, name, call = fields[0]
        more = f" and {len(fields) - 1} more" if len(fields) > 1 else ""
        at_path, at = (chain.path_of(node), node) if node is not None else (path, call)
        safe = f"; safe when {_named(switches)} selects object storage" if switches else ""
        yield ctx.finding(
            "CLS107", at_path, **where(at), subject=f"django-media:{name}",
            message=(f"uploads to `{name}`{more} ({path}:{call.lineno}) are saved by FileSystemStorage under "
                     f"MEDIA_ROOT{where_root} on the host that took the request: a file uploaded through v2 is "
                     f"missing on v1's hosts (a 404 for the image or download) unless MEDIA_ROOT is a volume both "
                     f"versions mount{safe}"),
            fix=("store uploads where every version reads them: STORAGES['default'] on object storage "
                 "(django-storages S3/GCS/Azure), or MEDIA_ROOT on a volume every host mounts"),
            severity=Severity.WARNING,
        )
        return
