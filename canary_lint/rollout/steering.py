"""The runner's routing changes: a stage's route (journaled before it is applied, verified after), the rollback
(the failing region first), and the waits and pauses between looks, which take operator commands."""

from __future__ import annotations

import time

from canary_lint.rollout.plan import Step
from canary_lint.rollout.routers import Route, RouterError
from canary_lint.rollout.outcome import Result, _Stop


class Steering:
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
