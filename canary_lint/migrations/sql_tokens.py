"""Classify DDL from tokens: the ALTER/CREATE/DROP statements sqlglot turns into an opaque `Command` (or
cannot parse), and the hot paths (ALTER TABLE actions, CREATE TABLE column lists) read without a full parse."""

from __future__ import annotations

import re

from canary_lint.migrations import ops as K
from canary_lint.migrations.ops import ColumnSpec, Op
from canary_lint.migrations.sql_lex import _CREATE_TABLE, _name, _rx_tokens, normalize_type

OBJECT_KINDS = {"VIEW": "view", "FUNCTION": "function", "PROCEDURE": "procedure", "TYPE": "type",
                "SEQUENCE": "sequence", "TRIGGER": "trigger", "DOMAIN": "domain", "SCHEMA": "schema",
                "EXTENSION": "extension", "AGGREGATE": "aggregate"}


# ---- token fallback --------------------------------------------------------------------------------
def _tokens(stmt: str, d: str) -> list[tuple[str, str]]:
    """(KIND, TEXT) where KIND is W (word/identifier), S (string), P (punctuation)."""
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.tokens import TokenType

    try:
        toks = Dialect.get_or_raise(d).tokenize(stmt)
    except Exception:  # noqa: BLE001 - sqlglot raises several types; fall back to words
        return [("W", w) for w in re.findall(r"[A-Za-z_][\w$.]*|[(),]", stmt)]
    out = []
    for t in toks:
        if t.token_type in (TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.HEREDOC_STRING,
                            TokenType.BIT_STRING, TokenType.HEX_STRING, TokenType.BYTE_STRING):
            out.append(("S", t.text))
        elif t.token_type in (TokenType.L_PAREN, TokenType.R_PAREN, TokenType.COMMA, TokenType.DOT):
            out.append(("P", t.text))
        else:
            if t.token_type == TokenType.IDENTIFIER:
                out.append(("W", f'"{t.text}"'))
            else:
                out.extend(("W", w) for w in t.text.split())
    return out


def _actions(words: list[tuple[str, str]]) -> list[list[str]]:
    """Split ALTER TABLE actions on top-level commas; string literals dropped."""
    out, cur, depth = [], [], 0
    for kind, text in words:
        if kind == "P" and text == "(":
            depth += 1
        elif kind == "P" and text == ")":
            depth -= 1
        if kind == "P" and text == "," and depth == 0:
            out.append(cur)
            cur = []
            continue
        if kind == "S":
            continue
        cur.append(text)
    if cur:
        out.append(cur)
    return out


