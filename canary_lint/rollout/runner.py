"""The stage loop: route -> verify -> measure -> judge -> advance / hold / roll back, journaled before acting."""

from __future__ import annotations

import math
import re
import signal
import sys
import time
from dataclasses import dataclass

from canary_lint.rollout import EXIT_ERROR, EXIT_PROMOTED, EXIT_REFUSED, EXIT_ROLLED_BACK
from canary_lint.rollout import feasible as F
from canary_lint.rollout import judge as J
from canary_lint.rollout.datatime import data_time
from canary_lint.rollout.journal import Journal, Locked
from canary_lint.rollout.metrics import MetricsError, MetricsUnavailable
from canary_lint.rollout.plan import Plan, Step, fmt_duration, percent
from canary_lint.rollout import share as S
from canary_lint.rollout.routed import ROUTED
from canary_lint.rollout.routers import Route, Router, RouterError
from canary_lint.rollout.units import unit_of

_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^{}]*)\}")  # a metric name and its label matchers

EXIT_BY_STATE = {
    "promoted": EXIT_PROMOTED,
    "refused": EXIT_REFUSED,
    "rolled-back": EXIT_ROLLED_BACK,
    "error": EXIT_ERROR,
}


@dataclass
class Result:
    state: str  # promoted | refused | rolled-back | error
    reason: str
    rollout: int | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_BY_STATE.get(self.state, EXIT_ERROR)


class _Stop(Exception):
    pass


