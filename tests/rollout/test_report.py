"""`rollout report` on journals written by real runner runs (recording router, deterministic metrics): the
Markdown with its mermaid charts, the HTML with its SVG charts parsed as XML and rendered in a real headless
Chromium; and the live view's lines of the same runs."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

import pytest
from browser import load, screenshot
from rollout_fakes import FakeMetrics, FakeRouter, write_release

from canary_lint.rollout import plan as plan_mod
from canary_lint.rollout.journal import Journal
from canary_lint.rollout.live import LiveView
from canary_lint.rollout.report import render
from canary_lint.rollout.report.model import MAX_POINTS, Point, build, thin
from canary_lint.rollout.runner import Runner

SVG_NS = "{http://www.w3.org/2000/svg}"
HOLD = {"min": "1.5s", "max": "6s"}  # the p99 threshold is fixed at ~1.3 s (2,000 baseline requests)
CRITERIA = [
    {"name": "errors", "kind": "ratio", "bad": 'errors{version="$version"}[$window]',
     "total": 'requests{version="$version"}[$window]', "max_increase": "10%"},
    {"name": "latency", "kind": "latency", "histogram": "http_request_duration_seconds", "quantiles": [0.99],
     "max_increase": "50ms"},
    {"name": "memory", "kind": "gauge", "query": 'process_resident_memory_bytes{version="$version"}',
     "max_increase": "10%", "step": "1s"},
]


class ServiceMetrics(FakeMetrics):
    """FakeMetrics plus a latency histogram (`slow` of requests take 1-2.5 s, the rest under 100 ms) and a
    resident-memory gauge per version."""

    def __init__(self, router, slow=None, memory=None, **kw):
        super().__init__(router, **kw)
        self.slow = slow or {"v1": 0.001, "v2": 0.001}
        self.memory = memory or {"v1": 107e6, "v2": 107e6}

    def query(self, expr, at=None):
        m = re.search(r'version="(\w+)".*\[(\d+)s\]', expr)
        n = self.scalar(f'requests{{version="{m.group(1)}"}}[{m.group(2)}s]', at)
        fast = n * (1 - self.slow[m.group(1)])
        return [({"le": "0.05"}, fast * 0.9), ({"le": "0.1"}, fast), ({"le": "0.25"}, fast), ({"le": "1"}, fast),
                ({"le": "2.5"}, n), ({"le": "+Inf"}, n)]

    def range(self, expr, start, end, step):
        level = self.memory[re.search(r'version="(\w+)"', expr).group(1)]
        return [level * (1 + 0.01 * (i % 3)) for i in range(max(3, int((end - start) * 20)))]


def run_rollout(tmp, steps, view=None, promote_pause=False, **behaviour):
    path = write_release(tmp, criteria=CRITERIA, steps=steps)
    plan = plan_mod.load(path)
    router = FakeRouter()
    metrics = ServiceMetrics(router, **behaviour)
    journal = Journal(plan.journal_path)
    runner = Runner(plan, journal, routers=[router], metrics=metrics, log=lambda m: None, view=view)
    if not promote_pause:
        return path, journal, runner.run()
    results = []
    t = threading.Thread(target=lambda: results.append(runner.run()))
    t.start()
    other = Journal(plan.journal_path)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not ((r := other.latest("shop")) and r.state == "paused"):
        time.sleep(0.02)
    other.command(other.latest("shop").id, "promote")
    t.join(20)
    return path, journal, results[0]


@pytest.fixture(scope="module")
def memory_rollback(tmp_path_factory):
    """A canary at 152 MB against 107 MB and 2% of its requests over a second: rolled back at stage 1."""
    return run_rollout(tmp_path_factory.mktemp("mem"), [{"weight": 20, "hold": HOLD}, {"weight": 100}],
                       memory={"v1": 107e6, "v2": 152e6})


@pytest.fixture(scope="module")
def promoted(tmp_path_factory):
    """A healthy canary through 20%, a pause an operator promotes, 50%, 100%; its looks on a live view."""
    stream = io.StringIO()
    hostile = 'dashboards </title><script>alert(1)</script> "]]> | *x* `y` [z](javascript:1)'
    steps = [{"weight": 20, "hold": HOLD}, {"pause": hostile}, {"weight": 50, "hold": HOLD}, {"weight": 100}]
    path, journal, result = run_rollout(tmp_path_factory.mktemp("ok"), steps, view=LiveView("shop", stream),
                                        promote_pause=True)
    return path, journal, result, stream.getvalue(), hostile


def test_the_decision_reads_in_human_units(memory_rollback):
    path, journal, result = memory_rollback
    assert result.state == "rolled-back"
    text = render(journal, result.rollout, "markdown", str(path))
    decision = next(line for line in text.splitlines() if line.startswith("**Decision"))
    assert "rolled back" in decision and "stage 1/2 weight 20%" in decision
    assert re.search(r"canary memory 15\d MB vs baseline 10\d MB \(\+4\d%, tolerance \+10%\)", decision), decision
    assert "| memory | **fail** |" in text


def test_markdown_has_a_mermaid_chart_per_criterion_and_stage(promoted):
    path, journal, result, _, _ = promoted
    assert result.state == "promoted", result.reason
    text = render(journal, result.rollout, "markdown", str(path))
    charts = re.findall(r"```mermaid\n(.*?)```", text, re.S)
    # two judged stages x (traffic, errors, latency p99, memory)
    assert len(charts) == 8
    for chart in charts:
        assert chart.startswith("xychart-beta\n")
        cats = re.search(r"x-axis \"[^\"]*\" \[(.*)\]", chart).group(1).split(", ")
        lines = re.findall(r"^    line \[(.*)\]$", chart, re.M)
        assert len(lines) >= 2 and all(len(ln.split(", ")) == len(cats) for ln in lines)
        assert 2 <= len(cats) <= 40
    for label in ("stage 1/4 weight 20%", "stage 3/4 weight 50%", "stage 4/4 weight 100%"):
        assert label in text  # the numbering of logs and status: the pause is stage 2
    assert re.search(r"\| stage 2/4 pause .* \| advanced by operator \|", text)


def test_markdown_escapes_what_the_journal_holds(promoted):
    path, journal, result, _, hostile = promoted
    text = render(journal, result.rollout, "markdown", str(path))
    assert "<script>" not in text and "</title>" not in text and "[z](javascript" not in text
    assert "&lt;script&gt;" in text
    for chart in re.findall(r"```mermaid\n(.*?)```", text, re.S):
        assert "<" not in chart and "script" not in chart


def _svgs(page: str) -> list[ET.Element]:
    return [ET.fromstring(s) for s in re.findall(r"<svg\b.*?</svg>", page, re.S)]


def test_every_svg_chart_is_well_formed_xml(promoted, memory_rollback):
    for path, journal, result, *_ in (promoted, memory_rollback):
        page = render(journal, result.rollout, "html", str(path))
        svgs = _svgs(page)
        assert svgs
        for svg in svgs:
            assert svg.tag == SVG_NS + "svg" and svg.get("class") == "chart"
            assert svg.find(SVG_NS + "title").text
            classes = {el.get("class") for el in svg.iter() if el.get("class")}
            assert {"line canary", "line baseline"} <= classes or {"point canary", "point baseline"} <= classes


def test_the_html_report_renders_in_chromium_without_console_errors(promoted, tmp_path):
    path, journal, result, _, hostile = promoted
    page = tmp_path / "report.html"
    page.write_text(render(journal, result.rollout, "html", str(path)), encoding="utf-8")
    dom, console = load(page, tmp_path)
    assert console == []
    assert "<script" not in dom  # the pause message is text, not markup
    assert "alert(1)" in dom and "&lt;/title&gt;&lt;script&gt;" in dom
    assert len(re.findall(r'<svg[^>]* class="chart"', dom)) == 8
    assert len(re.findall(r'<polyline class="line canary"', dom)) >= 8
    assert len(re.findall(r'<polyline class="line limit"', dom)) == 2  # the p99 threshold, in each stage
    png = screenshot(page, tmp_path / "report.png", tmp_path)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_browser_check_sees_a_console_error(tmp_path):
    """The harness itself: a page whose script throws is reported (else the check above could not fail)."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><p>x</p><script>undefinedFunction()</script></body></html>")
    _, console = load(page, tmp_path)
    assert any("undefinedFunction" in line for line in console)


