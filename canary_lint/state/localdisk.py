"""Files one handler writes under a local directory that another handler reads back (CLS107): on another
replica, or after a deploy replaces the disk, the file is not there."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from canary_lint.pyast import walk_body
from canary_lint.state.envs import const_str, dotted, env_read
from canary_lint.state.handlers import Func, ModuleIndex

WRITE_MODES = ("w", "a", "x")
OPEN_FUNCS = ("open", "io.open", "aiofiles.open", "codecs.open", "anyio.open_file")
FILE_READERS = {"send_file", "send_from_directory", "FileResponse", "listdir", "scandir", "iterdir", "glob",
                "read_text", "read_bytes", "exists", "isfile", "load", "FileStorage"}


@dataclass
class DiskUse:
    func: Func
    node: ast.AST
    root: str  # the module-level name or constant the path is built from
    write: bool


DIR_WORDS = ("DIR", "FOLDER", "PATH", "ROOT", "STORAGE")
PATH_CALLS = {"Path", "join", "abspath", "realpath", "expanduser", "resolve", "gettempdir", "mkdtemp", "PurePath"}


def dir_like(name: str) -> bool:
    return any(w in name.upper() for w in DIR_WORDS)


def _path_roots(expr: ast.AST, roots: dict[str, str], aliases: dict[str, str] | None = None) -> str:
    """The root a path expression is built from: a root's name, `module.NAME`/`settings.NAME`, a config key
    (`app.config["K"]`, `current_app.config.get("K")`) or a local variable assigned from one (`aliases`)."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Name):
            if aliases and node.id in aliases:
                return aliases[node.id]
            if node.id in roots:
                return node.id
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            name = f"{node.value.id}.{node.attr}"
            if name in roots:
                return name
        key = None
        if isinstance(node, ast.Subscript) and dotted(node.value).endswith("config"):
            key = const_str(node.slice)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and dotted(node.func.value).endswith("config") and node.args:
            key = const_str(node.args[0])
        if key and key in roots:
            return key
        if key and f"config[{key}]" in roots:
            return f"config[{key}]"
    return ""


def local_roots(tree: ast.Module) -> dict[str, str]:
    """Module-level names (and Flask config keys) bound to a local directory path: name -> the path text."""
    roots: dict[str, str] = {}
    for stmt in tree.body:
        targets, value = [], None
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        for target in targets:
            name = target.id if isinstance(target, ast.Name) else const_str(target.slice) if isinstance(target, ast.Subscript) else None
            if not name:
                continue
            text = path_text(value, roots)
            if text is not None and (isinstance(target, ast.Subscript) or dir_like(name)):
                roots[name] = text
    return roots


def path_text(value: ast.AST | None, known: dict[str, str] | None = None, depth: int = 0) -> str | None:
    """How a value names a local directory ("/srv/uploads", "a local path"), or None when it does not: a path
    string, `Path(...)`/`os.path.join(...)`, `BASE / "media"`, a root already `known`, an environment variable
    with a path default (`os.environ.get("UPLOAD_DIR", "/srv/uploads")`) or a path helper given one
    (`get_path_from_env("MEDIA_ROOT", BASE_DIR / "media")`)."""
    if value is None or depth > 4:
        return None
    s = const_str(value)
    if s is not None:
        return s if ("/" in s or s.startswith(".")) and "://" not in s else None
    if isinstance(value, ast.Name) and known and value.id in known:
        return known[value.id]
    if isinstance(value, ast.Call):
        name = dotted(value.func).rsplit(".", 1)[-1]
        if name in PATH_CALLS:
            first = const_str(value.args[0]) if name in ("Path", "PurePath") and value.args else None
            return first if first is not None and "://" not in first else "a local path"
        if name == "Field":  # pydantic: `upload_dir: Path = Field(default=Path("/data/uploads"))`
            default = next((k.value for k in value.keywords if k.arg == "default"), value.args[0] if value.args else None)
            return path_text(default, known, depth + 1)
        env = env_read(value)
        if env is not None and env[1] is not None:
            default = path_text(env[1], known, depth + 1)
            return f"${env[0]}, else {default}" if default is not None else None
        if name in ("get", "getenv") or "path" in name.lower() or "dir" in name.lower():
            args = [*value.args[1:], *(k.value for k in value.keywords)]
            default = next((t for a in args if (t := path_text(a, known, depth + 1)) is not None), None)
            variable = const_str(value.args[0]) if value.args else None
            if default is not None:  # `get_path_from_env("PAPERLESS_MEDIA_ROOT", BASE_DIR / "media")`
                return f"${variable}, else {default}" if variable and variable.isupper() else "a local path"
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Div):
        return path_text(value.left, known, depth + 1) or "a local path"
    return None