class Runner:
    def __init__(
        self,
        plan: Plan,
        journal: Journal,
        *,
        routers: list[Router] | None = None,
        metrics=None,
        dry_run: bool = False,
        log=None,
        clock=time.time,
        sleep=time.sleep,
        view=None,
    ):
        self.plan = plan
        self.journal = journal
        self.dry_run = dry_run
        if routers is None:
            from canary_lint.rollout.routers import make

            routers = [make(spec, plan.service) for spec in plan.routers]
        self.routers = routers
        if metrics is None:
            from canary_lint.rollout.metrics import make as make_metrics

            metrics = make_metrics(plan.metrics, plan.metrics_timeout, plan.metrics_retries)
        self.metrics = metrics
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.clock = clock
        self.sleep = sleep
        self.view = view  # shows each look (canary_lint/rollout/live.py); None: one log line per look
        self.rollout: int | None = None
        self.stop_signal: str | None = None
        self.routes: list[Route] = [Route() for _ in self.routers]
        self._decided: dict | None = None  # a rollback-intent journaled with the failing look, not yet applied

    # --- entry points ------------------------------------------------------------------------------------
    def run(self) -> Result:
        try:
            return self._run()
        finally:
            self.journal.unlock()

    def resume(self, rollout_id: int) -> Result:
        try:
            return self._resume(rollout_id)
        finally:
            self.journal.unlock()

    def abort(self, rollout_id: int, reason: str = "aborted by operator") -> Result:
        try:
            return self._abort(rollout_id, reason)
        finally:
            self.journal.unlock()

    def apply_pending(self, rollout_id: int, by: str) -> Result | None:
        """Apply a rollback that was decided and journaled but never applied (the runner died in between);
        None when there is none. The caller holds no lock; a live runner's lock means it is not ours to do."""
        r = self.journal.get(rollout_id)
        pending = self.journal.pending_rollback(rollout_id)
        if pending is None or r.state not in ("running", "paused"):
            return None
        try:
            self.journal.lock(self.plan.service + (".dry-run" if r.dry_run else ""))
        except Locked:
            return None
        try:
            self.rollout, self.dry_run = rollout_id, r.dry_run
            if self.journal.pending_rollback(rollout_id) is None:  # applied meanwhile
                return None
            return self._rollback(pending["data"].get("reason", "rollback"), pending["region"], pending=pending, by=by)
        finally:
            self.journal.unlock()

    def _run(self) -> Result:
        from canary_lint.rollout import gate

        lock_key = self.plan.service + (".dry-run" if self.dry_run else "")
        self.journal.lock(lock_key)
        self.log(f"[{self.plan.service}] gate: {self._gate_desc()}")
        result = gate.run(self.plan)
        self.rollout = self.journal.start(self.plan.service, self.plan.to_json(), result.commit, self.dry_run)
        self.journal.event(
            self.rollout,
            "gate",
            {
                "green": result.green,
                "summary": result.summary,
                "findings": result.findings[:50],
                "commit": result.commit,
            },
        )
        if not result.green:
            self.journal.update(self.rollout, state="refused", reason=result.summary)
            self.log(result.refusal())
            return Result("refused", result.summary, self.rollout)
        self.log(f"[{self.plan.service}] gate green ({result.summary}); commit {result.commit or 'unknown'}")
        return self._guarded(lambda: self._walk(0, 0))

    def _resume(self, rollout_id: int) -> Result:
        self.rollout = rollout_id
        r = self.journal.get(rollout_id)
        self.journal.lock(self.plan.service + (".dry-run" if r.dry_run else ""))
        self.dry_run = r.dry_run
        observed = []
        for router in self.routers:
            try:
                observed.append(router.current().to_dict())
            except RouterError as exc:
                observed.append({"error": str(exc)})
        last = self.journal.last_event(rollout_id, "route-intent", "route-verified", "rollback-intent", "rollback-done")
        self.journal.event(
            rollout_id, "resumed", {"observed": observed, "last": last and last["kind"]}, region=r.region, stage=r.stage
        )
        self.log(
            f"[{self.plan.service}] resuming rollout {rollout_id} at region {r.region} stage {r.stage + 1}; "
            f"router reads {observed}"
        )
        pending = self.journal.pending_rollback(rollout_id)
        if pending is not None:
            reason = pending["data"].get("reason", "rollback resumed")
            return self._guarded(lambda: self._rollback(reason, pending["region"], pending=pending, by="resume"))
        return self._guarded(lambda: self._walk(r.region, r.stage, observed=observed))

    def _abort(self, rollout_id: int, reason: str) -> Result:
        self.rollout = rollout_id
        r = self.journal.get(rollout_id)
        self.journal.lock(self.plan.service + (".dry-run" if r.dry_run else ""))
        self.dry_run = r.dry_run
        return self._guarded(lambda: self._rollback(reason, r.region))

    # --- the walk ----------------------------------------------------------------------------------------
    def _guarded(self, fn) -> Result:
        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                old[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread
                pass
        try:
            return fn()
        except _Stop:
            return self._rollback(f"interrupted by {self.stop_signal}", None)
        except RouterError as exc:
            self.journal.event(self.rollout, "router-error", {"error": str(exc)})
            self.log(f"[{self.plan.service}] router error: {exc}")
            return self._rollback(f"router error: {exc}", None, after_error=True)
        except MetricsError as exc:
            self.journal.event(self.rollout, "metrics-error", {"error": str(exc)})
            self.log(f"[{self.plan.service}] metrics query error: {exc}")
            return self._rollback(f"metrics query error: {exc}", None)
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum, _frame):
        self.stop_signal = signal.Signals(signum).name
        self.log(f"[{self.plan.service}] {self.stop_signal}: rolling back to a safe state")

    def route_at(self, stage: int) -> Route:
        """The route in force during `stage` of a region (steps folded in order): a header or cookie route stays
        until the weight reaches 100."""
        weight, header, cookie = 0.0, None, None
        for step in self.plan.steps[: stage + 1]:
            if step.kind == "header":
                header = step.header
            elif step.kind == "cookie":
                cookie = step.cookie
            elif step.kind == "weight":
                weight = step.weight
        if weight >= 100:
            header = cookie = None
        return Route(weight, header, cookie)

    def _walk(self, region: int, stage: int, observed: list[dict] | None = None) -> Result:
        """Walk the stages from (region, stage). `observed`: what each router read back when resuming; a stage
        whose routing is still in force continues from its journaled start (its window is in Prometheus)."""
        steps = self.plan.steps
        for i in range(len(self.routers)):
            self.routes[i] = Route(100.0) if i < region else Route()
        resume = None
        while region < len(self.routers):
            while stage < len(steps):
                step = steps[stage]
                self.journal.update(
                    self.rollout, region=region, stage=stage, state="paused" if step.kind == "pause" else "running"
                )
                target = self.route_at(stage)
                if observed is not None:
                    seen = observed[region]
                    in_force = "error" not in seen and Route.from_dict(seen) == target
                    resume = self._journaled_start(region, stage) if in_force else None
                    if in_force:
                        self.routes[region] = target
                    self._route(region, stage, target, force=not in_force)
                    observed = None
                else:
                    refused = self._size(region, stage)
                    if refused is not None:
                        return refused
                    self._route(region, stage, target)
                if step.kind == "pause":
                    outcome = self._pause(region, stage, step)
                elif step.judged:
                    outcome = self._judge_stage(region, stage, step, resume)
                else:
                    outcome = ("pass", "")
                resume = None
                if outcome[0] != "pass":
                    return self._rollback(outcome[1], region)
                stage += 1
            self.log(f"[{self.plan.service}] {self._where(region)}promoted to 100%")
            region, stage = region + 1, 0
        self.journal.update(self.rollout, state="promoted", reason="every stage passed")
        self.journal.event(self.rollout, "promoted", {})
        self.log(f"[{self.plan.service}] promoted: the canary serves 100%")
        return Result("promoted", "every stage passed", self.rollout)

    def _size(self, region: int, stage: int) -> Result | None:
        """Before a region's first stage, every weight stage of it; before each later weight stage, that one: can
        each criterion decide within hold.max at the request rate Prometheus shows now? With judge.on_infeasible
        `refuse`, a stage that cannot is refused before anything is routed (or rolled back when it comes later);
        with `warn`, said and journaled."""
        steps = self.plan.steps
        if stage == 0:
            todo = [i for i, s in enumerate(steps) if s.kind == "weight" and s.judged]
        else:
            todo = [stage] if steps[stage].kind == "weight" and steps[stage].judged else []
        if not todo:
            return None
        try:
            rps, rates, where = self._observe(region, todo[0])
        except (MetricsError, MetricsUnavailable) as exc:
            self.log(f"[{self.plan.service}] {self._where(region)}cannot size the stages ({exc}): going on")
            return None
        if not rps:
            self.log(f"[{self.plan.service}] {self._where(region)}no requests {where}: the stages cannot be sized, "
                     "going on")
            return None
        needs = [n for i in todo for n in F.stage_needs(self.plan, i, rps, rates, where)]
        desc = (lambda i: f"{self._where(region)}stage {i + 1}/{len(steps)} {steps[i].describe()}")
        why = F.refusal(self.plan, needs, desc)
        for n in needs:
            if n.advisory:
                self.log(f"[{self.plan.service}] warning: {desc(n.stage)}: {n.message}")
        self.journal.event(
            self.rollout, "sized",
            {"rps": round(rps, 3), "window": where, "needs": [n.to_dict() for n in needs], "feasible": why is None,
             "policy": self.plan.on_infeasible},
            region=region, stage=stage,
        )
        if why is None:
            return None
        why = f"{why} (request rate {F._num(rps)} req/s {where})"
        if self.plan.on_infeasible == "warn":
            self.log(f"[{self.plan.service}] warning: {why}; going on (judge.on_infeasible: warn)")
            return None
        if region == 0 and all(r == Route() for r in self.routes) and not self.journal.events(self.rollout,
                                                                                                "route-intent"):
            self.journal.update(self.rollout, state="refused", reason=why)
            self.log(f"[{self.plan.service}] refused, nothing routed: {why}")
            return Result("refused", why, self.rollout)
        return self._rollback(why, region)

    def _observe(self, region: int, stage: int) -> tuple[float | None, dict, str]:
        """The request rate of both versions and each ratio criterion's baseline counts over the last
        traffic.rate_window (or as much of it as has samples), of the requests weight stage `stage` judges."""
        window = self.plan.rate_window
        step, at = self.plan.steps[stage], self.route_at(stage)
        in_force = [k for k in ROUTED if getattr(at, k) is not None]
        now = self.clock()

        def scalar(expr, version):
            route = S.route_matcher(self.plan, step, version, in_force)
            expr = expr.replace("$selector", self._sel(version, route))
            return self.metrics.scalar(self._q(expr, version, window, region, route))

        span = window
        for counter in self._counters():
            first = self.metrics.oldest(f"{counter}{{{self._sel(self.plan.metrics['stable'])}}}", window, now)
            if first is not None:
                span = min(span, max(1.0, now - first))
        rps, rates = F.observe(scalar, self.plan, self._traffic_expr(), window, span)
        return rps, rates, f"over the last {fmt_duration(span)}"

    def _journaled_start(self, region: int, stage: int) -> dict | None:
        """The window of an interrupted stage: its journaled start (moved by a counter reset) and the latency
        thresholds fixed since; None when the stage never started judging."""
        events = [e for e in self.journal.events(self.rollout) if e["region"] == region and e["stage"] == stage]
        starts = [i for i, e in enumerate(events) if e["kind"] == "stage-start"]
        if not starts:
            return None
        fresh = [i for i in starts if not events[i]["data"].get("resumed")]
        first = fresh[-1] if fresh else starts[0]  # the stage as it last began with its routing
        start = events[first]["data"]["start"]
        thresholds = {}
        for e in events[first:]:
            if e["kind"] == "counter-reset" and "window_start" in e["data"]:
                start = e["data"]["window_start"]
            elif e["kind"] == "threshold":
                thresholds[e["data"]["key"]] = (e["data"]["threshold"], e["data"]["baseline_quantile"])
        return {"start": start, "thresholds": thresholds}

    def _where(self, region: int) -> str:
        r = self.routers[region].region
        return f"region {r}: " if r else ""

    def _route(self, region: int, stage: int, target: Route, force: bool = False) -> None:
        router = self.routers[region]
        if not force and target == self.routes[region]:
            return
        self.journal.event(
            self.rollout,
            "route-intent",
            {"route": target.to_dict(), "dry_run": self.dry_run},
            region=region,
            stage=stage,
        )
        if self.dry_run:
            self.log(f"[{self.plan.service}] {self._where(region)}dry run: would route {target.describe()}")
            self.routes[region] = target
            return
        t0 = time.monotonic()
        seen = router.apply(target, self.routes[region])
        dt = time.monotonic() - t0
        self.routes[region] = target
        self.journal.event(
            self.rollout,
            "route-verified",
            {"route": seen.to_dict(), "seconds": round(dt, 4)},
            region=region,
            stage=stage,
        )
        self.log(
            f"[{self.plan.service}] {self._where(region)}stage {stage + 1}/{len(self.plan.steps)}: "
            f"{target.describe()} verified in {dt * 1000:.0f} ms"
        )

    def _rollback(
        self, reason: str, region: int | None, after_error: bool = False, pending: dict | None = None, by: str = ""
    ) -> Result:
        """Set the canary to 0 everywhere, the failing region first. `pending`: the rollback-intent of a decision
        journaled earlier and never applied (the runner died); how long it stayed unapplied is recorded."""
        t0 = time.monotonic()
        if pending is None and self._decided is not None:
            pending, self._decided = self._decided, None  # the look that failed journaled its decision with it
            late = None
        elif pending is not None:
            late = round(time.time() - pending["ts"], 3)
            self.log(
                f"[{self.plan.service}] a rollback decided {late:.1f}s ago was never applied (the runner died): "
                f"applying it now ({reason})"
            )
        else:
            self.journal.event(
                self.rollout, "rollback-intent", {"reason": reason, "dry_run": self.dry_run}, region=region
            )
            late = None
        if late is None:
            self.log(f"[{self.plan.service}] rolling back: {reason}")
        order = list(range(len(self.routers)))
        if region is not None:
            order.sort(key=lambda i: i != region)
        errors = []
        for i in order:
            if self.dry_run:
                continue
            try:
                self.routers[i].apply(Route(), self.routes[i])
                self.routes[i] = Route()
            except RouterError as exc:
                errors.append(f"{self.routers[i].describe()}: {exc}")
        dt = time.monotonic() - t0
        extra = {} if late is None else {"unapplied_for": late, "applied_by": by}
        if errors:
            msg = f"{reason}; ROLLBACK INCOMPLETE: " + "; ".join(errors)
            self.journal.event(self.rollout, "rollback-failed", {"errors": errors, **extra})
            self.journal.update(self.rollout, state="error", reason=msg)
            self.log(f"[{self.plan.service}] error: {msg}")
            return Result("error", msg, self.rollout)
        self.journal.event(self.rollout, "rollback-done", {"seconds": round(dt, 4), "dry_run": self.dry_run, **extra})
        state = "error" if after_error else "rolled-back"
        self.journal.update(self.rollout, state=state, reason=reason)
        what = "dry run: would have rolled back" if self.dry_run else f"rolled back in {dt * 1000:.0f} ms"
        if late is not None:
            what += f", {late:.1f}s after it was decided"
        self.log(f"[{self.plan.service}] {what}: the canary gets no traffic ({reason})")
        return Result(state, reason, self.rollout)

    # --- waiting -----------------------------------------------------------------------------------------
    def _wait(self, seconds: float) -> list[str]:
        """Sleep in slices; return operator commands as soon as they arrive."""
        end = time.monotonic() + seconds
        while True:
            if self.stop_signal:
                raise _Stop()
            cmds = self.journal.take_commands(self.rollout)
            if cmds:
                return cmds
            left = end - time.monotonic()
            if left <= 0:
                return []
            self.sleep(min(left, 0.2))

    def _pause(self, region: int, stage: int, step: Step) -> tuple[str, str]:
        from canary_lint.rollout.stages import operator_commands

        self.journal.event(self.rollout, "paused", {"reason": step.reason}, region=region, stage=stage)
        self.journal.update(self.rollout, state="paused")
        cmds = operator_commands(self.plan.path)
        self.log(
            f"[{self.plan.service}] {self._where(region)}stage {stage + 1}/{len(self.plan.steps)} paused"
            f"{': ' + step.reason if step.reason else ''}; continue with `{cmds['promote']}` or roll back with "
            f"`{cmds['abort']}`"
        )
        while True:
            for cmd in self._wait(3600):
                if cmd == "abort":
                    return "fail", "aborted by operator"
                if cmd == "promote":
                    self.journal.event(self.rollout, "promote", {"by": "operator"}, region=region, stage=stage)
                    self.journal.update(self.rollout, state="running")
                    return "pass", ""

    # --- judging -----------------------------------------------------------------------------------------
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
            verdicts.append(
                S.share_verdict(
                    self.plan,
                    step,
                    scalar(traffic, can),
                    scalar(traffic, base),
                    window,
                    state.get("target", step.weight) if self.dry_run else step.weight,
                    lower_only=mixed and not apart,
                    routed=together,
                )
            )
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

    def _gate_desc(self) -> str:
        g = self.plan.gate
        if "report" in g:
            return f"report {g['report']}"
        return f"check {' '.join(g['check'].get('paths', ['.']))}" + (
            f" --base {g['check']['base']}" if g["check"].get("base") else ""
        )

