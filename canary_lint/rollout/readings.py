"""What one journaled verdict says, read for a person: the canary's and the baseline's value in their unit,
the verdict, and how far the stage is toward the samples it needs to decide. The live view, `status` and
`report` all read verdicts through this, so they say the same thing in the same units."""

from __future__ import annotations

from dataclasses import dataclass

from canary_lint.rollout import units as U


@dataclass(frozen=True)
class Reading:
    criterion: str
    outcome: str
    canary: float | None
    baseline: float | None
    unit: str = ""  # ratio (shown as a percent), seconds, bytes, or '' (a plain number)
    versus: str = "baseline"  # what `baseline` is: the baseline's value, or the share's "target"
    limit: float | None = None  # a line the canary must stay under (a latency threshold)
    have: float | None = None  # canary samples so far ...
    need: float | None = None  # ... of about this many (a fixed-sample size: the scale of the stage)
    noun: str = "canary requests"
    message: str = ""

    @property
    def texts(self) -> tuple[str, str]:
        return U.pair(self.canary, self.baseline, self.unit)

    @property
    def change(self) -> str | None:
        if self.versus != "baseline":
            return None
        return U.change(self.canary, self.baseline)

    def values(self) -> str:
        """'canary 2.1 s vs baseline 0.11 s (+1,800%)'."""
        c, b = self.texts
        if self.canary is None and self.baseline is None:
            return "no values"
        ch = self.change
        return f"canary {c} vs {self.versus} {b}" + (f" ({ch})" if ch else "")

    def progress(self) -> str | None:
        """'1,234 of ~9,700 canary requests' (toward a decision), or '1,234 canary requests'."""
        if self.have is None:
            return None
        if self.need and self.have < self.need:
            return f"{U.count(self.have)} of ~{U.count(self.need)} {self.noun}"
        if self.need:  # a sequential test may need more when the canary sits between the two hypotheses
            return f"{U.count(self.have)} {self.noun} (a fixed-sample test needs ~{U.count(self.need)})"
        return f"{U.count(self.have)} {self.noun}"

    @property
    def fraction(self) -> float | None:
        """have / need, at most 1; None without a size."""
        if self.have is None or not self.need:
            return None
        return min(1.0, self.have / self.need)


def read(verdict: dict) -> Reading:
    """A journaled verdict ({criterion, outcome, message, numbers}) as a Reading."""
    n = verdict.get("numbers") or {}
    name, outcome, msg = verdict["criterion"], verdict["outcome"], verdict.get("message", "")
    if name == "traffic" and ("canary_requests" in n or "share" in n):
        total = (n.get("canary_requests") or 0) + (n.get("baseline_requests") or 0)
        return Reading(name, outcome, n.get("share"), n.get("target"), "ratio", versus="target",
                       have=n.get("canary_requests"), noun=f"canary requests of {U.count(total)}", message=msg)
    if "canary_rate" in n:
        return Reading(name, outcome, n["canary_rate"], n.get("baseline_rate"), "ratio",
                       have=(n.get("canary") or [None, None])[1], need=n.get("needed_canary_n"), message=msg)
    if "canary_quantile" in n:
        over = n.get("canary_over") or [None, None]
        return Reading(name, outcome, n["canary_quantile"], n.get("baseline_quantile"), "seconds",
                       limit=n.get("threshold", n.get("provisional_threshold")), have=over[1],
                       need=n.get("needed_canary_n"), message=msg)
    if "canary_mean" in n:
        samples = n.get("samples") or [None, None]
        return Reading(name, outcome, n["canary_mean"], n.get("baseline_mean"), n.get("unit", ""),
                       have=samples[0], noun="canary samples", message=msg)
    return Reading(name, outcome, None, None, message=msg)


def read_look(look: dict) -> list[Reading]:
    return [read(v) for v in look.get("verdicts", [])]
