"""The rollout plan: YAML validated against `plan.schema.json`, then typed."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from canary_lint import yamlio
from canary_lint.model import literal_repr, literal_text
from canary_lint.rollout import feasible
from canary_lint.rollout.routed import ROUTED, RoutedError, check_cookie_steps, routed_matchers
from canary_lint.rollout.units import fraction

SCHEMA_PATH = Path(__file__).with_name("plan.schema.json")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
LARGEST = 2 ** 53  # every number of a plan (weights, durations in seconds, limits) is an exact float below it


class PlanError(Exception):
    """The plan file is missing, unreadable or invalid (exit 2)."""


def duration(value) -> float:
    """`90`, `"1m30s"`, `"250ms"` -> seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise PlanError(f"bad duration {literal_repr(value, 60)} (use e.g. 30s, 5m, 1h30m)")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not seconds < LARGEST:  # also inf, from hundreds of digits
        raise PlanError(f"bad duration {literal_repr(value, 60)}: longer than any rollout (2^53 seconds)")
    return seconds


percent = fraction  # `"10%"` -> 0.10 (units.fraction; this name is read by the plan's readers)


def fmt_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    m, s = divmod(seconds, 60)
    return f"{m}m{s:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


@dataclass(frozen=True)
class Step:
    kind: str  # "weight" | "header" | "cookie" | "pause"
    weight: float = 0.0
    header: tuple[str, str] | None = None
    cookie: tuple[str, str] | None = None
    hold_min: float = 0.0
    hold_max: float = 0.0
    reason: str = ""

    @property
    def judged(self) -> bool:
        return self.kind in ROUTED or (self.kind == "weight" and 0 < self.weight < 100)

    def describe(self) -> str:
        if self.kind == "pause":
            return f"pause ({self.reason})" if self.reason else "pause"
        if self.kind == "header":
            return f"header {self.header[0]}: {self.header[1]}"
        if self.kind == "cookie":
            return f"cookie {self.cookie[0]}={self.cookie[1]}"
        return f"weight {self.weight:g}%"


@dataclass(frozen=True)
class Criterion:
    name: str
    kind: str  # ratio | latency | gauge
    raw: dict


@dataclass(frozen=True)
class Plan:
    service: str
    raw: dict
    path: Path
    gate: dict
    routers: tuple[dict, ...]
    metrics: dict
    criteria: tuple[Criterion, ...]
    steps: tuple[Step, ...]
    alpha: float = 0.01
    power: float = 0.8
    interval: float = 10.0
    on_inconclusive: str = "rollback"
    traffic_query: str | None = None
    traffic_tolerance: float = 0.5
    traffic_grace: float = 30.0
    metrics_timeout: float = 5.0
    metrics_retries: int = 2
    metrics_down_limit: float = 120.0
    header_routed: tuple[str, str, str] | None = None  # (label, operator, quoted value) of metrics.header_routed
    cookie_routed: tuple[str, str, str] | None = None  # the same of metrics.cookie_routed
    journal_path: Path = field(default_factory=Path)
    on_infeasible: str = "refuse"  # or "warn": a criterion that cannot decide within its stage's hold.max
    expected_rps: float | None = None  # traffic.expected_rps: sizes the stages at plan load
    rate_window: float = 300.0  # traffic.rate_window: the request rate and baseline rates read before a stage
    notes: tuple[str, ...] = ()  # warnings of the plan-load check (on_infeasible: warn)

    def routed(self, kind: str) -> tuple[str, str, str] | None:
        """The label matcher naming the requests a `kind` ("header" | "cookie") route sent to the canary."""
        return self.header_routed if kind == "header" else self.cookie_routed

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def judged_stages(self) -> int:
        return max(1, sum(1 for s in self.steps if s.judged) * len(self.routers))

    @property
    def tests_per_stage(self) -> int:
        n = 0
        for c in self.criteria:
            n += len(c.raw.get("quantiles", [0.99])) if c.kind == "latency" else 1
        return max(1, n)

    @property
    def alpha_per_test(self) -> float:
        """The rollout-wide false-alarm budget split over every stage and test (Bonferroni)."""
        return self.alpha / (self.judged_stages * self.tests_per_stage)

    def to_json(self) -> str:
        return json.dumps({"path": str(self.path), "plan": self.raw}, sort_keys=True)


