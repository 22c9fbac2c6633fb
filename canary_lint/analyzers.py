"""The analyzers, imported only when the release holds a file of a kind they read.

An analyzer is a module with
    RULES: tuple[str, ...]                          # names of the rules it may report
    def analyze(ctx: ReleaseContext) -> Iterable[Finding]
It reads files through `ctx` (shared parses), builds findings with `ctx.finding(...)`, wraps per-file
work in `ctx.guard(path, name)`, and never prints or exits. Heavy parsers are imported inside.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnalyzerSpec:
    """An analyzer: its module and the file kinds and rule families that make it run."""

    name: str
    module: str
    kinds: frozenset  # file kinds that make the analyzer run
    needs_base: bool = False  # only runs with --base
    also_on_base: bool = False  # with --base, runs even when head has none of its kinds (a deleted spec)
    not_for: frozenset = frozenset()  # files of these kinds alone never make it run (migrations are no app code)
    families: frozenset = frozenset()  # the rule families it reports: it is skipped when none is selected
    # judges one tree alone, so v1's tree has findings of its own to tell existing ones from new (`existing`);
    # False: it compares v1 with v2 and judges only what the release adds, so all it reports is new
    single_tree: bool = True


ANALYZERS: tuple[AnalyzerSpec, ...] = (
    AnalyzerSpec("migrations", "canary_lint.migrations.analyzer", frozenset({"alembic", "sql_migration", "django"}),
                 families=frozenset({"migration", "release"}), single_tree=False),
    AnalyzerSpec("openapi", "canary_lint.openapi.analyzer", frozenset({"openapi"}), also_on_base=True,
                 families=frozenset({"api"})),
    AnalyzerSpec("state", "canary_lint.state.analyzer", frozenset({"python"}), not_for=frozenset({"alembic", "django"}),
                 families=frozenset({"state"})),
    AnalyzerSpec("telemetry", "canary_lint.telemetry.analyzer", frozenset({"python", "deploy"}),
                 not_for=frozenset({"alembic", "django"}), families=frozenset({"telemetry"})),
)
