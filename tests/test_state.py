"""Session-state analyzer: handler discovery per framework, findings through the real engine, and quiet
look-alikes (one test per look-alike the issue lists)."""

from __future__ import annotations

import ast
import textwrap

import pytest

from canary_lint.config import Config, ConfigError, load_file
from canary_lint.engine import run_check
from canary_lint.state import handlers
from canary_lint.discovery import is_test_path


def state_findings(tmp_path, files: dict, **config):
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    report = run_check(["."], Config(root=tmp_path, **config), cwd=tmp_path)
    crashes = [f.message for f in report.findings if f.rule in ("CL001", "CL005")]
    assert crashes == []
    return [f for f in report.findings if f.family == "state"]


def rules(findings) -> list[tuple[str, int]]:
    return [(f.rule, f.line) for f in findings]


def handler_names(src: str, extra=frozenset()) -> set[str]:
    src = textwrap.dedent(src)
    index = handlers.module_index(ast.parse(src), src, extra)
    return {f.qual for f in index.handlers}


# ---- handler discovery -------------------------------------------------------------------------------------
@pytest.mark.parametrize("src, expected", [
    ("""
     from flask import Flask
     app = Flask(__name__)
     @app.route("/a", methods=["POST"])
     def a(): pass
     @app.before_request
     def load_user(): pass
     def helper(): pass
     """, {"a", "load_user"}),
    ("""
     from fastapi import APIRouter
     router = APIRouter()
     @router.get("/x")
     async def x(): pass
     @router.websocket("/ws")
     async def ws(websocket): pass
     """, {"x", "ws"}),
    ("""
     from starlette.applications import Starlette
     from starlette.routing import Route, WebSocketRoute
     async def home(request): pass
     async def feed(websocket): pass
     async def admin(request): pass
     app = Starlette(routes=[Route("/", home), WebSocketRoute("/feed", feed)])
     app.add_route("/admin", admin)
     """, {"home", "feed", "admin"}),
    ("""
     from aiohttp import web
     routes = web.RouteTableDef()
     @routes.post("/a")
     async def a(request): pass
     async def b(request): pass
     async def c(request): pass
     app = web.Application()
     app.router.add_get("/b", b)
     app.add_routes([web.post("/c", c)])
     """, {"a", "b", "c"}),
    ("""
     from sanic import Sanic
     from sanic.views import HTTPMethodView
     app = Sanic("shop")
     @app.get("/a")
     async def a(request): pass
     class Cart(HTTPMethodView):
         async def post(self, request): pass
         def _helper(self): pass
     """, {"a", "Cart.post"}),
    ("""
     from flask import Flask
     from flask.views import MethodView
     app = Flask(__name__)
     def legacy(): pass
     class Items(MethodView):
         def get(self): pass
     app.add_url_rule("/legacy", "legacy", legacy)
     app.add_url_rule("/items", view_func=Items.as_view("items"))
     """, {"legacy", "Items.get"}),
    ("""
     from flask_appbuilder import BaseView, expose
     class Reports(BaseView):
         @expose("/run/")
         def run(self): pass
         def util(self): pass
     """, {"Reports.run"}),
    ("""
     import socketio
     sio = socketio.AsyncServer()
     @sio.event
     async def connect(sid, environ): pass
     @sio.on("chat")
     async def chat(sid, data): pass
     async def typing(sid, data): pass
     sio.on("typing", typing)
     @sio.on("connect")
     async def hello(sid): pass
     """, {"connect", "chat", "typing", "hello"}),
    ("""
     from celery import shared_task
     from app.celery import celery_app
     @shared_task
     def sync(): pass
     @celery_app.task(bind=True)
     def push(self): pass
     """, {"sync", "push"}),
    ("""
     from django.urls import path
     from django.views import View
     from rest_framework.decorators import api_view
     def profile(request): pass
     class Orders(View):
         def post(self, request): pass
     @api_view(["GET"])
     def status(request): pass
     urlpatterns = [path("me/", profile), path("orders/", Orders.as_view())]
     """, {"profile", "Orders.post", "status"}),
    ("""
     from flask import Flask
     def create_app():
         app = Flask(__name__)
         @app.get("/inside")
         def inside(): pass
         return app
     """, {"create_app.inside"}),
])
def test_handlers_found_the_way_frameworks_register_them(src, expected):
    assert handler_names(src) == expected


def test_startup_hooks_and_plain_functions_are_not_handlers():
    src = """
    from fastapi import FastAPI
    app = FastAPI()
    @app.on_event("startup")
    async def warm(): pass
    @app.middleware("startup")
    async def odd(): pass
    @get
    def bare(): pass
    def helper(): pass
    """
    assert handler_names(src) == set()


def test_django_urlconf_targets_resolve_across_modules():
    src = """
    from django.urls import path, re_path
    from . import views
    from shop.api import views as api_views
    from .other import Thing
    urlpatterns = [path("a/", views.login), re_path("b/", api_views.Me.as_view()), path("c/", Thing.as_view())]
    """
    targets = handlers.django_targets(ast.parse(textwrap.dedent(src)), "shop/urls.py")
    assert targets == [("shop.views", "login"), ("shop.api.views", "Me"), ("shop.other", "Thing")]


def test_calls_are_followed_into_the_module():
    src = textwrap.dedent("""
    from flask import Flask
    app = Flask(__name__)
    def a(): b()
    def b(): c()
    def c(): pass
    def unrelated(): pass
    @app.get("/")
    def index(): a()
    """)
    index = handlers.module_index(ast.parse(src), src)
    reached = {f.qual for f in index.reached_by}
    assert reached == {"index", "a", "b", "c"}


@pytest.mark.parametrize("path, expected", [
    ("tests/test_cart.py", True), ("app/tests/helpers.py", True), ("conftest.py", True),
    ("app/cart_test.py", True), ("app/main.py", False), ("app/testimonials.py", False),
])
def test_test_code_is_recognised(path, expected):
    assert is_test_path(path) is expected


# ---- CLS101 through the engine -----------------------------------------------------------------------------
def test_flask_cart_reports_writer_reader_and_key(tmp_path):
    found = state_findings(tmp_path, {"app/main.py": """
        from flask import Flask, jsonify, request
        app = Flask(__name__)
        CARTS = {}
        @app.post("/cart")
        def add():
            user = request.headers["X-User"]
            CARTS.setdefault(user, []).append(request.json["sku"])
            return "ok"
        @app.get("/cart")
        def show():
            return jsonify(CARTS.get(request.headers["X-User"], []))
        """})
    assert rules(found) == [("CLS101", 3)]
    msg = found[0].message
    assert "`CARTS`" in msg and "add (route, line 5)" in msg and "show (route, line 10)" in msg
    assert "keyed on `user`" in msg
    assert found[0].severity.value == "error" and found[0].fix


def test_socketio_events_sharing_a_module_set(tmp_path):
    found = state_findings(tmp_path, {"app/rt.py": """
        import socketio
        sio = socketio.AsyncServer(client_manager=socketio.AsyncRedisManager("redis://r"))
        ONLINE = set()
        @sio.event
        async def connect(sid, environ):
            ONLINE.add(environ["HTTP_X_USER"])
        @sio.on("who")
        async def who(sid):
            await sio.emit("online", sorted(ONLINE), to=sid)
        """})
    assert rules(found) == [("CLS101", 3)]


