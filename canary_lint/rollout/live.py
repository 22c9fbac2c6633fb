"""The live view of a stage while it holds: per criterion the canary's and the baseline's value, the verdict
so far and the progress toward the samples needed to decide; the canary's share against its target; the time
left in the hold. On a terminal a table redrawn in place (rich, imported only then); otherwise one plain line
per look (never per request), so a CI log of an hour-long stage at 10 s looks is 360 lines."""

from __future__ import annotations

import sys

from canary_lint.rollout.plan import fmt_duration
from canary_lint.rollout.readings import Reading, read_look

COLOURS = {"pass": "green", "fail": "bold red", "worse": "red", "inconclusive": "yellow", "no-data": "magenta"}


def rich_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("rich") is not None


def hold_left(elapsed: float, hold_min: float, hold_max: float) -> str:
    """'18s to the minimum hold, 48s to the maximum' / 'minimum hold done, 48s to the maximum'."""
    to_max = max(0.0, hold_max - elapsed)
    if elapsed < hold_min:
        return f"{fmt_duration(hold_min - elapsed)} to the minimum hold, {fmt_duration(to_max)} to the maximum"
    return f"minimum hold done, {fmt_duration(to_max)} to the maximum"


def reading_text(rd: Reading) -> str:
    text = f"{rd.criterion} {rd.outcome}: {rd.values()}"
    progress = rd.progress()
    return text + (f", {progress}" if progress else "")


def plain_line(service: str, desc: str, step, look: dict) -> str:
    """One look on one line: `[shop] stage 2/4 weight 20% 12s of 30s..1m00s (…): inconclusive; traffic pass: …`."""
    elapsed = look.get("elapsed", 0.0)
    head = (f"[{service}] {desc} {fmt_duration(elapsed)} of {fmt_duration(step.hold_min)}.."
            f"{fmt_duration(step.hold_max)} ({hold_left(elapsed, step.hold_min, step.hold_max)}): "
            f"{look.get('outcome')}")
    return head + "; " + "; ".join(reading_text(rd) for rd in read_look(look))


class LiveView:
    """Given to the Runner as `view`: `look()` at every judged look, `end()` when the stage is over."""

    def __init__(self, service: str, stream=None, tty: bool | None = None):
        self.service = service
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        if self.tty and not rich_installed():
            print("canary-lint: the live table needs rich (pip install 'canary-lint[live]'); one line per look instead",
                  file=self.stream, flush=True)
            self.tty = False
        self._live = None

    def look(self, desc: str, step, look: dict) -> None:
        if not self.tty:
            print(plain_line(self.service, desc, step, look), file=self.stream, flush=True)
            return
        table = self.table(desc, step, look)
        if self._live is None:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(table, console=Console(file=self.stream, force_terminal=True), refresh_per_second=4,
                             transient=False)
            self._live.start()
        else:
            self._live.update(table)

    def end(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def table(self, desc: str, step, look: dict):
        from rich.table import Table
        from rich.text import Text

        elapsed = look.get("elapsed", 0.0)
        outcome = look.get("outcome", "")
        t = Table(
            title=Text(f"{self.service}: {desc} — {fmt_duration(elapsed)} judged, "
                       f"{hold_left(elapsed, step.hold_min, step.hold_max)}"),
            caption=Text(f"stage so far: {outcome}", style=COLOURS.get(outcome, "")),
            title_justify="left",
        )
        for col in ("criterion", "verdict", "canary", "baseline / target", "toward a decision"):
            t.add_column(col)
        for rd in read_look(look):
            c, b = rd.texts
            if rd.change:
                c += f" ({rd.change})"
            t.add_row(Text(rd.criterion), Text(rd.outcome, style=COLOURS.get(rd.outcome, "")), Text(c), Text(b),
                      Text(_bar(rd) + (rd.progress() or "")))
        return t


def _bar(rd: Reading, width: int = 12) -> str:
    f = rd.fraction
    if f is None:
        return ""
    done = round(f * width)
    return "█" * done + "░" * (width - done) + " "
