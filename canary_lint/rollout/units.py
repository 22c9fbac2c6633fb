"""Numbers in human units: "2.1 s vs 0.11 s", "152 MB vs 107 MB (+42%, tolerance +10%)", "1,234 requests".

A pair of values (canary, baseline) is printed in one unit chosen for the larger of the two, so the two can be
compared at a glance. A gauge's unit comes from the Prometheus naming convention of the metric it queries
(`…_bytes`, `…_seconds`, `…_ratio`); anything else is printed as a plain number.
"""

from __future__ import annotations

import math
import re

_METRIC = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*(?=\s*[{\[])")
_SECONDS = ((3600.0, "h"), (60.0, "min"), (1.0, "s"), (1e-3, "ms"), (1e-6, "µs"))
_BYTES = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"), (1.0, "B"))
_PLAIN = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""))


def fraction(value: str) -> float:
    """A plan's percentage: `"10%"` -> 0.10"""
    return float(value.rstrip("%")) / 100.0


def unit_of(query: str) -> str:
    """'bytes', 'seconds', 'ratio' or '' from the first metric name in a PromQL query."""
    for name in _METRIC.findall(query or ""):
        for suffix, unit in (("_bytes", "bytes"), ("_seconds", "seconds"), ("_ratio", "ratio")):
            if name.endswith(suffix) or name.endswith(suffix + "_total"):
                return unit
    return ""


def sig(value: float, digits: int = 2) -> str:
    """`value` with `digits` significant digits, never in exponent form: 2.1, 0.11, 152, 1,234."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    mag = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - mag)
    rounded = round(value, decimals)
    if abs(rounded) >= 1000:
        return f"{rounded:,.0f}"
    return f"{rounded:.{decimals}f}"


def _scale(value: float, table) -> tuple[float, str]:
    for factor, name in table:
        if abs(value) >= factor:
            return factor, name
    return table[-1]


def _table(unit: str):
    return {"seconds": _SECONDS, "bytes": _BYTES}.get(unit, _PLAIN)


def value(v: float | None, unit: str = "", ref: float | None = None) -> str:
    """One value in its unit; `ref` (the larger of a pair) picks the scale so both read in the same one."""
    if v is None:
        return "n/a"
    if unit in ("ratio", "percent"):
        return percent(v)
    factor, name = _scale(abs(ref if ref is not None else v) or 1.0, _table(unit))
    text = sig(v / factor)
    return f"{text} {name}".rstrip() if name else text


def pair(a: float | None, b: float | None, unit: str = "") -> tuple[str, str]:
    """(a, b) in one scale: seconds 2.1 and 0.11 read "2.1 s", "0.11 s"."""
    ref = max((abs(x) for x in (a, b) if x is not None), default=None)
    return value(a, unit, ref), value(b, unit, ref)


def percent(p: float | None) -> str:
    """A share or rate: 0.0123 -> 1.2%, 0.000123 -> 0.012%."""
    if p is None:
        return "n/a"
    return sig(p * 100) + "%"


def change(a: float | None, b: float | None) -> str | None:
    """The relative change of a against b: '+42%', '-3.1%'; None when b is 0 or a value is missing."""
    if a is None or b is None or b == 0:
        return None
    c = (a - b) / abs(b)
    return ("+" if c >= 0 else "-") + sig(abs(c) * 100) + "%"


def count(n: float | None) -> str:
    return "n/a" if n is None else f"{round(n):,}"



def axis(unit: str, top: float) -> tuple[float, str]:
    """(divisor, unit label) for a chart axis whose largest value is `top`: ratio -> (0.01, '%'),
    seconds 0.25 -> (0.001, 'ms'), bytes 1.5e8 -> (1e6, 'MB')."""
    if unit in ("ratio", "percent"):
        return 0.01, "%"
    factor, name = _scale(abs(top) or 1.0, _table(unit))
    return factor, name
