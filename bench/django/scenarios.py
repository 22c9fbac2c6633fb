"""Labelled Django migration scenarios (written for this bench), one app per scenario.

Each scenario is v1's model module, the migrations v1 already ran (`base`) and the release's migrations
(`head`), with the verdict a reviewer gives each release migration for a canary on PostgreSQL:
`unsafe` (v1 fails against the new schema, or the migration blocks v1's writes on a large table) or `safe`.
The shapes follow the scenario list of django-migration-linter's own test project; the files are our own.
"""

from __future__ import annotations

HEADER = "from django.db import migrations, models\n"


def migration(ops: str, deps: list[tuple[str, str]] | None = None, *, extra: str = "", header: str = "") -> str:
    dep_src = ", ".join(f"({a!r}, {n!r})" for a, n in deps or [])
    body = "\n".join("        " + line if line.strip() else "" for line in ops.strip("\n").splitlines())
    return (f"{HEADER}{header}\n\nclass Migration(migrations.Migration):\n{extra}"
            f"    dependencies = [{dep_src}]\n\n    operations = [\n{body}\n    ]\n")


def initial(app: str, fields: str, model: str = "A", extra_models: str = "") -> str:
    return migration(f'''
migrations.CreateModel(
    name="{model}",
    fields=[
        ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
{fields}
    ],
),
{extra_models}''', [], extra="    initial = True\n")


BASIC_FIELDS = '''        ("name", models.CharField(max_length=255)),
        ("notes", models.CharField(max_length=255, null=True)),
        ("count", models.IntegerField(null=True)),'''

# name -> (release migrations: {file: (source, verdict, why)}, extra base migrations or None)
SCENARIOS: dict[str, dict] = {}


def scenario(name: str, head: dict, *, fields: str = BASIC_FIELDS, extra_models: str = "", header: str = "") -> None:
    SCENARIOS[name] = {"base": {"0001_initial.py": initial(name, fields, extra_models=extra_models)},
                       "head": head}


def op(name: str, ops: str, verdict: str, why: str, deps=None, **kw) -> dict:
    return {name: (migration(ops, deps, **kw), verdict, why)}


def chain(app: str, n: int) -> list[tuple[str, str]]:
    return [(app, "0001_initial")] if n == 2 else [(app, f"000{n - 1}")]


