"""Classes of contract violations the fuzz campaign (bench/fuzz, tests/fuzz) found, one test per class.

Each runs the real engine in this process, the way the fuzz suite does, under an alarm far above what the
fixed code needs and far below what the broken code took."""

from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from canary_lint import engine, suppress
from canary_lint.config import Config


class Overrun(BaseException):
    pass


@contextmanager
def alarm(seconds: float):
    def ring(_signum, _frame):
        raise Overrun(f"over {seconds}s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except Overrun as exc:
        pytest.fail(f"did not finish: {exc}", pytrace=False)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def write(root: Path, files: dict) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


# ---- suppressions: thousands of entries --------------------------------------------------------------------
def test_a_suppression_in_python_that_does_not_tokenize_is_read_once():
    """Comments met before the token error were read, then every line again: the suppression twice."""
    text = "def upgrade():  # canary-lint: ignore[CLM101] ok\n    op.execute('unterminated\n"
    sups = suppress.parse("migrations/versions/b.py", text)
    assert [(s.line, s.rules) for s in sups] == [(1, ["CLM101"])]


def test_suppressions_with_thousands_of_entries_are_judged_in_linear_time(tmp_path):
    """Each unknown entry is a CL003 judged against every other suppression of the file: with a scan of the
    entries per judgement, 2 x 20,000 entries took minutes."""
    names = ",".join(f"X{i}" for i in range(20_000))
    write(tmp_path, {"app/main.py": f"# canary-lint: file-ignore[{names}] a reason\n"
                                    f"x = 1  # canary-lint: ignore[{names}] a reason\n"})
    with alarm(30):
        report = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path, record_commit=False)
    unknown = [f for f in report.findings if f.rule == "CL003"]
    assert len({f.message for f in unknown}) == 20_000


def test_covers_names_the_first_entry_as_written():
    sup = suppress.Suppression("a.py", 1, 1, 2, False, ["drop-column-still-read-by-v1", "CLM101", "ALL"], "r")
    assert sup.covers("CLM101", "drop-column-still-read-by-v1", (), 1, None) == "drop-column-still-read-by-v1"
    assert sup.covers("CLM102", "other", (), 2, None) == "ALL"
    assert sup.covers("CLM101", "x", (), 3, None) is None  # not its line
    alias = suppress.Suppression("a.py", 1, 1, 2, True, ["old-name"], "r")
    assert alias.covers("CLM101", "x", ("CLM001", "old-name"), 9, None) == "old-name"


# ---- a syntax error never makes CPython open a file by the displayed path ---------------------------------------
def test_a_syntax_error_opens_no_file_by_its_display_path(tmp_path, monkeypatch):
    """On a syntax error CPython reads the offending line from the file named `filename`, relative to the
    process's directory: the display path of a checked file (or of v1's file) named a file outside the tree."""
    tree = write(tmp_path / "tree", {"app/main.py": "def f(:\n    pass\n"})
    elsewhere = write(tmp_path / "elsewhere", {"app/main.py": "x = 1\n"})
    monkeypatch.chdir(elsewhere)
    watch = {"on": True, "opened": []}

    def hook(event, args):  # audit hooks stay for the life of the process: inert once the test is done
        if watch["on"] and event == "open" and isinstance(args[0], str) and args[0].endswith("app/main.py"):
            watch["opened"].append(os.path.abspath(args[0]))

    sys.addaudithook(hook)
    try:
        report = engine.run_check(["."], Config(root=tree), cwd=tree, record_commit=False)
    finally:
        watch["on"] = False
    assert [(f.rule, f.line) for f in report.findings] == [("CL001", 1)]
    assert str(elsewhere / "app" / "main.py") not in watch["opened"]


def test_the_line_of_a_syntax_error_comes_from_the_source_parsed(tmp_path, monkeypatch):
    """v1's file is parsed under its path: the line CPython showed for its error was v2's line on disk."""
    from canary_lint.pysource import parse

    write(tmp_path, {"app/models.py": "v2 = 'on disk'\n"})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SyntaxError) as err:
        parse("def f(:\n    pass\n", "app/models.py")
    assert err.value.filename == "app/models.py"
    assert err.value.text.startswith("def f(")


# ---- the native (libcst) parser never sees a statement it could take minutes on ----------------------------------
@pytest.mark.parametrize("source", [
    "x = 1\n" + "not " * 5000 + "b = 2\n",  # 10 KB: 86 s
    "x = 1\n" + "x." * 3000 + "b = = 2\n",  # 6 KB: 35 s
    "x = 1\n" + "a + " * 3000 + "b = = 2\n",
    "x = 1\n" + "x.\\\n" * 3000 + "b = = 2\n",  # backslashes continue the statement
    "x = 1\n  y = 2\n" + "not " * 5000 + "b = 2\n",  # the tokenizer gives up before the chain
])
def test_long_statements_python_rejects_are_a_file_not_read(tmp_path, source):
    write(tmp_path, {"app/main.py": source})
    with alarm(20):
        report = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path, record_commit=False)
    assert [(f.rule, f.path) for f in report.findings] == [("CL001", "app/main.py")]