def test_routing_changes_carry_their_verified_latency(promoted):
    path, journal, result, _, _ = promoted
    rep = build(journal, result.rollout, str(path))
    assert [rc.route for rc in rep.routes] == ["canary 20%", "canary 50%", "canary 100%"]
    assert all(rc.seconds is not None and rc.seconds >= 0 for rc in rep.routes)
    assert [s.outcome for s in rep.stages] == ["passed", "advanced by operator", "passed", "promoted"]


def test_a_series_is_bounded():
    pts = [Point(float(i), 1.0, 1.0) for i in range(10_000)]
    kept = thin(pts)
    assert len(kept) == MAX_POINTS and kept[0] is pts[0] and kept[-1] is pts[-1]


def test_the_live_view_prints_one_line_per_look_with_values_and_time_left(promoted):
    path, journal, result, lines, _ = promoted
    looks = journal.events(result.rollout, "measurement")
    out = lines.strip().splitlines()
    assert len(out) == len(looks)
    first = out[0]
    assert first.startswith("[shop] stage 1/4 weight 20% ")
    assert "to the minimum hold" in first or "minimum hold done" in first
    assert re.search(r"traffic \w+: canary 20% vs target 20%", first), first
    assert re.search(r"errors \w+: canary 5\.0% vs baseline 5\.0% \(\+0%\)", first), first
    assert re.search(r"\d[\d,]* (of ~[\d,]+ )?canary requests", first), first


