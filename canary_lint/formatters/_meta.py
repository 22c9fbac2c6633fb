"""What the machine formats share: rule metadata lookups and the one documentation base URL."""

from __future__ import annotations

from dataclasses import dataclass

# The one place that knows where rule pages are published. Every link to a rule goes through `rule_url`.
DOCS_BASE_URL = "https://github.com/canary-lint/canary-lint/blob/main/canary_lint/rules/"
TOOL_URL = "https://github.com/canary-lint/canary-lint"


def rule_url(code: str) -> str:
    return f"{DOCS_BASE_URL}{code}.md"


def body(finding) -> str:
    """The message for a report that shows the operation beside it: without the leading "GET /x: " the API
    analyzer writes for the formats that have no place for it, so a reader does not read it twice."""
    op = finding.operation
    if op and finding.message.startswith(f"{op}: "):
        return finding.message[len(op) + 2:]
    return finding.message


@dataclass(frozen=True)
class RuleInfo:
    """A rule as the reports describe it."""

    code: str
    name: str
    family: str
    severity: str  # default severity of the rule
    summary: str
    page: str


def rule_info(code: str, *, name: str = "", family: str = "meta", severity: str = "error") -> RuleInfo:
    """The rule's page metadata; a code missing from this build's catalogue falls back to what the finding says."""
    from canary_lint.registry import UnknownRule, registry

    try:
        rule = registry().get(code)
    except UnknownRule:
        return RuleInfo(code, name or code, family, severity, name or code, "")
    return RuleInfo(rule.code, rule.name, rule.family, rule.severity.value, rule.summary, rule.page)


def all_rules() -> list[RuleInfo]:
    from canary_lint.registry import registry

    return [RuleInfo(r.code, r.name, r.family, r.severity.value, r.summary, r.page) for r in registry().rules]
