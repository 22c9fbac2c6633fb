"""Rule metadata, read from the rule pages in `canary_lint/rules/` (the pages are the catalogue).

A page starts with front matter:

    ---
    code: CLM101
    name: drop-column-still-read-by-v1
    family: migration
    severity: error
    since: 0.1.0
    fix: manual            # none | manual | safe | unsafe
    aliases: [CLM001, old-name]   # optional: renamed codes/names redirect here
    ---

and continues with Markdown sections whose fenced examples carry `expect=CODE` or `expect=clean`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from canary_lint.model import FAMILIES, Severity

CODE_RE = re.compile(r"^CL(0\d{2,3}|[MASTR]\d{3})$")
NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
FIX_KINDS = ("none", "manual", "safe", "unsafe")
SECTIONS = ("What it catches", "Why it breaks a canary", "Bad", "Good", "How to fix", "Suppress")


@dataclass(frozen=True)
class Rule:
    """A rule's metadata and page, read from its page in `canary_lint/rules/`."""

    code: str
    name: str
    family: str
    severity: Severity
    since: str
    fix: str
    summary: str  # first paragraph of "What it catches"
    page: str  # the whole Markdown page (front matter stripped)
    filename: str
    aliases: tuple[str, ...] = field(default=())


class UnknownRule(KeyError):
    pass


def _front_matter(text: str, filename: str) -> tuple[dict, str]:
    if not text.startswith("---\n"):
        raise ValueError(f"{filename}: rule page must start with '---' front matter")
    end = text.find("\n---\n", 4)
    if end < 0:
        raise ValueError(f"{filename}: front matter is not closed with '---'")
    meta: dict = {}
    for raw in text[4:end].splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"{filename}: front matter line {raw!r} is not 'key: value'")
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):
            meta[key.strip()] = tuple(v.strip().strip("'\"") for v in value[1:-1].split(",") if v.strip())
        else:
            meta[key.strip()] = value.strip("'\"")
    return meta, text[end + 5 :]


def _summary(body: str) -> str:
    m = re.search(r"^## What it catches[ \t]*\n", body, re.M)
    if not m:
        return ""
    rest = body[m.end():].lstrip("\n")
    paragraph = rest.split("\n\n", 1)[0].split("\n##", 1)[0]
    return " ".join(paragraph.split())


def parse_page(text: str, filename: str) -> Rule:
    meta, body = _front_matter(text, filename)
    missing = [k for k in ("code", "name", "family", "severity", "since", "fix") if k not in meta]
    if missing:
        raise ValueError(f"{filename}: front matter lacks {', '.join(missing)}")
    if not CODE_RE.match(meta["code"]):
        raise ValueError(f"{filename}: code {meta['code']!r} is not CL + family letter + 3 digits")
    if not NAME_RE.match(meta["name"]):
        raise ValueError(f"{filename}: name {meta['name']!r} is not kebab-case")
    if meta["family"] not in FAMILIES:
        raise ValueError(f"{filename}: family {meta['family']!r} not in {FAMILIES}")
    if meta["fix"] not in FIX_KINDS:
        raise ValueError(f"{filename}: fix {meta['fix']!r} not in {FIX_KINDS}")
    return Rule(
        code=meta["code"],
        name=meta["name"],
        family=meta["family"],
        severity=Severity.parse(meta["severity"]),
        since=meta["since"],
        fix=meta["fix"],
        summary=_summary(body),
        page=body.lstrip("\n"),
        filename=filename,
        aliases=tuple(meta.get("aliases", ())),
    )


class Registry:
    def __init__(self, rules: list[Rule]):
        self.rules = sorted(rules, key=lambda r: r.code)
        self._by_key: dict[str, Rule] = {}
        for rule in self.rules:
            for key in (rule.code, rule.name, *rule.aliases):
                if key in self._by_key and self._by_key[key] is not rule:
                    raise ValueError(f"rule key {key!r} is used by {self._by_key[key].filename} and {rule.filename}")
                self._by_key[key] = rule

    def get(self, key: str) -> Rule:
        """Look a rule up by code, name or alias (redirects for renamed codes)."""
        try:
            return self._by_key[key]
        except KeyError:
            try:
                return self._by_key[key.upper()]
            except KeyError:
                raise UnknownRule(key) from None

    def __contains__(self, key: str) -> bool:
        try:
            self.get(key)
        except UnknownRule:
            return False
        return True

    def matches(self, rule: Rule, selector: str) -> bool:
        """`selector` is a code, a name, an alias, a code prefix (CLM, CLM1) or ALL."""
        if selector == "ALL":
            return True
        if selector in (rule.code, rule.name, *rule.aliases):
            return True
        return bool(re.fullmatch(r"CL[0MASTR]?\d{0,3}", selector)) and rule.code.startswith(selector)

    def selected(self, code: str, config) -> bool:
        """Does `config`'s select/ignore leave rule `code` on? A crash (CL005) is never hidden; an unknown code
        (a baseline entry of an older release) is not filtered here."""
        if code == "CL005" or config is None:
            return True
        try:
            rule = self.get(code)
        except UnknownRule:
            return True
        if not any(self.matches(rule, s) for s in config.select):
            return False
        return not any(self.matches(rule, s) for s in config.ignore)

    def is_selector(self, selector: str) -> bool:
        return selector == "ALL" or selector in self or any(self.matches(r, selector) for r in self.rules)


def page_files() -> list[tuple[str, str]]:
    root = Path(__file__).parent / "rules"  # the installed package's own directory (importlib.resources: 5 ms)
    if not root.is_dir():  # imported from an archive
        from importlib import resources

        root = resources.files("canary_lint") / "rules"
    out = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".md") and entry.name != "README.md":
            out.append((entry.name, entry.read_text(encoding="utf-8")))
    return out


@lru_cache(maxsize=1)
def registry() -> Registry:
    return Registry([parse_page(text, name) for name, text in page_files()])