def schema() -> dict:
    return json.loads(_schema_text())


@functools.lru_cache(maxsize=1)
def _schema_text() -> str:
    """The schema file, read once per process (plan loading reads it for the list limits and for validation)."""
    return SCHEMA_PATH.read_text(encoding="utf-8")


def _validate(data, where: str) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.path), list(map(str, e.path))))
    if errors:
        lines = []
        for err in errors[:5]:
            at = "/".join(str(p) for p in err.absolute_path) or "(top)"
            lines.append(f"  at {at}: {_short(err)}")
        raise PlanError(f"{where}: plan does not match the rollout plan schema:\n" + "\n".join(lines))


def _refuse_unbounded_numbers(data, path: Path) -> None:
    """A number no plan needs (past 2^53, inf, nan) is refused by where it is, before the schema's messages
    print it (Python will not print an int of more than 4,300 digits) or a duration overflows a float."""
    stack = [(data, "")]
    while stack:
        node, at = stack.pop()
        if isinstance(node, dict):
            for k in node:
                if not isinstance(k, str):  # `0xff…: 1`, `1e999: x`: no key of a plan, and unprintable when long
                    raise PlanError(f"{path}: at {at.lstrip('/') or '(top)'}: the key {literal_text(k, 40)} is not "
                                    "a name (a plan's keys are strings)")
            stack.extend((v, f"{at}/{literal_text(k, 40)}") for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{at}/{i}") for i, v in enumerate(node))
        elif isinstance(node, (int, float)) and not isinstance(node, bool) and not abs(node) < LARGEST:
            raise PlanError(f"{path}: at {at.lstrip('/') or '(top)'}: {literal_text(node, 40)} is not a number a plan "
                            "can hold (finite, below 2^53)")


def _refuse_long_lists(data: dict, path: Path) -> None:
    """More steps, criteria or regions than the schema allows is refused by count before the schema is run: its
    validation of every item (five thousand steps: five seconds) would only say the same."""
    limits = schema()["properties"]
    for key in ("steps", "criteria", "routers"):
        value, most = data.get(key), limits[key].get("maxItems")
        if isinstance(value, list) and most is not None and len(value) > most:
            raise PlanError(f"{path}: at {key}: {len(value):,} items; a plan has at most {most}")


def _short(err) -> str:
    if err.validator in ("oneOf", "anyOf") and err.context:
        best = min(err.context, key=lambda e: len(e.message))
        return best.message
    return err.message


# a plan is a page of YAML: anything far bigger or deeper is a mistake (or an alias bomb), refused with a line
PLAN_LIMITS = yamlio.Limits(max_bytes=1024 * 1024, max_nodes=100_000, max_depth=32)


def load(path: str | Path) -> Plan:
    from canary_lint.discovery import read_regular

    path = Path(path)
    if not path.is_file():
        why = "not a regular file" if path.exists() else "no such file"
        raise PlanError(f"cannot read plan {path}: {why}")
    data = read_regular(path, PLAN_LIMITS.max_bytes + 1)
    if data is None:
        raise PlanError(f"cannot read plan {path}: not readable as a regular file")
    if len(data) > PLAN_LIMITS.max_bytes:
        raise PlanError(f"{path}: a plan is at most {PLAN_LIMITS.max_bytes // 1024} KB; not read")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError(f"{path}: not UTF-8 (byte {exc.start}); not read") from None
    try:
        data = yamlio.load(text, PLAN_LIMITS)
    except yamlio.YamlError as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        raise PlanError(f"{where}: not a plan we will read: {exc.message}") from None
    return from_dict(data, path)


def from_dict(data, path: Path) -> Plan:
    path = Path(path).absolute()
    if not isinstance(data, dict):
        raise PlanError(f"{path}: a rollout plan is a YAML mapping (service, gate, router, metrics, criteria, steps)")
    _refuse_unbounded_numbers(data, path)
    _refuse_long_lists(data, path)
    try:
        check_cookie_steps(data)
    except RoutedError as exc:
        raise PlanError(f"{path}: {exc}") from None
    _validate(data, str(path))
    steps = []
    for i, s in enumerate(data["steps"]):
        if "pause" in s:
            steps.append(Step("pause", reason="" if s["pause"] is True else s["pause"]))
            continue
        lo = hi = 0.0
        hold = s.get("hold")
        if hold is not None:
            if isinstance(hold, dict):
                lo = duration(hold["min"])
                hi = duration(hold.get("max", hold["min"]))
            else:
                lo = hi = duration(hold)
            if hi < lo:
                raise PlanError(f"{path}: steps/{i}: hold max {hi:g}s is shorter than min {lo:g}s")
        if "header" in s:
            steps.append(Step("header", header=(s["header"]["name"], s["header"]["value"]), hold_min=lo, hold_max=hi))
            continue
        if "cookie" in s:
            steps.append(Step("cookie", cookie=(s["cookie"]["name"], s["cookie"]["value"]), hold_min=lo, hold_max=hi))
            continue
        w = float(s["weight"])
        if 0 < w < 100 and hold is None:
            raise PlanError(f"{path}: steps/{i}: weight {w:g}% needs a hold (the stage is judged before it advances)")
        if w in (0, 100) and hold is not None:
            raise PlanError(
                f"{path}: steps/{i}: weight {w:g}% cannot be judged against the other version; drop its hold"
            )
        steps.append(Step("weight", weight=w, hold_min=lo, hold_max=hi))
    weights = [s.weight for s in steps if s.kind == "weight"]
    if not weights or weights[-1] != 100:
        raise PlanError(f"{path}: the last weight step must be 100 (the promotion)")
    if any(b < a for a, b in zip(weights, weights[1:])):
        raise PlanError(f"{path}: weights must not decrease ({', '.join(f'{w:g}' for w in weights)})")
    if steps[-1].kind != "weight":
        raise PlanError(f"{path}: the plan must end with the weight 100 step")
    names = [c["name"] for c in data["criteria"]]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise PlanError(f"{path}: criteria names must be unique: {', '.join(sorted(dup))}")
    routers = tuple(data["routers"]) if "routers" in data else (data["router"],)
    regions = [r.get("region", "") for r in routers]
    if len(set(regions)) != len(regions):
        raise PlanError(f"{path}: router regions must be unique")
    from canary_lint.rollout.routers import RouterError, make

    for spec in routers:  # every value a router writes is checked now, before any traffic moves
        try:
            router = make(spec, data["service"])
        except RouterError as exc:
            raise PlanError(f"{path}: {exc}") from None
        for i, step in enumerate(steps):
            try:
                if step.kind == "cookie":
                    router.check_cookie(step.cookie)
            except RouterError as exc:
                raise PlanError(f"{path}: steps/{i}: {exc}") from None
    for c in data["criteria"]:
        for key in ("bad", "good", "total", "query"):
            if key in c and "$version" not in c[key]:
                raise PlanError(f"{path}: criterion {c['name']}: {key} query must select the version with $version")
    m = data["metrics"]
    j = data.get("judge", {})
    t = data.get("traffic", {})
    _check_metrics_url(m["url"], path)
    try:
        header_routed, cookie_routed = routed_matchers(m, data, steps)
    except RoutedError as exc:
        raise PlanError(f"{path}: {exc}") from None
    journal = _journal_path(data.get("journal", ".canary-lint/rollout.sqlite"), path)
    plan = Plan(
        service=data["service"],
        raw=data,
        path=path,
        gate=data["gate"],
        routers=routers,
        metrics=m,
        criteria=tuple(Criterion(c["name"], c["kind"], c) for c in data["criteria"]),
        steps=tuple(steps),
        alpha=float(j.get("alpha", 0.01)),
        power=float(j.get("power", 0.8)),
        interval=duration(j.get("interval", "10s")),
        on_inconclusive=j.get("on_inconclusive", "rollback"),
        traffic_query=t.get("query"),
        traffic_tolerance=percent(t.get("tolerance", "50%")),
        traffic_grace=duration(t.get("grace", "30s")),
        metrics_timeout=duration(m.get("timeout", "5s")),
        metrics_retries=int(m.get("retries", 2)),
        metrics_down_limit=duration(m.get("down_limit", "2m")),
        header_routed=header_routed,
        cookie_routed=cookie_routed,
        journal_path=journal,
        on_infeasible=j.get("on_infeasible", "refuse"),
        expected_rps=float(t["expected_rps"]) if "expected_rps" in t else None,
        rate_window=duration(t.get("rate_window", "5m")),
    )
    return _sized(plan, path)


def _sized(plan: Plan, path: Path) -> Plan:
    """With `traffic.expected_rps`, every weight stage is sized now: a criterion that cannot decide within its
    hold.max refuses the plan (or, with judge.on_infeasible: warn, is noted)."""
    from dataclasses import replace

    needs = feasible.plan_needs(plan)
    why = feasible.refusal(plan, needs, lambda i: f"steps/{i} ({plan.steps[i].describe()})")
    if why is None:
        return plan
    why = f"at traffic.expected_rps {plan.expected_rps:g}: {why}"
    if plan.on_infeasible == "refuse":
        raise PlanError(f"{path}: {why} (judge.on_infeasible: warn runs it anyway)")
    return replace(plan, notes=(why,))


def _check_metrics_url(url: str, path: Path) -> None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise PlanError(f"{path}: metrics.url {url!r} is not a URL: {exc}") from None
    if parts.username is not None or parts.password is not None:
        raise PlanError(f"{path}: metrics.url must not carry credentials (user:password@): they would be written "
                        "to the journal and every log line; put them in the environment of the proxy in front of "
                        "Prometheus instead")
    if not parts.hostname:
        raise PlanError(f"{path}: metrics.url {url!r} names no host")


SQLITE_MAGIC = b"SQLite format 3\x00"


def _journal_path(value: str, plan: Path) -> Path:
    """The journal lives in the plan's directory tree and is an SQLite database (or not there yet)."""
    journal = Path(value)
    if not journal.is_absolute():
        journal = plan.parent / journal
    try:
        home = plan.parent.resolve()
        resolved = journal.resolve()
        resolved.exists()
    except OSError as exc:
        raise PlanError(f"{plan}: journal {str(value)[:80]!r} cannot be used: {exc.strerror or exc}") from None
    if resolved != home and home not in resolved.parents:
        raise PlanError(f"{plan}: journal {value!r} leaves the plan's directory {home}; keep it beside the plan")
    if resolved.exists():
        if not resolved.is_file():
            raise PlanError(f"{plan}: journal {value!r} is not a regular file")
        from canary_lint.discovery import read_regular

        head = read_regular(resolved, len(SQLITE_MAGIC)) or b""
        if head and head != SQLITE_MAGIC:
            raise PlanError(f"{plan}: journal {value!r} exists and is not a rollout journal (not an SQLite "
                            "database); not touching it")
    return journal


def from_journal(text: str) -> Plan:
    """The plan as the rollout began (a resumed rollout never re-reads an edited plan file)."""
    data = json.loads(text)
    return from_dict(data["plan"], Path(data["path"]))
