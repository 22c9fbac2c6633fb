"""Mutations of a seed file: byte-level edits, hostile tokens, structure-aware edits of YAML/JSON values and
small generated statements (SQL, Alembic, Django).

Every choice goes through a `Chooser` (`int(lo, hi)`, both ends included), so the same code serves
Hypothesis (draws it can shrink: low values are the plain choices) and a seeded `random.Random` (the
campaign). Outputs stay under `MAX_INPUT` bytes; what they may hold is whatever a pull request may hold.
"""

from __future__ import annotations

import json
import re
from typing import Protocol

MAX_INPUT = 1 << 18  # 256 KiB: room for `s += s` growth and long tokens, small enough for a few seconds a check


class Chooser(Protocol):
    def int(self, lo: int, hi: int) -> int: ...


class RandomChooser:
    def __init__(self, rng):
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)


def pick(ch: Chooser, seq):
    return seq[ch.int(0, len(seq) - 1)]


ALIAS_BOMB = b"a: &a [" + b",".join([b'"lol"'] * 9) + b"]\n" + b"".join(
    b"%c: &%c [%s]\n" % (n, n, b",".join([b"*%c" % p] * 9)) for p, n in zip(b"abcdefgh", b"bcdefghi"))
DOUBLING = b"s = 'x'\nfor _ in range(64):\n    s += s\n"

