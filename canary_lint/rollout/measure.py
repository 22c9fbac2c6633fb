"""The runner's measurements: each criterion's queries for canary and baseline over a stage's window, judged."""

from __future__ import annotations

import math
import re

from canary_lint.rollout import feasible as F
from canary_lint.rollout import judge as J
from canary_lint.rollout.plan import Step, percent
from canary_lint.rollout import share as S
from canary_lint.rollout.routed import ROUTED
from canary_lint.rollout.units import unit_of

_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^{}]*)\}")  # a metric name and its label matchers


class Measure:
    def _q(self, expr: str, version: str, window: float, region: int, route: str = "") -> str:
        return (
            expr.replace("$version", version)
            .replace("$window", f"{max(1, math.ceil(window))}s")
            .replace("$region", self.routers[region].region)
            .replace("$service", self.plan.service)
            .replace("$route", route)
        )

    def _sel(self, version: str, route: str = "") -> str:
        m = self.plan.metrics
        extra = m.get("selector")
        sel = f'{m.get("version_label", "version")}="{version}"' + (f",{extra}" if extra else "")
        return f"{sel},{route}" if route else sel

    def _traffic_expr(self) -> str | None:
        if self.plan.traffic_query:
            return self.plan.traffic_query
        for c in self.plan.criteria:
            if c.kind == "ratio":
                return c.raw["total"]
        for c in self.plan.criteria:
            if c.kind == "latency":
                return f"sum(increase({c.raw['histogram']}_count{{$selector}}[$window]))"
        return None

    def _counters(self) -> list[str]:
        """The request counters of the traffic query (metrics whose selector names the version): their latest
        samples tell how far each version's data reaches, their resets that a process restarted."""
        expr = self._traffic_expr() or ""
        names = []
        for m in _SELECTOR.finditer(expr):
            if "$version" in m.group(2) or "$selector" in m.group(2):
                if m.group(1) not in names:
                    names.append(m.group(1))
        return names

    def measure(self, region: int, step: Step, start: float, now: float, state: dict) -> list[J.Verdict]:
        """Every criterion over [start, now], `now` being the look's data time."""
        window = now - start
        m = self.plan.metrics
        can, base = m["canary"], m["stable"]
        alpha, power = self.plan.alpha_per_test, self.plan.power
        verdicts: list[J.Verdict] = []

        # a weight stage while a header or cookie route is in force: the canary also gets every request it routes
        in_force = [k for k in ROUTED if state.get(k) is not None]
        mixed = step.kind == "weight" and bool(in_force)
        together = [k for k in in_force if self.plan.routed(k) is None]  # the metrics do not tell these apart
        apart = not together

        def route(version):
            return S.route_matcher(self.plan, step, version, in_force)

        def scalar(expr, version):
            expr = expr.replace("$selector", self._sel(version, route(version)))
            return self.metrics.scalar(self._q(expr, version, window, region, route(version)), at=now)

        traffic = self._traffic_expr()
        if traffic:
            share = S.share_verdict(
                self.plan,
                step,
                scalar(traffic, can),
                scalar(traffic, base),
                window,
                state.get("target", step.weight) if self.dry_run else step.weight,
                lower_only=mixed and not apart,
                routed=together,
            )
            verdicts.append(S.with_router_failures(share, self.routers[region], state.get("router_failures")))
        judged_from = len(verdicts)
        for c in self.plan.criteria:
            raw = c.raw
            if c.kind == "ratio":
                events = raw.get("bad") or raw.get("good")
                direction, tol, detect, neg = F.ratio_params(raw)
                verdicts.append(
                    J.judge_ratio(
                        c.name,
                        scalar(events, can),
                        scalar(raw["total"], can),
                        scalar(events, base),
                        scalar(raw["total"], base),
                        direction=direction,
                        tolerance=tol,
                        detect=detect,
                        alpha=alpha,
                        power=power,
                        negligible=neg,
                    )
                )
            elif c.kind == "latency":
                verdicts.extend(self._latency(c, region, window, now, state, alpha, power, route))
            elif c.kind == "gauge":
                looks = max(1.0, step.hold_max / self.plan.interval)
                from canary_lint.rollout.plan import duration

                st = duration(raw.get("step", "5s"))
                series = []
                for v in (can, base):
                    q = raw["query"].replace("$window", raw.get("step", "5s"))
                    series.append(self.metrics.range(self._q(q, v, window, region, route(v)), start, now, st))
                verdicts.append(
                    J.judge_gauge(
                        c.name,
                        series[0],
                        series[1],
                        tolerance=percent(raw["max_increase"]),
                        alpha=alpha / looks,
                        power=power,
                        unit=unit_of(raw["query"]),
                    )
                )
                if mixed and "$route" not in raw["query"]:
                    verdicts[-1].message += f" [process-wide: {S.routed_names(in_force)} requests included]"
                    verdicts[-1].numbers["samples"] = "+".join(["weighted"] + [f"{k}-routed" for k in in_force])
        if mixed and not apart:  # said on every verdict: these canary samples are not the weighted ones alone
            for v in verdicts[judged_from:]:
                if "samples" not in v.numbers:
                    v.message += f" [canary: {S.routed_names(['weighted'] + together)} requests, not told apart]"
                    v.numbers["samples"] = "+".join(["weighted"] + [f"{k}-routed" for k in together])
        return verdicts

    def _latency(self, c, region, window, now, state, alpha, power, route) -> list[J.Verdict]:
        raw = c.raw
        m = self.plan.metrics
        h = raw["histogram"]
        tol = raw["max_increase"]
        add, scale = 0.0, 1.0
        if tol.endswith("%"):
            scale = 1 + percent(tol)
        elif tol.endswith("ms"):
            add = float(tol[:-2]) / 1000
        else:
            add = float(tol[:-1])
        detect = F.latency_detect(raw)

        def buckets(version):
            expr = f"sum by (le) (increase({h}_bucket{{{self._sel(version, route(version))}}}[$window]))"
            res = self.metrics.query(self._q(expr, version, window, region, route(version)), at=now)
            return [(float(lbl.get("le", "+Inf")), v) for lbl, v in res] or None

        cb, bb = buckets(m["canary"]), buckets(m["stable"])
        out = []
        for q in raw.get("quantiles", [0.99]):
            key = f"{c.name}:{q}"
            if key not in state["thresholds"] and bb:
                n_b = max(v for _, v in bb)
                if n_b >= 20 / (1 - q):
                    t, bq = J.threshold(bb, q, add=add, scale=scale)
                    if t is not None:
                        state["thresholds"][key] = (t, bq)
            t, bq = state["thresholds"].get(key, (None, None))
            early = J.threshold(bb, q, add=add, scale=scale)[0] if t is None and bb else None
            out.append(J.judge_latency(c.name, q, t, cb, bb, detect=detect, alpha=alpha, power=power, baseline_q=bq,
                                       provisional=early))
        return out