def test_container_bound_in_module_level_if_and_written_through_a_method(tmp_path):
    found = state_findings(tmp_path, {"app/views.py": """
        import sys
        from collections import OrderedDict, defaultdict
        from flask_appbuilder import BaseView, expose
        if sys.version_info >= (3, 7):
            DRAFTS = defaultdict(list)
        else:
            DRAFTS = OrderedDict()
        class Drafts(BaseView):
            @expose("/save/<user>")
            def save(self, user):
                self._store(user)
            def _store(self, user):
                DRAFTS[user].append(1)
            @expose("/list/<user>")
            def show(self, user):
                return str(DRAFTS[user])
        """})
    assert rules(found) == [("CLS101", 5)]


def test_django_views_routed_from_another_module(tmp_path):
    found = state_findings(tmp_path, {
        "shop/urls.py": """
            from django.urls import path
            from shop import views
            urlpatterns = [path("a/", views.remember), path("b/", views.recall)]
            """,
        "shop/views.py": """
            from django.http import HttpResponse
            SEEN = {}
            def remember(request):
                SEEN[request.user.pk] = request.GET["q"]
                return HttpResponse("ok")
            def recall(request):
                return HttpResponse(SEEN.get(request.user.pk, ""))
            """,
    })
    assert rules(found) == [("CLS101", 2)]


def test_suppression_on_the_container_line(tmp_path):
    found = state_findings(tmp_path, {"app/main.py": """
        from flask import Flask
        app = Flask(__name__)
        SEEN = {}  # canary-lint: ignore[CLS101] one process, sticky canary by user
        @app.post("/a")
        def a():
            SEEN["k"] = 1
        @app.get("/b")
        def b():
            return str(SEEN["k"])
        """})
    assert found == []


# ---- quiet look-alikes (the list) -------------------------------------------------------------------
def test_quiet_constant_module_dict_never_written(tmp_path):
    assert state_findings(tmp_path, {"app/main.py": """
        from flask import Flask
        app = Flask(__name__)
        PRICES = {"apple": 3}
        @app.get("/p/<k>")
        def price(k):
            return str(PRICES[k])
        @app.get("/all")
        def everything():
            return str(dict(PRICES))
        """}) == []


def test_quiet_registries_filled_at_import_or_start_up(tmp_path):
    assert state_findings(tmp_path, {"app/main.py": """
        from fastapi import FastAPI
        app = FastAPI()
        PLUGINS = {}
        MODELS = {}
        def plugin(name):
            def register(func):
                PLUGINS[name] = func
                return func
            return register
        @plugin("csv")
        def csv(rows): return rows
        @app.on_event("startup")
        async def load_models():
            MODELS["default"] = object()
        @app.get("/run/{name}")
        async def run(name: str):
            return PLUGINS[name](MODELS["default"])
        """}) == []


def test_quiet_lru_cache_on_pure_function_of_non_user_data(tmp_path):
    assert state_findings(tmp_path, {"app/util.py": """
        from functools import lru_cache, cache
        @lru_cache(maxsize=256)
        def slugify(title):
            return title.lower()
        @cache
        def tokenize(token):
            return token.split()
        """}) == []


def test_quiet_caches_on_redis_memcached_or_database(tmp_path):
    assert state_findings(tmp_path, {
        "shop/settings.py": """
            INSTALLED_APPS = ["django.contrib.sessions"]
            ROOT_URLCONF = "shop.urls"
            SESSION_ENGINE = "django.contrib.sessions.backends.cache"
            CACHES = {"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache"}}
            """,
        "app/main.py": """
            from flask import Flask
            from flask_limiter import Limiter
            from flask_session import Session
            from aiocache import Cache, cached
            app = Flask(__name__)
            app.config["SESSION_TYPE"] = "sqlalchemy"
            limiter = Limiter(lambda: "x", app=app, storage_uri="redis://cache:6379")
            @cached(cache=Cache.REDIS, ttl=60)
            async def profile(user_id):
                return user_id
            """,
    }) == []


def test_quiet_signed_cookie_sessions_with_key_from_environment(tmp_path):
    assert state_findings(tmp_path, {
        "app/main.py": """
            import os
            from flask import Flask
            app = Flask(__name__)
            app.secret_key = os.environ["SHOP_SECRET_KEY"]
            """,
        "app/asgi.py": """
            import os
            from starlette.applications import Starlette
            from starlette.middleware.sessions import SessionMiddleware
            app = Starlette()
            app.add_middleware(SessionMiddleware, secret_key=os.environ["SESSION_SECRET"])
            """,
        "shop/settings.py": """
            import os
            INSTALLED_APPS = ["django.contrib.sessions"]
            ROOT_URLCONF = "shop.urls"
            SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
            SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
            """,
    }) == []


def test_quiet_per_worker_bookkeeping_swept_locally(tmp_path):
    assert state_findings(tmp_path, {"app/main.py": """
        import time
        from flask import Flask
        app = Flask(__name__)
        INFLIGHT = {}
        @app.post("/work/<job>")
        def work(job):
            INFLIGHT[job] = time.monotonic()
            try:
                return "done"
            finally:
                INFLIGHT.pop(job, None)
        @app.get("/metrics")
        def metrics():
            return str(len(INFLIGHT))
        def sweep():
            for job, started in list(INFLIGHT.items()):
                if time.monotonic() - started > 60:
                    del INFLIGHT[job]
        """}) == []


def test_quiet_per_connection_read_modify_write(tmp_path):
    assert state_findings(tmp_path, {"app/ws.py": """
        from fastapi import APIRouter
        router = APIRouter()
        LAST = {}
        def record(conn, sender):
            if LAST.get(conn) == sender:
                return False
            LAST[conn] = sender
            return True
        @router.websocket("/a")
        async def a(websocket):
            record(id(websocket), "a")
        @router.websocket("/b")
        async def b(websocket):
            record(id(websocket), "b")
        """}) == []


def test_quiet_get_or_compute_cache(tmp_path):
    assert state_findings(tmp_path, {"app/main.py": """
        from flask import Flask
        app = Flask(__name__)
        _VIEWS = {}
        def view(name):
            if name in _VIEWS:
                return _VIEWS[name]
            _VIEWS[name] = name.upper()
            return _VIEWS[name]
        @app.get("/a/<n>")
        def a(n):
            return view(n)
        @app.get("/b/<n>")
        def b(n):
            return _VIEWS.get(n) or view(n)
        """}) == []


def test_quiet_local_name_shadowing_the_container(tmp_path):
    assert state_findings(tmp_path, {"app/main.py": """
        from flask import Flask
        app = Flask(__name__)
        ITEMS = []
        @app.post("/a")
        def a():
            ITEMS = []
            ITEMS.append(1)
            return str(ITEMS)
        @app.get("/b")
        def b(ITEMS=()):
            return str(ITEMS)
        """}) == []


def test_quiet_in_test_code(tmp_path):
    src = """
        import secrets
        from flask import Flask
        app = Flask(__name__)
        app.secret_key = secrets.token_hex(16)
        SEEN = {}
        @app.post("/a")
        def a():
            SEEN["k"] = 1
        @app.get("/b")
        def b():
            return str(SEEN["k"])
        """
    assert state_findings(tmp_path, {"tests/test_app.py": src, "conftest.py": src, "app/test_views.py": src}) == []