def test_newer_syntax_with_ordinary_statements_still_reaches_the_native_parser():
    from canary_lint import pysource

    source = "type X = int\n" + "".join(f"v{i} = {{'k': [{i}, {i} + 1]}}\n" for i in range(300)) + \
        "def f[T](x: T) -> T:\n    return x\n"
    assert not pysource._longer_than(source, pysource.NATIVE_TOKENS)
    assert pysource._longer_than("x = [" + "1, " * 600 + "]\n", pysource.NATIVE_TOKENS)
    assert not pysource._longer_than("x = '" + "a, " * 2000 + "'\n", pysource.NATIVE_TOKENS)  # one string
    assert not pysource._longer_than("x = f'" + "a, " * 2000 + "{b}'\n", pysource.NATIVE_TOKENS)  # its text
    assert pysource._longer_than("x = f'{N" + "x." * 700 + "}'\n", pysource.NATIVE_TOKENS)  # its fields: code
    assert not pysource._longer_than("x = f'{{" + "x." * 700 + "}}'\n", pysource.NATIVE_TOKENS)  # `{{`: text


def test_a_long_chain_inside_an_f_string_never_reaches_the_native_parser(tmp_path):
    """libcst's native parser overflowed the C stack on it after 49 s (the process died: no report at all);
    run in a process of its own so that a regression fails this test instead of the suite."""
    import subprocess

    write(tmp_path, {"migrations/versions/0005_widen.py": "from alembic import op\n\n\ndef upgrade():\n"
                     "    op.create_index('ix', f'{N" + "x." * 6666 + "}', ['a'])\n"})
    proc = subprocess.run([sys.executable, "-m", "canary_lint", "check", ".", "--format", "concise"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "CANARY_LINT_CACHE_DIR": ""})
    assert proc.returncode == 1, proc.stderr[-500:]
    assert "migrations/versions/0005_widen.py:" in proc.stdout and "CL001" in proc.stdout, proc.stdout


# ---- CPython's tokenize module never sees a long run of blanks it would backtrack over --------------------------
@pytest.mark.parametrize("tail", ["!", "$", "'unterminated", "\x0b", "\u20ac"])
def test_a_long_run_of_blanks_before_a_stray_character(tmp_path, tail):
    """tokenize backtracks over the run once per blank: 8,000 spaces and a `!` took 37 s, a 19 KB file 138 s
    (while telling a template from Python, and while looking for suppression comments)."""
    write(tmp_path, {"app/main.py": "x = 1  # canary-lint: ignore[CLS101] kept\n" + "y = 2" + " " * 20_000 + tail + "\n"})
    with alarm(20):
        report = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path, record_commit=False)
    assert ("CL001", "app/main.py") in [(f.rule, f.path) for f in report.findings]


def test_suppressions_are_still_read_from_comments_only():
    from canary_lint.pysyntax import stalls_tokenize

    text = 'DOC = """ # canary-lint: ignore[CLM101] in a string """\nx = 1  # canary-lint: ignore[CLM102] real\n'
    assert [s.rules for s in suppress.parse("app.py", text)] == [["CLM102"]]
    assert not stalls_tokenize("x = 1" + " " * 300 + "# a comment far right\n" + "\t" * 300 + "y\n")
    assert stalls_tokenize("x = 1" + " " * 300 + "!\n")


# ---- the state analyzer's disk round-trips: one pass, not every write x read x handler x handler ----------------
def _cls107_app() -> dict:
    from canary_lint import examples
    from canary_lint.registry import registry

    case = next(c for c in examples.page_cases("CLS107", registry().get("CLS107").page) if c.expect)
    return case.head


def test_many_copies_of_upload_and_download_routes(tmp_path):
    """64 copies of a Flask file with an upload and a download route took 7 s (O(n^4) in the copies)."""
    files = {path: text * 128 if path.endswith(".py") and "UPLOAD" in text else text
             for path, text in _cls107_app().items()}
    write(tmp_path, files)
    with alarm(20):
        first = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path, record_commit=False)
    again = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path, record_commit=False)
    found = [f for f in first.findings if f.rule == "CLS107"]
    assert found and [f.message for f in found] == [f.message for f in again.findings if f.rule == "CLS107"]


