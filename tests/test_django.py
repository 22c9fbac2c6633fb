"""Django migrations read statically and judged by the same CLM rules, through the real engine."""

from __future__ import annotations

import textwrap

from canary_lint.examples import Case, run_case

APP = "shop/migrations/"


def mig(ops: str, deps: str = "[]", header: str = "", extra: str = "") -> str:
    body = textwrap.indent(textwrap.dedent(ops).strip("\n"), "        ")
    return (f"from django.db import migrations, models\n{header}\n\n"
            f"class Migration(migrations.Migration):\n{extra}    dependencies = {deps}\n"
            f"    operations = [\n{body}\n    ]\n")


INITIAL = mig('''
    migrations.CreateModel(
        name="Order",
        fields=[
            ("id", models.BigAutoField(primary_key=True, serialize=False)),
            ("nickname", models.CharField(max_length=64, null=True)),
            ("total", models.DecimalField(max_digits=10, decimal_places=2)),
            ("tags", models.ManyToManyField(to="shop.tag")),
        ],
        options={"db_table": "orders"},
    ),
''', extra="    initial = True\n")


def check(head: dict, base: dict | None = None, **config):
    report = run_case(Case("T", "t", dict(head), dict(base or {}), [], config))
    return [f for f in report.findings if f.family == "migration" or f.rule.startswith("CL0")]


def codes(findings) -> list[tuple[str, int]]:
    return sorted((f.rule, f.line) for f in findings)


def test_db_table_and_history_across_files_name_the_real_table():
    found = check({APP + "0001_initial.py": INITIAL,
                   APP + "0002_drop.py": mig('migrations.RemoveField("order", "nickname"),',
                                             '[("shop", "0001_initial")]')})
    assert codes(found) == [("CLM101", 7)]
    assert "orders.nickname" in found[0].message


def test_table_name_uses_the_app_label_from_apps_py():
    apps = ("from django.apps import AppConfig\n\n\nclass Config(AppConfig):\n    name = 'project.store'\n"
            "    label = 'store'\n")
    found = check({"shop/apps.py": apps, APP + "0002_drop.py": mig('migrations.RemoveField("order", "nickname"),')})
    assert [f.message.split(" while")[0] for f in found] == ["drops column store_order.nickname"]


def test_foreign_key_column_index_and_constraint():
    found = check({APP + "0002_fk.py": mig('''
        migrations.AddField("order", "customer",
                            models.ForeignKey(null=True, on_delete=models.CASCADE, to="shop.customer")),
    ''')})
    # the constraint comes with the new column, NULL in every row: PostgreSQL does not scan (tests/proof CLM203)
    assert codes(found) == [("CLM201", 7)]
    assert all("shop_order_customer_id" in f.message for f in found)


def test_foreign_key_with_a_default_is_validated_over_every_row():
    found = check({APP + "0002_fk.py": mig('''
        migrations.AddField("order", "customer",
                            models.ForeignKey(null=True, default=1, on_delete=models.CASCADE, to="shop.customer")),
    ''')})
    assert ("CLM203", 7) in codes(found)


def test_fk_without_constraint_or_index_is_quiet():
    found = check({APP + "0002_fk.py": mig('''
        migrations.AddField("order", "customer", models.ForeignKey(
            null=True, db_index=False, db_constraint=False, on_delete=models.CASCADE, to="shop.customer")),
    ''')})
    assert found == []


def test_python_only_alter_field_is_a_no_op_and_a_type_change_is_not():
    head = {APP + "0001_initial.py": INITIAL, APP + "0002_alter.py": mig('''
        migrations.AlterField("order", "nickname", models.CharField(max_length=64, null=True, help_text="x",
                                                                    choices=[("a", "A")], default="a")),
        migrations.AlterField("order", "total", models.DecimalField(max_digits=12, decimal_places=4)),
    ''', '[("shop", "0001_initial")]')}
    found = check(head)
    assert {f.rule for f in found} == {"CLM206"}  # widening is safe for v1 but rewrites the table
    assert all(f.line == 9 for f in found)


def test_separate_database_and_state_reports_the_drop_once():
    head = {APP + "0001_initial.py": INITIAL,
            APP + "0002_forget.py": mig('''
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveField("order", "nickname")],
            database_operations=[migrations.RunSQL("ALTER TABLE orders DROP COLUMN nickname")],
        ),
    ''', '[("shop", "0001_initial")]'),
            APP + "0003_after.py": mig('migrations.AddField("order", "note", models.TextField(null=True)),',
                                       '[("shop", "0002_forget")]')}
    found = check(head)
    assert codes(found) == [("CLM101", 9)]  # the RunSQL inside database_operations


def test_reverse_sql_never_runs_forward():
    found = check({APP + "0002_sql.py": mig('''
        migrations.RunSQL("CREATE TABLE audit (id int)", reverse_sql="DROP TABLE orders"),
    ''')})
    assert found == []