# ---- CLS102 -----------------------------------------------------------------------------------------------
def test_generated_key_names_the_switch(tmp_path):
    found = state_findings(tmp_path, {"app/main.py": """
        import os, secrets
        from flask import Flask
        app = Flask(__name__)
        app.config["SECRET_KEY"] = os.getenv("FLASK_SECRET", secrets.token_urlsafe(32))
        """})
    assert rules(found) == [("CLS102", 4)]
    assert "FLASK_SECRET" in found[0].message and "safe when FLASK_SECRET is set" in found[0].message


def test_key_from_env_checked_later_in_the_scope(tmp_path):
    found = state_findings(tmp_path, {"app/settings.py": """
        import os, secrets
        JWT_SECRET = os.environ.get("JWT_SECRET")
        if not JWT_SECRET:
            JWT_SECRET = secrets.token_hex(32)
        """})
    assert rules(found) == [("CLS102", 4)]
    assert "when JWT_SECRET is unset" in found[0].message


def test_pydantic_settings_field_names_its_env_variable(tmp_path):
    found = state_findings(tmp_path, {"app/config.py": """
        import secrets
        from pydantic import Field
        from pydantic_settings import BaseSettings, SettingsConfigDict
        class AuthSettings(BaseSettings):
            model_config = SettingsConfigDict(env_prefix="SHOP_")
            secret_key: str = Field(default_factory=lambda: secrets.token_urlsafe(32))
        """})
    assert rules(found) == [("CLS102", 6)]
    assert "SHOP_SECRET_KEY" in found[0].message


def test_session_middleware_with_generated_key(tmp_path):
    found = state_findings(tmp_path, {"app/asgi.py": """
        import secrets
        from starlette.applications import Starlette
        from starlette.middleware.sessions import SessionMiddleware
        app = Starlette()
        app.add_middleware(SessionMiddleware, secret_key=secrets.token_hex(16))
        """})
    assert rules(found) == [("CLS102", 5)]


def test_key_saved_to_a_local_file_says_so(tmp_path):
    found = state_findings(tmp_path, {"app/keys.py": """
        import os, secrets
        from pathlib import Path
        def ensure_secret_key(path: Path) -> str:
            if path.exists():
                return path.read_text()
            key = secrets.token_urlsafe(32)
            path.write_text(key)
            return key
        """})
    assert rules(found) == [("CLS102", 6)]
    assert "saved to a local file" in found[0].message


def test_env_set_setting_and_deploy_files_provide_the_key(tmp_path):
    files = {"app/main.py": """
        import os, secrets
        from flask import Flask
        app = Flask(__name__)
        app.secret_key = os.environ.get("SHOP_SECRET_KEY") or secrets.token_hex(32)
        """}
    assert rules(state_findings(tmp_path, files)) == [("CLS102", 4)]
    assert state_findings(tmp_path, files, state={"env-set": ["SHOP_SECRET_KEY"]}) == []
    files[".env"] = "SHOP_SECRET_KEY=from-the-vault\n"
    assert state_findings(tmp_path, files) == []


def test_state_settings_are_validated(tmp_path):
    cfg = tmp_path / "canary-lint.toml"
    cfg.write_text('[state]\nenv-set = ["SHOP_SECRET_KEY"]\n')
    assert load_file(cfg).state == {"env-set": ["SHOP_SECRET_KEY"]}
    cfg.write_text('[state]\nenv-sets = ["X"]\n')
    with pytest.raises(ConfigError, match="unknown key `env-sets`"):
        load_file(cfg)
    cfg.write_text('[state]\nenv-set = "X"\n')
    with pytest.raises(ConfigError, match="list of environment variable names"):
        load_file(cfg)


# ---- CLS103 / CLS104 / CLS105 ------------------------------------------------------------------------------
def test_django_cache_sessions_without_caches_is_locmem(tmp_path):
    found = state_findings(tmp_path, {"shop/settings.py": """
        INSTALLED_APPS = []
        MIDDLEWARE = []
        SESSION_ENGINE = "django.contrib.sessions.backends.cache"
        """})
    assert rules(found) == [("CLS103", 3)]
    assert "LocMemCache" in found[0].message


def test_django_cache_chosen_by_env_branch_names_the_switch(tmp_path):
    found = state_findings(tmp_path, {"shop/settings.py": """
        import os
        INSTALLED_APPS = []
        ROOT_URLCONF = "shop.urls"
        SESSION_ENGINE = "django.contrib.sessions.backends.cache"
        if os.environ.get("REDIS_URL"):
            CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache"}}
        else:
            CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache"}}
        """})
    assert rules(found) == [("CLS103", 8)]
    assert "safe when REDIS_URL" in found[0].message and "FileBasedCache" in found[0].message


def test_django_file_sessions_and_unknown_caches(tmp_path):
    found = state_findings(tmp_path, {"shop/settings.py": """
        INSTALLED_APPS = []
        ROOT_URLCONF = "shop.urls"
        SESSION_ENGINE = "django.contrib.sessions.backends.file"
        """})
    assert rules(found) == [("CLS103", 3)]
    assert state_findings(tmp_path, {"shop/settings.py": """
        from shop.caches import build
        INSTALLED_APPS = []
        ROOT_URLCONF = "shop.urls"
        SESSION_ENGINE = "django.contrib.sessions.backends.cache"
        CACHES = build()
        """}) == []


def test_flask_session_cachelib_simplecache_from_config_class(tmp_path):
    found = state_findings(tmp_path, {"app/config.py": """
        from cachelib import SimpleCache
        class Config:
            SESSION_TYPE = "cachelib"
            SESSION_CACHELIB = SimpleCache()
        """})
    assert rules(found) == [("CLS103", 3)]
    assert "SimpleCache" in found[0].message


def test_flask_session_type_from_env_default(tmp_path):
    found = state_findings(tmp_path, {"app/main.py": """
        import os
        from flask import Flask
        app = Flask(__name__)
        app.config.update(SESSION_TYPE=os.getenv("SESSION_BACKEND", "filesystem"))
        """})
    assert rules(found) == [("CLS103", 4)]
    assert "safe when SESSION_BACKEND" in found[0].message


def test_rate_limits_in_memory_are_warnings(tmp_path):
    found = state_findings(tmp_path, {
        "app/config.py": 'RATELIMIT_STORAGE_URI = "memory://"\n',
        "app/lim.py": """
            from limits.storage import MemoryStorage
            storage = MemoryStorage()
            """,
    })
    assert sorted(rules(found)) == [("CLS104", 1), ("CLS104", 2)]
    assert {f.severity.value for f in found} == {"warning"}


def test_limiter_without_storage_is_quiet_when_the_project_configures_it(tmp_path):
    assert state_findings(tmp_path, {
        "app/ext.py": """
            from flask_limiter import Limiter
            from flask_limiter.util import get_remote_address
            limiter = Limiter(get_remote_address)
            """,
        "app/config.py": 'RATELIMIT_STORAGE_URI = "redis://cache:6379/1"\n',
    }) == []


def test_flask_socketio_rooms_without_queue(tmp_path):
    files = {"app/chat.py": """
        from flask import Flask
        from flask_socketio import SocketIO, join_room, emit
        app = Flask(__name__)
        socketio = SocketIO(app)
        @socketio.on("join")
        def on_join(data):
            join_room(data["room"])
            emit("joined", data, to=data["room"])
        """}
    found = state_findings(tmp_path, files)
    assert rules(found) == [("CLS105", 4)]
    files["app/wsgi.py"] = """
        from app.chat import app, socketio
        socketio.init_app(app, message_queue="redis://cache:6379/3")
        """
    assert state_findings(tmp_path, files) == []