def local_aliases(func: Func, roots: dict[str, str], temp: bool = False) -> dict[str, str]:
    """Local variables holding a path under a root (`path = os.path.join(UPLOAD_DIR, name)`, then
    `target = path + ".part"`) -> the root; with `temp`, also paths made by `tempfile` (root `tempfile`)."""
    assigns = []
    for node in walk_body(func.node):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            assigns.append((node.targets[0].id, node.value))
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            assigns.extend((i.optional_vars.id, i.context_expr) for i in node.items
                           if isinstance(i.optional_vars, ast.Name) and not _opens(i.context_expr))
    aliases: dict[str, str] = {}
    for _ in range(2):  # `d = ROOT / user; p = d / name`, in either order of the walk
        for name, value in assigns:
            if name in aliases or not _path_shaped(value):
                continue
            root = _path_roots(value, roots, aliases) or (TEMP_ROOT if temp and _temp_path(value) else "")
            if root:
                aliases[name] = root
    return aliases


TEMP_ROOT = "tempfile"
TEMP_CALLS = {"mkdtemp", "mkstemp", "NamedTemporaryFile", "gettempdir", "TemporaryDirectory"}
PATH_METHODS = PATH_CALLS | {"format", "joinpath", "with_suffix", "with_name", "str", "fspath", "normpath"}


def _opens(expr: ast.AST) -> bool:
    return isinstance(expr, ast.Call) and dotted(expr.func).rsplit(".", 1)[-1] in ("open", "open_file")


def _path_shaped(value: ast.AST) -> bool:
    """A value that is a path, not what reading one gives (`open(...)`, `json.load(...)`)."""
    if isinstance(value, (ast.BinOp, ast.JoinedStr, ast.Name, ast.Attribute, ast.Subscript)):
        return True
    if isinstance(value, ast.Call):
        return dotted(value.func).rsplit(".", 1)[-1] in PATH_METHODS | TEMP_CALLS
    return False


def _temp_path(value: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and dotted(n.func).rsplit(".", 1)[-1] in TEMP_CALLS for n in ast.walk(value))


def disk_uses(func: Func, roots: dict[str, str], aliases: dict[str, str] | None = None) -> list[DiskUse]:
    out: list[DiskUse] = []
    if aliases is None:
        aliases = local_aliases(func, roots)
    for node in walk_body(func.node):
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func)
        last = node.func.attr if isinstance(node.func, ast.Attribute) else name
        if last == "open":
            if name in OPEN_FUNCS:
                path, mode_arg = (node.args[0] if node.args else None), (node.args[1] if len(node.args) > 1 else None)
            elif isinstance(node.func, ast.Attribute):  # Path(...).open("w")
                path, mode_arg = node.func.value, (node.args[0] if node.args else None)
            else:
                continue
            mode = const_str(mode_arg)
            for kw in node.keywords:
                if kw.arg == "mode":
                    mode = const_str(kw.value)
            root = _path_roots(path, roots, aliases) if path is not None else ""
            if root:
                out.append(DiskUse(func, node, root, bool(mode) and mode.startswith(WRITE_MODES)))
        elif last in ("write_text", "write_bytes", "save", "mkdir", "touch") and isinstance(node.func, ast.Attribute):
            target = node.args[0] if last == "save" and node.args else node.func.value
            root = _path_roots(target, roots, aliases)
            if root and last != "mkdir":
                out.append(DiskUse(func, node, root, True))
        elif last == "write" and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                and node.func.value.id in aliases:  # `out = tempfile.NamedTemporaryFile(...)`; `out.write(data)`
            out.append(DiskUse(func, node, aliases[node.func.value.id], True))
        elif last in FILE_READERS:
            exprs = list(node.args) + ([node.func.value] if isinstance(node.func, ast.Attribute) else [])
            for expr in exprs:
                root = _path_roots(expr, roots, aliases)
                if root:
                    out.append(DiskUse(func, node, root, False))
                    break
    return out


def disk_round_trips(index: ModuleIndex, roots: dict[str, str]):
    """(root, write use, read use, writer handler, reader handler) per local root."""
    if not roots:
        return []
    uses: list[DiskUse] = []
    for func in index.reached_by:
        uses.extend(disk_uses(func, roots))
    by_root: dict[str, tuple[list, list]] = {}
    for u in uses:
        by_root.setdefault(u.root, ([], []))[0 if u.write else 1].append(u)
    out = []
    for root in sorted(by_root):
        found = _first_round_trip(index.reached_by, *by_root[root])
        if found:
            out.append((root, *found))
    return out


