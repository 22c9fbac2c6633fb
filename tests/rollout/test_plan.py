"""The plan format: schema validation and the checks the schema cannot express."""

import json
import subprocess
import sys

import pytest
import yaml
from rollout_fakes import RED, plan_dict, write_release

from canary_lint.rollout import plan as P


def _load(tmp_path, **over):
    d = plan_dict(**over)
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump(d))
    return P.load(path)


def test_valid_plan_is_typed(tmp_path):
    p = _load(tmp_path)
    assert p.service == "shop"
    assert [s.weight for s in p.steps] == [20, 50, 100]
    assert p.steps[0].hold_min == 0.1 and p.steps[0].hold_max == 3.0
    assert p.interval == 0.05
    assert p.judged_stages == 2 and p.tests_per_stage == 1
    assert p.alpha_per_test == pytest.approx(0.005)
    assert p.journal_path == tmp_path / ".canary-lint" / "rollout.sqlite"


def test_design_example_plan_validates(tmp_path):
    text = """
service: shop
gate: {check: {paths: ["."], base: origin/main}}
router: {kind: nginx, include_file: /etc/nginx/conf.d/shop-split.conf, conf: /etc/nginx/nginx.conf,
         stable: "127.0.0.1:8001", canary: "127.0.0.1:8002", status_listen: "127.0.0.1:8099"}
metrics: {kind: prometheus, url: "http://127.0.0.1:9090", version_label: version, stable: v1, canary: v2}
criteria:
  - {name: errors, kind: ratio, bad: 'sum(increase(http_requests_total{version="$version",code=~"5.."}[$window]))',
     total: 'sum(increase(http_requests_total{version="$version"}[$window]))', max_increase: 10%}
  - {name: latency, kind: latency, histogram: http_request_duration_seconds, quantiles: [0.95, 0.99], max_increase: 50ms}
  - {name: checkout, kind: ratio, good: 'sum(increase(checkouts_total{version="$version"}[$window]))',
     total: 'sum(increase(http_requests_total{version="$version"}[$window]))', max_decrease: 2%}
steps:
  - {header: {name: X-Canary, value: internal}, hold: 10m}
  - {weight: 5, hold: {min: 30m, max: 1h}}
  - {weight: 20, hold: 15m}
  - {pause: "check the dashboards"}
  - {weight: 50, hold: 15m}
  - {weight: 100}
"""
    path = tmp_path / "p.yaml"
    path.write_text(text)
    p = P.load(path)
    assert p.tests_per_stage == 4 and p.judged_stages == 4
    assert p.steps[1].hold_max == 3600
    assert p.steps[3].kind == "pause" and p.steps[3].reason == "check the dashboards"


@pytest.mark.parametrize(
    "over, message",
    [
        ({"metrics": None}, "metrics"),
        ({"steps": [{"weight": 20}, {"weight": 100}]}, "needs a hold"),
        ({"steps": [{"weight": 50, "hold": "1m"}, {"weight": 20, "hold": "1m"}, {"weight": 100}]}, "must not decrease"),
        ({"steps": [{"weight": 20, "hold": "1m"}]}, "last weight step must be 100"),
        ({"steps": [{"weight": 20, "hold": "ten minutes"}, {"weight": 100}]}, "steps/0"),
        ({"steps": [{"weight": 20, "hold": {"min": "5m", "max": "1m"}}, {"weight": 100}]}, "shorter than min"),
        ({"steps": [{"weight": 20, "hold": "1m"}, {"weight": 100, "hold": "1m"}]}, "drop its hold"),
        (
            {"criteria": [{"name": "e", "kind": "ratio", "bad": "errors", "total": "req", "max_increase": "0%"}]},
            "$version",
        ),
        (
            {"criteria": [{"name": "e", "kind": "ratio", "total": 'r{v="$version"}', "max_increase": "0%"}]},
            "criteria/0",
        ),
        ({"router": {"kind": "nginx", "conf": "x"}}, "router"),
        ({"gate": {"report": "x.json", "check": {}}}, "gate"),
        ({"surprise": 1}, "surprise"),
        # a key that is no name (a huge integer could not even be printed in the schema's message)
        ({"steps": [{"weight": 20, "hold": "1m", 7: 1}, {"weight": 100}]}, "at steps/0: the key 7 is not a name"),
        # thousands of items are refused by count, before the schema validates each of them
        ({"steps": [{"weight": 20, "hold": "1m"}] * 5000 + [{"weight": 100}]}, "at steps: 5,001 items; a plan has at most 100"),
        ({"criteria": [{"name": "e", "kind": "ratio", "bad": 'e{v="$version"}', "total": 'r{v="$version"}',
                        "max_increase": "1%"}] * 51}, "at criteria: 51 items; a plan has at most 50"),
    ],
)
def test_invalid_plans_are_refused_with_a_pointer(tmp_path, over, message):
    d = plan_dict(**over)
    d = {k: v for k, v in d.items() if v is not None}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(d))
    with pytest.raises(P.PlanError) as err:
        P.load(path)
    assert message in str(err.value)


def test_durations():
    assert P.duration("1h30m") == 5400
    assert P.duration("250ms") == 0.25
    assert P.duration(12) == 12.0
    with pytest.raises(P.PlanError):
        P.duration("5 minutes")