def test_socketio_queue_chosen_by_env(tmp_path):
    found = state_findings(tmp_path, {"app/rt.py": """
        import os
        import socketio
        mgr = socketio.AsyncRedisManager(os.environ["REDIS"]) if os.environ.get("WEBSOCKET_MANAGER") == "redis" else None
        sio = socketio.AsyncServer(client_manager=mgr if os.environ.get("WEBSOCKET_MANAGER") == "redis" else None)
        @sio.event
        async def join(sid, room):
            await sio.enter_room(sid, room)
        """})
    assert rules(found) == [("CLS105", 4)]
    assert "safe when WEBSOCKET_MANAGER is set" in found[0].message


# ---- CLS106 / CLS107 ------------------------------------------------------------------------------------------
def test_identity_caches_are_info_and_say_how_long(tmp_path):
    found = state_findings(tmp_path, {"app/auth.py": """
        import cachetools.func
        from functools import lru_cache
        @cachetools.func.ttl_cache(ttl=300)
        def roles(user):
            return []
        class Tokens:
            @lru_cache(maxsize=64)
            def verify_token(self, token):
                return {}
        """})
    assert sorted(rules(found)) == [("CLS106", 3), ("CLS106", 7)]
    assert {f.severity.value for f in found} == {"info"}
    by_line = {f.line: f.message for f in found}
    assert "for 300 s" in by_line[3] and "`user`" in by_line[3]
    assert "maxsize=64" in by_line[7] and "`token`" in by_line[7]


def test_upload_read_back_by_another_handler(tmp_path):
    found = state_findings(tmp_path, {"app/files.py": """
        from pathlib import Path
        from fastapi import APIRouter, UploadFile
        from fastapi.responses import FileResponse
        router = APIRouter()
        UPLOAD_DIR = Path("/var/lib/shop/uploads")
        @router.post("/upload")
        async def upload(file: UploadFile):
            (UPLOAD_DIR / file.filename).write_bytes(await file.read())
        @router.get("/files/{name}")
        async def download(name: str):
            return FileResponse(UPLOAD_DIR / name)
        """})
    assert rules(found) == [("CLS107", 8)]
    assert "UPLOAD_DIR" in found[0].message and "download" in found[0].message


def test_upload_folder_of_a_config_class_read_back_by_another_handler(tmp_path):
    found = state_findings(tmp_path, {
        "app/settings.py": """
            import os
            basedir = os.path.abspath(os.path.dirname(__file__))
            class ProductionConfig:
                UPLOAD_FOLDER = os.path.join(basedir, "uploads")
            """,
        "app/views.py": """
            import os
            from flask import Blueprint, current_app, request, send_from_directory
            bp = Blueprint("files", __name__)
            @bp.post("/upload")
            def upload():
                f = request.files["file"]
                f.save(os.path.join(current_app.config["UPLOAD_FOLDER"], f.filename))
                return "ok"
            @bp.get("/files/<name>")
            def download(name):
                return send_from_directory(current_app.config.get("UPLOAD_FOLDER"), name)
            """})
    assert rules(found) == [("CLS107", 7)]
    assert "config[UPLOAD_FOLDER]" in found[0].message


def test_temporary_file_handed_to_a_queue_and_a_result_that_is_not(tmp_path):
    found = state_findings(tmp_path, {"app/jobs.py": """
        import tempfile
        from flask import Flask, request
        from redis import Redis
        from rq import Queue
        app = Flask(__name__)
        queue = Queue(connection=Redis())
        @app.post("/render")
        def render():
            fd, path = tempfile.mkstemp(suffix=".svg")
            out = tempfile.NamedTemporaryFile(delete=False, suffix=".svg")
            out.write(request.data)
            queue.enqueue("app.work.render_svg", out.name)
            return "queued", 202
        @app.post("/count")
        def count():
            with tempfile.NamedTemporaryFile() as tmp:
                tmp.write(request.data)
                lines = len(open(tmp.name).readlines())
            queue.enqueue("app.work.record", lines)
            return "ok"
        """})
    assert rules(found) == [("CLS107", 11)]
    assert "hands its path to `queue`" in found[0].message and "temporary directory" in found[0].message


def test_quiet_random_ids_inside_token_signing_code(tmp_path):
    assert state_findings(tmp_path, {"app/jwt.py": """
        import os, uuid
        import jwt
        def sign_jwt(claims):
            jti = str(uuid.uuid4())
            return jwt.encode({**claims, "jti": jti}, os.environ["JWT_SECRET"])
        """}) == []


# ---- CLS101 across modules ------------------------------------------------------------------------------------
def test_session_registry_written_by_socket_event_and_read_by_http_route(tmp_path):
    found = state_findings(tmp_path, {
        "app/session.py": """
            SESSIONS = {}
            class Session:
                def __init__(self, session_id, user):
                    self.id = session_id
                    self.user = user
                    SESSIONS[session_id] = self
                @classmethod
                def get_by_id(cls, session_id):
                    return SESSIONS.get(session_id)
                def delete(self):
                    SESSIONS.pop(self.id, None)
            """,
        "app/socket.py": """
            import socketio
            from app.session import Session
            sio = socketio.AsyncServer(client_manager=socketio.AsyncRedisManager("redis://r"))
            @sio.on("connect")
            async def connect(sid, environ, auth):
                Session(auth["sessionId"], environ.get("HTTP_X_USER"))
            """,
        "app/server.py": """
            from fastapi import APIRouter
            from app.session import Session
            router = APIRouter()
            @router.post("/project/action")
            async def call_action(session_id: str):
                session = Session.get_by_id(session_id)
                return {"user": session.user}
            """,
    })
    assert rules(found) == [("CLS101", 1)]
    assert found[0].path == "app/session.py"
    msg = found[0].message
    assert "connect (socket.io event" in msg and "app/socket.py" in msg and "call_action (route" in msg and "app/server.py" in msg


def test_imported_container_written_and_read_in_other_modules(tmp_path):
    found = state_findings(tmp_path, {
        "app/state.py": "USER_PREFS = {}\n",
        "app/a.py": """
            from flask import Blueprint, request
            from app.state import USER_PREFS
            bp = Blueprint("a", __name__)
            @bp.post("/prefs")
            def save():
                USER_PREFS[request.headers["X-User"]] = request.json
                return "ok"
            """,
        "app/b.py": """
            from flask import Blueprint, request
            from app import state
            bp = Blueprint("b", __name__)
            @bp.get("/prefs")
            def show():
                return state.USER_PREFS.get(request.headers["X-User"], {})
            """,
    })
    assert rules(found) == [("CLS101", 1)]
    assert found[0].path == "app/state.py" and "save (route" in found[0].message and "show (route" in found[0].message


def test_quiet_across_modules_for_worker_bookkeeping(tmp_path):
    assert state_findings(tmp_path, {
        "app/tasks.py": """
            import asyncio
            _running = set()
            _handles = {}
            def start(coro, name):
                task = asyncio.create_task(coro)
                _running.add(task)
                task.add_done_callback(_running.discard)
                _handles[name] = task
                return task
            def status():
                return [t.get_name() for t in _running]
            def handle(name):
                return _handles.get(name)
            """,
        "app/api.py": """
            from fastapi import APIRouter
            from app.tasks import start, status, handle
            router = APIRouter()
            @router.post("/jobs/{name}")
            async def run(name: str):
                start(asyncio.sleep(1), name)
            @router.get("/jobs")
            async def jobs():
                return status()
            @router.delete("/jobs/{name}")
            async def cancel(name: str):
                task = handle(name)
                return task.cancel() if task else False
            """,
    }) == []