def _first_round_trip(handlers: dict, writes: list, reads: list):
    """(write, read, writer handler, reader handler): the write and read with the smallest (write line, read
    line) that two different handlers reach, as comparing every pair of writes, reads and their handlers
    finds it (ties: the earlier write, then the earlier read), after one sort instead of that comparison
    (a file of copied handlers made it O(n^4): 64 copies took 7 s). The handlers named are the first by line
    (the comparison named whichever a set gave first, a different one from run to run)."""
    reads = [r for r in sorted(reads, key=lambda u: u.node.lineno) if handlers.get(r.func)]
    if not reads:
        return None

    def only(u):  # the one handler reaching `u`, or None when several do
        hs = handlers.get(u.func, ())
        return next(iter(hs)) if len(hs) == 1 else None

    first = only(reads[0])
    other = next((r for r in reads if only(r) is not first), None)  # reached by another handler than `first`
    best = None
    for w in sorted(writes, key=lambda u: u.node.lineno):
        hw = handlers.get(w.func, ())
        if not hw:
            continue
        r = reads[0] if len(hw) > 1 or first is None or next(iter(hw)) is not first else other
        if r is not None and (best is None or (w.node.lineno, r.node.lineno) < best[0]):
            best = ((w.node.lineno, r.node.lineno), w, r)
    if best is None:
        return None
    _, w, r = best
    by_line = lambda h: h.node.lineno  # noqa: E731 - the handlers named are the first ones, run after run
    hw, hr = sorted(handlers[w.func], key=by_line), sorted(handlers[r.func], key=by_line)
    rh = next((h for h in hr if h is not hw[0]), None)
    return (w, r, hw[0], rh) if rh is not None else (w, r, hw[1], hr[0])


DISPATCH = {"delay", "apply_async", "enqueue", "enqueue_call", "enqueue_in", "enqueue_at", "send_task", "kiq",
            "defer", "defer_async", "send_with_options"}


@dataclass
class HandOff:
    write: DiskUse
    call: ast.Call
    task: str
    handler: Func


def hand_offs(index: ModuleIndex, roots: dict[str, str]) -> list[HandOff]:
    """A handler writes a file on its host and hands the file's path to a task queue (Celery `delay` /
    `apply_async` / `send_task`, RQ `enqueue`, dramatiq, taskiq, procrastinate): the worker that takes the task
    may run on another host, v1's included. One per handler-reached function, at its first such write."""
    out: list[HandOff] = []
    for func, handlers in index.reached_by.items():
        if not handlers:
            continue
        calls = [n for n in walk_body(func.node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                 and n.func.attr in DISPATCH]
        if not calls:
            continue
        aliases = local_aliases(func, roots, temp=True)
        writes = [u for u in disk_uses(func, roots, aliases) if u.write]
        if not writes:
            continue
        written = {n.id for u in writes for n in ast.walk(_written_path(u.node)) if isinstance(n, ast.Name)}
        written &= set(aliases)
        carriers = set(written)
        for node in walk_body(func.node):  # `doc = ConsumableDocument(original_file=path)`
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and _wraps(node.value) \
                    and any(isinstance(n, ast.Name) and n.id in written for n in ast.walk(node.value)):
                carriers.add(node.targets[0].id)
        written_roots = {u.root for u in writes}
        for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
            passed = [*call.args, *(k.value for k in call.keywords)]
            if any(isinstance(n, ast.Name) and n.id in carriers for a in passed for n in ast.walk(a)) \
                    or any(_path_roots(a, roots, aliases) in written_roots for a in passed):
                write = min(writes, key=lambda u: u.node.lineno)
                task = dotted(call.func.value) or call.func.attr
                if call.func.attr == "send_task" and call.args and const_str(call.args[0]):
                    task = const_str(call.args[0])
                out.append(HandOff(write, call, task, min(handlers, key=lambda h: h.node.lineno)))
                break
    return sorted(out, key=lambda h: h.write.node.lineno)


def _wraps(value: ast.AST) -> bool:
    """A value that carries a path along (a dict, a tuple, `Job(path=...)`), not one computed from the file
    (`rows = parse(path)`)."""
    if isinstance(value, (ast.Dict, ast.Tuple, ast.List)):
        return True
    if isinstance(value, ast.Call):
        name = dotted(value.func).rsplit(".", 1)[-1]
        return name == "dict" or name[:1].isupper()
    return False


def _written_path(call: ast.Call) -> ast.AST:
    """The path a write use writes: `open(path, "w")`, `upload.save(path)`, `path.write_bytes(data)`."""
    func = call.func
    if isinstance(func, ast.Attribute) and dotted(func) not in OPEN_FUNCS and not (func.attr == "save" and call.args):
        return func.value
    return call.args[0] if call.args else func
