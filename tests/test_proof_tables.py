"""The rule pages' proof tables are generated from tests/proof/results.json and match the pages'
examples (checked without a database: the results are committed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_proof_tables_and_results_are_current():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "proof_tables.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
