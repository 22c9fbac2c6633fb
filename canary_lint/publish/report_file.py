"""Read a JSON report written by `canary-lint check --format json:FILE` back into a `Report`."""

from __future__ import annotations

import json
from pathlib import Path

from dataclasses import dataclass

from canary_lint.model import FileError, Finding, Report, Severity

SCHEMA = 1


@dataclass(frozen=True)
class LoadedFinding(Finding):
    """A finding read back from a report: keeps the fingerprint the check computed."""

    stored_fingerprint: str = ""

    @property
    def fingerprint(self) -> str:
        return self.stored_fingerprint or super().fingerprint


class ReportFileError(Exception):
    """The file is missing, not JSON, not a canary-lint report, or of another schema version."""


def _finding(raw: dict, where: str) -> Finding:
    try:
        return LoadedFinding(
            rule=str(raw["rule"]), name=str(raw["name"]), family=str(raw["family"]),
            severity=Severity.parse(str(raw["severity"])), path=str(raw["path"]),
            line=int(raw["line"]), column=int(raw["column"]),
            end_line=int(raw.get("end_line") or raw["line"]), end_column=int(raw.get("end_column") or raw["column"]),
            message=str(raw["message"]), fix=raw.get("fix"), operation=raw.get("operation"),
            pointer=raw.get("pointer"), subject=str(raw.get("fingerprint") or ""), new=raw.get("new") is not False,
            stored_fingerprint=str(raw.get("fingerprint") or ""),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportFileError(f"{where}: malformed finding ({type(exc).__name__}: {exc})") from None


def load(path: str | Path) -> Report:
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ReportFileError(f"report file {where} does not exist (write it with "
                              "`canary-lint check --format json:{where}`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportFileError(f"cannot read report file {where}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportFileError(f"{where} is not JSON ({exc.msg} at line {exc.lineno}); "
                              "expected a canary-lint JSON report") from None
    except ValueError:  # json reads integers with int(): past Python's 4,300-digit limit it raises
        raise ReportFileError(f"{where} holds an integer of more than 4,300 digits; expected a canary-lint JSON "
                              "report") from None
    if not isinstance(data, dict) or not isinstance(data.get("tool"), dict) \
            or data["tool"].get("name") != "canary-lint":
        raise ReportFileError(f"{where} is not a canary-lint JSON report (no \"tool\": {{\"name\": \"canary-lint\"}})")
    if data.get("schema") != SCHEMA:
        raise ReportFileError(f"{where} has report schema {data.get('schema')!r}; this canary-lint reads schema "
                              f"{SCHEMA} (re-run the check with the same canary-lint version)")
    if not isinstance(data.get("findings"), list) or not isinstance(data.get("summary"), dict):
        raise ReportFileError(f"{where}: report lacks \"findings\" or \"summary\"")
    findings = tuple(_finding(f, where) for f in data["findings"] if isinstance(f, dict))
    errors = tuple(FileError(str(e.get("path", "")), str(e.get("message", ""))) for e in data.get("errors") or []
                   if isinstance(e, dict))
    summary = data["summary"]
    return Report(
        findings=findings, errors=errors, files=int(summary.get("files") or 0), base=data.get("base"),
        commit=data.get("commit"), suppressed=int(summary.get("suppressed") or 0),
        tool_version=str(data["tool"].get("version") or ""),
        internal_error=any(f.rule == "CL005" for f in findings),
    )
