"""CEL `x-kubernetes-validations` of a CRD schema, evaluated with cel-python (`celpy`) the way the API server
does on create:

- `self` is the value at the node carrying the rule, typed by its schema: `integer` -> int, `number` ->
  double (an integral JSON number too), objects with `properties` -> messages whose field names are escaped
  like the API server's (`namespace` -> `__namespace__`, `a.b` -> `a__dot__b`, ...), maps and lists as such;
- transition rules (those naming `oldSelf`) are skipped: they only run on update;
- a rule that is false fails with its `message` (or the rule text), at the node's path plus its `fieldPath`;
  a rule that cannot be evaluated on the object (an error, not false) fails too, as on the API server.
Not modelled: cost budgets and the Kubernetes-only libraries (`isURL`, `quantity`, `ip`, ...): a rule using
one reports that it could not be evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

_RESERVED = {"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if",
             "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"}


class CelUnavailable(Exception):
    pass


@dataclass(frozen=True)
class RuleFailure:
    path: tuple
    message: str
    rule: str
    reason: str = "FieldValueInvalid"


def available() -> bool:
    try:
        import celpy  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=None)
def _env():
    try:
        import celpy
    except ImportError:
        raise CelUnavailable("CEL rules need cel-python: pip install 'canary-lint[k8s]'") from None
    return celpy.Environment()


@lru_cache(maxsize=4096)
def _program(rule: str):
    env = _env()
    return env.program(env.compile(rule))


def escape(name: str) -> str:
    """A property name as CEL sees it in a structural schema (Kubernetes' escaping rules)."""
    if name in _RESERVED:
        return f"__{name}__"
    return name.replace("__", "__underscores__").replace(".", "__dot__").replace("-", "__dash__").replace(
        "/", "__slash__")


def to_cel(value, schema: dict | None):
    from celpy import celtypes as T

    schema = schema or {}
    if value is None:
        return None
    if isinstance(value, bool):
        return T.BoolType(value)
    if isinstance(value, int):
        return T.DoubleType(value) if schema.get("type") == "number" else T.IntType(value)
    if isinstance(value, float):
        return T.DoubleType(value)
    if isinstance(value, str):
        return T.StringType(value)
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else None
        return T.ListType([to_cel(v, items) for v in value])
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties") if isinstance(schema.get("additionalProperties"), dict) else None
        out = {}
        for k, v in value.items():
            if props and k in props:
                out[T.StringType(escape(k))] = to_cel(v, props[k])
            else:
                out[T.StringType(k)] = to_cel(v, extra)
        return T.MapType(out)
    return value


def check(schema: dict, value, path: tuple = ()) -> list[RuleFailure]:
    """Every CEL rule under `schema` that fails on `value` (which has had its defaults applied)."""
    failures: list[RuleFailure] = []
    _walk(schema, value, path, failures)
    return failures


def _walk(schema, value, path: tuple, out: list) -> None:
    if not isinstance(schema, dict) or value is None:
        return
    for rule in schema.get("x-kubernetes-validations") or ():
        text = rule.get("rule", "")
        if "oldSelf" in text:
            continue
        failure = _evaluate(rule, schema, value, path)
        if failure is not None:
            out.append(failure)
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties") if isinstance(schema.get("additionalProperties"), dict) else None
        for k, v in value.items():
            sub = props[k] if k in props else extra
            if sub is not None:
                _walk(sub, v, path + (k,), out)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            _walk(schema["items"], v, path + (i,), out)


def _evaluate(rule: dict, schema: dict, value, path: tuple) -> RuleFailure | None:
    import celpy

    text = rule["rule"]
    where = path + _field_path(rule.get("fieldPath", ""))
    try:
        result = _program(text).evaluate({"self": to_cel(value, schema)})
    except CelUnavailable:
        raise
    except Exception as exc:  # celpy raises its own errors and a few Python ones on bad input
        return RuleFailure(where, f"rule could not be evaluated ({type(exc).__name__}: {exc})", text)
    if isinstance(result, celpy.CELEvalError):
        return RuleFailure(where, f"rule could not be evaluated ({result.args[0] if result.args else result})", text)
    if not isinstance(result, celpy.celtypes.BoolType):
        return RuleFailure(where, f"rule did not evaluate to a bool ({type(result).__name__})", text)
    if bool(result):
        return None
    message = rule.get("message") or f"failed rule: {text}"
    return RuleFailure(where, message, text, rule.get("reason", "FieldValueInvalid"))


def _field_path(fp: str) -> tuple:
    """`.spec.foo[0]` / `.foo['bar']` -> ('spec', 'foo', 0) (the subset of JSONPath fieldPath allows)."""
    parts: list = []
    i, n = 0, len(fp)
    while i < n:
        c = fp[i]
        if c == ".":
            j = i + 1
            while j < n and fp[j] not in ".[":
                j += 1
            parts.append(fp[i + 1:j])
            i = j
        elif c == "[":
            j = fp.find("]", i)
            if j < 0:
                break
            inner = fp[i + 1:j].strip("'\"")
            parts.append(int(inner) if inner.isdigit() else inner)
            i = j + 1
        else:
            i += 1
    return tuple(p for p in parts if p != "")
