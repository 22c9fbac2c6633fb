"""Load a spec (YAML or JSON) into plain Python values and answer "which line holds this JSON pointer?".

JSON is parsed with the stdlib `json` (C speed; never the YAML loader) and line numbers are found on
demand by a small scanner that walks the text to the pointer, remembering every key offset it passes, so
all lookups together read the file at most once. YAML is composed with libyaml (when available) into
nodes, which we turn into dicts/lists ourselves while recording the line of every key and item; aliases
are shared (not copied) and their expanded size is bounded, so an alias bomb is refused in milliseconds.
"""

from __future__ import annotations

import bisect
import json
import re

from canary_lint.model import literal_text, number

MAX_YAML_BYTES = 16 * 1024 * 1024


class LoadError(Exception):
    def __init__(self, message: str, line: int = 1):
        super().__init__(message)
        self.line = line


class YMap(dict):
    """A YAML mapping that remembers the line of each key (`lines`) and of itself (`line`)."""

    __slots__ = ("lines", "line")


class YList(list):
    __slots__ = ("lines", "line")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def escape(token) -> str:
    return literal_text(token).replace("~", "~0").replace("/", "~1")


def split_pointer(pointer: str) -> list[str]:
    pointer = pointer.lstrip("#")
    if not pointer or pointer == "/":
        return [] if not pointer else [""]
    return [unescape(t) for t in pointer.split("/")[1:]]


class Document:
    """One loaded spec file: `data` (plain values), `kind` (json|yaml) and `line_of(pointer)`."""

    def __init__(self, path: str, data, kind: str, text: str):
        self.path = path
        self.data = data
        self.kind = kind
        self._text = text if kind == "json" else None
        self._json_index: dict[int, tuple[dict, int]] = {}
        self._newlines: list[int] | None = None
        self._pretty: dict = {}
        self._ends: dict = {}

    def get(self, pointer: str):
        node = self.data
        for token in split_pointer(pointer):
            if isinstance(node, dict):
                if token not in node:
                    return None
                node = node[token]
            elif isinstance(node, list):
                try:
                    node = node[int(token)]
                except (ValueError, IndexError):
                    return None
            else:
                return None
        return node

    def line_of(self, pointer: str) -> int:
        """The 1-based line of the value at `pointer` (or of its nearest existing ancestor)."""
        tokens = split_pointer(pointer or "")
        if self.kind == "yaml":
            return self._yaml_line(tokens)
        try:
            return self._offset_line(self._json_offset(tokens))
        except (IndexError, ValueError):
            return 1

    # ---- YAML ----------------------------------------------------------------------------------
    def _yaml_line(self, tokens: list[str]) -> int:
        node = self.data
        line = getattr(node, "line", 1)
        for token in tokens:
            if isinstance(node, YMap) and token in node:
                line = node.lines.get(token, line)
                node = node[token]
            elif isinstance(node, YList):
                try:
                    i = int(token)
                    line = node.lines[i]
                    node = node[i]
                except (ValueError, IndexError):
                    break
            else:
                break
        return line

    # ---- JSON ----------------------------------------------------------------------------------
    def _offset_line(self, offset: int) -> int:
        if self._newlines is None:
            self._newlines = [m.start() for m in re.finditer("\n", self._text)]
        return bisect.bisect_left(self._newlines, offset) + 1

    def _indent_unit(self) -> int:
        """Spaces per level when the JSON is pretty-printed one key per line (0 otherwise)."""
        if not hasattr(self, "_unit"):
            m = re.match(r"\{\n( +)\"", self._text)
            self._unit = len(m.group(1)) if m else 0
        return self._unit

    def _json_offset(self, tokens: list[str]) -> int:
        text = self._text
        pos = _skip_ws(text, 0)
        unit = self._indent_unit()
        for depth, token in enumerate(tokens, 1):
            if pos >= len(text):
                break
            if unit and text[pos] == "{":
                # pretty-printed: a key of this object starts a line indented `depth` levels, before the
                # line that closes the object; both found with C-speed `str.find`, and remembered
                key = (pos, token)
                hit = self._pretty.get(key)
                if hit is None:
                    end = self._ends.get(pos)
                    if end is None:
                        end = text.find("\n" + " " * (unit * (depth - 1)) + "}", pos)
                        self._ends[pos] = end = end if end >= 0 else len(text)
                    needle = "\n" + " " * (unit * depth) + json.dumps(token) + ":"
                    found = text.find(needle, pos, end)
                    hit = self._pretty[key] = _skip_ws(text, found + len(needle)) if found >= 0 else -1
                if hit >= 0:
                    pos = hit
                    continue
            found = None
            if text[pos] == "{":
                found = self._object_key(pos, token)
            elif text[pos] == "[":
                try:
                    found = self._array_item(pos, int(token))
                except ValueError:
                    found = None
            if found is None:
                return pos
            pos = found
        return pos

    def _json_offset_scan(self, tokens: list[str]) -> int:
        """The same walk without the pretty-print shortcut (any JSON layout); the tests hold both equal."""
        text = self._text
        pos = _skip_ws(text, 0)
        for token in tokens:
            if pos >= len(text):
                break
            ch = text[pos]
            if ch == "{":
                found = self._object_key(pos, token)
                if found is None:
                    return pos
                pos = found
            elif ch == "[":
                try:
                    index = int(token)
                except ValueError:
                    return pos
                found = self._array_item(pos, index)
                if found is None:
                    return pos
                pos = found
            else:
                return pos
        return pos

    def _object_key(self, start: int, key: str) -> int | None:
        keys, resume = self._json_index.get(start, (None, None))
        if keys is None:
            keys, resume = {}, start + 1
        if key in keys:
            return keys[key]
        text = self._text
        pos = resume
        while resume >= 0:
            pos = _skip_ws(text, pos)
            if text[pos] == "}":
                resume = -1
                break
            if text[pos] == ",":
                pos = _skip_ws(text, pos + 1)
            name, pos = json.decoder.scanstring(text, pos + 1)
            pos = _skip_ws(text, pos)  # at ':'
            value = _skip_ws(text, pos + 1)
            keys.setdefault(name, value)
            pos = _skip_value(text, value)
            if name == key:
                resume = pos
                self._json_index[start] = (keys, resume)
                return value
        self._json_index[start] = (keys, -1)
        return keys.get(key)

    def _array_item(self, start: int, index: int) -> int | None:
        text = self._text
        pos = _skip_ws(text, start + 1)
        i = 0
        while pos < len(text) and text[pos] != "]":
            if text[pos] == ",":
                pos = _skip_ws(text, pos + 1)
            if i == index:
                return pos
            pos = _skip_ws(text, _skip_value(text, pos))
            i += 1
        return None


