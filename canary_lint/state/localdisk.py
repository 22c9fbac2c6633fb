"""Files one handler writes under a local directory that another handler reads back (CLS107): on another
replica, or after a deploy replaces the disk, the file is not there."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from canary_lint.pyast import walk_body
from canary_lint.state.envs import const_str, dotted
from canary_lint.state.handlers import Func, ModuleIndex

WRITE_MODES = ("w", "a", "x")
FILE_READERS = {"send_file", "send_from_directory", "FileResponse", "listdir", "scandir", "iterdir", "glob",
                "read_text", "read_bytes", "exists", "isfile", "load", "FileStorage"}


@dataclass
class DiskUse:
    func: Func
    node: ast.AST
    root: str  # the module-level name or constant the path is built from
    write: bool


def _path_roots(expr: ast.AST, roots: dict[str, str]) -> str:
    for node in ast.walk(expr):
        if isinstance(node, ast.Name) and node.id in roots:
            return node.id
        if isinstance(node, ast.Subscript) and dotted(node.value).endswith("config"):
            key = const_str(node.slice)
            if key and key in roots:
                return key
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
            text = _path_text(value)
            if text is not None and (isinstance(target, ast.Subscript) or any(w in name.upper() for w in ("DIR", "FOLDER", "PATH", "ROOT", "STORAGE"))):
                roots[name] = text
    return roots


def _path_text(value: ast.AST | None) -> str | None:
    if value is None:
        return None
    s = const_str(value)
    if s is not None:
        return s if ("/" in s or s.startswith(".")) and "://" not in s else None
    if isinstance(value, ast.Call):
        name = dotted(value.func).rsplit(".", 1)[-1]
        if name in ("Path", "join", "abspath", "realpath", "expanduser", "resolve", "gettempdir", "mkdtemp", "PurePath"):
            return "a local path"
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Div):
        return _path_text(value.left) or "a local path"
    return None


def disk_uses(func: Func, roots: dict[str, str]) -> list[DiskUse]:
    out: list[DiskUse] = []
    for node in walk_body(func.node):
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func)
        last = node.func.attr if isinstance(node.func, ast.Attribute) else name
        if last == "open":
            if name in ("open", "io.open", "aiofiles.open", "codecs.open", "anyio.open_file"):
                path, mode_arg = (node.args[0] if node.args else None), (node.args[1] if len(node.args) > 1 else None)
            elif isinstance(node.func, ast.Attribute):  # Path(...).open("w")
                path, mode_arg = node.func.value, (node.args[0] if node.args else None)
            else:
                continue
            mode = const_str(mode_arg)
            for kw in node.keywords:
                if kw.arg == "mode":
                    mode = const_str(kw.value)
            root = _path_roots(path, roots) if path is not None else ""
            if root:
                out.append(DiskUse(func, node, root, bool(mode) and mode.startswith(WRITE_MODES)))
        elif last in ("write_text", "write_bytes", "save", "mkdir", "touch") and isinstance(node.func, ast.Attribute):
            target = node.args[0] if last == "save" and node.args else node.func.value
            root = _path_roots(target, roots)
            if root and last != "mkdir":
                out.append(DiskUse(func, node, root, True))
        elif last in FILE_READERS:
            exprs = list(node.args) + ([node.func.value] if isinstance(node.func, ast.Attribute) else [])
            for expr in exprs:
                root = _path_roots(expr, roots)
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
