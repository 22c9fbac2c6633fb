"""What serves traffic: the app rules judge the service, not its scripts, tests, docs or fixtures."""

from __future__ import annotations

import textwrap

from canary_lint.config import Config
from canary_lint.engine import run_check

from conftest import run_cli

BARE_LOG = "import logging\nlogging.basicConfig(format='%(message)s')\n"  # CLT401: no version on the records


def write(root, files: dict) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))


def reported(root) -> set[str]:
    report = run_check(["."], Config(root=root), cwd=root)
    return {f"{f.path}:{f.rule}" for f in report.findings if f.family in ("telemetry", "state")}


def test_without_entry_points_scripts_docs_examples_and_fixtures_are_not_the_service(tmp_path):
    write(tmp_path, {f"{d}/job.py": BARE_LOG for d in ("scripts", "docs/snippets", "examples", "tests/fixtures",
                                                        "dev/code-generation", "tools")})
    write(tmp_path, {"shop/logs.py": BARE_LOG, "setup.py": BARE_LOG, "manage.py": BARE_LOG})
    assert reported(tmp_path) == {"shop/logs.py:CLT401"}


def test_the_service_is_the_import_closure_of_its_entry_points(tmp_path):
    write(tmp_path, {
        "Dockerfile": 'FROM python:3.12\nCMD ["gunicorn", "-b", "0.0.0.0:8000", "shop.wsgi:app"]\n',
        "shop/__init__.py": "",
        "shop/wsgi.py": "from shop.factory import create_app\napp = create_app()\n",
        "shop/factory.py": """
            from flask import Flask
            def create_app():
                from . import views  # blueprints are imported inside the factory
                app = Flask(__name__)
                app.config["PLUGINS"] = ["shop.plugins.audit"]
                return app
        """,
        "shop/views.py": BARE_LOG,
        "shop/plugins/__init__.py": "",
        "shop/plugins/audit.py": BARE_LOG,
        "shop/cli/__init__.py": "",
        "shop/cli/reencrypt.py": BARE_LOG,  # an admin command: imported by nothing that serves
        "shop/tests/test_views.py": BARE_LOG,
    })
    assert reported(tmp_path) == {"shop/views.py:CLT401", "shop/plugins/audit.py:CLT401"}
    proc = run_cli("check", "--verbose", cwd=tmp_path)
    assert "canary-lint: serving code: " in proc.stderr
    assert "shop/wsgi.py: named by a server command in Dockerfile" in proc.stderr


def test_worker_commands_and_app_objects_are_entry_points(tmp_path):
    write(tmp_path, {
        "Procfile": "web: uvicorn api.main:app --port $PORT\nworker: celery -A jobs worker --loglevel=info\n",
        "api/__init__.py": "", "api/main.py": "from fastapi import FastAPI\nfrom api import logs\napp = FastAPI()\n",
        "api/logs.py": BARE_LOG,
        "jobs/__init__.py": "from jobs import tasks\n", "jobs/tasks.py": BARE_LOG,
        "api/legacy_cli.py": BARE_LOG,
    })
    assert reported(tmp_path) == {"api/logs.py:CLT401", "jobs/tasks.py:CLT401"}


def test_deployment_fixtures_of_tests_and_examples_are_not_the_deployment(tmp_path):
    pod = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: shop}
        spec:
          template:
            metadata: {labels: {app: shop}}
            spec: {containers: [{name: shop, image: "shop:1"}]}
    """
    write(tmp_path, {"tests/fixtures/k8s/shop.yaml": pod, "examples/k8s/shop.yaml": pod, "shop/app.py": "x = 1\n"})
    assert run_check(["."], Config(root=tmp_path), cwd=tmp_path).findings == ()
    write(tmp_path, {"deploy/shop.yaml": pod})
    assert {f.path for f in run_check(["."], Config(root=tmp_path), cwd=tmp_path).findings} == {"deploy/shop.yaml"}


def test_star_imports_of_a_package_and_plugin_entry_points_are_followed(tmp_path):
    write(tmp_path, {
        "Dockerfile": 'CMD ["uvicorn", "shop.main:app"]\n',
        "shop/__init__.py": "", "shop/main.py": "from fastapi import FastAPI\nfrom shop.core import settings\napp = FastAPI()\n",
        "shop/core/__init__.py": "", "shop/core/settings/__init__.py": "from .settings import *\n",
        "shop/core/settings/settings.py": BARE_LOG,
        "plugins/slack.py": BARE_LOG,
        "setup.py": "from setuptools import setup\nsetup(entry_points={'shop.plugins': ['slack = plugins.slack:SlackPlugin'],"
                    " 'console_scripts': ['shop = tools.cli:main']})\n",
        "tools/cli.py": BARE_LOG,
    })
    assert reported(tmp_path) == {"shop/core/settings/settings.py:CLT401", "plugins/slack.py:CLT401"}


def test_bottle_cherrypy_and_pyramid_apps_are_entry_points(tmp_path):
    write(tmp_path, {
        "blog/__init__.py": "", "blog/app.py": "import bottle\nfrom blog import logs\napp = bottle.default_app()\n",
        "blog/logs.py": BARE_LOG,
        "shop/__init__.py": """
            from pyramid.config import Configurator
            from shop import logs
            def main(global_config, **settings):
                with Configurator(settings=settings) as config:
                    config.scan()
                    return config.make_wsgi_app()
        """,
        "shop/logs.py": BARE_LOG,
        "media/__init__.py": "", "media/server.py": "import cherrypy\nfrom media import logs\ncherrypy.quickstart(object())\n",
        "media/logs.py": BARE_LOG,
        "blog/legacy_export.py": BARE_LOG,  # imported by none of the three: not the service once they are found
    })
    assert reported(tmp_path) == {"blog/logs.py:CLT401", "shop/logs.py:CLT401", "media/logs.py:CLT401"}
