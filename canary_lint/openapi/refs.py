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
from typing import Callable

from canary_lint.openapi.loader import Document, LoadError, escape, load

SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class Loc:
    doc: str  # document path (display path)
    pointer: str  # JSON pointer inside it ("" = root)
    node: object

    def child(self, *tokens) -> "Loc":
        node = self.node
        for t in tokens:
            node = node.get(t) if isinstance(node, dict) else (node[t] if isinstance(node, list) and isinstance(t, int) and t < len(node) else None)
        return Loc(self.doc, self.pointer + "".join("/" + escape(t) for t in tokens), node)


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
        key = (loc.doc, ref)
        if key in self._cache:
            return self._cache[key]
        result = self._target(loc, ref)
        self._cache[key] = result
        return result

    def _target(self, loc: Loc, ref: str) -> Loc | None:
        if not isinstance(ref, str):
            self._problem(loc, str(ref), "$ref is not a string")
            return None
        file_part, _, fragment = ref.partition("#")
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

    def check_refs(self, limit: int = 2_000_000) -> None:
        """Resolve every `$ref` of the root document once, so refused or dangling refs are reported even
        where the comparison never goes (a spec new in head, an unchanged operation)."""
        stack = [self.root_loc()]
        seen = 0
        while stack and seen < limit:
            loc = stack.pop()
            seen += 1
            node = loc.node
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str):
                    self.target(loc, ref)
                for k, v in node.items():
                    if isinstance(v, (dict, list)):
                        stack.append(Loc(loc.doc, f"{loc.pointer}/{escape(k)}", v))
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    if isinstance(v, (dict, list)):
                        stack.append(Loc(loc.doc, f"{loc.pointer}/{i}", v))

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