def _from_tokens(stmt: str, d: str, head: list[str], toks: list | None = None) -> list[Op]:
    toks = _tokens(stmt, d) if toks is None else toks
    up = [t.upper() if k == "W" else t for k, t in toks]
    words = [t for (k, t) in toks]
    if len(up) < 2:
        return [Op(K.UNKNOWN, detail=" ".join(head[:3]))]
    if up[0] == "ALTER" and up[1] == "TABLE":
        i = 2
        while i < len(up) and up[i] in ("ONLY", "IF", "EXISTS"):
            i += 1
        table, i = _qualified(words, up, i)
        ops = []
        for action in _actions(toks[i:]):
            ops.append(_token_action([a.upper() for a in action], action, table, " ".join(head[:3])))
        # MySQL: ALGORITHM=INPLACE|INSTANT or LOCK=NONE makes the change online, or makes it fail, never copy
        online = any(up[j] in ("ALGORITHM", "LOCK") and j + 2 < len(up) and up[j + 1] == "="
                     and up[j + 2] in ("INPLACE", "INSTANT", "NONE") for j in range(len(up)))
        for o in ops:
            o.online = online
        return ops or [Op(K.UNKNOWN, table, detail="ALTER TABLE")]
    if up[0] == "ALTER" and up[1] in ("TYPE", "VIEW", "SEQUENCE", "FUNCTION", "PROCEDURE", "MATERIALIZED", "DOMAIN",
                                      "INDEX"):
        kind = "materialized view" if up[1] == "MATERIALIZED" else up[1].lower()
        i = 3 if up[1] == "MATERIALIZED" else 2
        while i < len(up) and up[i] in ("IF", "EXISTS"):
            i += 1
        name, i = _qualified(words, up, i)
        rest = up[i:]
        if up[1] == "TYPE" and rest[:2] == ["RENAME", "VALUE"]:
            return [Op(K.RENAME_OBJECT, name, name=name, object_kind="enum value", detail="RENAME VALUE",
                       new_name=" ".join(_strings(toks)[1:2]) or None, column=(_strings(toks)[:1] or [None])[0])]
        if "RENAME" in rest and "TO" in rest and "COLUMN" not in rest:
            j = rest.index("TO")
            return [Op(K.RENAME_OBJECT, name, name=name, new_name=_name(words[i + j + 1]) if i + j + 1 < len(words) else None,
                       object_kind=kind, detail=f"ALTER {up[1]} RENAME")]
        return [Op(K.OTHER, name, detail=f"ALTER {up[1]}")]
    if up[0] == "CREATE" and ("INDEX" in up[:4]):
        j = up.index("INDEX")
        conc = j + 1 < len(up) and up[j + 1] == "CONCURRENTLY"
        table = None
        if "ON" in up:
            k = up.index("ON") + 1
            if k < len(up) and up[k] == "ONLY":
                k += 1
            table, _ = _qualified(words, up, k)
        name_i = j + 1 + (1 if conc else 0)
        while name_i < len(up) and up[name_i] in ("IF", "NOT", "EXISTS"):
            name_i += 1
        name = _name(words[name_i]) if name_i < len(up) and up[name_i] != "ON" else None
        return [Op(K.CREATE_INDEX, table, name=name, unique="UNIQUE" in up[:j], concurrently=conc, detail="CREATE INDEX")]
    if up[0] == "DROP" and up[1] == "INDEX":
        conc = len(up) > 2 and up[2] == "CONCURRENTLY"
        i = 3 if conc else 2
        while i < len(up) and up[i] in ("IF", "EXISTS"):
            i += 1
        name, _ = _qualified(words, up, i)
        return [Op(K.DROP_INDEX, None, name=name, concurrently=conc, detail="DROP INDEX")]
    if up[0] == "DROP" and up[1] == "TABLE":
        i = 2
        while i < len(up) and up[i] in ("IF", "EXISTS"):
            i += 1
        name, _ = _qualified(words, up, i)
        return [Op(K.DROP_TABLE, name, detail="DROP TABLE")]
    if up[0] == "DROP":
        kind = "materialized view" if up[1] == "MATERIALIZED" else OBJECT_KINDS.get(up[1])
        if kind:
            i = 3 if up[1] == "MATERIALIZED" else 2
            while i < len(up) and up[i] in ("IF", "EXISTS"):
                i += 1
            name, _ = _qualified(words, up, i)
            return [Op(K.DROP_OBJECT, name, name=name, object_kind=kind, detail=f"DROP {up[1]}")]
    if up[0] == "CREATE":
        return [Op(K.CREATE_OBJECT, detail=" ".join(head[:3]))]
    if up[0] == "RENAME" and up[1] == "TABLE":  # MySQL
        return [Op(K.RENAME_TABLE, _name(words[2]) if len(words) > 2 else None,
                   new_name=_name(words[4]) if len(words) > 4 else None, detail="RENAME TABLE")]
    return [Op(K.UNKNOWN, detail=" ".join(head[:3]))]


def _strings(toks) -> list[str]:
    return [t for k, t in toks if k == "S"]


def _qualified(words: list[str], up: list[str], i: int) -> tuple[str | None, int]:
    """Read `a.b.c` starting at i; returns (last part normalized, next index)."""
    if i >= len(words):
        return None, i
    name = words[i]
    i += 1
    while i + 1 < len(words) and words[i] == ".":
        name = words[i + 1]
        i += 2
    return _name(name) if name not in ("(", ")", ",") else None, i


