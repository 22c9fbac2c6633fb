"""The runner's looks at one stage: measure, judge, show each look, hold / pass / fail / pause."""

from __future__ import annotations

import time

from canary_lint.rollout import judge as J
from canary_lint.rollout.datatime import data_time
from canary_lint.rollout.metrics import MetricsUnavailable
from canary_lint.rollout.plan import Step, fmt_duration
from canary_lint.rollout import share as S
from canary_lint.rollout.routed import ROUTED
from canary_lint.rollout.routers import RouterError


class Looks:
    def _judge_stage(self, region: int, stage: int, step: Step, resume: dict | None = None) -> tuple[str, str]:
        """Look every `interval` until a verdict. Each look is judged at its *data time*: the latest instant
        both versions have samples for, so a version scraped later than the other is never compared on a
        longer window. A look without new data for both versions (Prometheus down, restarting with frozen
        samples, scrapes failing, a version's series gone stale, a counter reset) holds; the outage limit
        counts from the last look that had new data.

        `resume`: the journaled window of this stage, interrupted with its routing still in force: judging
        goes on from its start (the samples since are in Prometheus), not from zero."""
        begun = self.clock()
        start = resume["start"] if resume else begun
        state: dict = {"thresholds": dict(resume["thresholds"]) if resume else {}, "last_at": None, "seen": set(),
                       "resets": {}}  # resets {}: counted from zero over the window
        self.journal.event(
            self.rollout,
            "stage-start",
            {"start": start, "route": self.route_at(stage).to_dict(), "resumed": resume is not None},
            region=region,
            stage=stage,
        )
        if resume:
            self.log(
                f"[{self.plan.service}] {self._where(region)}stage {stage + 1}: its routing is still in force; "
                f"judging goes on from its start {fmt_duration(begun - start)} ago"
            )
        route = self.route_at(stage)
        state["header"], state["cookie"] = route.header, route.cookie
        try:  # the router's own count of requests it could not get to the canary, for the share's message
            state["router_failures"] = self.routers[region].failures()
        except Exception:  # noqa: BLE001 - a reading for a message only: never a reason to stop the stage
            state["router_failures"] = None
        if self.dry_run:
            # nothing was routed: the share is checked against what the router has in force, if readable
            try:
                seen = self.routers[region].current()
                state["target"], state["header"], state["cookie"] = seen.canary, seen.header, seen.cookie
            except RouterError:
                state["target"] = None
        mixed = [k for k in ROUTED if state[k] and self.plan.routed(k) is None]
        if step.kind == "weight" and mixed:
            routes = " and ".join(mixed)
            self.log(
                f"[{self.plan.service}] {self._where(region)}stage {stage + 1}: the {routes} route"
                f"{'s are' if len(mixed) > 1 else ' is'} still in force and the metrics do not tell "
                f"{S.routed_names(mixed)} requests apart ({', '.join(f'metrics.{k}_routed' for k in mixed)}): the "
                "canary's samples include them, and its share is checked only for being at least the weight"
            )
        interval, limit = self.plan.interval, self.plan.metrics_down_limit
        last_good = begun
        wait = interval
        desc = f"{self._where(region)}stage {stage + 1}/{len(self.plan.steps)} {step.describe()}"
        try:
            while True:
                for cmd in self._wait(wait):
                    if cmd == "abort":
                        return "fail", "aborted by operator"
                    if cmd == "promote":
                        self.journal.event(self.rollout, "promote", {"by": "operator"}, region=region, stage=stage)
                        self.log(f"[{self.plan.service}] {desc}: advanced by operator")
                        return "pass", ""
                wait = interval
                now = self.clock()
                self.metrics.deadline = last_good + limit  # no query retried past the outage limit
                kind, verdicts = "metrics-down", None
                try:
                    at, hold = self._data_time(start, now, state)
                    if hold is None:
                        fixed = set(state["thresholds"])
                        verdicts = self.measure(region, step, start, at, state)
                        for key in sorted(set(state["thresholds"]) - fixed):  # resume keeps them
                            t, bq = state["thresholds"][key]
                            self.journal.event(
                                self.rollout,
                                "threshold",
                                {"key": key, "threshold": t, "baseline_quantile": bq},
                                region=region,
                                stage=stage,
                            )
                    else:
                        kind, hold = hold
                except MetricsUnavailable as exc:
                    hold = str(exc)
                if verdicts is None:
                    down = now - last_good
                    data = {"error": hold, "for": round(down, 3)}
                    if kind == "counter-reset":
                        # fresh data, but increments between the last scrape and the restart are lost: the
                        # window starts again after the reset (a new sequential test on post-reset samples)
                        last_good, start = now, at
                        state["resets"] = None
                        data["window_start"] = at
                    self.journal.event(self.rollout, kind, data, region=region, stage=stage)
                    what = "metrics unavailable" if kind == "metrics-down" else "no verdict"
                    self.log(
                        f"[{self.plan.service}] {desc}: {what} ({hold}); {fmt_duration(down)} since the last "
                        f"look with new data (limit {fmt_duration(limit)}): holding"
                    )
                    if kind != "counter-reset" and down >= limit:
                        noun = "metrics provider unavailable" if kind == "metrics-down" else "no fresh metrics"
                        return "fail", f"{noun} for {fmt_duration(down)} since the last look with new data: {hold}"
                    wait = min(interval, max(0.0, last_good + limit - self.clock()))
                    continue
                last_good = now
                elapsed = at - start  # observed time: the window the verdicts were judged on
                outcome = J.stage_outcome(verdicts)
                look = {
                    "elapsed": round(elapsed, 3),
                    "lag": round(now - at, 3),
                    "outcome": outcome,
                    "verdicts": [v.to_dict() for v in verdicts],
                }
                summary = "; ".join(f"{v.criterion} {v.outcome}" for v in verdicts)
                line = (
                    f"[{self.plan.service}] {desc} {fmt_duration(elapsed)}/{fmt_duration(step.hold_min)}"
                    f"..{fmt_duration(step.hold_max)}: {summary}"
                )
                if outcome == J.FAIL:
                    failed = [v for v in verdicts if v.outcome == J.FAIL]
                    reason = f"{desc}: " + "; ".join(f"{v.criterion}: {v.message}" for v in failed)
                    with self.journal.atomic():  # the failing look and the decision to roll back, together
                        self.journal.event(self.rollout, "measurement", look, region=region, stage=stage)
                        data = {"reason": reason, "dry_run": self.dry_run}
                        eid = self.journal.event(self.rollout, "rollback-intent", data, region=region)
                    self._decided = {"id": eid, "ts": time.time(), "region": region, "data": data}
                    self._show(line, desc, step, look)
                    return "fail", reason
                self.journal.event(self.rollout, "measurement", look, region=region, stage=stage)
                self._show(line, desc, step, look)
                if outcome == J.PASS and elapsed >= step.hold_min:
                    self.log(f"[{self.plan.service}] {desc}: pass")
                    return "pass", ""
                if elapsed >= step.hold_max:
                    open_ = [v for v in verdicts if v.outcome != J.PASS]
                    state_ = "worse than the tolerance" if outcome == J.WORSE else "still inconclusive"
                    why = f"{desc}: {state_} after {fmt_duration(elapsed)}: " + "; ".join(
                        f"{v.criterion}: {v.message}" for v in open_
                    )
                    if self.plan.on_inconclusive == "pause" and outcome != J.WORSE:
                        if self.view is not None:
                            self.view.end()
                        self.log(f"[{self.plan.service}] {why}")
                        return self._pause(region, stage, Step("pause", reason="inconclusive"))
                    return "fail", why
        finally:
            self.metrics.deadline = None
            if self.view is not None:
                self.view.end()

    def _show(self, line: str, desc: str, step: Step, look: dict) -> None:
        """One look: to the live view when there is one, else as one log line."""
        if self.view is None:
            self.log(line)
        else:
            self.view.look(desc, step, look)

    def _data_time(self, start: float, now: float, state: dict) -> tuple[float, tuple[str, str] | None]:
        return data_time(self.metrics, self.plan, self._counters(), self._sel, start, now, state)
