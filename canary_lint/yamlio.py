"""The one YAML reader: every YAML file canary-lint reads (deploy files, OpenAPI specs, rollout plans) is
composed here, with limits a pull request cannot get past.

PyYAML's safe loader still expands aliases: a 1 KB "billion laughs" file becomes billions of nodes, and a
file that nests thousands of levels ends in RecursionError. `compose` parses to nodes (aliases stay shared),
measures the expanded size and depth against `Limits` without expanding anything, and raises `YamlError`
with a line before anything is built. Callers build their own values from the nodes (the OpenAPI reader
keeps lines, the deploy reader keeps columns); `load` builds plain Python values for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

MAX_BYTES = 16 * 1024 * 1024
MAX_NODES = 5_000_000
MAX_DEPTH = 400


@dataclass(frozen=True)
class Limits:
    max_bytes: int = MAX_BYTES
    max_nodes: int = MAX_NODES
    max_depth: int = MAX_DEPTH


DEFAULT = Limits()


class YamlError(ValueError):
    """Not YAML we will read; `line` is 1-based (0 when unknown)."""

    def __init__(self, message: str, line: int = 0):
        super().__init__(message)
        self.message = message
        self.line = line


@lru_cache(maxsize=1)
def _loader():
    """libyaml's safe loader, reading a decimal integer past Python's 4,300-digit limit as JSON does
    (`model.number`: a float) instead of failing the whole document."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):
        pass

    def construct_int(loader, node):
        try:
            return base.construct_yaml_int(loader, node)
        except ValueError:
            from canary_lint.model import number

            return number(loader.construct_scalar(node).replace("_", ""))

    Loader.add_constructor("tag:yaml.org,2002:int", construct_int)
    return Loader


def compose(text: str, limits: Limits = DEFAULT):
    """The root node of a one-document YAML text (None when empty), checked against `limits`."""
    roots = compose_all(text, limits, first_only=True)
    return roots[0] if roots else None


def compose_all(text: str, limits: Limits = DEFAULT, *, first_only: bool = False) -> list:
    """Every document's root node, checked against `limits` (the expanded size counts across documents)."""
    import yaml

    if len(text) > limits.max_bytes:
        raise YamlError(f"YAML is {len(text) // (1024 * 1024)} MB, over the {limits.max_bytes // (1024 * 1024)} MB "
                        "limit (parsing it would take minutes)")
    if "\x00" in text:
        raise YamlError("YAML holds a NUL byte (binary data?)", text.count("\n", 0, text.index("\x00")) + 1)
    roots: list = []
    try:
        if first_only:
            node = yaml.compose(text, Loader=_loader())
            roots = [] if node is None else [node]
        else:
            roots = [n for n in yaml.compose_all(text, Loader=_loader()) if n is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlError(f"invalid YAML: {exc.problem or exc.context}", (mark.line + 1) if mark else 0) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    except RecursionError:
        raise YamlError(f"YAML nests deeper than {limits.max_depth} levels") from None
    _Measure(limits).check(roots)
    return roots


class _Measure:
    """Expanded node count and depth of a node graph, each shared node measured once (iteratively)."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.sizes: dict[int, int] = {}

    def check(self, roots: list) -> None:
        total = 0
        for root in roots:
            total += self.size(root)
            if total > self.limits.max_nodes:
                raise YamlError(f"YAML aliases expand to more than {self.limits.max_nodes:,} nodes (an alias bomb?); "
                                "not read", root.start_mark.line + 1)

    def size(self, root) -> int:
        sizes, limits = self.sizes, self.limits
        # an explicit stack: (node, depth, children-iterator or None); a node on the path is a recursive alias
        on_path: set[int] = set()
        stack = [(root, 0, None, 1)]
        while stack:
            node, depth, children, total = stack.pop()
            key = id(node)
            if children is None:
                if key in sizes:
                    continue
                if depth > limits.max_depth:
                    raise YamlError(f"YAML nests deeper than {limits.max_depth} levels", node.start_mark.line + 1)
                if node.id == "scalar":
                    sizes[key] = 1
                    self._add_to_parent(stack, 1)
                    continue
                on_path.add(key)
                kids = [v for pair in node.value for v in pair] if node.id == "mapping" else list(node.value)
                children = iter(kids)
            nxt = next(children, None)
            if nxt is None:
                on_path.discard(key)
                sizes[key] = total
                self._add_to_parent(stack, total)
                continue
            if id(nxt) in on_path:
                raise YamlError("YAML alias refers to itself (a recursive structure); not read",
                                nxt.start_mark.line + 1)
            if total > limits.max_nodes:
                raise YamlError(f"YAML aliases expand to more than {limits.max_nodes:,} nodes (an alias bomb?); "
                                "not read", node.start_mark.line + 1)
            stack.append((node, depth, children, total))
            if id(nxt) in sizes:
                self._add_to_parent(stack, sizes[id(nxt)])
            else:
                stack.append((nxt, depth + 1, None, 1))
        return sizes[id(root)]

    @staticmethod
    def _add_to_parent(stack: list, amount: int) -> None:
        if stack:
            node, depth, children, total = stack[-1]
            if children is not None:
                stack[-1] = (node, depth, children, total + amount)


def load(text: str, limits: Limits = DEFAULT):
    """Plain Python values of a one-document YAML text, within `limits`; raises YamlError."""
    import yaml

    root = compose(text, limits)
    if root is None:
        return None
    loader = _loader()("")
    try:
        return loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise YamlError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}", (mark.line + 1) if mark else 0) from None
    except (ValueError, OverflowError, TypeError) as exc:  # a timestamp or number PyYAML cannot build
        raise YamlError(f"invalid YAML value: {exc}", root.start_mark.line + 1) from None
    finally:
        loader.dispose()