def test_run_sql_state_operations_update_the_state():
    head = {APP + "0001_initial.py": INITIAL, APP + "0002_sql.py": mig('''
        migrations.RunSQL("ALTER TABLE orders RENAME TO sales",
                          state_operations=[migrations.AlterModelTable("order", "sales")]),
    ''', '[("shop", "0001_initial")]'),
            APP + "0003_drop.py": mig('migrations.RemoveField("order", "total"),', '[("shop", "0002_sql")]')}
    found = check(head)
    assert [(f.rule, f.path.rsplit("/", 1)[1]) for f in sorted(found, key=lambda f: f.path)] == [
        ("CLM104", "0002_sql.py"), ("CLM101", "0003_drop.py")]
    assert "sales.total" in [f for f in found if f.rule == "CLM101"][0].message


def test_many_to_many_through_table_and_model_renames():
    head = {APP + "0001_initial.py": INITIAL, APP + "0002_m2m.py": mig('''
        migrations.RemoveField("order", "tags"),
        migrations.RenameModel("Order", "Sale"),
    ''', '[("shop", "0001_initial")]')}
    found = check(head)
    assert codes(found) == [("CLM102", 7)]  # the table has an explicit db_table: RenameModel keeps it
    assert "orders_tags" in found[0].message


def test_rename_model_renames_its_default_table():
    found = check({APP + "0002_rename.py": mig('migrations.RenameModel("Order", "Sale"),')})
    assert codes(found) == [("CLM104", 7)]
    assert "shop_order to shop_sale" in found[0].message


def test_unique_together_and_unique_field_on_existing_table():
    found = check({APP + "0002_unique.py": mig('''
        migrations.AlterUniqueTogether("order", {("nickname", "total")}),
        migrations.AddField("order", "code", models.CharField(max_length=8, unique=True, default="x")),
    ''')})
    rules = {(f.rule, f.line) for f in found}
    # v1 may write duplicates, and the build locks: one change, one finding, both consequences in it
    assert ("CLM111", 7) in rules and ("CLM204", 7) not in rules
    assert "ACCESS EXCLUSIVE lock" in next(f.message for f in found if (f.rule, f.line) == ("CLM111", 7))
    # v1 cannot fill code and Django keeps no server default: v1's INSERTs fail on NOT NULL (CLM106), which
    # is the one finding for that change; the UNIQUE adds nothing v1 could still suffer
    assert ("CLM106", 8) in rules and ("CLM111", 8) not in rules


def test_nullable_unique_field_v1_leaves_null_is_not_a_constraint_v1_breaks():
    found = check({APP + "0002_unique.py": mig('migrations.AddField("order", "code", models.CharField('
                                               'max_length=8, unique=True, null=True)),')})
    assert {f.rule for f in found} == {"CLM204"}


def test_concurrent_index_needs_a_non_atomic_migration():
    header = "from django.contrib.postgres.operations import AddIndexConcurrently"
    op = 'AddIndexConcurrently("order", models.Index(fields=["total"], name="order_total_idx")),'
    assert codes(check({APP + "0002_ix.py": mig(op, header=header)})) == [("CLM202", 7)]
    assert check({APP + "0002_ix.py": mig(op, header=header, extra="    atomic = False\n")}) == []


def test_mysql_runs_no_ddl_transaction():
    head = {APP + "0002_fill.py": mig('''
        migrations.AddField("order", "note", models.TextField(null=True)),
        migrations.RunPython(lambda apps, schema_editor: None),
    ''')}
    assert codes(check(head)) == [("CLM207", 8)]
    assert codes(check(head, dialect="mysql")) == []


def test_history_problems_leaves_and_missing_dependency():
    empty = mig("", "[]", extra="    initial = True\n")
    head = {APP + "0001_initial.py": empty,
            APP + "0002_a.py": mig("", '[("shop", "0001_initial")]'),
            APP + "0002_b.py": mig("", '[("shop", "0001_initial")]'),
            APP + "0003_c.py": mig("", '[("shop", "0002_a"), ("shop", "0002_missing"), ("auth", "0001_initial")]')}
    found = check(head)
    messages = sorted(f.message for f in found if f.rule == "CLM302")
    assert len(messages) == 2
    assert "leaf migrations (0002_b, 0003_c)" in messages[0]
    assert "0002_missing" in messages[1] and "does not exist" in messages[1]


def test_squashed_migration_is_not_replayed_twice():
    head = {APP + "0001_initial.py": INITIAL,
            APP + "0002_drop.py": mig('migrations.RemoveField("order", "nickname"),', '[("shop", "0001_initial")]'),
            APP + "0001_squashed_0002.py": mig('''
        migrations.RemoveField("order", "nickname"),
    ''', "[]", extra='    replaces = [("shop", "0001_initial"), ("shop", "0002_drop")]\n')}
    assert codes(check(head)) == [("CLM101", 7)]


