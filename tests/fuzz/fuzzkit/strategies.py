"""Hypothesis side: inputs drawn (and shrunk) by Hypothesis, short deterministic settings, one sandbox per
test module, and the assertion that saves a failing input where it can be looked at again."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from fuzzkit.contract import Sandbox, judge, warm_up
from fuzzkit.inputs import describe, make_input

EXAMPLES = int(os.environ.get("CANARY_LINT_FUZZ_EXAMPLES", "60"))

fuzz_settings = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                         suppress_health_check=list(HealthCheck), print_blob=False)


class DrawChooser:
    def __init__(self, draw):
        self.draw = draw

    def int(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))


@st.composite
def inputs(draw, front: str):
    return make_input(front, DrawChooser(draw))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    box = Sandbox(tmp_path_factory.mktemp("fuzz"))
    warm_up()
    yield box
    box.close()


def save(inp, violations: list[str]) -> Path:
    """The input's tree and reasons under $TMPDIR/canary-lint-fuzz/<front>-<sha>/ (head/, base/, reason.txt)."""
    where = Path(tempfile.gettempdir()) / "canary-lint-fuzz" / f"{inp.front}-{hashlib.sha256(inp.data).hexdigest()[:12]}"
    for side, files in (("head", inp.head_files()), ("base", inp.base_files() or {})):
        for rel, data in files.items():
            p = where / side / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
    (where / "reason.txt").write_text(describe(inp) + "\n" + "\n".join(violations) + "\n", encoding="utf-8",
                                      errors="backslashreplace")
    return where


def assert_contract(inp, box: Sandbox, **bounds) -> None:
    violations = judge(inp, box, **bounds)
    if violations:
        where = save(inp, violations)
        raise AssertionError(f"{describe(inp)[:400]}\n  " + "\n  ".join(violations) + f"\n  saved in {where}")
