"""`canary-lint rollout PLAN.yaml` (run) and `rollout resume|status|abort|promote PLAN.yaml`.

Exit codes: 0 promoted (or command done), 2 usage/config error, 3 refused by the gate, 4 rolled back,
5 rollout error.
"""

from __future__ import annotations

import json
import sys
import time

import click

from canary_lint.rollout import EXIT_ERROR, EXIT_PROMOTED, EXIT_USAGE


class RolloutGroup(click.Group):
    """`rollout PLAN.yaml` means `rollout run PLAN.yaml`."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _fail(message: str, code: int = EXIT_USAGE):
    click.echo(f"canary-lint: error: {message}", err=True)
    sys.exit(code)


def _load(plan_path: str):
    from canary_lint.rollout.plan import PlanError, load

    try:
        return load(plan_path)
    except PlanError as exc:
        _fail(str(exc))


def _journal(plan, by: str):
    """Open the plan's journal and first apply any rollback of the service that was decided and journaled but
    never applied (its runner died in between): every command that opens the journal does, before anything
    else. Returns the journal and the results of the rollbacks applied."""
    from canary_lint.rollout.journal import Journal
    from canary_lint.rollout.plan import PlanError, from_journal
    from canary_lint.rollout.routers import RouterError
    from canary_lint.rollout.runner import Runner

    journal = Journal(plan.journal_path)
    applied = []
    for r in journal.active(plan.service):
        if journal.pending_rollback(r.id) is None:
            continue
        try:
            result = Runner(from_journal(r.plan), journal).apply_pending(r.id, by)
        except (PlanError, RouterError) as exc:
            click.echo(f"canary-lint: error: rollout {r.id}: cannot apply its pending rollback: {exc}", err=True)
            continue
        if result is not None:
            applied.append(result)
    return journal, applied


def _view(plan):
    """The live view of each stage on stderr: a table redrawn in place on a terminal, a line per look else."""
    from canary_lint.rollout.live import LiveView

    return LiveView(plan.service)


def _finish(result) -> None:
    sys.exit(result.exit_code)


@click.group(cls=RolloutGroup, invoke_without_command=False)
def rollout():
    """Gated rollout: refuse a red release, shift traffic in stages, judge canary against baseline.

    `canary-lint rollout PLAN.yaml` runs the plan. Exit codes: 0 promoted, 2 usage or plan error,
    3 refused by the gate, 4 rolled back, 5 rollout error.
    """


@rollout.command("run")
@click.argument("plan_path", metavar="PLAN.yaml", type=click.Path())
@click.option(
    "--dry-run",
    is_flag=True,
    help="Run the gate, judge the traffic as it is routed now and log every decision; never touch the router.",
)
def run_cmd(plan_path, dry_run):
    """Run a rollout plan from the gate to promotion or rollback."""
    from canary_lint.rollout.gate import GateError
    from canary_lint.rollout.journal import Locked
    from canary_lint.rollout.runner import Runner

    plan = _load(plan_path)
    journal, _ = _journal(plan, "run")
    try:
        result = Runner(plan, journal, dry_run=dry_run, view=_view(plan)).run()
    except Locked as exc:
        _fail(str(exc), EXIT_ERROR)
    except GateError as exc:
        _fail(str(exc))
    finally:
        journal.close()
    _finish(result)


def _in_progress(journal, plan):
    """The service's rollout that has not ended yet; exits 2 when there is none."""
    r = journal.latest(plan.service, active_only=True)
    if r is None:
        _fail(f"no rollout of {plan.service} in progress in {plan.journal_path}")
    return r


@rollout.command("resume")
@click.argument("plan_path", metavar="PLAN.yaml", type=click.Path())
def resume_cmd(plan_path):
    """Continue an interrupted rollout: reconcile the router with the journal, then go on or roll back."""
    from canary_lint.rollout.journal import Locked
    from canary_lint.rollout.plan import from_journal
    from canary_lint.rollout.runner import Runner

    plan = _load(plan_path)
    journal, applied = _journal(plan, "resume")
    try:
        if applied and journal.latest(plan.service, active_only=True) is None:
            _finish(applied[-1])  # resuming that rollout was applying its rollback: done
        r = _in_progress(journal, plan)
        result = Runner(from_journal(r.plan), journal, view=_view(plan)).resume(r.id)
    except Locked as exc:
        _fail(str(exc), EXIT_ERROR)
    finally:
        journal.close()
    _finish(result)


