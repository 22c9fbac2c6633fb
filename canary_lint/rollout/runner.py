"""The stage loop: route -> verify -> measure -> judge -> advance / hold / roll back, journaled before acting."""

from __future__ import annotations

import signal
import sys
import time

from canary_lint.rollout import feasible as F
from canary_lint.rollout.journal import Journal, Locked
from canary_lint.rollout.metrics import MetricsError, MetricsUnavailable
from canary_lint.rollout.plan import Plan, fmt_duration
from canary_lint.rollout import share as S
from canary_lint.rollout.routed import ROUTED
from canary_lint.rollout.routers import Route, Router, RouterError
from canary_lint.rollout.looks import Looks
from canary_lint.rollout.measure import Measure
from canary_lint.rollout.outcome import EXIT_BY_STATE, Result, _Stop  # noqa: F401 (Result, EXIT_BY_STATE: also read from here)
from canary_lint.rollout.steering import Steering


class Runner(Steering, Looks, Measure):
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

    def _gate_desc(self) -> str:
        g = self.plan.gate
        if "report" in g:
            return f"report {g['report']}"
        return f"check {' '.join(g['check'].get('paths', ['.']))}" + (
            f" --base {g['check']['base']}" if g["check"].get("base") else ""
        )
