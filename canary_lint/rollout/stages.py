"""One stage numbering for every view: logs, `status`, `report` and the live view say `stage N/M`, N counted
from 1 in the order of the plan's steps (per region, with `routers:`); the journal's `stage` columns hold the
step's index, N - 1. And the exact commands an operator types next."""

from __future__ import annotations

import shlex
from pathlib import Path


def number(index: int | None) -> int | None:
    """The journal's step index -> the stage number every view shows."""
    return None if index is None else index + 1


def region_name(plan, index: int | None) -> str | None:
    """The region a journal index names ('eu'), None for a plan with one unnamed router."""
    if index is None or index >= len(plan.routers):
        return None
    return plan.routers[index].get("region") or None


def label(plan, region: int | None, index: int, with_step: bool = True) -> str:
    """'stage 2/5 weight 20%', 'region eu: stage 2/5 weight 20%'."""
    where = region_name(plan, region)
    text = f"{'region ' + where + ': ' if where else ''}stage {index + 1}/{len(plan.steps)}"
    if with_step and 0 <= index < len(plan.steps):
        text += " " + plan.steps[index].describe()
    return text


def operator_commands(plan_path: str | Path) -> dict[str, str]:
    """What to type to act on a rollout of this plan (the path quoted for a POSIX shell)."""
    p = shlex.quote(str(plan_path))
    return {
        "promote": f"canary-lint rollout promote {p}",
        "abort": f"canary-lint rollout abort {p}",
        "status": f"canary-lint rollout status {p}",
        "report": f"canary-lint rollout report {p} --format markdown",
    }
