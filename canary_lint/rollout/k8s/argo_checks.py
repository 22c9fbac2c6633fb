"""What the Argo Rollouts controller (v1.9) checks in an analysis metric when it starts an AnalysisRun, after
`{{args.NAME}}` placeholders are resolved: the API server accepts these objects, the rollout then fails (or,
for a count that is not a number, reads 0 and measures until the rollout ends).

Mirrors `ValidateMetric` of argo-rollouts utils/analysis/factory.go: limits are whole numbers (an
int-or-string that is not one is read as 0 by `IntValue()`), failureLimit >= -1, the other limits >= 0,
not both failureLimit and consecutiveSuccessLimit disabled, count >= failureLimit + consecutiveSuccessLimit and
>= inconclusiveLimit, an interval when count > 1, Go durations for interval and initialDelay, exactly one
provider, unique metric names.
"""

from __future__ import annotations

LIMITS = ("count", "failureLimit", "inconclusiveLimit", "consecutiveErrorLimit", "consecutiveSuccessLimit")
_UNITS = ("ns", "us", "µs", "ms", "s", "m", "h")


def go_duration(text: str) -> bool:
    """Go's time.ParseDuration accepts this (`1h30m`, `1.5s`, `0`; no spaces, a unit after every number)."""
    if text in ("0", "+0", "-0"):
        return True
    s = text[1:] if text[:1] in "+-" else text
    if not s:
        return False
    i, n = 0, len(s)
    while i < n:
        j = i
        while j < n and (s[j].isdigit() or s[j] == "."):
            j += 1
        number = s[i:j]
        if not number or number == "." or number.count(".") > 1:
            return False
        for unit in sorted(_UNITS, key=len, reverse=True):
            if s.startswith(unit, j):
                i = j + len(unit)
                break
        else:
            return False
    return True


def _placeholder(value: str) -> str | None:
    v = value.strip()
    if v.startswith("{{") and v.endswith("}}"):
        inner = v[2:-2].strip()
        if inner.startswith("args."):
            return inner[5:]
    return None


def _arg_value(name: str, args: list) -> str | None:
    for a in args or ():
        if isinstance(a, dict) and a.get("name") == name:
            return a.get("value") if isinstance(a.get("value"), str) else None
    return None


def analysis_problems(obj: dict) -> list[tuple[str, str]]:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    args = spec.get("args") or []
    declared = {a.get("name") for a in args if isinstance(a, dict)}
    out: list[tuple[str, str]] = []
    names: set = set()
    metrics = spec.get("metrics") if isinstance(spec.get("metrics"), list) else []
    for i, m in enumerate(metrics):
        if not isinstance(m, dict):
            continue
        at = f"spec.metrics[{i}]"
        if m.get("name") in names:
            out.append((f"{at}.name", f"duplicate metric name {m.get('name')!r}"))
        names.add(m.get("name"))
        limits = {}
        for key in LIMITS:
            if key not in m:
                continue
            value, where = m[key], f"{at}.{key}"
            if isinstance(value, str):
                arg = _placeholder(value)
                if arg is not None:
                    if arg not in declared:
                        out.append((where, f"{value} names no argument of spec.args"))
                        continue
                    value = _arg_value(arg, args)
                    if value is None:  # supplied by the Rollout at run time
                        continue
                try:
                    value = int(value.strip()) if isinstance(value, str) else value
                except ValueError:
                    out.append((where, f"{m[key]!r} is not a whole number: the controller reads it as 0"
                                + (" (no count: the metric runs until the rollout ends)" if key == "count" else "")))
                    continue
            limits[key] = value
        out += _limit_rules(at, m, limits)
        for key in ("interval", "initialDelay"):
            value = m.get(key)
            if isinstance(value, str) and _placeholder(value) is None and not go_duration(value):
                out.append((f"{at}.{key}", f"{value!r} is not a duration (Go syntax: 30s, 5m, 1h30m)"))
        provider = m.get("provider") if isinstance(m.get("provider"), dict) else {}
        if len(provider) != 1:
            out.append((f"{at}.provider", f"exactly one provider is needed, found {len(provider)}"))
    return out


def _limit_rules(at: str, m: dict, lim: dict) -> list[tuple[str, str]]:
    out = []
    count = lim.get("count", 0)
    failure = lim.get("failureLimit", 0)
    success = lim.get("consecutiveSuccessLimit", 0)
    inconclusive = lim.get("inconclusiveLimit", 0)
    if success < 0:
        out.append((f"{at}.consecutiveSuccessLimit", "must be >= 0"))
    if failure < -1:
        out.append((f"{at}.failureLimit", "must be >= 0, or -1 to disable it"))
    if success == 0 and failure == -1:
        out.append((at, "failureLimit and consecutiveSuccessLimit cannot both be disabled"))
    if inconclusive < 0:
        out.append((f"{at}.inconclusiveLimit", "must be >= 0"))
    if lim.get("consecutiveErrorLimit", 0) < 0:
        out.append((f"{at}.consecutiveErrorLimit", "must be >= 0"))
    if count > 0:
        if success >= 0 and failure >= 0 and count < failure + success:
            out.append((f"{at}.count", f"count ({count}) must be >= failureLimit + consecutiveSuccessLimit "
                        f"({failure} + {success})"))
        elif failure < 0 and count < success:
            out.append((f"{at}.count", "count must be >= consecutiveSuccessLimit"))
        if count < inconclusive:
            out.append((f"{at}.count", "count must be >= inconclusiveLimit"))
    if count > 1 and not m.get("interval"):
        out.append((f"{at}.interval", "an interval is needed when count > 1"))
    return out