def test_quiet_cleanup_guarded_by_membership_test(tmp_path):
    assert state_findings(tmp_path, {
        "app/user_session.py": "user_sessions = {}\n",
        "app/socket.py": """
            import socketio
            from app.user_session import user_sessions
            sio = socketio.AsyncServer()
            @sio.on("connect")
            async def connect(sid, environ, auth):
                user_sessions[auth["sessionId"]] = {"env": environ}
            @sio.on("disconnect")
            async def disconnect(sid):
                session_id = sid
                if session_id in user_sessions:
                    user_sessions.pop(session_id)
            """,
    }) == []


# ---- CLS108 -----------------------------------------------------------------------------------------------
def test_flask_caching_memoize_on_user_with_env_default_backend(tmp_path):
    found = state_findings(tmp_path, {
        "app/ext.py": """
            import os
            from flask_caching import Cache
            cache = Cache(config={"CACHE_TYPE": os.environ.get("CACHE_BACKEND", "FileSystemCache")})
            """,
        "app/quota.py": """
            from app.ext import cache
            @cache.memoize(timeout=600)
            def remaining_quota(user_id):
                return 100
            def catalogue(page):
                cache.set(f"catalogue:{page}", [])
            """,
    })
    assert rules(found) == [("CLS108", 2)]
    assert found[0].severity.value == "warning"
    assert "FileSystemCache" in found[0].message and "safe when CACHE_BACKEND" in found[0].message


def test_quiet_flask_caching_without_local_backend(tmp_path):
    assert state_findings(tmp_path, {"app/ext.py": """
        from flask_caching import Cache
        cache = Cache(config={"CACHE_TYPE": "NullCache"})
        def remember(user_id, value):
            cache.set(f"u:{user_id}", value)
        """}) == []


def test_quiet_per_object_secrets_and_flag_parameters(tmp_path):
    assert state_findings(tmp_path, {"app/models.py": """
        import uuid
        from functools import lru_cache
        class PoolClient:
            def __init__(self, generate_secret):
                self.secret = str(uuid.uuid4()) if generate_secret else None
        @lru_cache(maxsize=None)
        def scheme(*, prefix, user: bool = False, home=None):
            return prefix
        """}) == []


def test_quiet_in_process_event_emitter_callbacks(tmp_path):
    assert state_findings(tmp_path, {"app/events.py": """
        from pyee import EventEmitter
        bus = EventEmitter()
        SEEN = {}
        @bus.on("order")
        def remember(order):
            SEEN[order["user"]] = order
        @bus.on("audit")
        def audit(user):
            return SEEN.get(user)
        """}) == []


def test_quiet_split_settings_where_production_sets_caches(tmp_path):
    assert state_findings(tmp_path, {
        "shop/settings/base.py": """
            INSTALLED_APPS = []
            ROOT_URLCONF = "shop.urls"
            SESSION_ENGINE = "django.contrib.sessions.backends.cache"
            """,
        "shop/settings/production.py": """
            from .base import *
            CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}
            """,
    }) == []


def test_switch_named_for_a_container_bound_when_the_shared_store_is_off(tmp_path):
    found = state_findings(tmp_path, {"app/socket.py": """
        import socketio
        from app.env import WEBSOCKET_MANAGER, REDIS_URL
        from app.redis_dict import RedisDict
        sio = socketio.AsyncServer()
        if WEBSOCKET_MANAGER == "redis":
            SESSION_POOL = RedisDict("pool", REDIS_URL)
        else:
            SESSION_POOL = {}
        LOCAL_SIDS = set()
        @sio.event
        async def connect(sid, environ, auth):
            SESSION_POOL[sid] = {"user": auth["user"]}
            LOCAL_SIDS.add(sid)
        @sio.on("presence")
        async def presence(sid):
            if sid not in LOCAL_SIDS:
                return
            return [s["user"] for s in SESSION_POOL.values()]
        """})
    assert rules(found) == [("CLS101", 8)]
    assert "safe when WEBSOCKET_MANAGER=redis" in found[0].message


def test_socketio_server_in_the_branch_without_a_manager_names_the_switch(tmp_path):
    found = state_findings(tmp_path, {"app/socket.py": """
        import socketio
        from app.env import WEBSOCKET_MANAGER, REDIS_URL
        if WEBSOCKET_MANAGER == "redis":
            sio = socketio.AsyncServer(client_manager=socketio.AsyncRedisManager(REDIS_URL))
        else:
            sio = socketio.AsyncServer()
        @sio.event
        async def join(sid, room):
            await sio.enter_room(sid, room)
        """})
    assert rules(found) == [("CLS105", 6)]
    assert "safe when WEBSOCKET_MANAGER=redis is set" not in found[0].message
    assert "safe when WEBSOCKET_MANAGER=redis" in found[0].message


def test_socketio_server_imported_from_another_module(tmp_path):
    src = """
    from app.server import sio
    @sio.on("connect")
    async def connect(sid): pass
    """
    assert handler_names(src) == {"connect"}


FLASK_CACHE_USER = """
    from flask_caching import Cache
    cache = Cache()
    class Account:
        @cache.memoize()
        def balance(self):
            return 0
    """


@pytest.mark.parametrize("config, expected", [
    # an `if` on another setting: the branch without it is reported, naming the condition
    ("""
     import os
     class Config:
         URL = os.environ.get("REDIS_URL")
         if URL:
             CACHE_TYPE = "RedisCache"
         else:
             CACHE_TYPE = "FileSystemCache"
     """, "safe when `URL` selects a shared backend"),
    # nested: only one path of two `if`s is local
    ("""
     import os
     URL = os.environ.get("REDIS_URL")
     MEMCACHED = os.environ.get("MEMCACHED")
     if URL:
         CACHE_TYPE = "redis"
     elif MEMCACHED:
         CACHE_TYPE = "memcached"
     else:
         CACHE_TYPE = "simple"
     """, "safe when `URL` or `MEMCACHED` selects a shared backend"),
    # development branch and classes are not what v1 and v2 serve with
    ("""
     DEBUG = bool(open("debug").read())
     if DEBUG:
         CACHE_TYPE = "simple"
     else:
         CACHE_TYPE = "redis"
     """, None),
    ("""
     class DevelopmentConfig:
         CACHE_TYPE = "SimpleCache"
     class TestingConfig:
         CACHE_TYPE = "SimpleCache"
     """, None),
    # a shared backend in every case elsewhere: the local one belongs to another configuration
    ("""
     class Config:
         CACHE_TYPE = "SimpleCache"
     class ProductionConfig(Config):
         CACHE_TYPE = "RedisCache"
     """, None),
    # the text mentions redis in a comparison, which sets nothing: still local
    ("""
     CACHE_TYPE = "simple"
     def is_redis(app):
         return app.config["CACHE_TYPE"] == "redis"
     """, ""),
])
def test_flask_caching_backend_chosen_by_a_branch_or_a_class(tmp_path, config, expected):
    found = state_findings(tmp_path, {"app/config.py": config, "app/models.py": FLASK_CACHE_USER,
                                      "app/__init__.py": """
        from flask import Flask
        import app.models
        application = Flask(__name__)
        application.config.from_object("app.config")
        """})
    if expected is None:
        assert found == []
        return
    assert rules(found) == [("CLS108", 4)]
    assert "@cache.memoize on Account.balance()" in found[0].message
    assert expected in found[0].message