def test_many_copies_of_socketio_handlers_calling_the_same_names(tmp_path):
    """Which handlers reach each function: a walk per handler over every call it reached was cubic in the copies
    (1,024 copies of a socket.io module, 220 KB, took 58 s)."""
    from canary_lint import examples

    case = next(c for c in examples.fixture_cases(Path(__file__).resolve().parent.parent / "fixtures" / "rules")
                if c.ident == "CLS101-session-registry-across-modules")
    files = {p: (t * 1024 if p == "app/socket.py" else t) for p, t in case.head.items()}
    write(tmp_path, files)
    with alarm(20):
        report = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path, record_commit=False)
    assert any(f.rule == "CLS101" for f in report.findings)


# ---- Django operations the reader describes or groups -------------------------------------------------------------
DJANGO_0001 = ("from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n"
               "    initial = True\n    dependencies = []\n    operations = [\n"
               "        migrations.CreateModel(name='Order', fields=[('id', models.AutoField(primary_key=True)),\n"
               "                                                    ('status', models.CharField(max_length=10))]),\n"
               "    ]\n")


def _django_0002(operation: str) -> dict:
    return {"shop/__init__.py": "", "shop/migrations/__init__.py": "", "shop/migrations/0001_initial.py": DJANGO_0001,
            "shop/migrations/0002_next.py": ("from django.db import migrations, models\n\n\n"
                                             "class Migration(migrations.Migration):\n"
                                             "    dependencies = [('shop', '0001_initial')]\n"
                                             f"    operations = [\n        {operation},\n    ]\n")}


@pytest.mark.parametrize("operation", [
    "- " * 1000 + "x",  # deeper than ast.unparse recurses (our parser reads it)
    "0x" + "f" * 5000,  # an int Python will not print in decimal
    "migrations.RunPython(" + "- " * 1000 + "x)",
])
def test_an_operation_the_reader_cannot_print_is_described_not_a_crash(tmp_path, operation):
    write(tmp_path, _django_0002(operation))
    report = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path, record_commit=False)
    assert not [f for f in report.findings if f.rule == "CL005"], [f.message for f in report.findings]


def test_unique_together_with_a_group_that_is_not_field_names(tmp_path):
    """`unique_together={(None,)}`: the group's entry is no field name; joining it into an index name crashed."""
    write(tmp_path, _django_0002("migrations.AlterUniqueTogether(name='order', unique_together={(None,), ('status',)})"))
    report = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path, record_commit=False)
    assert not [f for f in report.findings if f.rule == "CL005"], [f.message for f in report.findings]


def test_a_long_word_in_a_handler_is_scanned_once(tmp_path):
    """Callees found by `name(` in a handler's text: each position of a 100,000-letter word started a new
    attempt over the rest of it (63 s)."""
    write(tmp_path, {"app/main.py": "from flask import Flask\napp = Flask(__name__)\n\n\n@app.get('/')\ndef index():\n"
                                    f"    x = '{'a' * 100_000}'\n    return helper(x)\n\n\ndef helper(x):\n    return x\n"})
    with alarm(20):
        engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path, record_commit=False)
    from canary_lint.state.handlers import CALLED

    assert CALLED.findall("self.save(x); helper (y); 9abc(z)") == ["self.save", "helper"]


def test_many_generated_signing_keys_in_one_settings_module(tmp_path):
    """Each generated key walked the whole module for an env switch bound to its name: a settings module of
    1,024 `SECRET_KEY = get_random_secret_key()` blocks took 31 s (fuzz campaign, python #7112)."""
    block = ("from django.core.management.utils import get_random_secret_key\n\n"
             "SECRET_KEY = get_random_secret_key()\nINSTALLED_APPS = ['django.contrib.sessions']\n")
    write(tmp_path, {"shop/settings.py": block * 1024})
    with alarm(30):
        report = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path, record_commit=False)
    assert any(f.rule == "CLS102" for f in report.findings)


def test_an_import_of_a_dotted_name_with_thousands_of_parts(tmp_path):
    """Finding the module of `from s.x.x.x… import y` joined every prefix of its 20,000 parts (fuzz campaign,
    python #8406: 22 s)."""
    write(tmp_path, {"app/main.py": f"from flask import Flask\nfrom s{'.x' * 20_000} import y\n\napp = Flask(__name__)\n"})
    with alarm(30):
        report = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path, record_commit=False)
    assert not [f for f in report.findings if f.rule in ("CL001", "CL005")]


def test_thousands_of_suppressions_each_with_its_own_findings(tmp_path):
    """Every finding was judged against every suppression of its file: 5,000 reason-less, unused suppressions
    (10,000 findings about them) took 7 s; a finding now looks only at the suppressions of its line."""
    lines = "".join("# canary-lint: ignore[file-not-checked]\r\r\n" for _ in range(5_000))
    write(tmp_path, {"app.py": lines + "x = 1\n"})
    with alarm(4):
        report = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path)
    assert sorted({f.rule for f in report.findings}) == ["CL002", "CL004"]
    assert len(report.findings) == 10_000


