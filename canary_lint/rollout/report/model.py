"""The rollout as a reviewer reads it, built from the journal alone: the gate, every stage in the one stage
numbering (canary_lint/rollout/stages.py), its routing changes with their verified latency, each criterion's
canary and baseline values at every look, and the decision with its numbers. The formatters (markdown.py,
html.py) only lay this out.

Bounded: a series keeps at most MAX_POINTS looks (evenly spaced, first and last kept), so a long hold with
frequent looks makes a chart no bigger than a short one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from canary_lint.rollout import stages as S
from canary_lint.rollout.readings import Reading, read_look

MAX_POINTS = 120
_NOTES = ("metrics-down", "metrics-stale", "counter-reset", "paused", "promote", "resumed", "router-error",
          "metrics-error", "rollback-failed")


@dataclass(frozen=True)
class Point:
    t: float  # seconds since the stage began
    canary: float | None
    baseline: float | None
    limit: float | None = None


@dataclass
class Series:
    criterion: str
    unit: str
    versus: str  # "baseline" or "target"
    points: list[Point] = field(default_factory=list)


@dataclass(frozen=True)
class RouteChange:
    ts: float
    stage: str  # the stage's label, or "rollback"
    route: str  # "canary 20%, header X-Canary: internal -> canary"
    seconds: float | None  # from the change to its verification (None: not verified, a dry run)
    note: str = ""


@dataclass
class StageReport:
    index: int  # the journal's step index; number = index + 1
    region: int
    label: str  # "stage 2/4 weight 20%"
    step: str
    started: float | None = None
    ended: float | None = None
    outcome: str = "not reached"
    looks: int = 0
    held: int = 0  # looks without a verdict (metrics down or stale)
    routes: list[RouteChange] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    last: list[Reading] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def number(self) -> int:
        return self.index + 1


@dataclass
class Decision:
    state: str  # promoted | rolled-back | refused | error | running | paused
    reason: str
    stage: str | None  # the label of the stage that decided
    readings: list[Reading]  # the deciding look, criterion by criterion


@dataclass
class RolloutReport:
    service: str
    rollout: int
    commit: str | None
    dry_run: bool
    started: float
    updated: float
    gate: str
    gate_green: bool | None
    stages: list[StageReport]
    routes: list[RouteChange]
    decision: Decision
    commands: dict[str, str]


def thin(points: list[Point], limit: int = MAX_POINTS) -> list[Point]:
    """At most `limit` points, evenly spaced over the list, the first and the last always kept."""
    if len(points) <= limit:
        return points
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


def _route_text(route: dict | None) -> str:
    from canary_lint.rollout.routers import Route

    return Route.from_dict(route or {}).describe()


def build(journal, rollout_id: int, plan_path: str | None = None) -> RolloutReport:
    from canary_lint.rollout.plan import from_journal

    r = journal.get(rollout_id)
    plan = from_journal(r.plan)
    events = journal.events(rollout_id)
    stages: dict[tuple[int, int], StageReport] = {}
    order: list[tuple[int, int]] = []

    def stage(region, index) -> StageReport:
        key = (region or 0, index)
        if key not in stages:
            stages[key] = StageReport(index, region or 0, S.label(plan, region or 0, index),
                                      plan.steps[index].describe() if index < len(plan.steps) else "?")
            order.append(key)
        return stages[key]

    routes: list[RouteChange] = []
    gate, green = "", None
    deciding: tuple[StageReport, list[Reading]] | None = None
    last_look: tuple[StageReport, list[Reading]] | None = None
    for e in events:
        kind, d = e["kind"], e["data"]
        if kind == "gate":
            gate, green = d.get("summary", ""), d.get("green")
            continue
        if kind in ("rollback-intent", "rollback-done") or e["stage"] is None:
            if kind == "rollback-intent" and last_look is not None:
                deciding = last_look
            if kind == "rollback-done":
                late = d.get("unapplied_for")
                note = f"applied {late:.1f} s after the decision, by `{d.get('applied_by')}`" if late else ""
                if d.get("dry_run"):
                    note = "dry run: not applied"
                routes.append(RouteChange(e["ts"], "rollback", _route_text(None),
                                          None if d.get("dry_run") else d.get("seconds"), note))
            continue
        st = stage(e["region"], e["stage"])
        if st.started is None:
            st.started = e["ts"]
        st.ended = e["ts"]
        if kind == "route-intent":
            if d.get("dry_run"):
                rc = RouteChange(e["ts"], st.label, _route_text(d.get("route")), None, "dry run: not applied")
                st.routes.append(rc)
                routes.append(rc)
        elif kind == "route-verified":
            rc = RouteChange(e["ts"], st.label, _route_text(d.get("route")), d.get("seconds"))
            st.routes.append(rc)
            routes.append(rc)
        elif kind == "measurement":
            st.looks += 1
            readings = read_look(d)
            st.last = readings
            last_look = (st, readings)
            _add_points(st, e["ts"] - st.started, readings)
        elif kind in _NOTES:
            if kind in ("metrics-down", "metrics-stale"):
                st.held += 1
            if kind == "paused":
                st.notes.append("paused" + (f": {d['reason']}" if d.get("reason") else ""))
            elif kind == "promote":
                st.notes.append(f"advanced by {d.get('by', 'operator')}")
            elif kind == "resumed":
                st.notes.append("resumed after the runner stopped")
            elif kind == "counter-reset":
                st.notes.append(f"counter reset: {d.get('error', '')}")
            elif kind not in ("metrics-down", "metrics-stale"):
                st.notes.append(f"{kind}: {d.get('error') or d.get('errors') or ''}")
    for s in stages.values():
        for series in s.series:
            series.points = thin(series.points)
        if s.held:
            s.notes.append(f"{s.held} look(s) held without a verdict (metrics down or stale)")
    _outcomes(stages, order, r.state, plan)
    last = max(order, default=(0, -1))
    for region in range(len(plan.routers)):  # the plan's stages never reached, in its order
        for index in range(len(plan.steps)):
            if (region, index) > last:
                stage(region, index)
    listed = sorted(stages.values(), key=lambda s: (s.region, s.index))
    if deciding is None and r.state in ("promoted", "running", "paused") and last_look is not None:
        deciding = last_look
    decision = Decision(r.state, r.reason or "", deciding[0].label if deciding else None,
                        deciding[1] if deciding else [])
    return RolloutReport(r.service, r.id, r.commit, r.dry_run, r.started, r.updated, gate, green, listed, routes,
                         decision, S.operator_commands(plan_path or plan.path))


def _add_points(st: StageReport, t: float, readings: list[Reading]) -> None:
    by_name = {s.criterion: s for s in st.series}
    for rd in readings:
        if rd.canary is None and rd.baseline is None:
            continue
        s = by_name.get(rd.criterion)
        if s is None:
            s = by_name[rd.criterion] = Series(rd.criterion, rd.unit, rd.versus)
            st.series.append(s)
        s.points.append(Point(round(t, 3), rd.canary, rd.baseline, rd.limit))


def _outcomes(stages: dict, order: list, state: str, plan) -> None:
    """What became of each stage reached: the last one shares the rollout's end, the others passed (or were
    advanced by an operator)."""
    for key in order:
        s = stages[key]
        advanced = any(n.startswith("advanced by") for n in s.notes)
        if key != order[-1]:
            s.outcome = "advanced by operator" if advanced else "passed"
            continue
        step = plan.steps[s.index] if s.index < len(plan.steps) else None
        s.outcome = {
            "promoted": "passed" if step is None or step.judged or step.kind == "pause" else "promoted",
            "rolled-back": "rolled back",
            "paused": "paused",
            "running": "in progress",
            "refused": "refused",
        }.get(state, state)


def chart_lines(series: Series) -> tuple[str, list[tuple[str, str, list[tuple[float, float | None]]]]]:
    """A series ready to draw: (axis unit label, [(legend, css class, [(t, value in that unit)])]): canary,
    baseline (or the share's target) and, for latency, the threshold the canary must stay under."""
    from canary_lint.rollout import units as U

    values = [abs(v) for p in series.points for v in (p.canary, p.baseline, p.limit) if v is not None]
    div, label = U.axis(series.unit, max(values, default=1.0))

    def scaled(get):
        return [(p.t, None if get(p) is None else get(p) / div) for p in series.points]

    lines = [("canary", "canary", scaled(lambda p: p.canary)),
             (series.versus, "baseline", scaled(lambda p: p.baseline))]
    if any(p.limit is not None for p in series.points):
        lines.append(("threshold", "limit", scaled(lambda p: p.limit)))
    return label, lines