def test_session_interface_on_a_cache_subclass_is_reported_where_it_is_installed(tmp_path):
    found = state_findings(tmp_path, {
        "app/cache.py": """
            from flask_caching import Cache
            class AppCache(Cache):
                pass
            cache = AppCache(config={"CACHE_TYPE": "FileSystemCache"})
            """,
        "app/sessions.py": """
            from flask.sessions import SessionInterface
            from app.cache import cache
            class CacheSessions(SessionInterface):
                def open_session(self, app, request):
                    return cache.get("s" + request.cookies.get("sid", ""))
            """,
        "app/__init__.py": """
            from flask import Flask
            from app.sessions import CacheSessions
            app = Flask(__name__)
            app.session_interface = CacheSessions()
            """,
    })
    assert [(f.rule, f.path, f.line) for f in found] == [("CLS103", "app/__init__.py", 4)]
    assert found[0].severity.value == "error" and "FileSystemCache" in found[0].message


def test_storage_class_round_trip_names_the_config_key_and_the_remote_sibling(tmp_path):
    found = state_findings(tmp_path, {"app/storage.py": """
        import os
        import boto3
        from pathlib import Path
        from django.conf import settings

        class LocalStorage:
            def __init__(self):
                self.root = settings.MEDIA_ROOT

            def save(self, name, data):
                path = Path(self.root) / name
                path.write_bytes(data)

            def load(self, name):
                return (Path(self.root) / name).read_bytes()

        class S3Storage:
            def save(self, name, data):
                boto3.client("s3").put_object(Bucket="b", Key=name, Body=data)
        """})
    assert [(f.rule, f.line) for f in found] == [("CLS107", 12)]
    assert "(MEDIA_ROOT)" in found[0].message and "S3Storage is the shared alternative" in found[0].message


def test_quiet_storage_class_on_a_mode_the_caller_passes_or_a_cache_dir(tmp_path):
    assert state_findings(tmp_path, {"app/storage.py": """
        import os

        class Reader:
            def __init__(self, base_dir):
                self.base_dir = base_dir

            def open(self, name, mode):
                return open(os.path.join(self.base_dir, name), mode)

        class ThumbnailCache:
            def __init__(self):
                self.cache_dir = "/var/cache/thumbs"

            def put(self, name, data):
                with open(os.path.join(self.cache_dir, name), "wb") as fh:
                    fh.write(data)

            def get(self, name):
                with open(os.path.join(self.cache_dir, name), "rb") as fh:
                    return fh.read()
        """}) == []


def test_storage_class_given_its_directory_and_joining_through_a_method(tmp_path):
    found = state_findings(tmp_path, {"app/storage.py": """
        import os
        from flask import send_file

        class FileSystemStorage:
            def __init__(self, data):
                self.path = data

            def _resolve(self, name):
                return os.path.join(self.path, name)

            def save(self, name, fileobj):
                with open(self._resolve(name), "wb") as fh:
                    fh.write(fileobj.read())

            def send(self, name, filename):
                return send_file(filename, self._resolve(name))
        """})
    assert [(f.rule, f.line) for f in found] == [("CLS107", 12)]
    assert "FileSystemStorage.save() writes files under `self.path`" in found[0].message


def test_quiet_class_that_keeps_one_file_at_its_path(tmp_path):
    assert state_findings(tmp_path, {"app/state.py": """
        import json

        class Settings:
            def __init__(self, path):
                self.path = path

            def save(self, data):
                with open(self.path, "w") as fh:
                    json.dump(data, fh)

            def load(self):
                with open(self.path) as fh:
                    return json.load(fh)
        """}) == []


# ---- containers kept by an object made once per process ----------------------------------------------------
def test_module_singleton_written_by_signal_receiver_and_read_by_view(tmp_path):
    found = state_findings(tmp_path, {"app/keys.py": """
        from flask import Flask, jsonify, request
        from flask_login import user_logged_in

        class KeyManager:
            def __init__(self):
                self.keys = {}
                self.timeout = 30

            def remember(self, user_id, key):
                self.keys[user_id] = key

            def key_of(self, user_id):
                return self.keys.get(user_id)

        manager = KeyManager()
        app = Flask(__name__)

        @user_logged_in.connect_via(app)
        def on_login(sender, user):
            manager.remember(user.id, request.form["password"])

        @app.get("/secret")
        def secret():
            return jsonify(key=manager.key_of(request.args["user"]))
        """})
    assert rules(found) == [("CLS101", 6)]
    message = found[0].message
    assert "`manager.keys`" in message and "the one KeyManager" in message
    assert "remember() (app/keys.py:20)" in message and "key_of() (line 24)" in message


def test_object_of_a_project_class_put_on_the_app_in_create_app(tmp_path):
    found = state_findings(tmp_path, {
        "portal/utils/__init__.py": """
            from flask_login import current_user

            class KeyManager:
                def __init__(self):
                    self.users = dict()

                def set(self, key):
                    self.users[current_user.id] = key

                def get(self):
                    return self.users.get(current_user.id)
            """,
        "portal/__init__.py": """
            from flask import Flask, current_app, request, redirect
            from flask_login import user_logged_in

            from portal.utils import KeyManager

            def create_app():
                app = Flask(__name__)

                @user_logged_in.connect_via(app)
                def store_key(sender, user):
                    current_app.key_manager.set(request.form["password"])

                @app.before_request
                def need_key():
                    if current_app.key_manager.get() is None:
                        return redirect("/login")

                app.key_manager = KeyManager()
                return app
            """,
    })
    assert [(f.rule, f.path, f.line) for f in found] == [("CLS101", "portal/utils/__init__.py", 5)]
    assert "made (portal/__init__.py:18)" not in found[0].message and "(portal/__init__.py:18)" in found[0].message


def test_quiet_object_made_per_request_or_read_and_written_by_one_handler(tmp_path):
    found = state_findings(tmp_path, {"app/report.py": """
        from flask import Flask, jsonify, request

        class Totals:
            def __init__(self):
                self.rows = []

            def add(self, row):
                self.rows.append(row)

            def all(self):
                return list(self.rows)

        shared = Totals()
        app = Flask(__name__)

        @app.post("/report")
        def report():
            totals = Totals()
            for row in request.json["rows"]:
                totals.add(row)
            return jsonify(totals.all())

        @app.post("/echo")
        def echo():
            shared.add(request.json)
            return jsonify(shared.all())
        """})
    assert rules(found) == []


# ---- Django settings as the service runs them (star imports, DJANGO_SETTINGS_MODULE) ------------------------
DJ_BASE = """
    INSTALLED_APPS = ["django.contrib.sessions", "axes"]
    MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware"]
    ROOT_URLCONF = "shop.urls"
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
"""
DJ_REDIS = """
    from .base import *  # noqa: F403
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://c:6379"}}
"""


