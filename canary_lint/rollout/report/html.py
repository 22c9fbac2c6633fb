"""The rollout report as one self-contained HTML page: tables and an inline SVG chart per criterion and stage
(svg.py). No script, no external resource; a Content-Security-Policy forbids both, so the page can be
attached to a CI run or mailed as it is. Every text from the journal is escaped."""

from __future__ import annotations

from html import escape

from canary_lint.rollout.plan import fmt_duration
from canary_lint.rollout.report.markdown import STATE_TITLE, _clock, _ms, when
from canary_lint.rollout.report.model import RolloutReport, chart_lines
from canary_lint.rollout.report.svg import Line, line_chart

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #212529; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #dee2e6; }
table { border-collapse: collapse; margin: 0.5em 0 1em; } td, th { border: 1px solid #dee2e6; padding: 0.25em 0.6em;
text-align: left; vertical-align: top; } th { background: #f1f3f5; }
.decision { padding: 0.75em 1em; border-left: 6px solid #868e96; background: #f8f9fa; }
.decision.promoted { border-color: #2f9e44; } .decision.rolled-back, .decision.error, .decision.refused
{ border-color: #e03131; } .decision.paused, .decision.running { border-color: #f08c00; }
.outcome-pass, .outcome-passed, .outcome-promoted { color: #2f9e44; font-weight: bold; }
.outcome-fail, .outcome-worse, .outcome-rolled-back { color: #e03131; font-weight: bold; }
.outcome-inconclusive, .outcome-no-data { color: #f08c00; font-weight: bold; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; } code { background: #f1f3f5; padding: 0 0.2em; }
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _cls(word: str) -> str:
    return "outcome-" + "".join(ch if ch.isalnum() else "-" for ch in word.lower())


def _readings(readings) -> list[str]:
    out = ['<table class="readings"><tr><th>criterion</th><th>verdict</th><th>canary</th>'
           "<th>baseline / target</th><th>samples</th><th>reason</th></tr>"]
    for rd in readings:
        c, b = rd.texts
        if rd.change:
            c += f" ({rd.change})"
        out.append(f'<tr><td>{_e(rd.criterion)}</td><td class="{_cls(rd.outcome)}">{_e(rd.outcome)}</td>'
                   f"<td>{_e(c)}</td><td>{_e(b)}</td><td>{_e(rd.progress() or '')}</td><td>{_e(rd.message)}</td></tr>")
    out.append("</table>")
    return out


def _chart(st, series, n: int) -> str:
    unit, lines = chart_lines(series)
    return line_chart(
        f"{series.criterion} — {st.label}",
        [Line(name, css, pts) for name, css, pts in lines],
        x_label="seconds since the stage began",
        y_label=unit or "value",
        chart_id=f"chart-{n}",
        from_zero=series.unit in ("ratio", "seconds"),
    )


def render(rep: RolloutReport) -> str:
    d = rep.decision
    title = STATE_TITLE.get(d.state, d.state)
    head = f"{rep.service}: rollout {rep.rollout} {title}" + (" (dry run)" if rep.dry_run else "")
    gate = {True: "green", False: "red", None: "not run"}[rep.gate_green]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(head)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(head)}</h1>",
        f"<p>commit <code>{_e(rep.commit or 'unknown')}</code> · started {_e(when(rep.started))} · "
        f"{_e(fmt_duration(rep.updated - rep.started))} · gate {_e(gate)}"
        + (f" ({_e(rep.gate)})" if rep.gate else "") + "</p>",
        f'<div class="decision {_e(d.state)}"><strong>Decision: {_e(title)}</strong>'
        + (f" — {_e(d.reason)}" if d.reason else ""),
    ]
    if d.state in ("running", "paused"):
        out.append(f"<p>promote: <code>{_e(rep.commands['promote'])}</code> · roll back: "
                   f"<code>{_e(rep.commands['abort'])}</code></p>")
    out.append("</div>")
    if d.readings:
        out.append(f"<p>{'The last look' if d.state == 'promoted' else 'The deciding look'} ({_e(d.stage)}):</p>")
        out += _readings(d.readings)
    out += ['<h2 id="stages">Stages</h2>', '<table class="stages"><tr><th>stage</th><th>outcome</th><th>looks</th>'
            "<th>started</th><th>routing verified in</th></tr>"]
    for st in rep.stages:
        verified = ", ".join(_ms(rc.seconds) for rc in st.routes) or "—"
        out.append(f'<tr><td>{_e(st.label)}</td><td class="{_cls(st.outcome)}">{_e(st.outcome)}</td>'
                   f"<td>{st.looks}</td><td>{_e(when(st.started))}</td><td>{_e(verified)}</td></tr>")
    out.append("</table>")
    if rep.routes:
        out += ['<h2 id="routing">Routing changes</h2>', '<table class="routes"><tr><th>time (UTC)</th><th>stage</th>'
                "<th>route in force</th><th>verified in</th><th>note</th></tr>"]
        for rc in rep.routes:
            out.append(f"<tr><td>{_clock(rc.ts)}</td><td>{_e(rc.stage)}</td><td>{_e(rc.route)}</td>"
                       f"<td>{_e(_ms(rc.seconds))}</td><td>{_e(rc.note)}</td></tr>")
        out.append("</table>")
    n = 0
    for st in rep.stages:
        if not st.series and not st.notes:
            continue
        out.append(f'<h2 class="stage" id="stage-{st.region}-{st.number}">{_e(st.label)}: '
                   f'<span class="{_cls(st.outcome)}">{_e(st.outcome)}</span></h2>')
        if st.notes:
            out.append("<ul>" + "".join(f"<li>{_e(note)}</li>" for note in st.notes) + "</ul>")
        if st.last:
            out += _readings(st.last)
        if st.series:
            out.append('<div class="charts">')
            for series in st.series:
                n += 1
                out.append(_chart(st, series, n))
            out.append("</div>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
