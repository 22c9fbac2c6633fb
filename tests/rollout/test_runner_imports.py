"""Everything the judge needs is loaded before the first stage's routing changes: no verdict waits for an import
(a lazy `import scipy.stats` took 4.5-6 s on a loaded machine and delayed the first verdict)."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

PROBE = """
import sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from rollout_fakes import FakeMetrics, FakeRouter, write_release
from canary_lint.rollout import plan as plan_mod
from canary_lint.rollout.journal import Journal
from canary_lint.rollout.runner import Runner

first = []
class Router(FakeRouter):
    def _set(self, target, previous):
        if not first:
            first.append(set(sys.modules))
        return super()._set(target, previous)

for p_canary in (0.05, 0.10):  # promoted through every stage; rolled back at the first
    tmp = Path(tempfile.mkdtemp())
    plan = plan_mod.load(write_release(tmp))
    router = Router()
    result = Runner(plan, Journal(plan.journal_path), routers=[router], metrics=FakeMetrics(router, p_canary=p_canary),
                    log=lambda m: None).run()
    print(result.state, " ".join(sorted(set(sys.modules) - first[0])) or "-")
"""


def test_no_module_is_imported_after_the_first_stage_starts():
    out = subprocess.run([sys.executable, "-c", PROBE, str(HERE)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["promoted -", "rolled-back -"], out.stdout
