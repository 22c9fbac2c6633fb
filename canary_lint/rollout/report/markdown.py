"""The rollout report as GitHub-flavoured Markdown: tables, and one mermaid `xychart-beta` per criterion and
stage, which GitHub renders in a PR comment or a job summary. Text from the journal is escaped for Markdown
and HTML; text inside a mermaid block keeps only characters that cannot end its quoted strings."""

from __future__ import annotations

import re
import time

from canary_lint.rollout.plan import fmt_duration
from canary_lint.rollout.report.model import RolloutReport, StageReport, chart_lines, thin
from canary_lint.rollout.report.svg import nice_ticks

HEADER = "<!-- canary-lint rollout report -->"  # found again by a sticky-comment updater
MERMAID_POINTS = 40  # per chart: a PR comment stays far below GitHub's 65,536 characters
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")
_MERMAID_UNSAFE = re.compile(r"[^A-Za-z0-9 _.,:;%/()+\-µ]")

STATE_TITLE = {
    "promoted": "promoted",
    "rolled-back": "rolled back",
    "refused": "refused by the gate",
    "error": "ended in an error",
    "running": "in progress",
    "paused": "paused",
}


def md(text: object) -> str:
    """Plain text in Markdown: no markup, no HTML, on one line."""
    s = " ".join(str(text).split())
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def mermaid_text(text: object) -> str:
    return _MERMAID_UNSAFE.sub(" ", " ".join(str(text).split()))


def when(ts: float | None) -> str:
    return "—" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts))


def _ms(seconds: float | None) -> str:
    return "not verified" if seconds is None else f"{seconds * 1000:,.0f} ms"


def readings_table(readings) -> list[str]:
    rows = ["| criterion | verdict | canary | baseline / target | samples |", "|---|---|---|---|---|"]
    for rd in readings:
        c, b = rd.texts
        if rd.change:
            c += f" ({rd.change})"
        rows.append(f"| {md(rd.criterion)} | **{md(rd.outcome)}** | {md(c)} | {md(b)} | {md(rd.progress() or '')} |")
    return rows


def mermaid(st: StageReport, series) -> list[str]:
    unit, lines = chart_lines(series)
    pts = [i for i in range(len(series.points)) if all(ln[2][i][1] is not None for ln in lines[:2])]
    keep = thin(pts, MERMAID_POINTS)
    if not keep:
        return []
    values = [ln[2][i][1] for ln in lines for i in keep if ln[2][i][1] is not None]
    ticks = nice_ticks(min(0.0, min(values)), max(values))
    cats = ", ".join(f'"{series.points[i].t:.0f}"' for i in keep)
    title = mermaid_text(f"{series.criterion}, stage {st.number}: {unit or 'value'}")
    out = ["```mermaid", "xychart-beta", f'    title "{title}"',
           f'    x-axis "seconds since the stage began" [{cats}]',
           f'    y-axis "{mermaid_text(unit or "value")}" {ticks[0]:g} --> {ticks[-1]:g}']
    for _name, _css, pts_ in lines:
        out.append("    line [" + ", ".join(f"{(pts_[i][1] if pts_[i][1] is not None else 0):.6g}" for i in keep) + "]")
    out.append("```")
    names = ", ".join(f"{md(name)} ({n})" for n, (name, _c, _p) in zip(("1st line", "2nd line", "3rd line"), lines))
    out.append(f"*{md(series.criterion)}*: {names}.")
    return out


def render(rep: RolloutReport) -> str:
    d = rep.decision
    title = STATE_TITLE.get(d.state, d.state)
    out = [HEADER, f"## {md(rep.service)}: rollout {rep.rollout} {md(title)}" + (" (dry run)" if rep.dry_run else ""),
           ""]
    took = fmt_duration(rep.updated - rep.started)
    gate = {True: "green", False: "red", None: "not run"}[rep.gate_green]
    out.append(f"Commit `{md(rep.commit or 'unknown')}` · started {when(rep.started)} · {took} · gate {gate}"
               + (f" ({md(rep.gate)})" if rep.gate else ""))
    out.append("")
    out.append(f"**Decision: {md(title)}**" + (f" — {md(d.reason)}" if d.reason else ""))
    out.append("")
    if d.readings:
        out.append(f"The deciding look ({md(d.stage)}):" if d.state != "promoted" else f"The last look ({md(d.stage)}):")
        out.append("")
        out += readings_table(d.readings)
        out.append("")
    if d.state in ("running", "paused"):
        out.append(f"Promote: `{rep.commands['promote']}` · roll back: `{rep.commands['abort']}`")
        out.append("")
    out += ["### Stages", "", "| stage | outcome | looks | started | routing verified in |", "|---|---|---|---|---|"]
    for st in rep.stages:
        verified = ", ".join(_ms(rc.seconds) for rc in st.routes) or "—"
        out.append(f"| {md(st.label)} | {md(st.outcome)} | {st.looks} | {when(st.started)} | {md(verified)} |")
    out.append("")
    if rep.routes:
        out += ["### Routing changes", "", "| time (UTC) | stage | route in force | verified in | note |",
                "|---|---|---|---|---|"]
        for rc in rep.routes:
            out.append(f"| {_clock(rc.ts)} | {md(rc.stage)} | {md(rc.route)} | {_ms(rc.seconds)} | {md(rc.note)} |")
        out.append("")
    for st in rep.stages:
        if not st.series and not st.notes:
            continue
        out += [f"### {md(st.label)}: {md(st.outcome)}", ""]
        for note in st.notes:
            out.append(f"- {md(note)}")
        if st.notes:
            out.append("")
        if st.last:
            out += readings_table(st.last)
            out.append("")
        for series in st.series:
            chart = mermaid(st, series)
            if chart:
                out += chart
                out.append("")
    return "\n".join(out).rstrip() + "\n"