@rollout.command("status")
@click.argument("plan_path", metavar="PLAN.yaml", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def status_cmd(plan_path, fmt):
    """Current stage (a waiting pause with its message and the commands to promote or abort), the last
    look's verdicts with their numbers, routing changes."""
    from canary_lint.rollout import status
    from canary_lint.rollout.plan import from_journal

    plan = _load(plan_path)
    journal, _ = _journal(plan, "status")
    try:
        r = journal.latest(plan.service)
        if r is None:
            _fail(f"no rollout of {plan.service} recorded in {plan.journal_path}")
        data = status.collect(journal, r, from_journal(r.plan), plan_path, journal.holder(plan.service))
    finally:
        journal.close()
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    for line in status.text(data):
        click.echo(line)


@rollout.command("report")
@click.argument("plan_path", metavar="PLAN.yaml", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["markdown", "html"]), default="markdown", show_default=True)
@click.option("--output", "output", type=click.Path(dir_okay=False), help="Write the report here (default: stdout).")
@click.option("--rollout", "rollout_id", type=int, help="Which rollout of the journal (default: the latest).")
def report_cmd(plan_path, fmt, output, rollout_id):
    """The rollout as a reviewer reads it: stages, routing changes with their verified latency, each
    criterion's canary and baseline over time as a chart, the decision with its numbers."""
    from canary_lint.rollout.journal import JournalError
    from canary_lint.rollout.report import render

    plan = _load(plan_path)
    journal, _ = _journal(plan, "report")
    try:
        r = journal.get(rollout_id) if rollout_id is not None else journal.latest(plan.service)
        if r is None:
            _fail(f"no rollout of {plan.service} recorded in {plan.journal_path}")
        text = render(journal, r.id, fmt, plan_path)
    except JournalError as exc:
        _fail(str(exc))
    finally:
        journal.close()
    if output:
        try:
            with open(output, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as exc:
            _fail(f"cannot write {output}: {exc.strerror or exc}")
        click.echo(f"{plan.service}: rollout {r.id} report ({fmt}) written to {output}", err=True)
    else:
        click.echo(text, nl=False)


def _command(plan_path: str, command: str) -> None:
    plan = _load(plan_path)
    journal, applied = _journal(plan, command)
    try:
        if applied and command == "abort" and journal.latest(plan.service, active_only=True) is None:
            click.echo(f"{plan.service}: rollout {applied[-1].rollout} {applied[-1].state}", err=True)
            sys.exit(EXIT_PROMOTED if applied[-1].state == "rolled-back" else EXIT_ERROR)
        r = _in_progress(journal, plan)
        holder = journal.holder(plan.service + (".dry-run" if r.dry_run else ""))
        if holder:
            journal.command(r.id, command)
            click.echo(f"{plan.service}: {command} sent to the runner (pid {holder})", err=True)
            if command == "abort":
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and journal.get(r.id).state in ("running", "paused"):
                    time.sleep(0.1)
                click.echo(f"{plan.service}: rollout {r.id} {journal.get(r.id).state}", err=True)
            sys.exit(EXIT_PROMOTED)
        if command == "promote":
            _fail(
                f"no runner holds rollout {r.id} of {plan.service}; start it again with "
                f"`canary-lint rollout resume {plan_path}`",
                EXIT_ERROR,
            )
        from canary_lint.rollout.plan import from_journal
        from canary_lint.rollout.runner import Runner

        result = Runner(from_journal(r.plan), journal).abort(r.id)
        click.echo(f"{plan.service}: rollout {r.id} {result.state}", err=True)
        sys.exit(EXIT_PROMOTED if result.state == "rolled-back" else EXIT_ERROR)
    finally:
        journal.close()


@rollout.command("abort")
@click.argument("plan_path", metavar="PLAN.yaml", type=click.Path())
def abort_cmd(plan_path):
    """Roll back now: the canary's weight goes to 0 and its header route is removed."""
    _command(plan_path, "abort")


@rollout.command("promote")
@click.argument("plan_path", metavar="PLAN.yaml", type=click.Path())
def promote_cmd(plan_path):
    """Pass a manual `pause` step (or the current stage) and continue."""
    _command(plan_path, "promote")


@rollout.command("schema")
def schema_cmd():
    """Print the JSON Schema every rollout plan is validated against."""
    from canary_lint.rollout.plan import SCHEMA_PATH

    click.echo(SCHEMA_PATH.read_text(encoding="utf-8").rstrip())


# --- Kubernetes: the same plan on a cluster (canary_lint/rollout/k8s) ------------------------------------


def _k8s(fn):
    from canary_lint.rollout.k8s import K8sError
    from canary_lint.rollout.k8s.cel import CelUnavailable

    try:
        return fn()
    except (K8sError, CelUnavailable) as exc:
        _fail(str(exc))


@rollout.command("render")
@click.argument("plan_path", metavar="PLAN.yaml", type=click.Path())
@click.option("--to", "target", type=click.Choice(["istio", "gateway-api"]), required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Directory for the manifests.")
@click.option("--namespace", help="Overrides kubernetes.namespace of the plan.")
def render_cmd(plan_path, target, out_dir, namespace):
    """Write the routing manifests of every step (DIR/NN-step/, DIR/rollback/) for GitOps."""
    from pathlib import Path

    from canary_lint.rollout.k8s.commands import render

    plan = _load(plan_path)
    written = _k8s(lambda: render(plan, target, Path(out_dir), {"namespace": namespace}))
    click.echo(f"{plan.service}: {len(written)} {target} manifests in {out_dir} (every one validated against its CRD)",
               err=True)


@rollout.command("export")
@click.argument("plan_path", metavar="PLAN.yaml", type=click.Path())
@click.option("--to", "target", type=click.Choice(["argo-rollouts", "flagger"]), required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Directory for the manifests (default: stdout).")
@click.option("--traffic", type=click.Choice(["istio", "gateway-api", "nginx"]), default="istio", show_default=True,
              help="The traffic router the controller drives.")
@click.option("--namespace", help="Overrides kubernetes.namespace of the plan.")
@click.option("--repo", help="Repository the gate job clones (default: kubernetes.repo, else remote.origin.url).")
@click.option("--revision", help="Commit the gate job checks (default: HEAD of the plan's checkout).")
def export_cmd(plan_path, target, out_dir, traffic, namespace, repo, revision):
    """The plan as Argo Rollouts or Flagger objects; exit 2 naming a criterion that cannot be carried faithfully."""
    from pathlib import Path

    from canary_lint.rollout.k8s.commands import export

    plan = _load(plan_path)
    options = {"traffic": traffic, "repo": repo, "revision": revision}
    text, written = _k8s(lambda: export(plan, target, Path(out_dir) if out_dir else None,
                                        {"namespace": namespace}, options))
    if out_dir:
        click.echo(f"{plan.service}: {len(written)} {target} manifests in {out_dir} (every one validated)", err=True)
    else:
        click.echo(text, nl=False)


@rollout.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path())
def validate_cmd(files):
    """Validate manifests against the shipped CRDs (Argo Rollouts, Istio, Gateway API, Flagger): exit 1 when
    an object is invalid, 2 when a file cannot be read."""
    from canary_lint.rollout.k8s.commands import validate_files

    results, unreadable = _k8s(lambda: validate_files(list(files)))
    for path, r in results:
        click.echo(f"{path}: {r.describe()}")
    for line in unreadable:
        click.echo(f"canary-lint: error: {line}", err=True)
    if unreadable:
        sys.exit(EXIT_USAGE)
    sys.exit(1 if any(not r.ok for _, r in results) else 0)