def test_schema_ships_with_the_package_and_is_printed():
    out = subprocess.run([sys.executable, "-m", "canary_lint", "rollout", "schema"], capture_output=True, text=True)
    assert out.returncode == 0
    assert json.loads(out.stdout)["title"] == "canary-lint rollout plan"


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "canary_lint", "rollout", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_cli_refuses_a_red_release_with_exit_3_and_routes_nothing(tmp_path):
    marker = tmp_path / "routed"
    router = {"kind": "command", "set_weight": ["sh", "-c", f"echo {{canary}} >> {marker}"]}
    path = write_release(tmp_path, findings=[RED], router=router)
    out = _cli(str(path))  # `rollout PLAN` is `rollout run PLAN`
    assert out.returncode == 3, out.stderr
    assert "refused" in out.stderr and "CLM101" in out.stderr and "users.nickname" in out.stderr
    assert not marker.exists()
    status = _cli("status", str(path), "--format", "json")
    assert json.loads(status.stdout)["state"] == "refused"


def test_cli_bad_plan_exits_2(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("service: shop\n")
    out = _cli(str(path))
    assert out.returncode == 2
    assert "does not match the rollout plan schema" in out.stderr


def test_cli_report_for_another_commit_exits_2(tmp_path):
    path = write_release(tmp_path, commit_override="f" * 40)
    out = _cli("--dry-run", str(path))
    assert out.returncode == 2
    assert "is for commit ffff" in out.stderr


# ---- plans that must be refused with one line, before anything runs --------------------------------------
@pytest.mark.parametrize("url, why", [
    ("http://user:secret@127.0.0.1:9090", "credentials"),
    ("http://token@127.0.0.1:9090", "credentials"),
    ("http://127.0.0.1:notaport", "not a URL"),
    ("http://", "names no host"),
])
def test_metrics_url_without_credentials(tmp_path, url, why):
    d = plan_dict()
    d["metrics"]["url"] = url
    with pytest.raises(P.PlanError, match=why):
        P.from_dict(d, tmp_path / "rollout.yaml")


def test_journal_stays_beside_the_plan_and_is_a_journal(tmp_path):
    d = plan_dict()
    d["journal"] = "../elsewhere.sqlite"
    with pytest.raises(P.PlanError, match="leaves the plan's directory"):
        P.from_dict(d, tmp_path / "rollout.yaml")
    d["journal"] = "/etc/passwd"
    with pytest.raises(P.PlanError, match="leaves the plan's directory"):
        P.from_dict(d, tmp_path / "rollout.yaml")
    (tmp_path / "notes.txt").write_text("not a database\n")
    d["journal"] = "notes.txt"
    with pytest.raises(P.PlanError, match="not a rollout journal"):
        P.from_dict(d, tmp_path / "rollout.yaml")
    (tmp_path / "dir.sqlite").mkdir()
    d["journal"] = "dir.sqlite"
    with pytest.raises(P.PlanError, match="not a regular file"):
        P.from_dict(d, tmp_path / "rollout.yaml")
    d["journal"] = "state/rollout.sqlite"
    assert P.from_dict(d, tmp_path / "rollout.yaml").journal_path == tmp_path / "state" / "rollout.sqlite"


@pytest.mark.parametrize("text, why", [
    ("a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9)), "alias bomb"),
    ("service: " + "[" * 50 + "]" * 50 + "\n", "nests deeper"),
    ("service: shop\nx: " + "".join("\n" + "  " * i + "- " for i in range(1, 60)) + "1\n", "nests deeper"),
    ("service: \x00\n", "NUL"),
])
def test_hostile_plan_files_are_refused_with_a_line(tmp_path, text, why):
    path = tmp_path / "rollout.yaml"
    path.write_text(text)
    with pytest.raises(P.PlanError, match=why):
        P.load(path)


def test_a_plan_that_is_not_a_regular_file(tmp_path):
    import os

    os.mkfifo(tmp_path / "rollout.yaml")
    with pytest.raises(P.PlanError, match="not a regular file"):
        P.load(tmp_path / "rollout.yaml")


def test_a_journal_path_the_file_system_refuses_is_one_line(tmp_path):
    d = plan_dict()
    d["journal"] = "j" * 5000
    with pytest.raises(P.PlanError, match="journal"):
        P.from_dict(d, tmp_path / "rollout.yaml")


def test_a_huge_integer_key_is_refused_by_where_it_is(tmp_path):
    text = ("service: shop\ngate: {report: canary-lint.json}\nrouter: {kind: command, set_weight: ['true']}\n"
            "metrics: {kind: prometheus, url: 'http://127.0.0.1:9', stable: v1, canary: v2}\n"
            "traffic: {0x" + "f" * 5000 + "}\n"  # a key without a value: YAML bounds no such key
            "criteria: [{name: e, kind: ratio, bad: 'e{v=\"$version\"}', total: 'r{v=\"$version\"}', max_increase: 1%}]\n"
            "steps: [{weight: 20, hold: 1m}, {weight: 100}]\n")
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(P.PlanError, match=r"at traffic: the key .* is not a name"):
        P.load(path)
