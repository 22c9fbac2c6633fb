"""The gate: the release's check must be green before any traffic moves.

`{check: {...}}` runs the check on the release now; `{report: FILE}` reads a canary-lint JSON report
(schema 1), which must be for the exact commit being rolled out (HEAD of a clean work tree at `root`,
default the plan's directory).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from canary_lint.rollout.plan import Plan


class GateError(Exception):
    """The gate could not run (bad report, unknown commit, git error): exit 2."""


@dataclass
class GateResult:
    green: bool
    commit: str | None
    summary: str
    findings: list[dict] = field(default_factory=list)

    def refusal(self, limit: int = 10) -> str:
        lines = [f"refused: the release check is red ({self.summary})"]
        for f in self.findings[:limit]:
            lines.append(f"  {f['path']}:{f['line']}: {f['rule']} {f['name']} [{f['severity']}] {f['message']}")
        if len(self.findings) > limit:
            lines.append(f"  ... and {len(self.findings) - limit} more")
        lines.append("nothing was routed to the canary; fix the findings (or suppress them with a reason) and rerun")
        return "\n".join(lines)


def _red(findings: list[dict], fail_on: str, fail_on_existing: bool) -> list[dict]:
    """What fails the gate in a JSON report, as `Report.blocking` decides for a check: at or above `fail_on`,
    and new (`"new": false` is a finding v1's tree already has) unless `fail_on_existing`."""
    ranks = {"info": 0, "warning": 1, "error": 2}
    floor = ranks[fail_on]
    return [f for f in findings if ranks.get(f.get("severity"), 2) >= floor
            and (fail_on_existing or f.get("new") is not False)]


def head_commit(root: Path) -> str | None:
    from canary_lint.engine import _head_commit

    return _head_commit(root.resolve())


def run(plan: Plan) -> GateResult:
    gate = plan.gate
    if "report" in gate:
        return _from_report(plan, gate)
    return _from_check(plan, gate["check"])


def _from_report(plan: Plan, gate: dict) -> GateResult:
    path = Path(gate["report"])
    if not path.is_absolute():
        path = plan.base_dir / path
    root = Path(gate.get("root", "."))
    if not root.is_absolute():
        root = plan.base_dir / root
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GateError(f"gate report {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise GateError(f"gate report {path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != 1:
        raise GateError(
            f"gate report {path}: schema {data.get('schema') if isinstance(data, dict) else None!r} "
            "is not a canary-lint JSON report of schema 1 (`canary-lint check --format json`)"
        )
    commit = head_commit(root)
    if commit is None:
        raise GateError(
            f"gate: {root} is not a clean git work tree, so the commit being rolled out is unknown; "
            "commit the release or use `gate: {check: ...}`"
        )
    if data.get("commit") != commit:
        raise GateError(
            f"gate report {path} is for commit {data.get('commit') or 'unknown'}, not the release "
            f"being rolled out ({commit}); run `canary-lint check --format json` on this commit"
        )
    findings = _red(list(data.get("findings", [])), gate.get("fail_on", "error"), gate.get("fail_on_existing", False))
    errors = list(data.get("errors", []))
    summary = data.get("summary", {})
    text = f"{summary.get('errors', 0)} errors, {summary.get('warnings', 0)} warnings, {len(errors)} unreadable files"
    return GateResult(not findings and not errors, commit, text, findings)


def _from_check(plan: Plan, check: dict) -> GateResult:
    from canary_lint import config as config_mod
    from canary_lint.engine import run_check
    from canary_lint.model import Severity

    root = plan.base_dir
    paths = [str(p) for p in check.get("paths", ["."])]
    cfg_path = check.get("config")
    if cfg_path and not Path(cfg_path).is_absolute():
        cfg_path = str(root / cfg_path)
    cfg = config_mod.load(cfg_path, str(root / paths[0]))
    if "fail_on" in check:
        cfg = cfg.merged(fail_on=Severity(check["fail_on"]))
    cfg = cfg.merged(fail_on_existing=check.get("fail_on_existing"))
    base = check.get("base", cfg.base)
    report = run_check(paths, cfg, base=base, cwd=root)
    red = [f.to_dict() for f in report.blocking(cfg.fail_on, cfg.fail_on_existing)]
    errors = list(report.errors)
    s = report.summary()
    text = f"{s['errors']} errors, {s['warnings']} warnings, {len(errors)} unreadable files"
    if report.internal_error:
        text += ", internal error"
    return GateResult(not red and not errors and not report.internal_error, report.commit, text, red)