def test_custom_operation_and_module_level_code_are_read_not_run(tmp_path):
    marker = tmp_path / "ran"
    head = {APP + "0002_custom.py": mig('MyOperation("x"),', header=f"open({str(marker)!r}, 'w').write('x')")}
    found = check(head)
    assert codes(found) == [("CLM303", 7)]
    assert "MyOperation" in found[0].message
    assert not marker.exists()


def test_syntax_error_is_cl001_for_that_file_only():
    head = {APP + "0002_broken.py": "class Migration(migrations.Migration):\n    operations = [\n",
            APP + "0003_drop.py": mig('migrations.RemoveField("order", "total"),')}
    found = check(head)
    assert sorted((f.rule, f.path.rsplit("/", 1)[1]) for f in found) == [("CL001", "0002_broken.py"),
                                                                        ("CLM101", "0003_drop.py")]


def test_v1_models_decide_a_drop_and_downgrade_only_with_proof():
    models_v1 = ("from django.db import models\n\n\nclass Order(models.Model):\n"
                 "    nickname = models.CharField(max_length=64, null=True)\n"
                 "    total = models.DecimalField(max_digits=10, decimal_places=2)\n")
    models_v2 = ("from django.db import models\n\n\nclass Order(models.Model):\n"
                 "    total = models.DecimalField(max_digits=10, decimal_places=2)\n")
    drop = {APP + "0002_drop.py": mig('migrations.RemoveField("order", "nickname"),')}
    still = check({**drop, "shop/models.py": models_v2}, {"shop/models.py": models_v1})
    assert [(f.rule, f.severity.value) for f in still] == [("CLM101", "error")]
    assert "maps it in shop/models.py:5" in still[0].message
    gone = check({**drop, "shop/models.py": models_v2}, {"shop/models.py": models_v2})
    assert [(f.rule, f.severity.value) for f in gone] == [("CLM101", "warning")]


def test_suppression_on_the_operation_line():
    head = {APP + "0002_drop.py": mig('migrations.RemoveField("order", "nickname"),  '
                                      '# canary-lint: ignore[CLM101] nothing reads it since 2.3')}
    assert check(head) == []


def test_constraints_a_unique_one_and_a_check_that_proves_not_null():
    found = check({APP + "0002_constraints.py": mig('''
        migrations.AddConstraint("order", models.UniqueConstraint(fields=["nickname"], name="order_nick_uniq")),
        migrations.AddConstraint("order", models.CheckConstraint(condition=models.Q(total__isnull=False),
                                                                 name="order_total_nn")),
    ''')})
    rules = {(f.rule, f.line) for f in found}
    assert ("CLM111", 7) in rules and ("CLM204", 7) not in rules  # the lock is in CLM111's message
    assert ("CLM203", 8) in rules
    assert not any(f.rule == "CL005" for f in found)


def test_a_relation_target_differing_only_in_case_is_the_same_model():
    head = {APP + "0001_initial.py": mig('''
        migrations.CreateModel("Item", [("id", models.AutoField(primary_key=True)),
                                        ("tag", models.ForeignKey(on_delete=models.CASCADE, to="shop.Tag"))]),
    ''', extra="    initial = True\n"),
            APP + "0002_alter.py": mig('''
        migrations.AlterField("item", "tag", models.ForeignKey(on_delete=models.CASCADE, related_name="items",
                                                               to="shop.tag")),
    ''', '[("shop", "0001_initial")]')}
    assert check(head) == []


def test_alter_constraint_runs_no_sql_and_a_m2m_with_its_own_table_name_renames_no_table():
    found = check({APP + "0001_initial.py": INITIAL,
                   APP + "0002_alter.py": mig('''
                       migrations.AlterConstraint(model_name="order", name="total_positive",
                                                  constraint=models.CheckConstraint(condition=models.Q(total__gte=0),
                                                                                    name="total_positive")),
                   ''', '[("shop", "0001_initial")]')})
    assert codes(found) == []  # not an unknown operation (CLM303)
    m2m_table = INITIAL.replace('models.ManyToManyField(to="shop.tag")',
                                'models.ManyToManyField(to="shop.tag", db_table="order_tags")')
    found = check({APP + "0001_initial.py": m2m_table,
                   APP + "0002_rename.py": mig('migrations.RenameField("order", "tags", "labels"),',
                                               '[("shop", "0001_initial")]')})
    assert [f.rule for f in found] == []  # db_table keeps the join table's name
    found = check({APP + "0001_initial.py": INITIAL,
                   APP + "0002_rename.py": mig('migrations.RenameField("order", "tags", "labels"),',
                                               '[("shop", "0001_initial")]')})
    assert [(f.rule, "orders_tags" in f.message and "orders_labels" in f.message) for f in found] == [("CLM104", True)]
