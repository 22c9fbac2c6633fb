"""CLS107 through a storage class: a class that writes files under a directory it keeps (`self.base_path`, set
from a config key, an environment variable or a path) in one method and reads or serves them from there in
another (`store()` and `download()` of an uploader). The files live on the host that stored them; the class
is the storage, whichever handler calls it. A sibling class on object storage (boto3, google.cloud.storage,
azure) is named as the shared alternative the configuration can select.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from canary_lint.pyast import const_str, dotted, source_of, statements, where
from canary_lint.state.envs import env_read

ROOT_NAMES = re.compile(r"(?i)(?:dir|folder|path|root|location|storage)$|^(?:base|root|media|upload)")
REMOTE = ("boto3", "botocore", "google.cloud", "azure.storage", "minio", "s3fs", "gcsfs")
NOT_STORAGE = re.compile(r"(?i)cache|test|mock|fake|temp|log")
WRITE_MODES = ("w", "a", "x")
JOINS = {"join", "safe_join"}
READERS = {"send_file", "send_from_directory", "FileResponse", "listdir", "scandir", "iterdir", "read_text",
           "read_bytes", "copyfileobj"}
FIX = ("store the files where every version reads them (object storage, a volume every host mounts, or the "
       "database), or select the shared storage class in the configuration v1 and v2 run with")


@dataclass
class Trip:
    cls: ast.ClassDef
    attr: str  # the directory attribute
    origin: str  # "UPLOAD_FOLDER" or "a local path"
    write: ast.AST
    writer: str
    reader: str


def _origin(value: ast.AST) -> str:
    """The config key or environment variable the directory comes from; '' when it names none."""
    for node in ast.walk(value):
        read = env_read(node)
        if read:
            return read[0]
        if isinstance(node, ast.Subscript) and (dotted(node.value) or "").endswith("config"):
            key = const_str(node.slice)
            if key:
                return key
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and (dotted(node.func.value) or "").endswith("config") and node.args:
            key = const_str(node.args[0])
            if key:
                return key
        if isinstance(node, ast.Attribute) and (dotted(node.value) or "").endswith("settings") and node.attr.isupper():
            return node.attr
    return ""


def _dirs(cls: ast.ClassDef) -> dict[str, str]:
    """{attribute: origin} of `self.X = …` that hold a directory."""
    out: dict[str, str] = {}
    for node in statements(cls):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self" \
                        and ROOT_NAMES.search(t.attr):
                    origin = _origin(node.value)
                    if origin or isinstance(node.value, (ast.Call, ast.BinOp, ast.Constant, ast.JoinedStr)):
                        out.setdefault(t.attr, origin or "a local path")
                    elif isinstance(node.value, (ast.Name, ast.BoolOp)):  # `self.path = data`: given to it
                        out.setdefault(t.attr, "a local path")
    return out


def _mentions(expr: ast.AST, attrs: set[str], derived: set[str]) -> str:
    for node in ast.walk(expr):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self" \
                and node.attr in attrs:
            return node.attr
        if isinstance(node, ast.Name) and node.id in derived:
            return node.id
    return ""


def _under(expr: ast.AST, attrs: set[str], derived: set[str], helpers: dict | None = None) -> str:
    """The directory attribute (or a local path built from one) `expr` is a file under: a join of it with a
    name (`os.path.join(self.base_path, name)`, `Path(self.root) / name`, an f-string), or a name that holds
    one. The directory itself (one file the class keeps, a lock, its own settings) is not a store of files."""
    if isinstance(expr, ast.Name) and expr.id in derived:
        return expr.id
    for node in ast.walk(expr):
        if helpers and isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "self" and node.func.attr in helpers:
            return helpers[node.func.attr]  # `self._resolve_path(name)`: a method that joins the directory
        parts = []
        if isinstance(node, ast.Call) and (dotted(node.func) or "").rsplit(".", 1)[-1] in JOINS and len(node.args) > 1:
            parts = [node.args[0]]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "joinpath":
            parts = [node.func.value]
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            parts = [node.left]
        elif isinstance(node, ast.JoinedStr) and len(node.values) > 1:
            parts = [v.value for v in node.values if isinstance(v, ast.FormattedValue)][:1]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" \
                and isinstance(node.func.value, ast.Constant) and len(node.args) > 1:
            parts = node.args[:1]  # "{0}{1}".format(the_dir, name)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) \
                and isinstance(node.right, ast.Tuple) and len(node.right.elts) > 1:
            parts = node.right.elts[:1]  # "%s/%s" % (the_dir, name)
        for part in parts:
            attr = _mentions(part, attrs, derived)
            if attr:
                return attr
    return ""


def _derived(func: ast.FunctionDef, attrs: set[str], helpers: dict) -> dict[str, str]:
    """Local names holding a path under one of the directories -> that directory's attribute; also a name
    that is the directory itself (`the_dir = self.dir if self.dir is not None else ''`) and the directory of
    such a path (`os.path.dirname(path)`), whose joins are paths under it too."""
    derived: dict[str, str] = {}
    assigns = [n for n in statements(func) if isinstance(n, ast.Assign)]
    for node in sorted(assigns, key=lambda n: (n.lineno, n.col_offset)):  # in the order the code runs them
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            attr = _under(value, attrs, set(derived), helpers) or _alias(value, attrs, derived)
            if attr:
                derived[node.targets[0].id] = derived.get(attr, attr)
    return derived


def _alias(value: ast.AST, attrs: set[str], derived: dict) -> str:
    """The directory attribute `value` is, or is the parent of: `self.dir`, `self.dir if ... else ''`,
    `self.dir or ''`, `os.path.dirname(path_under_it)`; '' otherwise."""
    if isinstance(value, ast.IfExp):
        return _alias(value.body, attrs, derived) or _alias(value.orelse, attrs, derived)
    if isinstance(value, ast.BoolOp):
        return next((a for a in (_alias(v, attrs, derived) for v in value.values) if a), "")
    if isinstance(value, ast.Call) and (dotted(value.func) or "").endswith(("path.dirname", "realpath", "abspath")) \
            and len(value.args) == 1:
        return _alias(value.args[0], attrs, derived)
    if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id == "self" \
            and value.attr in attrs:
        return value.attr
    if isinstance(value, ast.Name) and value.id in derived:
        return derived[value.id]
    return ""


def path_helpers(cls: ast.ClassDef, attrs: set[str]) -> dict[str, str]:
    """{method: attribute} of methods that return a path under a directory attribute."""
    out: dict[str, str] = {}
    for item in cls.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name != "__init__":
            derived = _derived(item, attrs, {})
            for node in statements(item):
                if isinstance(node, ast.Return) and node.value is not None:
                    attr = _under(node.value, attrs, set(derived))
                    if attr:
                        out[item.name] = derived.get(attr, attr)
                        break
    return out


def _uses(func: ast.FunctionDef, attrs: set[str], helpers: dict):
    """(node, attribute, is_write) of each file write or read under one of the directories."""
    derived = _derived(func, attrs, helpers)
    out = list(_handle_writes(func, attrs, derived, helpers))
    for node in ast.walk(func):
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func) or ""
        last = node.func.attr if isinstance(node.func, ast.Attribute) else name
        subject, write = None, None
        if last == "open":
            if name in ("open", "io.open", "aiofiles.open", "codecs.open"):
                subject, mode = (node.args[0] if node.args else None), (node.args[1] if len(node.args) > 1 else None)
            elif isinstance(node.func, ast.Attribute):
                subject, mode = node.func.value, (node.args[0] if node.args else None)
            else:
                continue
            mode = next((kw.value for kw in node.keywords if kw.arg == "mode"), mode)
            text = const_str(mode)
            write = bool(text) and text.startswith(WRITE_MODES)
            if mode is not None and text is None:
                continue  # a mode the caller passes: neither a known write nor a known read
        elif last in ("write_text", "write_bytes") and isinstance(node.func, ast.Attribute):
            subject, write = node.func.value, True
        elif last == "save" and node.args:
            subject, write = node.args[0], True
        elif last in READERS and last != "copyfileobj":
            subject, write = ast.Tuple(elts=list(node.args) or [getattr(node.func, "value", None) or node.func]), False
        if subject is None:
            continue
        attr = _under(subject, attrs, set(derived), helpers)
        if not attr and write is False and last == "send_from_directory" and node.args:
            attr = _alias(node.args[0], attrs, derived)  # the directory itself, or a name that holds it
        if attr:
            out.append((node, derived.get(attr, attr), write))
    return out


def _handle_writes(func: ast.FunctionDef, attrs: set[str], derived: dict, helpers: dict):
    """`with opener(path_under_it) as f: ... f.write(...)`: a handle opened from a path under the directory
    (by any call: `open`, a helper of the module) that the block writes to."""
    for node in statements(func):
        if not isinstance(node, (ast.With, ast.AsyncWith)):
            continue
        for item in node.items:
            call, handle = item.context_expr, item.optional_vars
            if not (isinstance(call, ast.Call) and call.args and isinstance(handle, ast.Name)) \
                    or (dotted(call.func) or "").rsplit(".", 1)[-1] == "open":
                continue  # `open(...)` is judged by its mode
            attr = _under(call.args[0], attrs, set(derived), helpers)
            if attr and any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                            and n.func.attr in ("write", "writelines") and isinstance(n.func.value, ast.Name)
                            and n.func.value.id == handle.id for stmt in node.body for n in ast.walk(stmt)):
                yield call, derived.get(attr, attr), True


def round_trips(tree: ast.Module) -> list[Trip]:
    out = []
    for cls in statements(tree):
        if not isinstance(cls, ast.ClassDef) or NOT_STORAGE.search(cls.name):
            continue
        dirs = _dirs(cls)
        if not dirs:
            continue
        writes, reads = [], []
        helpers = path_helpers(cls, set(dirs))
        for item in cls.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name != "__init__":
                for node, attr, write in _uses(item, set(dirs), helpers):
                    (writes if write else reads).append((item.name, node, attr))
        for method, node, attr in writes:
            reader = next((m for m, _, a in reads if a == attr and m != method), None)
            if reader:
                out.append(Trip(cls, attr, dirs[attr], node, method, reader))
                break
    return out


def remote_sibling(tree: ast.Module, text: str, cls: ast.ClassDef) -> str:
    """A class beside `cls` (same module; a common base or a method of the same name) on object storage."""
    if not any(r in text for r in REMOTE):
        return ""
    bases = {dotted(b) for b in cls.bases} - {"object", None}
    methods = _methods(cls)
    for other in tree.body:
        if isinstance(other, ast.ClassDef) and other is not cls \
                and ({dotted(b) for b in other.bases} & bases or _methods(other) & methods):
            src = source_of(other, None)
            if any(r in src for r in ("boto3", "s3", "S3", "storage.Client", "BlobServiceClient", "Minio")):
                return other.name
    return ""


def _methods(cls: ast.ClassDef) -> set[str]:
    return {f.name for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
            and not f.name.startswith("__")}


def trips_reported(ctx) -> set:
    """(path, line) of the CLS107 findings of storage classes in this run."""
    return ctx.cached(("state", "storage-trips"), set)


def findings(ctx, path: str, tree: ast.Module, text: str):
    reported = trips_reported(ctx)
    for trip in round_trips(tree):
        reported.add((path, trip.write.lineno))
        sibling = remote_sibling(tree, text, trip.cls)
        where_from = f" ({trip.origin})" if trip.origin != "a local path" else ""
        alt = f"; {sibling} is the shared alternative, safe when the configuration selects it" if sibling else ""
        yield ctx.finding(
            "CLS107", path, **where(trip.write), subject=f"{trip.cls.name}.{trip.attr}",
            message=(f"{trip.cls.name}.{trip.writer}() writes files under `self.{trip.attr}`{where_from}, a directory "
                     f"of the host, and {trip.cls.name}.{trip.reader}() reads them back from there: a file stored "
                     f"through one host is missing when the next request reaches the other version{alt}"),
            fix=FIX)
