"""`canary-lint rollout report`: the journal of a rollout as a reviewer reads it (model.py), in Markdown
with mermaid charts (markdown.py) or as one HTML page with inline SVG charts (html.py, svg.py)."""

from __future__ import annotations

FORMATS = ("markdown", "html")


def render(journal, rollout_id: int, fmt: str, plan_path: str | None = None) -> str:
    from canary_lint.rollout.report.model import build

    rep = build(journal, rollout_id, plan_path)
    if fmt == "html":
        from canary_lint.rollout.report.html import render as html

        return html(rep)
    from canary_lint.rollout.report.markdown import render as markdown

    return markdown(rep)