def test_thousands_of_resource_creates_of_one_local_name_in_one_function(tmp_path):
    """Each `Resource.create(NAME)` walked its whole function to read NAME: 5,000 of them took 145 s."""
    body = "".join("    Resource.create(ATTRS)\n" for _ in range(5_000))
    write(tmp_path, {"app/telemetry.py": "from opentelemetry.sdk.resources import Resource\n"
                                         "from app.settings import ATTRS\n\n\ndef setup():\n" + body})
    with alarm(8):
        report = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path)
    assert not [f for f in report.findings if f.rule in ("CL001", "CL005")]


def test_a_drop_statement_with_a_long_run_of_blank_lines_inside_is_read_in_linear_time(tmp_path):
    """`DROP SCHEMA x` + 20,000 newlines + more text: the DROP pattern's name list was followed by two whitespace
    runs with only an optional word between them (9.8 s on 160 KB, over the alarm here; fuzz sql input 70,610)."""
    write(tmp_path, {"db/migration/V14__legacy.sql": "DROP SCHEMA legac" + "\n" * 60000 + "y CASCADE;\n"
                     + ("DROP TABLE t" + " " * 60000 + "x;\n")})
    with alarm(10):
        engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path, record_commit=False)


def test_only_pyast_prints_expressions():
    """`ast.unparse`/`ast.dump` recurse: a `- - - … x` our parser reads crashes them (RecursionError). Every
    analyzer prints an expression through `pyast.source_of`/`dump_of`, which say "…" instead."""
    root = Path(__file__).resolve().parent.parent / "canary_lint"
    raw = [str(p.relative_to(root)) for p in root.rglob("*.py") if p.name != "pyast.py"
           and ("ast.unparse(" in p.read_text(encoding="utf-8") or "ast.dump(" in p.read_text(encoding="utf-8"))]
    assert raw == []


def test_a_flask_cache_setting_under_a_test_too_deep_to_print(tmp_path):
    # fuzz python #34757 (seed 7): the Flask-Caching reader printed the `if` above CACHE_TYPE with ast.unparse
    config = ("import os\n\n\nclass Config:\n    if DEBUG" + " -" * 1000 + " x:\n        CACHE_TYPE = 'filesystem'\n"
              "    else:\n        CACHE_TYPE = 'redis'\n")
    write(tmp_path, {
        "app/__init__.py": "from flask import Flask\n\nfrom app.sessions import CachingSessionInterface\n\n"
                           "app = Flask(__name__)\napp.config.from_object('app.config.Config')\n"
                           "app.session_interface = CachingSessionInterface()\n",
        "app/config.py": config,
        "app/sessions.py": "from flask.sessions import SessionInterface\nfrom flask_caching import Cache\n\n"
                           "cache = Cache()\n\n\nclass CachingSessionInterface(SessionInterface):\n"
                           "    def save_session(self, app, session, response):\n"
                           "        cache.set('session' + session.sid, dict(session))\n",
    })
    report = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path, record_commit=False)
    assert [f for f in report.findings if f.rule == "CL005"] == []


@pytest.mark.parametrize("first, last, read", [
    ("True", "[migrations.RemoveField(model_name='order', name='status')]", True),
    ("[migrations.RemoveField(model_name='order', name='status')]", "True", False),
])
def test_operations_assigned_twice_is_read_as_django_reads_it(tmp_path, first, last, read):
    """`operations = True` then `operations = [...]` in one class (fuzz django #70912): the list was kept
    but still marked unreadable, and describing it as one expression indexed an empty list (CL005). Django
    reads the last assignment; so does the reader."""
    files = _django_0002("migrations.RunSQL('SELECT 1')")
    files["shop/migrations/0002_next.py"] = (
        "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n"
        f"    dependencies = [('shop', '0001_initial')]\n    operations = {first}\n    operations = {last}\n")
    write(tmp_path, files)
    report = engine.run_check(["."], Config(root=tmp_path), cwd=tmp_path, record_commit=False)
    rules = {f.rule for f in report.findings}
    assert "CL005" not in rules, [f.message for f in report.findings]
    assert ("CLM101" in rules) is read, [f"{f.rule} {f.message}" for f in report.findings]


def test_a_bounded_read_returns_the_file_up_to_the_bound(tmp_path):
    """read_regular sizes its buffer from the file (a 64 MB buffer per file cost superset 35 ms), yet still
    returns up to the bound when the file is larger than its size said (a file in /proc reports 0)."""
    from canary_lint.discovery import read_regular

    f = tmp_path / "x.py"
    f.write_bytes(b"abcdef")
    assert [read_regular(f, n) for n in (0, 3, 6, 7, 100)] == [b"", b"abc", b"abcdef", b"abcdef", b"abcdef"]
    proc = Path("/proc/self/status")
    if proc.exists():  # size 0 by stat, content when read
        assert read_regular(proc, 1 << 20).startswith(b"Name:")