GENERIC = (
    b"\x00", b"\r", b"\r\n", b"\n\r", b"\x0c", b"\x0b", b"\x1a", b"\x1c", b"\x85", b"\xc2\x85", b"\xe2\x80\xa8",
    b"\xe2\x80\xae", b"\xef\xbb\xbf", b"\xff\xfe", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xc0\x80", b"\x80", b"\xf4\x90\x80\x80",
    b"\t", b"\\", b"'", b'"', b'"""', b"'''", b"`", b"#", b"--", b"/*", b"*/", b"$$", b"${", b"{{", b"}}", b"{%",
    b"%}", b"\\ud800", b"\\udfff", b"\\u0000", b"\\x00", b"\\N{", b"%", b"%s", b"%(x)s", b"{0}", b"{}", b"$",
    b"0x" + b"f" * 5000, b"9" * 5000, b"0b" + b"1" * 20000, b"1e999", b"-0", b"NaN", b"-1",
    b"'%1500000000d' % 1", b'"{:>1500000000}".format(1)', b"'x' * 10**9", b"10**10**10", b"[0] * 10**10",
    DOUBLING, b"a" * 100000, b"\n" * 20000, b" " * 20000, b"\xe4\xb8\xad" * 1000, b"\xf0\x9f\x92\xa9",
)
PYTHON = (
    b"(" * 5000, b"[" * 3000, b"{" * 3000, b"not " * 20000 + b"x", b"-" * 20000 + b"1", b"lambda: " * 600 + b"0",
    b"x." * 20000 + b"y", b"a + " * 20000 + b"b", b"f(" * 3000 + b")" * 3000, b"def f(" + b"a," * 10000 + b"): pass\n",
    b"@d\n" * 3000 + b"def f(): pass\n", b"".join(b" " * i + b"if x:\n" for i in range(0, 400)) + b" " * 400 + b"pass\n",
    b"f'{x!r:{y:{z}}}'", b"f'{'", b"f'{x=}'", b'f"{f"{f"{1}"}"}"', b"rb'\\'", b'"""unterminated', b"\\\n" * 3000,
    b"# -*- coding: latin-1 -*-\n", b"# canary-lint: ignore[CLM101] ok\n", b"# canary-lint: file-ignore[ALL]\n",
    b"# canary-lint: ignore[" + b"X," * 5000 + b"]\n", b"__import__('os').system('id')", b"exec('import socket')",
    b"open('/etc/passwd').read()", b"revision = '" + b"a" * 100000 + b"'\n", b"down_revision = ('a',) * 10**6\n",
    b"down_revision = revision\n", b"sa.Column(" * 500, b"type X[T] = list[T]\n", b"def f[T](x: T): pass\n",
    b"match x:\n    case {**r}: pass\n", b"async def f():\n    await x\n", b"x: int = 1\n", b"(yield)", b"(x := 1)",
    b"import " + b"a." * 3000 + b"b\n", b"from " + b"." * 3000 + b" import x\n", b"from . import *\n",
    b"class C(" + b"C," * 1000 + b"): pass\n", b"t'{x}'", b"except* E, F:", b"global x\n", b"del x\n",
    b"NAME = 'users'\nop.drop_column(NAME, NAME)\n", b"x = x\n" * 5000, b"a = b\nb = a\n", b"*" * 3000,
    b"app = Flask(__name__)\n", b"session['k'] = 1\n", b"request.session[" * 500, b"os.environ['VERSION']",
    b"'%s%s%s%s' % ('a' * 10**6,) * 4", b"'{0}{0}{0}{0}'.format('x' * 10**8)", b"','.join(['x'] * 10**9)",
    b"''.join(str(i) for i in range(10**9))", b"b'\\xff' * 10**9", b"x = 'a'\nx = x + x\n" * 64,
)
SQL = (
    b"(" * 5000 + b")" * 5000, b"/* /* */", b"$a$", b"E'\\'", b";" * 10000, b"BEGIN;", b"COMMIT;",
    b"CREATE INDEX CONCURRENTLY ", b"DO $$ BEGIN END $$;", b"\\i /etc/passwd\n", b"\\copy t from '/etc/passwd'\n",
    b"ALTER TABLE " + b"a." * 2000 + b"b DROP COLUMN c;", b"ALTER TABLE t DROP COLUMN ", b"NOT NULL DEFAULT ",
    b"CREATE TABLE t (" + b"c int," * 5000 + b"d int);", b'"' + b"x" * 100000 + b'"', b"U&'\\d800'",
    b"-- migrate:up\n", b"-- migrate:down\n", b"-- migrate:up transaction:false\n", b"COPY t FROM PROGRAM 'id';",
    b"-- canary-lint: ignore[CLM101] ok\n", b"$body$" * 1000, b"CASE WHEN " * 3000, b"SELECT " * 20000,
    b"ALTER TABLE t ALTER COLUMN c TYPE ", b"USING c::", b"::" * 5000, b"'" + b"''" * 20000,
    b"CREATE TRIGGER t BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f();", b"@@", b"`" + b"x" * 5000 + b"`",
    b"DELIMITER //\n", b"GO\n", b"\\gexec\n", b"WITH RECURSIVE " * 1000,
)
YAML = (
    b"&a", b"*a", b"<<: *a", b"!!python/object/apply:os.system ['id']", b"!!binary", b"!!set", b"!!omap", b"? ",
    b"--- ", b"...", b"%YAML 1.1\n---\n", b"%TAG ! tag:x,2000:\n", ALIAS_BOMB, b"[" * 5000, b"{" * 5000,
    b"- " * 1000, b"x:\n" + b"".join(b"  " * i + b"a:\n" for i in range(1, 600)), b"2001-12-14", b"2001-12-14t21:59:43.10-05:00",
    b".nan", b".inf", b"~", b"0o17", b"y", b"!", b"|", b">", b"@", b"\t", b": ", b"-", b"'", b"key: |\n  \xff\n",
    b"$ref: '#/'", b"$ref: '#/components/schemas/" + b"a/" * 1000 + b"'", b"$ref: 'http://127.0.0.1:1/x.yaml'",
    b"$ref: '../../etc/passwd'", b"$ref: '/etc/passwd'", b"$ref: '#'", b"$ref: ''", b"$ref: '#/paths/~1x/get'",
    b"$ref: {a: 1}", b"$ref: [1]", b"$ref: '\\0'", b"openapi: 3.1.0\n", b"swagger: '2.0'\n", b"openapi: [3]\n",
    b"apiVersion: v1\n", b"kind: Deployment\n", b"{{ .Values.x }}", b"{{- include \"x\" . | nindent 8 }}\n",
    b"key: " + b"0x" + b"f" * 5000, b"key: " + b"9" * 5000, b"key: " + b"1" * 400 + b".5",
)
JSON = (
    b"[" * 100000, b'{"a":' * 10000, b'"\\ud800"', b'"\\udfff\\ud800"', b"1e999999", b"NaN", b"-Infinity",
    b'"$ref": "#/"', b'"$ref": "/etc/passwd"', b'"$ref": "http://127.0.0.1:1/x"', b'"$ref": {"a": 1}', b"\\",
    b",", b"}", b"]", b'"openapi": 3', b'"openapi": "3.0.0"', b"9" * 5000, b'"' + b"\\u0000" * 1000 + b'"',
)
DEPLOY = (
    b"FROM ", b'CMD ["', b'ENTRYPOINT ["gunicorn", "app:', b"\\\n" * 5000, b"ENV A=${A:-${B:-${C", b"ARG V=",
    b"# syntax=docker/dockerfile:1\n", b"COPY --from=", b"ONBUILD ", b"HEALTHCHECK CMD ", b"RUN <<EOF\n",
    b"SHELL [", b"LABEL version=", b"${" * 5000, b"exec ", b"web: ", b"gunicorn ", b"uvicorn ", b"--bind ",
    b"$PORT", b"celery -A ", b'exec "$@"', b"#!/bin/sh\n", b"python -m ", b"export ", b"=" * 1000,
    b"ExecStart=", b"command=", b"[program:x]\n", b"image: ", b"env:\n  - name: ", b"valueFrom: ",
    b"OTEL_RESOURCE_ATTRIBUTES=service.version=", b"gunicorn " + b"a:" * 5000, b"app." * 5000 + b"main:app",
)
ROLLOUT = (
    b"weight: ", b"hold: ", b"1e308", b"-1", b"9" * 5000, b"0." + b"0" * 5000 + b"1", b"999999999999h",
    b"1" * 400 + b"s", b"ms", b"nan", b".inf", b"1e999%", b"$version", b"$window", b"{min: 1s, max: 0s}",
    b"quantiles: [", b"kind: ", b"routers:\n  - ", b"pause: ", b"header: {name: , value: }", b"region: ",
    b"{canary!r}", b"{service.__class__}", b"{0}", b"'{{'", b"max_increase: ", b"detect: ", b"negligible: ",
)
BY_FRONT = {"sql": SQL, "alembic": PYTHON, "django": PYTHON, "python": PYTHON, "openapi": YAML + JSON,
            "deploy": DEPLOY + YAML, "rollout": ROLLOUT + YAML}
