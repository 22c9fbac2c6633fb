"""The one currency: every analyzer yields `Finding`s, every formatter takes a `Report`."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field, replace
from enum import Enum

# hashlib's sha256, from CPython's own module when there is one: hashlib loads OpenSSL first (2-3 ms a run)
try:
    from _sha256 import sha256 as _sha256  # CPython 3.11
except ImportError:
    try:
        from _sha2 import sha256 as _sha256  # CPython 3.12+
    except ImportError:
        from hashlib import sha256 as _sha256

FAMILIES = ("migration", "api", "state", "telemetry", "release", "meta")


def printable(text: str) -> str:
    """`text` safe for every output (JSON, SARIF, a terminal): a file name's undecodable bytes, kept by
    the OS layer as lone surrogates, become `\\xff` escapes."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a lone surrogate from a string literal ('\ud800'), not from a file name
            return text.encode("utf-8", "backslashreplace").decode("utf-8")


# ---- values read from user input, printed ------------------------------------------------------------------
# Python refuses to turn an int of more than `sys.get_int_max_str_digits()` (4,300) decimal digits into text
# (ValueError), and to read one from decimal text. A hex literal (`0x` + 5,000 `f`) or a YAML `0x…` number
# is such an int, so every literal value from user input is printed through `literal_text`/`literal_repr`,
# and every decimal number text from user input is read through `number`.


class _Hex(str):
    """An int too long for decimal, as its hex text; repr() shows it unquoted, like the int it stands for."""

    def __repr__(self) -> str:
        return str(self)


def _decimal_ok(n: int) -> bool:
    limit = sys.get_int_max_str_digits()
    return limit == 0 or n.bit_length() * 0.30103 < limit - 2  # 0.30103: log10(2); conservative by 2 digits


