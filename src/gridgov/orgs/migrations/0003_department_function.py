"""Department functions become rows (orgs.Function) that units and categories refer to, instead
of a name matched as text. Existing names are carried over."""

import django.db.models.deletion
from django.db import migrations, models


def names_to_rows(apps, schema_editor):
    Function = apps.get_model("orgs", "Function")
    OrgUnit = apps.get_model("orgs", "OrgUnit")
    for unit in OrgUnit.objects.exclude(function_name=""):
        unit.function, _ = Function.objects.get_or_create(name=unit.function_name)
        unit.save(update_fields=["function"])


def rows_to_names(apps, schema_editor):
    OrgUnit = apps.get_model("orgs", "OrgUnit")
    for unit in OrgUnit.objects.exclude(function=None).select_related("function"):
        unit.function_name = unit.function.name
        unit.save(update_fields=["function_name"])


class Migration(migrations.Migration):

    dependencies = [
        ("orgs", "0002_orgunit_function"),
    ]

    operations = [
        migrations.CreateModel(
            name="Function",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=64, unique=True, verbose_name="name")),
            ],
            options={
                "verbose_name": "department function",
                "verbose_name_plural": "department functions",
                "ordering": ["name"],
            },
        ),
        migrations.RenameField(model_name="orgunit", old_name="function", new_name="function_name"),
        migrations.AddField(
            model_name="orgunit",
            name="function",
            field=models.ForeignKey(blank=True, help_text="For a department: what it does (its city bureau and branches share it).", null=True, on_delete=django.db.models.deletion.PROTECT, related_name="units", to="orgs.function", verbose_name="function"),
        ),
        migrations.RunPython(names_to_rows, rows_to_names),
        migrations.RemoveField(model_name="orgunit", name="function_name"),
    ]
