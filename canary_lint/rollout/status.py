"""`rollout status`: where a rollout stands, from its journal: state, the stage in the one numbering of every
view (stages.py), a waiting pause with its message and the exact commands to promote or roll back, the last
look's verdicts with their numbers, the latest routing changes."""

from __future__ import annotations

import time

from canary_lint.rollout import stages as S
from canary_lint.rollout.journal import ACTIVE

ROUTING = ("route-intent", "route-verified", "rollback-done")


def collect(journal, r, plan, plan_path: str, holder: int | None) -> dict:
    """The status of rollout `r` as the JSON `status --format json` prints."""
    events = journal.events(r.id)
    step = plan.steps[r.stage] if r.stage < len(plan.steps) else None
    last = next((e for e in reversed(events) if e["kind"] == "measurement"), None)
    routes = [e for e in events if e["kind"] in ROUTING]
    data = {
        "rollout": r.id,
        "service": r.service,
        "state": r.state,
        "reason": r.reason,
        "commit": r.commit,
        "dry_run": r.dry_run,
        "runner_pid": holder,
        "region": S.region_name(plan, r.region),
        "stage": S.number(r.stage),
        "stages": len(plan.steps),
        "stage_label": S.label(plan, r.region, r.stage),
        "step": step.describe() if step else None,
        "paused": None,
        "commands": None,
        "last_measurement": last and {**last["data"], "stage": S.number(last["stage"]),
                                      "region": S.region_name(plan, last["region"]), "ts": last["ts"]},
        "routing": [
            {"kind": e["kind"], "ts": e["ts"], "stage": S.number(e["stage"]),
             "region": S.region_name(plan, e["region"]), **e["data"]}
            for e in routes[-10:]
        ],
    }
    if r.state in ACTIVE:
        cmds = S.operator_commands(plan_path)
        data["commands"] = {"promote": cmds["promote"], "abort": cmds["abort"]}
    if r.state == "paused":
        pause = next((e for e in reversed(events) if e["kind"] == "paused"
                      and e["stage"] == r.stage and e["region"] == r.region), None)
        message = pause["data"].get("reason") if pause else (step.reason if step else "")
        data["paused"] = {
            "message": message or None,
            "since": pause["ts"] if pause else None,
            "promote": data["commands"]["promote"],
            "abort": data["commands"]["abort"],
        }
    return data


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def text(data: dict) -> list[str]:
    """The same status for a person."""
    runner = f"runner pid {data['runner_pid']}" if data["runner_pid"] else "no runner"
    lines = [f"{data['service']}: rollout {data['rollout']} {data['state']}{' (dry run)' if data['dry_run'] else ''}"
             f" — {data['stage_label']} — {runner}"]
    if data["reason"]:
        lines.append(f"  reason: {data['reason']}")
    pause = data["paused"]
    if pause:
        since = f" (since {_clock(pause['since'])})" if pause["since"] else ""
        lines.append(f"  paused{': ' + pause['message'] if pause['message'] else ''}{since}")
    if data["commands"]:
        what = "continue" if pause else "advance this stage"
        lines.append(f"  {what}: {data['commands']['promote']}")
        lines.append(f"  roll back: {data['commands']['abort']}")
    last = data["last_measurement"]
    if last:
        lines.append(f"  last look (stage {last['stage']}) at {last['elapsed']:.0f}s: {last['outcome']}")
        for v in last["verdicts"]:
            lines.append(f"    {v['criterion']:<14} {v['outcome']:<12} {v['message']}")
    for e in data["routing"][-5:]:
        where = f"stage {e['stage']}" if e["stage"] else "rollback"
        route = e.get("route")
        desc = f"canary {route['canary']:g}%" + (f", header {route['header'][0]}" if route.get("header") else "") \
            + (f", cookie {route['cookie'][0]}" if route.get("cookie") else "") if route else ""
        took = f" in {e['seconds'] * 1000:.0f} ms" if e.get("seconds") is not None else ""
        lines.append(f"  {_clock(e['ts'])} {e['kind']} ({where}): {desc}{took}".rstrip())
    return lines