def test_the_settings_module_the_deployment_names_wins_over_the_code_default(tmp_path):
    files = {
        "shop/settings/base.py": DJ_BASE,
        "shop/settings/production.py": DJ_REDIS,
        "shop/settings/staging.py": "from .base import *  # noqa: F403\n",
        "shop/wsgi.py": """
            import os
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.staging")
        """,
    }
    found = state_findings(tmp_path, files)
    assert [(f.rule, f.path, f.line) for f in found] == [("CLS103", "shop/settings/base.py", 5)]
    assert "staging" not in found[0].message or "wsgi.py" in found[0].message
    (tmp_path / "Dockerfile").write_text("FROM python:3.12\nENV DJANGO_SETTINGS_MODULE=shop.settings.production\n")
    assert state_findings(tmp_path, {}) == []  # the container runs production, which has Redis


def test_development_settings_modules_are_not_the_service(tmp_path):
    files = {"shop/settings/base.py": DJ_BASE.replace("locmem.LocMemCache", "redis.RedisCache"),
             "shop/settings/local_dev.py": "from .base import *  # noqa: F403\n"
             "CACHES = {'default': {'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'}}\n",
             "shop/settings/main.py": "from .base import *  # noqa: F403\nDEBUG = False\n"}
    assert state_findings(tmp_path, files) == []
    # with only the development module left, it is judged: a gate does not guess the deployment away
    (tmp_path / "shop/settings/main.py").unlink()
    assert rules(state_findings(tmp_path, {})) == [("CLS103", 2)]


def test_an_env_switch_in_a_later_module_is_named_and_the_deployment_can_set_it(tmp_path):
    files = {
        "shop/settings/base.py": DJ_BASE.replace('"django.contrib.sessions.backends.cache"',
                                                 '"django.contrib.sessions.backends.cached_db"'),
        "shop/settings/main.py": """
            import environ
            from .base import *  # noqa: F403
            env = environ.Env()
            if env.bool("USE_REDIS", False):
                CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}
            AXES_HANDLER = env.str("AXES_HANDLER", "axes.handlers.cache.AxesCacheHandler")
        """,
    }
    found = state_findings(tmp_path, files)
    assert sorted((f.rule, f.path, f.severity.value) for f in found) == [
        ("CLS103", "shop/settings/base.py", "warning"), ("CLS104", "shop/settings/main.py", "warning")]
    assert all("safe when" in f.message and "USE_REDIS" in f.message for f in found)
    (tmp_path / ".env").write_text("USE_REDIS=1\nAXES_HANDLER=axes.handlers.database.AxesDatabaseHandler\n")
    assert state_findings(tmp_path, {}) == []


def test_drf_throttles_on_a_per_process_cache_one_finding_with_the_switch(tmp_path):
    files = {
        "shop/settings.py": """
            import os
            INSTALLED_APPS = ["rest_framework"]
            ROOT_URLCONF = "shop.urls"
            CACHE_BACKEND = os.environ.get("CACHE_BACKEND", "django.core.cache.backends.locmem.LocMemCache")
            CACHES = {"default": {"BACKEND": CACHE_BACKEND}}
            REST_FRAMEWORK = {"DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle"]}
        """,
        "shop/views.py": """
            from rest_framework.throttling import ScopedRateThrottle
            from rest_framework.views import APIView

            class Login(APIView):
                throttle_classes = [ScopedRateThrottle]
                throttle_scope = "login"
        """,
    }
    found = [f for f in state_findings(tmp_path, files) if f.rule == "CLS104"]
    assert [(f.path, f.line) for f in found] == [("shop/views.py", 5)]
    assert "and 1 more" in found[0].message and "safe when CACHE_BACKEND" in found[0].message
    (tmp_path / "Dockerfile").write_text("FROM python:3.12\nENV CACHE_BACKEND=django.core.cache.backends.redis.RedisCache\n")
    assert [f for f in state_findings(tmp_path, {}) if f.rule == "CLS104"] == []


def test_a_throttle_cache_alias_that_cannot_be_read_is_not_judged(tmp_path):
    files = {
        "shop/settings.py": 'INSTALLED_APPS = ["rest_framework"]\nROOT_URLCONF = "shop.urls"\n'
                            'CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}\n',
        "shop/throttles.py": """
            from django.core.cache import caches
            from rest_framework import throttling
            from shop.conf import pick_alias

            class Burst(throttling.UserRateThrottle):
                cache = caches[pick_alias()]

            class Sustained(Burst):
                scope = "sustained"
        """,
    }
    assert [f for f in state_findings(tmp_path, files) if f.rule == "CLS104"] == []


def test_django_ratelimit_counts_in_the_cache_its_setting_names(tmp_path):
    files = {
        "shop/settings.py": 'INSTALLED_APPS = ["shop"]\nROOT_URLCONF = "shop.urls"\n'
                            'CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"},\n'
                            '          "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}\n'
                            'RATELIMIT_USE_CACHE = "local"\n',
        "shop/views.py": """
            from django_ratelimit.decorators import ratelimit

            @ratelimit(key="ip", rate="5/m")
            def login(request):
                return None
        """,
    }
    found = [f for f in state_findings(tmp_path, files) if f.rule == "CLS104"]
    assert [(f.path, f.line) for f in found] == [("shop/views.py", 3)] and "`local` cache" in found[0].message
    (tmp_path / "shop/settings.py").write_text(files["shop/settings.py"].replace('RATELIMIT_USE_CACHE = "local"\n', ""))
    assert [f for f in state_findings(tmp_path, {}) if f.rule == "CLS104"] == []  # the default cache is Redis


def test_session_libraries_of_other_frameworks_only_when_imported_from_the_library(tmp_path):
    found = state_findings(tmp_path, {
        "app/main.py": """
            import os
            from fastapi import FastAPI
            from app.store import InMemoryStore
            from beaker.middleware import SessionMiddleware
            app = FastAPI()
            store = InMemoryStore()
            def wrap(wsgi_app):
                opts = {"session.type": os.environ.get("SESSION_TYPE", "memory")}
                return SessionMiddleware(wsgi_app, opts)
            def wrap_unknown(wsgi_app, opts):
                return SessionMiddleware(wsgi_app, opts)
            """,
        "app/store.py": """
            class InMemoryStore:
                pass
            """})
    assert rules(found) == [("CLS103", 9)]
    assert "safe when SESSION_TYPE selects a shared store" in found[0].message


def test_beaker_type_set_by_the_deployment_is_not_judged(tmp_path):
    found = state_findings(tmp_path, {
        "Dockerfile": "FROM python:3.12\nENV SESSION_TYPE=ext:redis\nCMD gunicorn app.main:app\n",
        "app/main.py": """
            import os
            import bottle
            from beaker.middleware import SessionMiddleware
            app = SessionMiddleware(bottle.app(), {"session.type": os.environ.get("SESSION_TYPE", "memory")})
            """})
    assert rules(found) == []


def test_websocket_registry_broadcast_by_comprehension_and_what_is_not_one(tmp_path):
    found = state_findings(tmp_path, {"app/live.py": """
        import asyncio
        from broadcaster import Broadcast
        from starlette.applications import Starlette
        from starlette.routing import WebSocketRoute
        clients = set()
        listeners = []
        events = Broadcast("memory://")
        async def feed(ws):
            await ws.accept()
            clients.add(ws)
        async def announce(message):
            await asyncio.gather(*(c.send_text(message) for c in clients))
        def subscribe(callback):
            listeners.append(callback)
            for queue in listeners:
                queue.send("hello")
        app = Starlette(routes=[WebSocketRoute("/feed", feed)])
        """})
    assert rules(found) == [("CLS105", 5), ("CLS105", 7)]
    assert "`clients`" in found[0].message and "line 12" in found[0].message
    assert "memory://" in found[1].message