INTERESTING_BYTES = b"\x00\xff\x80\x0d\x0a\x22\x27\x5c\x7b\x7d\x5b\x5d\x28\x29\x3a\x23\x09\x0c\x2d\x26\x2a\xc0\xed\x20"
NESTING = ((b"(", b")"), (b"[", b"]"), (b"{", b"}"), (b"f(", b")"), (b"[[", b"]]"), (b"- ", b""), (b"{a: ", b"}"))

TOKEN = re.compile(rb"0[xX][0-9a-fA-F_]+|\d[\d_]*(?:\.\d+)?(?:[eE][-+]?\d+)?|'(?:[^'\\\n]|\\.){0,200}'|"
                   rb'"(?:[^"\\\n]|\\.){0,200}"|[A-Za-z_][A-Za-z0-9_]*')
NUMBERS = (b"0", b"-1", b"0x" + b"f" * 5000, b"9" * 5000, b"1e999", b"10**10**10", b"1.5", b"True", b"None",
           b"0b" + b"1" * 5000, b"(1<<62)", b"-0.0", b"float('nan')")
STRINGS = (b"''", b"'%1500000000d' % 1", b"'\\ud800'", b"'x' * 10**9", b"f'{x!r:>{10**9}}'", b"'{0:{1}}'.format(1, 10**9)",
           b"'" + b"a" * 100000 + b"'", b"'\\x00'", b"'\\N{BOGUS}'", b"'a' 'b'", b"r'\\'", b"b'\\xff'", b"'\r'",
           b'"""\n"""', b"str(10**5000)", b"'users'", b"'../../etc/passwd'", b"'/etc/passwd'", b"'%s' % ('a',) * 5",
           b"'x'.join(['y'] * 10**9)", b"'{}'.format", b"'$version'", b"'{{ x }}'", b"'\xed\xa0\x80'")
