"""Discovery defaults: which files are migrations, specs, deployment files."""

from __future__ import annotations

import json

from canary_lint.config import Config
from canary_lint.discovery import discover

from conftest import run_cli


def _kinds(tmp_path, files: dict[str, str], paths=(".",), **config):
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    found = discover(list(paths), Config(root=tmp_path, **config), cwd=tmp_path)
    return {f.path: sorted(f.kinds) for f in found.files}


def test_migration_layouts(tmp_path):
    kinds = _kinds(tmp_path, {
        "db/migration/V2__add_age.sql": "ALTER TABLE t ADD c int;",
        "db/migration/R__views.sql": "CREATE VIEW v AS SELECT 1;",
        "schema/20240101_init.up.sql": "CREATE TABLE t (id int);",
        "schema/20240101_init.down.sql": "DROP TABLE t;",
        "db/20240101_dbmate.sql": "-- migrate:up\nCREATE TABLE t (id int);\n-- migrate:down\n",
        "migrations/0001.sql": "CREATE TABLE t (id int);",
        "queries/report.sql": "SELECT 1;",
        "alembic/versions/abc_rev.py": "revision = 'abc'\ndef upgrade(): pass\n",
    })
    assert kinds["db/migration/V2__add_age.sql"] == ["sql_migration"]
    assert kinds["db/migration/R__views.sql"] == ["sql_migration"]
    assert kinds["schema/20240101_init.up.sql"] == ["sql_migration"]
    assert "schema/20240101_init.down.sql" not in kinds
    assert kinds["db/20240101_dbmate.sql"] == ["sql_migration"]
    assert kinds["migrations/0001.sql"] == ["sql_migration"]
    assert kinds["queries/report.sql"] == ["sql"]
    assert kinds["alembic/versions/abc_rev.py"] == ["alembic", "python"]


def test_alembic_ini_script_location(tmp_path):
    kinds = _kinds(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = db/revs\n",
        "db/revs/versions/0001_x.py": "revision = '1'\n",
        "db/revs/env.py": "x = 1\n",
    })
    assert kinds["db/revs/versions/0001_x.py"] == ["alembic", "python"]
    assert kinds["db/revs/env.py"] == ["python"]


def test_specs_and_deploy_files(tmp_path):
    kinds = _kinds(tmp_path, {
        "api/openapi.yaml": "openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths: {}\n",
        "api/swagger.json": '{"swagger": "2.0", "paths": {}}',
        "api/other.json": '{"name": "x"}',
        "k8s/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\n",
        "Dockerfile": "FROM python:3.12\n",
        "docker-compose.yml": "services: {}\n",
        ".env": "DD_VERSION=1\n",
        "config.yaml": "a: 1\n",
        "app/logging.yaml.sample": "version: 1\n",
        "app/log.json.example": "{}",
        "app/settings.yaml.sample": "a: 1\n",
    })
    assert kinds["api/openapi.yaml"] == ["openapi", "yaml"]
    assert kinds["api/swagger.json"] == ["json", "openapi"]
    assert kinds["api/other.json"] == ["json"]
    assert kinds["k8s/deploy.yaml"] == ["deploy", "yaml"]
    assert kinds["Dockerfile"] == ["deploy"]
    assert kinds["docker-compose.yml"] == ["deploy", "yaml"]
    assert kinds[".env"] == ["deploy"]
    assert kinds["config.yaml"] == ["yaml"]
    assert kinds["app/logging.yaml.sample"] == ["yaml"]  # a logging table's template: read when the code names it
    assert kinds["app/log.json.example"] == ["json"]
    assert "app/settings.yaml.sample" not in kinds


def test_default_excludes_and_explicit_files(tmp_path):
    kinds = _kinds(tmp_path, {
        ".venv/lib/x.py": "x = 1\n", "node_modules/a/b.py": "x = 1\n", "build/c.py": "x = 1\n",
        "app/ok.py": "x = 1\n",
    })
    assert list(kinds) == ["app/ok.py"]
    explicit = _kinds(tmp_path, {"notes/adhoc.sql": "ALTER TABLE t DROP COLUMN c;"}, paths=("notes/adhoc.sql",))
    assert explicit == {"notes/adhoc.sql": ["sql_migration"]}


def test_fifos_in_the_tree_never_block_discovery(tmp_path):
    import os
    import threading

    from canary_lint.config import Config
    from canary_lint.discovery import discover

    (tmp_path / "shop" / "migrations").mkdir(parents=True)
    os.mkfifo(tmp_path / "shop" / "migrations" / "0002_pipe.py")
    os.mkfifo(tmp_path / "deploy.yaml")
    done = []
    worker = threading.Thread(target=lambda: done.append(discover([], Config(), tmp_path)), daemon=True)
    worker.start()
    worker.join(30)  # a hang guard: a blocking open of a FIFO never returns
    assert done, "discovery blocked on a FIFO"
    assert all("django" not in f.kinds for f in done[0].files)