def test_upload_directory_of_a_settings_instance_made_by_a_factory(tmp_path):
    files = {
        "app/core/config.py": """
            from functools import lru_cache
            from pathlib import Path
            from pydantic import Field
            from pydantic_settings import BaseSettings
            class Settings(BaseSettings):
                upload_dir: Path = Field(default=Path("/data/uploads"))
            @lru_cache
            def get_settings() -> Settings:
                return Settings()
            settings = get_settings()
            """,
        "app/main.py": """
            from fastapi import FastAPI, UploadFile
            from fastapi.responses import FileResponse
            from app.core.config import settings
            app = FastAPI()
            @app.post("/upload")
            async def upload(file: UploadFile):
                (settings.upload_dir / file.filename).write_bytes(await file.read())
            @app.get("/files/{name}")
            async def download(name: str):
                return FileResponse(settings.upload_dir / name)
            """,
    }
    found = state_findings(tmp_path, files)
    assert rules(found) == [("CLS107", 7)] and "`settings.upload_dir` (/data/uploads)" in found[0].message


SESSION_APP = """
    from flask import Flask

    from app import sessions

    app = Flask(__name__)
    app.session_interface = sessions.build(app)
"""


def test_session_interface_built_by_a_module_attribute_helper_keeping_a_dict(tmp_path):
    found = state_findings(tmp_path, {
        "app/__init__.py": SESSION_APP,
        "app/sessions.py": """
            from flask.sessions import SessionInterface


            class MemorySessionInterface(SessionInterface):
                def __init__(self):
                    self.sessions = {}

                def save_session(self, app, session, response):
                    self.sessions[session.sid] = dict(session)


            def build(app):
                interface = MemorySessionInterface()
                return interface if app.debug else MemorySessionInterface()
        """,
    })
    assert rules(found) == [("CLS103", 6)]
    assert "MemorySessionInterface.save_session() writes `self.sessions`" in found[0].message
    assert "process memory" in found[0].message
    assert found[0].message.count("save_session() writes") == 1  # both branches build the same class: said once


def test_session_interface_quiet_when_unresolved_or_on_a_shared_store(tmp_path):
    found = state_findings(tmp_path, {
        "app/__init__.py": textwrap.dedent(SESSION_APP) + "app.session_interface = unknown_factory()\n",
        "app/sessions.py": """
            import pymongo
            from flask.sessions import SessionInterface


            class StoredSessionInterface(SessionInterface):
                def __init__(self):
                    self.seen = {}
                    self.store = pymongo.MongoClient("mongodb://sessions")["app"]

                def save_session(self, app, session, response):
                    self.seen[session.sid] = True
                    self.store.sessions.replace_one({"_id": session.sid}, dict(session), upsert=True)


            def build(app):
                return StoredSessionInterface()
        """,
    })
    assert rules(found) == []


def test_object_keyed_on_the_request_user_is_a_warning_and_a_db_session_is_not_a_user(tmp_path):
    found = state_findings(tmp_path, {
        "app/drivers.py": """
            from flask_login import current_user
            from sqlalchemy.orm import session


            class Connections:
                def __init__(self):
                    self.by_user = {}
                    self.by_db = {}

                def open(self):
                    self.by_user.setdefault(current_user.id, []).append(1)
                    self.by_db[session.bind] = 1
                    return self.by_user[current_user.id], self.by_db
        """,
    })
    assert [(f.rule, f.line, f.severity.value) for f in found] == [("CLS101", 7, "warning")]
    assert "keyed on the user's `current_user.id`" in found[0].message


def test_object_made_once_per_process_and_keyed_on_the_user_is_reported_once_as_an_error(tmp_path):
    found = state_findings(tmp_path, {
        "app/main.py": """
            from flask import Flask, jsonify, session


            class Carts:
                def __init__(self):
                    self.items = {}

                def add(self, item):
                    self.items[session["user_id"]] = item

                def get(self):
                    return self.items.get(session["user_id"])


            app = Flask(__name__)
            carts = Carts()


            @app.post("/cart")
            def add():
                carts.add("x")
                return jsonify(ok=True)


            @app.get("/cart")
            def show():
                return jsonify(carts.get())
        """,
    })
    assert [(f.rule, f.line, f.severity.value) for f in found] == [("CLS101", 6, "error")]


def test_a_file_session_store_is_reported_once_as_sessions_not_again_as_a_storage_class(tmp_path):
    found = state_findings(tmp_path, {
        "app/__init__.py": SESSION_APP,
        "app/sessions.py": """
            import os
            import pickle

            from flask.sessions import SessionInterface


            class FileStore:
                def __init__(self, path):
                    self.path = path

                def put(self, sid, data):
                    with open(os.path.join(self.path, sid), "wb") as fh:
                        pickle.dump(data, fh)

                def get(self, sid):
                    with open(os.path.join(self.path, sid), "rb") as fh:
                        return pickle.load(fh)


            class StoredSessionInterface(SessionInterface):
                def __init__(self, store):
                    self.store = store


            def build(app):
                return StoredSessionInterface(FileStore(app.config["SESSION_DIR"]))
        """,
    })
    assert rules(found) == [("CLS103", 6)]
    assert "FileStore.put() writes under `self.path`" in found[0].message


COOKIE_SIGNERS = """
    from flask.sessions import SecureCookieSessionInterface


    class Interface(SecureCookieSessionInterface):
        def __init__(self):
            self.signers = {}

        def get_signing_serializer(self, app):
            self.signers[app.secret_key] = super().get_signing_serializer(app)
            return self.signers[app.secret_key]


    def build(app):
        return Interface()
"""
CACHE_BEFORE_A_CLIENT = """
    import os

    from flask.sessions import SessionInterface
    from app.stores import make_client


    class Interface(SessionInterface):
        def __init__(self, backend):
            self.backend = backend
            self.recent = {}

        def save_session(self, app, session, response):
            self.recent[session.sid] = dict(session)
            self.backend.set(session.sid, dict(session))


    def build(app):
        return Interface(make_client(os.environ["STORE_URL"]))
"""
FILES_WHATEVER_THE_DOCSTRING = '''
    import os
    import pickle

    from flask.sessions import SessionInterface


    class Interface(SessionInterface):
        """Unlike the Redis interface, this one needs no server."""

        def __init__(self, path):
            self.path = path

        def save_session(self, app, session, response):
            with open(os.path.join(self.path, session.sid), "wb") as fh:
                pickle.dump(dict(session), fh)


    def build(app):
        return Interface(app.config["SESSION_DIR"])
'''


@pytest.mark.parametrize("sessions, expected", [
    (COOKIE_SIGNERS, []),  # serializers cached per secret: no session is kept
    (CACHE_BEFORE_A_CLIENT, []),  # a per-process cache in front of a client a factory hands in
    (FILES_WHATEVER_THE_DOCSTRING, [("CLS103", 6)]),  # a docstring naming Redis is no client
])
def test_session_interface_reads_what_the_classes_keep_not_their_names(tmp_path, sessions, expected):
    found = state_findings(tmp_path, {"app/__init__.py": SESSION_APP, "app/sessions.py": sessions,
                                      "app/stores.py": "from storelib import StoreClient\n\n\ndef make_client(url):\n"
                                                       "    return StoreClient.connect(url)\n"})
    assert rules(found) == expected