def hex_long_ints(value, depth: int = 0):
    """`value` with each int too long for decimal replaced by its hex text (exact: linear to print)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if _decimal_ok(value) else _Hex(hex(value))
    if depth > 64:
        return _Hex("…")
    if isinstance(value, dict):
        return {hex_long_ints(k, depth + 1): hex_long_ints(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [hex_long_ints(v, depth + 1) for v in value]
        return items if isinstance(value, list) else tuple(items) if isinstance(value, tuple) else set(items)
    return value


def _shown(value, convert, limit: int | None) -> str:
    try:
        text = convert(value)
    except ValueError:  # an int past the decimal limit, alone or inside a container
        text = convert(hex_long_ints(value))
    except RecursionError:
        text = "…"
    if limit is not None and len(text) > limit:  # both ends, so two long values still read apart
        head = (limit - 1) * 2 // 3
        text = text[:head] + "…" + text[len(text) - (limit - 1 - head):]
    return text


def literal_text(value, limit: int | None = None) -> str:
    """`str(value)` for a value read from user input (a Python literal, a YAML/JSON/TOML scalar, a container of
    them) that never raises: an int past the decimal limit is written in hex (exact, so it still compares
    and hashes as the same value). With `limit`, at most that many characters: both ends, "…" between."""
    return _shown(value, str, limit)


# a number from user input longer than this is shown in a message by its ends and its size
LONG_DIGITS = 80
_LONG_NUMBER = re.compile(r"(?:0[xX])?[0-9A-Fa-f]{81,}")


def _compact_number(m: re.Match) -> str:
    text = m.group()
    prefix, digits = (text[:2], text[2:]) if text[1:2] in ("x", "X") else ("", text)
    if len(digits) <= LONG_DIGITS:  # "0x" + 79 digits matched as 81 characters
        return text
    kind = "hex number" if prefix else "number" if digits.isdigit() else "run of hex digits"
    return f"{prefix}{digits[:8]}…{digits[-4:]} (a {len(digits):,}-digit {kind})"


def compact_numbers(text: str) -> str:
    """`text` for display (a finding's message or fix, a file error): every number of more than `LONG_DIGITS`
    digits in it, decimal or `0x` hex (an int past Python's decimal limit, printed exactly by `literal_text`),
    is shown by its ends and its size, `0xffffffff…fffe (a 5,000-digit hex number)`, so the message stays one
    readable line. The value itself (a column type, a fingerprint subject) keeps every digit."""
    if len(text) <= LONG_DIGITS:
        return text
    return _LONG_NUMBER.sub(_compact_number, text)


def literal_repr(value, limit: int | None = None) -> str:
    """`repr(value)` with the guarantees of `literal_text`."""
    return _shown(value, repr, limit)


def literal_json(value, **kwargs) -> str:
    """`json.dumps(value, **kwargs)` for user data, with an int past the decimal limit as its hex text."""
    import json

    try:
        return json.dumps(value, **kwargs)
    except ValueError:
        return json.dumps(hex_long_ints(value), **kwargs)


def number(text: str) -> int | float:
    """A decimal integer's text from user input (JSON, YAML, SQL) as a number: the int, or past Python's
    4,300-digit limit the float that readers parsing numbers as doubles (JavaScript's JSON.parse) see, which is
    linear to compute where the exact int is quadratic. Raises ValueError for text that is not a number."""
    try:
        return int(text)
    except ValueError:
        if text.strip().lstrip("+-").isdigit():
            return float(text)
        raise


class Severity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]

    @classmethod
    def parse(cls, value: str) -> "Severity":
        try:
            return cls(value.lower())
        except ValueError:
            raise ValueError(f"unknown severity {value!r} (allowed: error, warning, info)") from None


@dataclass(frozen=True)
class Location:
    """A 1-based span in a file. `end_*` default to the start."""

    path: str
    line: int = 1
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None


@dataclass(frozen=True)
class Finding:
    """One problem at one place, the one currency of every analyzer and formatter."""

    rule: str  # code, e.g. CLM101
    name: str  # kebab-case rule name
    family: str
    severity: Severity
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    fix: str | None = None
    operation: str | None = None  # API findings: "GET /orders/{id}"
    pointer: str | None = None  # API findings: JSON pointer into the spec
    subject: str = ""  # what the finding is about (e.g. "users.nickname"); feeds the fingerprint
    line_in_base: bool = False  # `line` is in v1's version of the file (a removal): no head excerpt
    new: bool = True  # False: v1's tree (the --base ref) already has a finding with this fingerprint
    proof: str = ""  # `check --prove`: proven | not reproduced | not run | migration failed

    @property
    def fingerprint(self) -> str:
        """Stable across unrelated edits: rule + path + subject, never a line number."""
        subject = self.subject or self.pointer or self.message
        digest = _sha256(f"{self.rule}\0{self.path}\0{subject}".encode("utf-8", "surrogateescape")).hexdigest()
        return digest[:32]

    @property
    def sort_key(self) -> tuple:
        return (self.path, self.line, self.column, self.rule, self.message)

    def with_severity(self, severity: Severity) -> "Finding":
        return replace(self, severity=severity)

    def to_dict(self) -> dict:
        out = {
            "rule": self.rule,
            "name": self.name,
            "family": self.family,
            "severity": self.severity.value,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "message": self.message,
            "fix": self.fix,
            "operation": self.operation,
            "pointer": self.pointer,
            "fingerprint": self.fingerprint,
            "new": self.new,
        }
        if self.proof:
            out["proof"] = self.proof
        return out


@dataclass(frozen=True)
class FileError:
    """A file that could not be read, decoded or parsed (also reported as a CL0 finding)."""

    path: str
    message: str

    def to_dict(self) -> dict:
        return {"path": self.path, "message": self.message}


@dataclass(frozen=True)
class Report:
    """The result of a check: findings, unreadable files and what the formatters print with them."""

    findings: tuple[Finding, ...]
    errors: tuple[FileError, ...] = ()
    files: int = 0
    base: str | None = None
    commit: str | None = None  # the head commit the check ran on (the rollout gate matches it)
    suppressed: int = 0
    tool_version: str = ""
    internal_error: bool = False  # an analyzer crashed: exit 2 at the end
    extra: dict = field(default_factory=dict)  # formatter hints (repo url, commit, …); not in JSON

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    @property
    def new(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.new)

    @property
    def existing(self) -> tuple[Finding, ...]:
        """Findings v1's tree already has (only with --base): shown, counted apart, not failing by default."""
        return tuple(f for f in self.findings if not f.new)

    def blocking(self, fail_on: Severity, fail_on_existing: bool = False) -> tuple[Finding, ...]:
        """The findings that fail the gate: at or above `fail_on`, and new unless `fail_on_existing`.
        The exit code, the verdicts of the text and markdown reports and the rollout gate all ask here."""
        return tuple(f for f in self.findings if f.severity.rank >= fail_on.rank and (f.new or fail_on_existing))

    def summary(self) -> dict:
        existing = len(self.existing)
        return {
            "files": self.files,
            "errors": self.count(Severity.ERROR),
            "warnings": self.count(Severity.WARNING),
            "infos": self.count(Severity.INFO),
            "suppressed": self.suppressed,
            "new": len(self.findings) - existing,
            "existing": existing,
        }
