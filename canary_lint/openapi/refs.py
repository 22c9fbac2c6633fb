"""`$ref` resolution: the same document and relative files inside the tree; nothing else.

A `Loc` names where a value lives: (document path, JSON pointer) plus the value itself. `Spec.deref`
follows `$ref` chains (cycle-safe) and returns the target's `Loc`. Remote refs (`https://…`), absolute
paths (`/etc/passwd`, `file:…`) and relative paths that climb out of the tree are refused and recorded in
`Spec.problems`, never fetched or read; the diff treats such a node as opaque.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Callable, NamedTuple

from canary_lint.model import literal_text
from canary_lint.openapi.loader import Document, LoadError, escape, load

SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


class Loc(NamedTuple):
    doc: str  # document path (display path)
    pointer: str  # JSON pointer inside it ("" = root)
    node: object

    def child(self, *tokens) -> "Loc":
        node = self.node
        pointer = self.pointer
        for t in tokens:
            if isinstance(node, dict):
                node = node.get(t)
            elif isinstance(node, list) and isinstance(t, int) and t < len(node):
                node = node[t]
            else:
                node = None
            t = str(t)
            pointer = f"{pointer}/{escape(t) if ('~' in t or '/' in t) else t}"
        return Loc(self.doc, pointer, node)


@dataclass(frozen=True)
class RefProblem:
    doc: str
    pointer: str
    ref: str
    reason: str


class Spec:
    """A root document plus the documents it references, with a version and a resolver."""

    def __init__(self, root: Document, read: Callable[[str], str | None], allowed: Callable[[str], bool]):
        self.root = root
        self.docs: dict[str, Document] = {root.path: root}
        self._read = read
        self._allowed = allowed
        self.problems: list[RefProblem] = []
        self._seen_problems: set = set()
        self._cache: dict[tuple, Loc | None] = {}
        data = root.data if isinstance(root.data, dict) else {}
        raw = str(data.get("openapi") or data.get("swagger") or "")
        self.swagger = "swagger" in data and "openapi" not in data
        self.v31 = raw.startswith("3.1") or raw.startswith("3.2")
        self.version = raw
        self.display: Callable[[str], str] = lambda path: path  # document path -> path shown in findings

    def root_loc(self) -> Loc:
        return Loc(self.root.path, "", self.root.data)

    def _problem(self, loc: Loc, ref: str, reason: str) -> None:
        key = (loc.doc, ref)
        if key not in self._seen_problems:
            self._seen_problems.add(key)
            self.problems.append(RefProblem(loc.doc, loc.pointer, ref, reason))

    def document(self, path: str, loc: Loc, ref: str) -> Document | None:
        if path in self.docs:
            return self.docs[path]
        text = self._read(path)
        if text is None:
            self._problem(loc, ref, f"file {path} does not exist")
            self.docs[path] = None
            return None
        try:
            doc = load(path, text)
        except LoadError as exc:
            self._problem(loc, ref, f"{path} cannot be loaded: {exc}")
            doc = None
        self.docs[path] = doc
        return doc

    def target(self, loc: Loc, ref: str) -> Loc | None:
        """The value `ref` (written in `loc.doc`) names, or None after recording why it cannot be used."""
        if not isinstance(ref, str):  # a mapping, a list, a number: nothing to follow (and no cache key)
            self._problem(loc, literal_text(ref, 80), f"$ref is a {_json_type(ref)}, not a string")
            return None
        key = (loc.doc, ref)
        if key in self._cache:
            return self._cache[key]
        result = self._target(loc, ref)
        self._cache[key] = result
        return result

    def _target(self, loc: Loc, ref: str) -> Loc | None:
        file_part, _, fragment = ref.partition("#")
        if "\0" in file_part:
            self._problem(loc, ref, "a file name with a NUL byte names no file")
            return None
        if file_part:
            if SCHEME.match(file_part) or file_part.startswith("//"):
                self._problem(loc, ref, "remote references are not fetched (no network access during a check)")
                return None
            if file_part.startswith("/") or file_part.startswith("\\"):
                self._problem(loc, ref, "absolute paths are not read (only files inside the tree)")
                return None
            base_dir = posixpath.dirname(loc.doc)
            path = posixpath.normpath(posixpath.join(base_dir, file_part))
            if path.startswith("../") or path == ".." or posixpath.isabs(path) or not self._allowed(path):
                self._problem(loc, ref, "the file lies outside the tree and is not read")
                return None
            doc = self.document(path, loc, ref)
            if doc is None:
                return None
        else:
            doc = self.docs[loc.doc]
        if fragment and not fragment.startswith("/"):
            self._problem(loc, ref, "only JSON-pointer fragments (#/...) are supported")
            return None
        node = doc.get(fragment)
        if node is None and fragment:
            self._problem(loc, ref, f"{fragment} does not exist in {doc.path}")
            return None
        return Loc(doc.path, fragment, node)

    def check_refs(self) -> None:
        """Resolve every distinct `$ref` of the root document once, so refused or dangling refs are reported
        even where the comparison never goes (a spec new in head, an unchanged operation)."""
        refs: set = set()
        stack = [self.root.data]
        if self.root.kind == "json":  # C-speed: every "$ref": "…" string of the text
            import json as _json
            import re as _re

            refs = {_json.loads(f'"{m}"') for m in set(_re.findall(r'"\$ref"\s*:\s*"((?:[^"\\]|\\.)*)"', self.root._text))}
            stack = []
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str):
                    refs.add(ref)
                stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
            elif isinstance(node, list):
                stack.extend(v for v in node if isinstance(v, (dict, list)))
        root = self.root_loc()
        bad = [r for r in refs if not (r.startswith("#") and self.root.get(r[1:]) is not None)]
        if bad:
            where = self._first_use(set(bad))
            for ref in sorted(bad):
                self.target(where.get(ref, root), ref)

    def _first_use(self, refs: set) -> dict:
        """ref -> Loc of the first object that uses it (only walked when some ref is bad)."""
        found: dict = {}
        stack = [self.root_loc()]
        while stack and len(found) < len(refs):
            loc = stack.pop()
            node = loc.node
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str) and ref in refs and ref not in found:
                    found[ref] = loc
                stack.extend(Loc(loc.doc, f"{loc.pointer}/{escape(k)}", v) for k, v in node.items()
                             if isinstance(v, (dict, list)))
            elif isinstance(node, list):
                stack.extend(Loc(loc.doc, f"{loc.pointer}/{i}", v) for i, v in enumerate(node)
                             if isinstance(v, (dict, list)))
        return found

    def deref(self, loc: Loc) -> Loc:
        """Follow `$ref` chains from `loc`; a cycle or a refused ref returns the last reachable node."""
        seen = set()
        while isinstance(loc.node, dict) and "$ref" in loc.node:
            key = (loc.doc, loc.pointer)
            if key in seen:
                return loc
            seen.add(key)
            nxt = self.target(loc, loc.node["$ref"])
            if nxt is None:
                return loc
            loc = nxt
        return loc

    def is_opaque(self, loc: Loc) -> bool:
        return isinstance(loc.node, dict) and "$ref" in loc.node


def _json_type(value) -> str:
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool) or value is None:
        return "boolean" if value is not None else "null"
    return "number" if isinstance(value, (int, float)) else type(value).__name__