def _token_action(up: list[str], raw: list[str], table: str | None, detail: str) -> Op:
    def after(word: str) -> str | None:
        if word in up:
            j = up.index(word) + 1
            if j < len(raw):
                return _name(raw[j])
        return None

    if not up:
        return Op(K.UNKNOWN, table, detail=detail)
    verb = up[0]
    if verb == "ADD":
        rest = up[1:]
        if rest[:1] and rest[0] in ("INDEX", "KEY", "FULLTEXT", "SPATIAL", "PARTITION", "CONSTRAINT") and \
                not any(w in rest for w in ("CHECK", "FOREIGN", "UNIQUE", "PRIMARY", "EXCLUDE")):
            return Op(K.UNKNOWN, table, detail=f"ALTER TABLE ... ADD {rest[0]}")
        name = after("CONSTRAINT")
        if "CHECK" in rest or "FOREIGN" in rest or "UNIQUE" in rest or "PRIMARY" in rest or "EXCLUDE" in rest:
            first = next(w for w in rest if w in ("CHECK", "FOREIGN", "UNIQUE", "PRIMARY", "EXCLUDE"))
            if not (rest[0] in ("CONSTRAINT", "CHECK", "FOREIGN", "UNIQUE", "PRIMARY", "EXCLUDE")):
                first = None  # ADD COLUMN c int UNIQUE -> a column
            if first:
                kind = {"CHECK": "check", "FOREIGN": "foreign_key", "UNIQUE": "unique", "PRIMARY": "primary_key",
                        "EXCLUDE": "exclude"}[first]
                nv = any(up[k] == "NOT" and k + 1 < len(up) and up[k + 1] == "VALID" for k in range(len(up)))
                using = any(up[k] == "USING" and k + 1 < len(up) and up[k + 1] == "INDEX" for k in range(len(up)))
                cols: list = []
                if kind in ("unique", "foreign_key", "primary_key") and "(" in raw:
                    j = raw.index("(") + 1
                    while j < len(raw) and raw[j] != ")":
                        if raw[j] != ",":
                            cols.append(_name(raw[j]))
                        j += 1
                return Op(K.ADD_CONSTRAINT, table, name=name, constraint=kind, not_valid=nv, using_index=using,
                          detail=f"ADD {first}", columns=tuple(cols),
                          references=_references(up, raw) if kind == "foreign_key" else ())
        k = 2 if len(up) > 1 and up[1] == "COLUMN" else 1
        while k < len(up) and up[k] in ("IF", "NOT", "EXISTS"):
            k += 1
        if k < len(raw):
            col = _name(raw[k])
            type_words = []
            for w in up[k + 1:]:
                if w in ("NOT", "NULL", "DEFAULT", "PRIMARY", "UNIQUE", "REFERENCES", "CHECK", "CONSTRAINT",
                         "COLLATE", "GENERATED", "AUTOINCREMENT", "AUTO_INCREMENT", "COMMENT", "ON", "CHARACTER",
                         "AS", "IDENTITY", "FIRST", "AFTER"):
                    break
                type_words.append(w)
            notnull = any(up[j] == "NOT" and j + 1 < len(up) and up[j + 1] == "NULL" for j in range(len(up)))
            default = None
            if "DEFAULT" in up:
                j = up.index("DEFAULT") + 1
                default = re.sub(r"\s*([(),])\s*", r"\1", " ".join(raw[j:j + 3])) or "?"
            spec = ColumnSpec(col, normalize_type(" ".join(type_words)),
                              nullable=not notnull, default=default)
            return Op(K.ADD_COLUMN, table, column=col, spec=spec, detail="ADD COLUMN")
    if verb in ("MODIFY", "CHANGE"):  # MySQL
        k = 2 if len(up) > 1 and up[1] == "COLUMN" else 1
        if verb == "CHANGE" and k + 1 < len(raw):
            old, new = _name(raw[k]), _name(raw[k + 1])
            k += 1
        elif k < len(raw):
            old = new = _name(raw[k])
        else:
            return Op(K.UNKNOWN, table, detail=f"ALTER TABLE ... {verb}")
        type_words = []
        for w in raw[k + 1:]:
            if w.upper() in ("NOT", "NULL", "DEFAULT", "PRIMARY", "UNIQUE", "COMMENT", "AFTER", "FIRST", "COLLATE",
                             "CHARACTER", "AUTO_INCREMENT", "REFERENCES", "CHECK"):
                break
            type_words.append(w)
        typ = normalize_type(" ".join(type_words))
        if old != new:
            return Op(K.RENAME_COLUMN, table, column=old, new_name=new, type=typ, detail="CHANGE COLUMN")
        return Op(K.ALTER_TYPE, table, column=old, type=typ, detail=f"{verb} COLUMN")
    if verb == "VALIDATE":
        return Op(K.VALIDATE_CONSTRAINT, table, name=after("CONSTRAINT"), detail="VALIDATE CONSTRAINT")
    if verb == "DROP":
        if len(up) > 1 and up[1] == "CONSTRAINT":
            k = 2
            while k < len(up) and up[k] in ("IF", "EXISTS"):
                k += 1
            return Op(K.DROP_CONSTRAINT, table, name=_name(raw[k]) if k < len(raw) else None, detail="DROP CONSTRAINT")
        if len(up) > 1 and up[1] in ("DEFAULT", "INDEX", "KEY", "PRIMARY", "FOREIGN", "CHECK"):
            return Op(K.OTHER, table, detail=f"DROP {up[1]}")
        k = 2 if len(up) > 1 and up[1] == "COLUMN" else 1
        while k < len(up) and up[k] in ("IF", "EXISTS"):
            k += 1
        if k < len(raw):
            return Op(K.DROP_COLUMN, table, column=_name(raw[k]), detail="DROP COLUMN")
    if verb == "RENAME":
        if len(up) > 1 and up[1] in ("TO", "AS"):
            return Op(K.RENAME_TABLE, table, new_name=_name(raw[2]) if len(raw) > 2 else None, detail="RENAME TO")
        if "TO" in up:
            k = 2 if up[1] == "COLUMN" else 1
            if up[1] == "CONSTRAINT":
                return Op(K.OTHER, table, detail="RENAME CONSTRAINT")
            return Op(K.RENAME_COLUMN, table, column=_name(raw[k]), new_name=after("TO"), detail="RENAME COLUMN")
    if verb == "ALTER":
        k = 2 if len(up) > 1 and up[1] == "COLUMN" else 1
        col = _name(raw[k]) if k < len(raw) else None
        rest = up[k + 1:]
        if rest[:1] == ["TYPE"] or rest[:3] == ["SET", "DATA", "TYPE"]:
            start = k + 2 if rest[:1] == ["TYPE"] else k + 4
            tw = []
            for w in raw[start:]:
                if w.upper() in ("USING", "COLLATE"):
                    break
                tw.append(w)
            return Op(K.ALTER_TYPE, table, column=col, type=normalize_type(" ".join(tw)),
                      detail="ALTER COLUMN TYPE")
        if rest[:3] == ["SET", "NOT", "NULL"]:
            return Op(K.SET_NOT_NULL, table, column=col, detail="SET NOT NULL")
        if rest[:3] == ["DROP", "NOT", "NULL"]:
            return Op(K.DROP_NOT_NULL, table, column=col, detail="DROP NOT NULL")
        if rest[:2] == ["SET", "DEFAULT"]:
            return Op(K.SET_DEFAULT, table, column=col, default=" ".join(raw[k + 3:]), detail="SET DEFAULT")
        return Op(K.OTHER, table, column=col, detail="ALTER COLUMN")
    if verb in ("SET", "RESET", "OWNER", "ENABLE", "DISABLE", "CLUSTER", "REPLICA", "INHERIT", "NO", "OF", "NOT",
                "ALGORITHM", "LOCK",
                "FORCE", "ENGINE", "COMMENT", "CONVERT", "AUTO_INCREMENT"):
        return Op(K.OTHER, table, detail=" ".join(up[:3]))
    return Op(K.UNKNOWN, table, detail=f"ALTER TABLE ... {' '.join(up[:3])}")