NAMES = (b"x", b"None", b"True", b"lambda", b"class", b"__class__", b"__import__('os')", b"op", b"sa", b"models",
         b"migrations", b"self", b"_" * 5000, b"\xc3\xa9t\xc3\xa9", b"print", b"eval", b"getattr", b"type", b"super()")


def _pos(ch: Chooser, data: bytes) -> int:
    return ch.int(0, len(data))


def _line_starts(data: bytes) -> list[int]:
    return [0] + [m.end() for m in re.finditer(rb"\n", data[:MAX_INPUT])]


def _fits(data: bytes, extra: int) -> bool:
    return len(data) + extra <= MAX_INPUT


def op_insert(ch, data, front, donors):
    token = pick(ch, BY_FRONT[front] + GENERIC) if ch.int(0, 3) else pick(ch, GENERIC)
    at = _pos(ch, data)
    return (data[:at] + token + data[at:], f"insert {token[:24]!r}{'…' if len(token) > 24 else ''} at {at}") \
        if _fits(data, len(token)) else (data, "insert skipped")


def op_replace(ch, data, front, donors):
    token = pick(ch, BY_FRONT[front] + GENERIC)
    at = _pos(ch, data)
    n = ch.int(1, 32)
    return data[:at] + token + data[at + n:], f"replace {n} bytes at {at} with {token[:24]!r}"


def op_delete(ch, data, front, donors):
    at = _pos(ch, data)
    n = pick(ch, (1, 2, 8, 64, 512, len(data)))
    return data[:at] + data[at + n:], f"delete {n} bytes at {at}"


def op_duplicate(ch, data, front, donors):
    at = _pos(ch, data)
    n = pick(ch, (1, 16, 80, 400, 4000))
    times = pick(ch, (2, 2, 3, 3, 10, 10, 100, 1000))
    chunk = data[at:at + n] * times
    if not _fits(data, len(chunk)):
        return data, "duplicate skipped"
    return data[:at] + chunk + data[at:], f"duplicate {n} bytes at {at} x{times}"


def op_flip(ch, data, front, donors):
    if not data:
        return data, "flip skipped"
    at = ch.int(0, len(data) - 1)
    if ch.int(0, 1):
        b = INTERESTING_BYTES[ch.int(0, len(INTERESTING_BYTES) - 1)]
    else:
        b = data[at] ^ (1 << ch.int(0, 7))
    return data[:at] + bytes([b]) + data[at + 1:], f"byte {b:#04x} at {at}"


def op_splice(ch, data, front, donors):
    donor = pick(ch, donors) if donors else data
    a = ch.int(0, len(donor))
    n = pick(ch, (16, 200, 2000, len(donor)))
    at = _pos(ch, data)
    chunk = donor[a:a + n]
    return (data[:at] + chunk + data[at:], f"splice {len(chunk)} donor bytes at {at}") if _fits(data, len(chunk)) \
        else (data, "splice skipped")


def op_token(ch, data, front, donors):
    """Replace one token (number, string, name) with a hostile one of the same kind."""
    tokens = [m.span() for _, m in zip(range(4000), TOKEN.finditer(data))]
    if not tokens:
        return op_insert(ch, data, front, donors)
    a, b = pick(ch, tokens)
    old = data[a:b]
    pool = NUMBERS if old[:1].isdigit() else STRINGS if old[:1] in (b"'", b'"') else NAMES + STRINGS + NUMBERS
    new = pick(ch, pool)
    return data[:a] + new + data[b:], f"token {old[:20]!r} -> {new[:24]!r} at {a}"


