"""The data time of a look: the latest instant both versions have fresh samples for, or why the look holds
(Prometheus down or restarted with frozen samples, a version's series stale, a counter reset)."""

from __future__ import annotations

import time


def data_time(metrics, plan, counters: list[str], sel, start: float, now: float, state: dict
              ) -> tuple[float, tuple[str, str] | None]:
    """(at, None) when both versions have new samples up to `at`, else (at, (event kind, why we hold)).

    `at` is the latest sample time of the version scraped last; the look is judged there, and only if the
    other version too has a sample after the previous look (or the stage start) at or before `at`: after a
    Prometheus restart the first scrape of one version would otherwise be compared with the samples of
    the other from before the outage."""
    m = plan.metrics
    versions = (m["canary"], m["stable"])
    if not counters:  # no request counter in the plan (gauges only): the look is judged at now
        return now, None

    def latest(v: str, when: float) -> float | None:
        seen = [metrics.latest(f"{c}{{{sel(v)}}}", when) for c in counters]
        return None if None in seen else min(seen)

    times = {v: latest(v, now) for v in versions}
    present = {v for v in versions if times[v] is not None}
    gone = state["seen"] - present
    state["seen"] |= present
    if not present:
        return now, ("metrics-stale", "no samples of either version")
    if gone:
        return now, ("metrics-stale", f"the series of {', '.join(sorted(gone))} went stale (its scrapes fail)")
    # a version never seen this stage is judged as it is (a dead canary has no series at all)
    at = min(min(times[v] for v in present), now)
    # each version needs a sample after `since` at or before `at`: after the previous look, and after a
    # Prometheus restart (the samples it replayed end at the stop, an outage ago)
    since, why = max(start, state["last_at"] or start), "since the previous look"
    if since == start:
        why = "since the stage started"
    boot = metrics.started()
    if boot is not None and since < boot < at:
        since, why = boot, f"since Prometheus restarted at {time.strftime('%H:%M:%S', time.localtime(boot))}"
    behind = []
    for v in sorted(present):
        reach = times[v] if times[v] <= at else latest(v, at)
        if reach is None or reach <= since:
            behind.append(v)
    if behind:
        return at, ("metrics-stale", f"no new samples of {', '.join(behind)} {why} ({now - since:.1f}s ago)")
    # counter resets in the window, against the previous look's count (None: a new window, count afresh)
    before = state["resets"]
    state["resets"] = {
        v: sum(metrics.resets(f"{c}{{{sel(v)}}}", at - start, at) or 0 for c in counters)
        for v in sorted(present)
    }
    state["last_at"] = at
    reset = [v for v, n in state["resets"].items() if before is not None and n > before.get(v, 0)]
    if reset:
        return at, (
            "counter-reset",
            f"a counter of {', '.join(reset)} went back (a restarted process): the stage's window starts "
            "again after it",
        )
    return at, None