def build() -> None:
    s = scenario
    s("app_add_m2m", op("0002_b_many.py", 'migrations.AddField("a", "tags", models.ManyToManyField(to="app_add_m2m.a")),',
                         "safe", "a new through table", chain("app_add_m2m", 2)))
    s("app_add_not_null", op("0002_not_null.py", 'migrations.AddField("a", "code", models.CharField(max_length=10, default="x")),',
                             "unsafe", "NOT NULL column without a server default: v1's INSERTs fail", chain("app_add_not_null", 2)))
    s("app_add_not_null_db_default", op("0002_db_default.py", 'migrations.AddField("a", "code", models.CharField(max_length=10, db_default="x")),',
                                        "safe", "db_default is a server default", chain("app_add_not_null_db_default", 2)))
    s("app_add_null_db_default", op("0002_null_db_default.py", 'migrations.AddField("a", "code", models.CharField(max_length=10, db_default=None)),',
                                    "unsafe", "DEFAULT NULL on a NOT NULL column: v1's INSERTs fail", chain("app_add_null_db_default", 2)))
    s("app_add_nullable", op("0002_nullable.py", 'migrations.AddField("a", "code", models.CharField(max_length=10, null=True)),',
                             "safe", "nullable column", chain("app_add_nullable", 2)))
    s("app_alter_type", op("0002_alter.py", 'migrations.AlterField("a", "name", models.CharField(max_length=100)),',
                           "unsafe", "VARCHAR(255) to VARCHAR(100): v1's longer values fail", chain("app_alter_type", 2)))
    s("app_alter_widen", op("0002_widen.py", 'migrations.AlterField("a", "name", models.CharField(max_length=500)),',
                            "safe", "VARCHAR widening is a metadata change on PostgreSQL", chain("app_alter_widen", 2)))
    s("app_alter_python_only", op("0002_choices.py", 'migrations.AlterField("a", "name", models.CharField(max_length=255, choices=[("x", "X")], help_text="h")),',
                                  "safe", "Python-side attributes only: no SQL", chain("app_alter_python_only", 2)))
    s("app_drop_not_null", op("0002_drop_not_null.py", 'migrations.AlterField("a", "name", models.CharField(max_length=255, null=True)),',
                              "safe", "v1 always writes the column", chain("app_drop_not_null", 2)))
    s("app_make_not_null_default", op("0002_not_null.py", 'migrations.AlterField("a", "notes", models.CharField(max_length=255, default="")),',
                                      "unsafe", "v1's ORM sends NULL for notes: its INSERTs fail", chain("app_make_not_null_default", 2)))
    s("app_index_concurrently", op("0002_index.py", 'AddIndexConcurrently("a", models.Index(fields=["name"], name="a_name_idx")),',
                                   "safe", "built concurrently outside a transaction", chain("app_index_concurrently", 2),
                                   extra="    atomic = False\n", header="from django.contrib.postgres.operations import AddIndexConcurrently\n"))
    s("app_index_concurrently_atomic", op("0002_index.py", 'AddIndexConcurrently("a", models.Index(fields=["name"], name="a_name_idx")),',
                                          "unsafe", "CONCURRENTLY inside the migration's transaction fails", chain("app_index_concurrently_atomic", 2),
                                          header="from django.contrib.postgres.operations import AddIndexConcurrently\n"))
    s("app_index_exclusive", op("0002_index.py", 'migrations.AddIndex("a", models.Index(fields=["name"], name="a_name_idx")),',
                                "unsafe", "plain CREATE INDEX blocks v1's writes for the build", chain("app_index_exclusive", 2)))
    s("app_db_index", op("0002_db_index.py", 'migrations.AlterField("a", "name", models.CharField(max_length=255, db_index=True)),',
                         "unsafe", "db_index=True builds the index with a plain CREATE INDEX", chain("app_db_index", 2)))
    s("app_create_table", op("0002_table.py", 'migrations.CreateModel("B", [("id", models.AutoField(primary_key=True)), ("x", models.IntegerField())]),',
                             "safe", "a new table", chain("app_create_table", 2)))
    s("app_drop_column", op("0002_drop.py", 'migrations.RemoveField("a", "notes"),', "unsafe",
                            "v1's model selects notes", chain("app_drop_column", 2)))
    s("app_drop_table", op("0002_delete.py", 'migrations.DeleteModel("A"),', "unsafe", "v1 reads the table",
                           chain("app_drop_table", 2)))
    s("app_rename_column", op("0002_rename.py", 'migrations.RenameField("a", "notes", "remarks"),', "unsafe",
                              "v1 selects notes", chain("app_rename_column", 2)))
    s("app_rename_column_db_column", op("0002_rename.py", 'migrations.RenameField("a", "notes", "remarks"),', "safe",
                                        "db_column keeps the column name: state only", chain("app_rename_column_db_column", 2)),
      fields='''        ("name", models.CharField(max_length=255)),
        ("notes", models.CharField(max_length=255, null=True, db_column="notes")),''')
    s("app_rename_table", op("0002_rename.py", 'migrations.RenameModel("A", "B"),', "unsafe", "v1 reads the old table",
                             chain("app_rename_table", 2)))
    s("app_alter_db_table", op("0002_table.py", 'migrations.AlterModelTable("a", "renamed_a"),', "unsafe",
                               "v1 reads the old table", chain("app_alter_db_table", 2)))
    s("app_unique_together", op("0002_unique.py", 'migrations.AlterUniqueTogether("a", {("name", "count")}),', "unsafe",
                                "v1 may write duplicates, and the build locks the table", chain("app_unique_together", 2)))
    s("app_unique_field_default", op("0002_code.py", 'migrations.AddField("a", "code", models.CharField(max_length=10, unique=True, default="x")),',
                                     "unsafe", "every v1 row gets the same value: its second INSERT violates the constraint",
                                     chain("app_unique_field_default", 2)))
    s("app_check_constraint", op("0002_check.py", 'migrations.AddConstraint("a", models.CheckConstraint(condition=models.Q(count__gte=0), name="a_count_gte_0")),',
                                 "unsafe", "validated at once while v1's writes wait; v1 may write negative counts",
                                 chain("app_check_constraint", 2)))
    s("app_add_fk", op("0002_fk.py", 'migrations.AddField("a", "parent", models.ForeignKey(null=True, on_delete=models.CASCADE, to="app_add_fk.a")),',
                       "unsafe", "index built and constraint validated under locks that block v1's writes", chain("app_add_fk", 2)))
    s("app_add_fk_no_constraint", op("0002_fk.py", 'migrations.AddField("a", "parent", models.ForeignKey(null=True, db_index=False, db_constraint=False, on_delete=models.CASCADE, to="app_add_fk_no_constraint.a")),',
                                     "safe", "a nullable column only", chain("app_add_fk_no_constraint", 2)))
    s("app_runsql_drop", op("0002_sql.py", 'migrations.RunSQL("ALTER TABLE app_runsql_drop_a DROP COLUMN notes", reverse_sql="ALTER TABLE app_runsql_drop_a ADD COLUMN notes varchar(255)"),',
                            "unsafe", "the forward SQL drops what v1 selects", chain("app_runsql_drop", 2)))
    s("app_runsql_reverse_only", op("0002_sql.py", 'migrations.RunSQL("CREATE TABLE app_runsql_reverse_only_log (id int)", reverse_sql="DROP TABLE app_runsql_reverse_only_log"),',
                                    "safe", "the drop is in reverse_sql, which never runs forward", chain("app_runsql_reverse_only", 2)))
    head = {}
    head.update(op("0002_state.py", 'migrations.SeparateDatabaseAndState(state_operations=[migrations.RemoveField("a", "notes")]),',
                   "safe", "state only: the column stays", chain("app_separate_state", 2)))
    head.update(op("0003_drop.py", 'migrations.RunSQL("ALTER TABLE app_separate_state_a DROP COLUMN notes"),', "unsafe",
                   "v1 still selects notes", [("app_separate_state", "0002_state")]))
    s("app_separate_state", head)
    s("app_runpython_with_ddl", op("0002_mixed.py", '''migrations.AddField("a", "code", models.CharField(max_length=10, null=True)),
migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop),
migrations.RunPython(fill, migrations.RunPython.noop),''', "unsafe",
                                   "the backfill runs inside the DDL's transaction, holding its lock",
                                   chain("app_runpython_with_ddl", 2), header="\n\ndef fill(apps, schema_editor):\n    pass\n"))
    s("app_runpython_only", op("0002_data.py", 'migrations.RunPython(fill, migrations.RunPython.noop),', "safe",
                               "a data change without DDL", chain("app_runpython_only", 2),
                               header="\n\ndef fill(apps, schema_editor):\n    pass\n"))
    s("app_remove_index_concurrently", op("0002_drop_index.py", 'RemoveIndexConcurrently("a", "a_name_idx"),', "safe",
                                          "dropped concurrently outside a transaction", chain("app_remove_index_concurrently", 2),
                                          extra="    atomic = False\n",
                                          header="from django.contrib.postgres.operations import RemoveIndexConcurrently\n"))
    s("app_order_with_respect_to", op("0002_order.py", 'migrations.AlterOrderWithRespectTo("a", "name"),', "unsafe",
                                      "adds _order NOT NULL without a default: v1's INSERTs fail", chain("app_order_with_respect_to", 2)))


build()


def models_py(name: str) -> str:
    """v1's models for a scenario (the state after its base migrations; enough for Django to start)."""
    fields = {"app_rename_column_db_column": '    name = models.CharField(max_length=255)\n'
                                              '    notes = models.CharField(max_length=255, null=True, db_column="notes")\n'}
    body = fields.get(name, '    name = models.CharField(max_length=255)\n'
                            '    notes = models.CharField(max_length=255, null=True)\n    count = models.IntegerField(null=True)\n')
    return f"from django.db import models\n\n\nclass A(models.Model):\n{body}"