_WS = re.compile(r"[ \t\n\r]*")
_LITERAL = re.compile(r"[^,\]}\s]*")


def _skip_ws(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()


_SCAN = json.scanner.make_scanner(json.JSONDecoder())


def _skip_value(text: str, pos: int) -> int:
    """The offset after the JSON value at `pos` (the C scanner: ~50x faster than tokenizing in Python)."""
    try:
        return _SCAN(text, pos)[1]
    except (StopIteration, ValueError, RecursionError):
        return _LITERAL.match(text, pos).end()


# ---- loading -----------------------------------------------------------------------------------
def looks_json(path: str, text: str) -> bool:
    return path.lower().endswith(".json") or text.lstrip()[:1] in ("{", "[")


def load(path: str, text: str, max_yaml_bytes: int = MAX_YAML_BYTES) -> Document:
    """Parse `text`; raises LoadError with a line for invalid input, an alias bomb or an oversized YAML."""
    if looks_json(path, text):
        try:
            data = json.loads(text, parse_int=number)
        except json.JSONDecodeError as exc:
            if path.lower().endswith(".json"):
                raise LoadError(f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
        except RecursionError:
            raise LoadError("JSON nests too deeply to be an API description") from None
        else:
            return Document(path, data, "json", text)
    return Document(path, load_yaml(text, max_yaml_bytes), "yaml", "")


def load_yaml(text: str, max_bytes: int = MAX_YAML_BYTES):
    from .. import yamlio

    if len(text) > max_bytes:
        raise LoadError(f"YAML spec is {len(text) // (1024 * 1024)} MB, over the {max_bytes // (1024 * 1024)} MB "
                        "limit for YAML (parsing it would take minutes); convert it to JSON, which loads in seconds")
    try:
        root = yamlio.compose(text, yamlio.Limits(max_bytes=max_bytes))
    except yamlio.YamlError as exc:
        raise LoadError(exc.message, exc.line or 1) from None
    if root is None:
        return None
    return _Builder().build(root)


class _Builder:
    """Values with lines from nodes that yamlio.compose already measured (size, depth, no recursion)."""

    def __init__(self):
        import yaml.constructor

        self._scalar = yaml.constructor.SafeConstructor()
        self._done: dict[int, object] = {}

    def build(self, root):
        return self._value(root, 0)

    def _value(self, node, depth: int):
        key = id(node)
        if key in self._done:
            return self._done[key]
        if node.id == "scalar":
            tag = node.tag
            if tag in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"):
                value = node.value
            else:
                try:
                    value = self._scalar.construct_object(node)
                except Exception:  # noqa: BLE001 - an odd scalar stays its text
                    value = node.value
                    if tag == "tag:yaml.org,2002:int":  # decimal digits past Python's limit: as JSON reads them
                        try:
                            value = number(value.replace("_", ""))
                        except ValueError:
                            pass
            self._done[key] = value
            return value
        if node.id == "sequence":
            out = YList()
            out.line = node.start_mark.line + 1
            out.lines = []
            self._done[key] = out
            for item in node.value:
                out.append(self._value(item, depth + 1))
                out.lines.append(item.start_mark.line + 1)
            return out
        out = YMap()
        out.line = node.start_mark.line + 1
        out.lines = {}
        self._done[key] = out
        for k_node, v_node in node.value:
            if k_node.tag == "tag:yaml.org,2002:merge":
                sources = v_node.value if v_node.id == "sequence" else [v_node]
                for src in sources:
                    merged = self._value(src, depth + 1)
                    if isinstance(merged, YMap):
                        for mk, mv in merged.items():
                            if mk not in out:
                                out[mk] = mv
                                out.lines[mk] = merged.lines.get(mk, out.line)
                continue
            k = self._value(k_node, depth + 1)
            if isinstance(k, bool):
                k = str(k).lower()
            k = literal_text(k) if not isinstance(k, str) else k
            out[k] = self._value(v_node, depth + 1)
            out.lines[k] = k_node.start_mark.line + 1
        return out