def test_the_live_view_on_a_terminal_is_a_table(tmp_path):
    stream = io.StringIO()
    _, _, result = run_rollout(tmp_path, [{"weight": 20, "hold": HOLD}, {"weight": 100}],
                               view=LiveView("shop", stream, tty=True))
    assert result.state == "promoted", result.reason
    text = stream.getvalue()
    assert "\x1b[" in text  # drawn by rich
    for word in ("toward a decision", "errors", "latency p99", "memory", "minimum hold"):
        assert word in text


def test_the_live_view_on_a_terminal_without_rich_says_so_and_prints_lines(tmp_path, monkeypatch):
    from canary_lint.rollout import live

    monkeypatch.setattr(live, "rich_installed", lambda: False)
    stream = io.StringIO()
    _, journal, result = run_rollout(tmp_path, [{"weight": 20, "hold": HOLD}, {"weight": 100}],
                                     view=LiveView("shop", stream, tty=True))
    assert result.state == "promoted", result.reason
    first, *looks = stream.getvalue().strip().splitlines()
    assert "pip install 'canary-lint[live]'" in first
    assert "\x1b[" not in stream.getvalue()
    assert len(looks) == len(journal.events(result.rollout, "measurement"))
    assert all(line.startswith("[shop] stage 1/2 weight 20% ") for line in looks)


def test_report_cli_writes_html_and_markdown(promoted, tmp_path):
    path = promoted[0]
    out = tmp_path / "r.html"
    cli = [sys.executable, "-m", "canary_lint", "rollout", "report", str(path)]
    done = subprocess.run([*cli, "--format", "html", "--output", str(out)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("<!DOCTYPE html>") and "written to" in done.stderr
    md = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    assert md.returncode == 0 and md.stdout.startswith("<!-- canary-lint rollout report -->")
    bad = subprocess.run([*cli, "--rollout", "99"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "no rollout 99" in bad.stderr
    status = json.loads(subprocess.run([sys.executable, "-m", "canary_lint", "rollout", "status", str(path),
                                        "--format", "json"], capture_output=True, text=True, timeout=60).stdout)
    assert status["state"] == "promoted" and status["stage"] == 4 and status["stage_label"] == "stage 4/4 weight 100%"
    assert all(e["stage"] in (1, 3, 4) for e in status["routing"])
