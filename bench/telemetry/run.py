"""Telemetry benchmark on real applications: every finding with its reviewed verdict, and wall times.

    python bench/telemetry/run.py [NAME ...] [--repeat N] [--cpu]   # weblate prefect chainlit langflow dagster-webserver
    python bench/telemetry/run.py --libraries      # quiet on libraries? the installed site-packages

The application trees come from their PyPI wheels via bench/pyapps/fetch.py (into bench/.work/pyapps/).
For each tree it prints, measured in this run (best of --repeat):
  parse   read + one plain `ast.parse` of every Python file the check discovers (the floor)
  check   the whole `canary-lint check` in-process, all analyzers, one shared parse per file
  check[tel]  the same check with only the telemetry analyzer registered (engine + discovery + our work)
  tel     the telemetry analyzer alone on a context whose trees are already parsed
and the ratios to parse (goal for the whole check <= 2.5x, shared with the session-state analyzer).
Findings are matched against VERDICTS, the result of reading each one in the source; a finding nobody
has read yet is printed as UNREVIEWED and left out of the precision.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PYAPPS = ROOT / "bench" / ".work" / "pyapps"
APPS = ("weblate", "prefect", "chainlit", "langflow", "dagster-webserver")

# (app, rule, path) -> (verdict, why); written after reading each finding in the application's source
VERDICTS = {
    ("weblate", "CLT401", "weblate/settings_docker.py"): (
        "tp", "Django LOGGING formatters simple/logfile/django.server print no version; the docker image logs "
              "through them"),
    ("weblate", "CLT401", "weblate/settings_example.py"): (
        "tp", "same LOGGING in the settings template users copy"),
    ("prefect", "CLT301", "prefect/events/clients.py"): (
        "tp", "14 prometheus_client metrics, served by the API's /metrics, no build_info/Info anywhere"),
    ("prefect", "CLT101", "prefect/_internal/metrics.py"): (
        "tp", "per-flow-run resource for OTLP system metrics: flow-run/deployment ids, no service.version"),
    ("chainlit", "CLT401", "chainlit/cli/__init__.py"): (
        "tp", "module-level basicConfig of the server CLI; every server log line lacks a version"),
    ("langflow", "CLT201", "langflow/main.py"): (
        "tp", "sentry_sdk.init with dsn/sample rates only; no release, no SENTRY_RELEASE in the wheel"),
    ("langflow", "CLT101", "langflow/services/tracing/langwatch.py"): (
        "tp", "Resource.create(attributes={'service.name': 'langflow'}) for LangWatch spans"),
    ("langflow", "CLT102", "langflow/services/tracing/langsmith.py"): (
        "tp", "Resource(attributes={'service.name': 'langsmith'}): constructor, env never read"),
    ("langflow", "CLT103", "langflow/services/tracing/langfuse.py"): (
        "tp", "isolated TracerProvider() handed to Langfuse: default resource, no service.version "
              "(correct, though only Langfuse sees these spans)"),
}


def fetch(names: list[str]) -> None:
    subprocess.run([sys.executable, str(ROOT / "bench" / "pyapps" / "fetch.py"), *names], check=True,
                   stdout=subprocess.DEVNULL)


CLOCK = time.perf_counter  # --cpu switches to process CPU time (steadier on a shared, loaded machine)


def best(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = CLOCK()
        result = fn()
        times.append(CLOCK() - t0)
    return min(times), result


def measure(name: str, repeat: int) -> tuple[dict, list]:
    from canary_lint.config import Config
    from canary_lint.context import ReleaseContext
    from canary_lint.discovery import discover
    from canary_lint.engine import run_check
    from canary_lint.registry import registry
    from canary_lint.telemetry import analyzer

    root = PYAPPS / name
    config = Config(root=root)
    files = discover(["."], config, root).files
    pyfiles = [f for f in files if "python" in f.kinds]

    def parse_all():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for f in pyfiles:
                try:
                    ast.parse(f.abspath.read_bytes().decode("utf-8-sig"), filename=f.path)
                except (SyntaxError, ValueError, UnicodeDecodeError):
                    pass

    t_parse, _ = best(parse_all, repeat)
    t_check, report = best(lambda: run_check(["."], config, cwd=root), repeat)
    from canary_lint import engine

    every = engine.ANALYZERS
    engine.ANALYZERS = tuple(a for a in every if a.name == "telemetry")
    try:
        t_check_tel, _ = best(lambda: run_check(["."], config, cwd=root), repeat)
    finally:
        engine.ANALYZERS = every

    def telemetry_only():
        ctx = ReleaseContext(config, files, registry(), cwd=root)
        for f in pyfiles:
            ctx.python_ast(f)
        t0 = CLOCK()
        list(analyzer.analyze(ctx))
        return CLOCK() - t0

    t_tel = min(telemetry_only() for _ in range(repeat))
    row = dict(app=name, files=len(pyfiles), parse=t_parse, check=t_check, check_tel=t_check_tel, tel=t_tel)
    findings = [f for f in report.findings if f.family == "telemetry"]
    return row, findings


def libraries() -> int:
    """Libraries configure logs for their embedder, not for a service: list what we report on the
    installed site-packages (each is a CLI or server bundled in a library, or a false positive)."""
    import site

    from canary_lint.config import Config
    from canary_lint.context import ReleaseContext
    from canary_lint.discovery import discover
    from canary_lint.registry import registry
    from canary_lint.telemetry import analyzer

    root = Path(site.getsitepackages()[0])
    config = Config(root=root)
    ctx = ReleaseContext(config, discover(["."], config, root).files, registry(), cwd=root)
    t0 = time.perf_counter()
    found = list(analyzer.analyze(ctx))
    print(f"{root}: {len(ctx.files_of('python'))} .py files, {len(found)} telemetry findings, "
          f"{time.perf_counter() - t0:.2f}s (read + parse of matching files + analysis)")
    for f in found:
        print(f"  {f.rule} {f.path}:{f.line}  {f.message[:100]}")
    return 0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("apps", nargs="*", default=list(APPS))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cpu", action="store_true", help="measure process CPU time instead of wall time")
    ap.add_argument("--libraries", action="store_true", help="run over the installed site-packages instead")
    args = ap.parse_args(argv)
    if args.libraries:
        return libraries()
    global CLOCK
    if args.cpu:
        CLOCK = time.process_time
    print(f"clock: {'process CPU time' if args.cpu else 'wall time'}, best of {args.repeat}")
    fetch(args.apps)
    rows, tp, fp, unreviewed = [], 0, 0, 0
    for name in args.apps:
        row, findings = measure(name, args.repeat)
        rows.append(row)
        print(f"\n== {name}: {len(findings)} telemetry finding(s)")
        for f in findings:
            verdict, why = VERDICTS.get((name, f.rule, f.path), ("UNREVIEWED", ""))
            tp += verdict == "tp"
            fp += verdict == "fp"
            unreviewed += verdict == "UNREVIEWED"
            print(f"  [{verdict}] {f.rule} {f.severity.value:7} {f.path}:{f.line}  {f.message[:110]}")
            if why:
                print(f"         reviewed: {why}")
    print(f"\n{'app':20} {'.py':>6} {'parse s':>8} {'check s':>8} {'check/parse':>11} {'check[tel] s':>12} "
          f"{'/parse':>7} {'tel s':>7} {'tel/parse':>9}")
    rows.append({"app": "all", **{k: sum(r[k] for r in rows) for k in ("files", "parse", "check", "check_tel", "tel")}})
    for r in rows:
        print(f"{r['app']:20} {r['files']:6} {r['parse']:8.3f} {r['check']:8.3f} {r['check'] / r['parse']:10.2f}x"
              f" {r['check_tel']:12.3f} {r['check_tel'] / r['parse']:6.2f}x {r['tel']:7.3f} {r['tel'] / r['parse']:8.2f}x")
    judged = tp + fp
    precision = f"{tp}/{judged} = {tp / judged:.0%}" if judged else "n/a"
    print(f"\nprecision (reviewed findings): {precision}; unreviewed: {unreviewed}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