def test_a_symlink_out_of_the_tree_is_never_read(tmp_path):
    """A committed link to the runner's files is CL001 naming the link; its target's text appears nowhere."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secrets.env"
    secret.write_text("TOKEN=hunter2-very-secret\n")
    (outside / "app.py").write_text("import os\nTOKEN = 'hunter2-very-secret'\n")
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "ok.py").write_text("x = 1\n")
    (repo / "app" / "inside.py").symlink_to("ok.py")
    (repo / "app" / "leak.py").symlink_to(outside / "app.py")
    (repo / "deploy.env").symlink_to(secret)
    (repo / "spec.yaml").symlink_to("../outside/secrets.env")
    for args in (["check", "--format", "json"], ["check", "app/leak.py", "--format", "json"], ["check"]):
        proc = run_cli(*args, cwd=repo)
        assert "hunter2" not in proc.stdout + proc.stderr, args
    report = json.loads(run_cli("check", "--format", "json", cwd=repo).stdout)
    errors = {e["path"]: e["message"] for e in report["errors"]}
    assert errors["app/leak.py"] == "symlink points outside the checked tree; not read"
    assert errors["deploy.env"] == errors["app/leak.py"] == errors["spec.yaml"]
    assert "app/inside.py" not in errors  # a link that stays inside is read like any file


def test_plugin_alembic_migrations_without_versions_and_test_data_migrations(tmp_path):
    plugin = tmp_path / "app" / "plugins" / "dynamic" / "migrations"
    plugin.mkdir(parents=True)
    (plugin / "93284ed9c099_prefix.py").write_text(
        'revision = "93284ed9c099"\ndown_revision = None\n\n\ndef upgrade(op=None):\n    op.drop_column("dynamic_challenge", "initial")\n')
    seed = tmp_path / "tests" / "testdata" / "migrations"
    seed.mkdir(parents=True)
    (seed / "seed_v3.9.sql").write_text("DROP TABLE tokens;\n")
    (tmp_path / "tests" / "migrations" / "versions").mkdir(parents=True)
    (tmp_path / "tests" / "migrations" / "versions" / "0001_x.py").write_text(
        'revision = "1"\ndown_revision = None\nfrom alembic import op\ndef upgrade():\n    op.drop_table("t")\n')
    report = json.loads(run_cli("check", "--select", "CLM", "--format", "json", cwd=tmp_path).stdout)
    assert [(f["rule"], f["path"]) for f in report["findings"]] == [
        ("CLM101", "app/plugins/dynamic/migrations/93284ed9c099_prefix.py")]


def test_message_catalogues_are_not_opened_to_sniff(tmp_path):
    from canary_lint.discovery import classify

    opened = []

    def sniff(path):
        opened.append(path.name)
        return b'{"openapi": "3.0.0"}'

    for rel in ("homeassistant/components/hue/translations/en.json", "app/locale/de/messages.yaml"):
        assert classify(tmp_path / rel, rel, False, set(), sniff) <= {"json", "yaml"}
    assert opened == []
    assert "openapi" in classify(tmp_path / "api/openapi.json", "api/openapi.json", False, set(), sniff)
    # named on the command line, a file is judged by what it holds
    rel = "docs/i18n/openapi.json"
    assert "openapi" in classify(tmp_path / rel, rel, True, set(), sniff)


def test_a_spec_written_with_sorted_keys_is_found_though_its_marker_is_past_the_head(tmp_path):
    big = {f"Schema{i}": {"type": "object", "description": "x" * 200} for i in range(600)}  # ~140 KB first
    spec = {"components": {"schemas": big}, "info": {"title": "t", "version": "1"}, "openapi": "3.0.3", "paths": {}}
    (tmp_path / "api.json").write_text(json.dumps(spec, sort_keys=True))
    yaml_text = "# generated\ncomponents:\n  schemas:\n" + "".join(
        f"    S{i}:\n      type: object\n      description: {'y' * 200}\n" for i in range(400)) + \
        "info: {title: t, version: '1'}\nopenapi: 3.1.0\npaths: {}\n"
    (tmp_path / "api.yaml").write_text(yaml_text)
    other = {"components": [{"name": "x" * 300}] * 400, "notes": "openapi: not at the top, and no marker"}
    (tmp_path / "data.json").write_text(json.dumps(other))
    kinds = {f.path: f.kinds for f in discover(["."], Config(root=tmp_path), tmp_path).files}
    assert "openapi" in kinds["api.json"] and "openapi" in kinds["api.yaml"]
    assert "openapi" not in kinds["data.json"]