def op_line(ch, data, front, donors):
    starts = _line_starts(data)
    i = ch.int(0, len(starts) - 1)
    a = starts[i]
    b = starts[i + 1] if i + 1 < len(starts) else len(data)
    line = data[a:b] if data[a:b].endswith(b"\n") else data[a:b] + b"\n"
    what = ch.int(0, 4)
    if what == 0:
        return data[:a] + data[b:], f"delete line {i + 1}"
    if what == 1:
        times = pick(ch, (2, 2, 3, 50, 50, 5000))
        if not _fits(data, len(line) * times):
            return data, "line repeat skipped"
        return data[:a] + line * times + data[b:], f"repeat line {i + 1} x{times}"
    if what == 2:
        j = ch.int(0, len(starts) - 1)
        return data[:starts[j]] + line + data[starts[j]:], f"copy line {i + 1} before line {j + 1}"
    if what == 3:
        indent = pick(ch, (b" ", b"    ", b"\t", b" " * 200))
        return data[:a] + indent + data[a:], f"indent line {i + 1} by {indent[:4]!r}"
    donor = pick(ch, donors) if donors else data
    dstarts = _line_starts(donor)
    k = ch.int(0, len(dstarts) - 1)
    dline = donor[dstarts[k]:dstarts[k + 1] if k + 1 < len(dstarts) else len(donor)]
    return data[:a] + dline + (b"\n" if not dline.endswith(b"\n") else b"") + data[a:], f"donor line before {i + 1}"


def op_eol(ch, data, front, donors):
    how = ch.int(0, 3)
    if how == 0:
        return data.replace(b"\n", b"\r"), "CR-only line endings"
    if how == 1:
        return data.replace(b"\n", b"\r\n"), "CRLF line endings"
    if how == 2:
        return data.replace(b"\n", b"\r\r\n"), "CRCRLF line endings"
    return data.replace(b"\n", pick(ch, (b"\x0c\n", b"\x85", b"\xe2\x80\xa8", b"\x0b", b"\n\x00"))), "odd line separators"


def op_nest(ch, data, front, donors):
    opener, closer = pick(ch, NESTING)
    depth = pick(ch, (10, 30, 100, 199, 250, 1000, 5000, 30000))
    chunk = opener * depth + (b"x" if ch.int(0, 1) else b"") + (closer * depth if ch.int(0, 3) else b"")
    if not _fits(data, len(chunk)):
        return data, "nest skipped"
    at = _pos(ch, data)
    return data[:at] + chunk + data[at:], f"nest {opener!r}x{depth} at {at}"


def op_grow(ch, data, front, donors):
    """`s += s`: the whole file doubled until near the size cap (linear time on large inputs)."""
    times = ch.int(1, 10)
    for _ in range(times):
        if not _fits(data, len(data)) or not data:
            break
        data += data
    return data, f"doubled x{times}"


def op_struct(ch, data, front, donors):
    """YAML/JSON: replace, drop or nest one value of the loaded document, then dump it again."""
    from fuzzkit.structured import mutate_document

    out = mutate_document(ch, data)
    return (out, "structured value edit") if out is not None else op_token(ch, data, front, donors)


def op_generate(ch, data, front, donors):
    """Generated statements put in the migration (SQL, Alembic `upgrade()`, Django `operations`)."""
    from fuzzkit.structured import generate_into

    out = generate_into(ch, front, data)
    return (out, "generated statements") if out is not None else op_token(ch, data, front, donors)


# weights: the cheap, local edits most of the time, so most inputs are small and a campaign reaches many;
# the growing ones (`s += s`, repeats, deep nesting) often enough to hold time and memory bounds to account
OPS = ((op_token,) * 4 + (op_insert,) * 3 + (op_replace,) * 2 + (op_delete,) * 2 + (op_flip,) * 2 + (op_line,) * 3
       + (op_splice,) * 2 + (op_struct,) * 3 + (op_generate,) * 2 + (op_eol, op_nest, op_duplicate, op_grow))


def mutate(ch: Chooser, data: bytes, front: str, donors=()) -> tuple[bytes, list[str]]:
    """1-4 operations on `data`; returns the result and what was done."""
    notes = []
    for _ in range(ch.int(1, 4)):
        op = OPS[ch.int(0, len(OPS) - 1)]
        data, note = op(ch, data, front, donors)
        data = data[:MAX_INPUT]
        notes.append(note)
    return data, notes


def as_json_text(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
