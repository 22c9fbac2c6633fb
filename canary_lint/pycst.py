"""The last resort for newer Python: libcst (which reads the 3.0-3.14 grammar) says where the newer
constructs are in the whole module, and the source is rewritten around them as `pyfast` does. Slow (a
libcst parse and its positions over the whole file): used only for what the scan cannot follow."""

from __future__ import annotations

import ast

from canary_lint.pysyntax import (
    Interpolation,
    Lines,
    TemplateStr,
    TypeAlias,
    ast_parse,
    blank,
    merge,
)


def cst_module(source: str, path: str) -> ast.Module:
    return _Rewriter(source, path).module()


class _Rewriter:
    def __init__(self, source: str, path: str):
        import libcst
        from libcst.metadata import MetadataWrapper, PositionProvider

        self.cst = libcst
        self.source = source
        self.path = path
        try:
            module = libcst.parse_module(source)  # libcst's native parser reads the newest grammar
        except libcst.ParserSyntaxError as exc:
            raise SyntaxError(str(exc)) from None
        self.module_node = module
        self.pos = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        self.starts = Lines(source).starts
        self.lines = [source[a:b] for a, b in zip(self.starts, self.starts[1:] + [len(source)])]

    # ---- positions -----------------------------------------------------------------------------
    def offset(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col

    def span(self, node) -> tuple[int, int]:
        r = self.pos[node]
        return self.offset(r.start.line, r.start.column), self.offset(r.end.line, r.end.column)

    def byte_col(self, line: int, col: int) -> int:
        return len(self.lines[line - 1][:col].encode("utf-8"))

    def locate(self, node, target: ast.AST) -> ast.AST:
        r = self.pos[node]
        target.lineno, target.col_offset = r.start.line, self.byte_col(r.start.line, r.start.column)
        target.end_lineno, target.end_col_offset = r.end.line, self.byte_col(r.end.line, r.end.column)
        return target

    # ---- the module ----------------------------------------------------------------------------
    def module(self) -> ast.Module:
        cst = self.cst
        edits, aliases, blanked, found = [], {}, [], []
        for node in self._walk(self.module_node, found):
            if isinstance(node, cst.TypeAlias):
                start = self.span(node)[0]
                head_end = self.span(node.type_parameters or node.name)[1]
                eq = self.source.index("=", head_end)
                head = self.source[start:eq]
                name = node.name.value
                edits.append((start, eq, name + blank(head[len(name):], continued=True)))
                blanked.append((start, eq))
                aliases[(self.pos[node].start.line, self.byte_col(self.pos[node].start.line,
                                                                   self.pos[node].start.column))] = node
            elif isinstance(node, (cst.FunctionDef, cst.ClassDef)) and node.type_parameters is not None:
                a, b = self.span(node.type_parameters)
                edits.append((a, b, blank(self.source[a:b], continued=True)))
                blanked.append((a, b))
            elif isinstance(node, (cst.ExceptHandler, cst.ExceptStarHandler)) and \
                    isinstance(node.type, cst.Tuple) and not node.type.lpar and node.name is None:
                a, b = self.span(node.type)
                if self.source[a - 1] in " \t":
                    edits.append((a - 1, a, "("))
                else:
                    edits.append((a, a, "("))
                if b < len(self.source) and self.source[b] in " \t":
                    edits.append((b, b + 1, ")"))
                else:
                    edits.append((b, b, ")"))
        strings = [s for s in found if not any(a <= self.span(s)[0] < b for a, b in blanked)]
        tree = self._parse_region(0, len(self.source), "exec", strings, edits)
        if aliases:
            _Aliases(aliases, self).visit(tree)
        return tree

    def _walk(self, root, strings: list):
        """Every node under `root` once (a libcst node builds its `children` list on each access), stopping
        at the outermost string expressions, which go to `strings` (a concatenation counts as one): no
        statement the rewrite looks for can sit inside a string."""
        cst, stack = self.cst, [root]
        kinds = (cst.ConcatenatedString, cst.FormattedString, cst.TemplatedString)
        while stack:
            node = stack.pop()
            if isinstance(node, kinds) and node is not root:
                strings.append(node)
                continue
            yield node
            stack.extend(reversed(node.children))

    @staticmethod
    def _every(root):
        """Every node under `root`, strings included."""
        stack = [root]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.children)

    def _strings(self, root) -> list:
        """The outermost string expressions under `root` (a replacement field's expression)."""
        out: list = []
        for _ in self._walk(root, out):
            pass
        return out

    # ---- regions: the module, or one replacement field's expression ----------------------------
    def _parse_region(self, start: int, end: int, mode: str, strings: list, edits: list):
        """Parse source[start:end] at its original position; the `strings` that our `ast` cannot read are
        parsed part by part and put in place of a placeholder."""
        holes = {}
        for s in strings:
            if self._readable(s):
                continue
            a, b = self.span(s)
            r = self.pos[s]
            text = self.source[a:b]
            if r.start.line == r.end.line:
                fill = "0" + blank(text[1:], continued=False)
                key = (r.start.line, self.byte_col(r.start.line, r.start.column))
            else:
                fill = "(0" + blank(text[2:-1], continued=False) + ")"
                key = (r.start.line, self.byte_col(r.start.line, r.start.column) + 1)
            edits.append((a, b, fill))
            holes[key] = s
        text = self._splice(start, end, edits)
        if mode == "exec":
            tree = ast_parse(text, self.path)
        else:
            tree = ast_parse(self._pad(start, text), self.path, "eval").body
        if holes:
            tree = _Holes(holes, self).visit(tree)
        return tree

    def _splice(self, start: int, end: int, edits: list) -> str:
        out, at = [], start
        for a, b, new in sorted(edits, key=lambda e: (e[0], e[1])):
            if a < at:
                raise ValueError("overlapping rewrites")
            out.append(self.source[at:a])
            out.append(new)
            at = b
        out.append(self.source[at:end])
        return "".join(out)

    def _pad(self, start: int, text: str) -> str:
        """`text` (which starts at offset `start`) preceded by what puts it at its line and byte column,
        inside parentheses (so newlines and comments are allowed)."""
        line = next(i for i in range(len(self.starts), 0, -1) if self.starts[i - 1] <= start)
        col = self.byte_col(line, start - self.starts[line - 1])
        if line == 1:
            if col == 0:
                return "(" + text + "\n)"  # only for a whole-file region; never an f-string field
            return "(" + " " * (col - 1) + text + "\n)"
        return "\n" * (line - 2) + "(\n" + " " * col + text + "\n)"

    def _readable(self, s) -> bool:
        if isinstance(s, self.cst.TemplatedString) or any(
                isinstance(n, self.cst.TemplatedString) for n in self._every(s)):
            return False
        a, b = self.span(s)
        try:
            ast_parse(self._pad(a, self.source[a:b]), self.path, "eval")
            return True
        except SyntaxError:
            return False

    def expression(self, node) -> ast.expr:
        a, b = self.span(node)
        return self._parse_region(a, b, "eval", self._strings(node) if not isinstance(
            node, (self.cst.FormattedString, self.cst.TemplatedString, self.cst.ConcatenatedString))
            else [node], [])

    # ---- strings -------------------------------------------------------------------------------
    def build(self, s) -> ast.expr:
        cst = self.cst
        pieces = []
        stack = [s]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.ConcatenatedString):
                stack.extend([node.right, node.left])
            else:
                pieces.append(node)
        template = any(isinstance(p, cst.TemplatedString) for p in pieces)
        values = []
        for p in pieces:
            if isinstance(p, cst.SimpleString):
                values.append(self.locate(p, ast.Constant(value=p.evaluated_value)))
            else:
                prefix = p.start.rstrip("'\"")
                values.extend(self._parts(p, p.parts, raw="r" in prefix.lower(), quote=p.start[len(prefix):]))
        if any(isinstance(v, ast.Constant) and isinstance(v.value, bytes) for v in values):
            raise SyntaxError("bytes mixed with an f-string")
        out = (TemplateStr if template else ast.JoinedStr)(values=merge(values))
        return self.locate(s, out)

    def _parts(self, owner, parts, raw: bool, quote: str) -> list:
        cst = self.cst
        values = []
        for part in parts:
            if isinstance(part, (cst.FormattedStringText, cst.TemplatedStringText)):
                text = part.value.replace("{{", "{").replace("}}", "}")
                try:
                    value = ast.literal_eval(("r" if raw else "") + quote + text + quote)
                except (SyntaxError, ValueError):
                    value = text
                values.append(self.locate(part, ast.Constant(value=value)))
                continue
            expr = self.expression(part.expression)
            conversion = ord(part.conversion) if part.conversion else -1
            source_text = self.module_node.code_for_node(part.expression)
            if part.equal is not None:
                debug = (self.module_node.code_for_node(part.whitespace_before_expression) + source_text
                         + self.module_node.code_for_node(part.whitespace_after_expression)
                         + self.module_node.code_for_node(part.equal))
                values.append(self._between(part, part.expression, ast.Constant(value=debug)))
                if conversion == -1 and part.format_spec is None:
                    conversion = ord("r")
            spec = None
            if part.format_spec is not None:
                spec = ast.JoinedStr(values=merge(self._parts(owner, part.format_spec, raw, quote)))
                spec = self._spec_location(part, spec)
            if isinstance(part, cst.TemplatedStringExpression):
                node = Interpolation(value=expr, str=source_text, conversion=conversion, format_spec=spec)
            else:
                node = ast.FormattedValue(value=expr, conversion=conversion, format_spec=spec)
            values.append(self.locate(part, node))
        return values

    def _between(self, part, expr, target):
        """`target` placed from just after the part's `{` to the end of its `=` (the debug text)."""
        r, e = self.pos[part], self.pos[expr]
        self.locate(part, target)
        target.col_offset = self.byte_col(r.start.line, r.start.column + 1)
        end = self.offset(e.end.line, e.end.column)
        end = self.source.index("=", end) + 1
        while end < len(self.source) and self.source[end] in " \t":
            end += 1
        line = next(i for i in range(len(self.starts), 0, -1) if self.starts[i - 1] <= end)
        target.end_lineno, target.end_col_offset = line, self.byte_col(line, end - self.starts[line - 1])
        return target

    def _spec_location(self, part, spec):
        """A format spec spans from after its `:` to before the closing `}`."""
        r = self.pos[part]
        self.locate(part, spec)
        spec.end_col_offset -= 1
        if part.format_spec:
            first = self.pos[part.format_spec[0]]
            spec.lineno, spec.col_offset = first.start.line, self.byte_col(first.start.line, first.start.column)
        else:
            spec.lineno, spec.col_offset = r.end.line, spec.end_col_offset
        return spec


class _Holes(ast.NodeTransformer):
    """Put each string built part by part where its placeholder `0` was parsed."""

    def __init__(self, holes: dict, rewriter: _Rewriter):
        self.holes, self.rw = holes, rewriter

    def visit_Constant(self, node):
        s = self.holes.get((node.lineno, node.col_offset))
        if s is None or node.value != 0:
            return node
        return self.rw.build(s)


class _Aliases(ast.NodeTransformer):
    def __init__(self, aliases: dict, rewriter: _Rewriter):
        self.aliases, self.rw = aliases, rewriter

    def visit_Assign(self, node):
        self.generic_visit(node)
        if (node.lineno, node.col_offset) not in self.aliases or len(node.targets) != 1:
            return node
        self.rw.locate(self.aliases[(node.lineno, node.col_offset)].name, node.targets[0])
        alias = TypeAlias(name=node.targets[0], type_params=[], value=node.value)
        return ast.copy_location(alias, node)