TABLE_CONSTRAINT_HEADS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "EXCLUDE", "LIKE", "INDEX", "KEY",
                          "FULLTEXT", "SPATIAL", "PERIOD"}


def _columns_from_tokens(stmt: str) -> tuple | None:
    """Column specs of `CREATE TABLE t (...)` from tokens; None when an element is not a plain column."""
    m = _CREATE_TABLE.match(stmt)
    if not m:
        return None
    toks = _rx_tokens(stmt[m.end():])
    elements, cur, depth = [], [], 0
    for kind, text in toks:
        if kind == "P" and text == "(":
            depth += 1
        elif kind == "P" and text == ")":
            if depth == 0:
                elements.append(cur)
                break
            depth -= 1
        if kind == "P" and text == "," and depth == 0:
            elements.append(cur)
            cur = []
            continue
        cur.append((kind, text))
    else:
        return None
    cols = []
    for el in elements:
        words = [t for k, t in el if k != "S"]
        if not words:
            return None
        if words[0].upper() in TABLE_CONSTRAINT_HEADS:
            continue
        up = [w.upper() for w in words]
        op = _token_action(["ADD", "COLUMN", *up], ["ADD", "COLUMN", *words], None, "CREATE TABLE")
        if op.kind != K.ADD_COLUMN or op.spec is None or not op.spec.type:
            return None
        if "PRIMARY" in up:
            op.spec.primary_key, op.spec.nullable = True, False
        if "UNIQUE" in up:
            op.spec.unique = True
        if {"SERIAL", "BIGSERIAL", "SMALLSERIAL", "SERIAL4", "SERIAL8", "AUTO_INCREMENT", "AUTOINCREMENT"} & set(up):
            op.spec.default = op.spec.default or "nextval()"
        cols.append(op.spec)
    return tuple(cols)


def _references(up: list, raw: list) -> tuple:
    """`REFERENCES users (id)` of a foreign key: ("users", "id"); () when not written that way."""
    if "REFERENCES" not in up:
        return ()
    k = up.index("REFERENCES") + 1
    while k + 2 < len(raw) and raw[k + 1] == ".":  # schema.table
        k += 2
    if k + 1 >= len(raw) or raw[k + 1] != "(":
        return ()
    cols, j = [], k + 2
    while j < len(raw) and raw[j] != ")":
        if raw[j] != ",":
            cols.append(_name(raw[j]))
        j += 1
    return (_name(raw[k]), *cols) if cols and j < len(raw) else ()
