"""A category sends its work to a department function (orgs.Function), a real reference
instead of a department name matched as text. Existing names are carried over."""

import django.db.models.deletion
from django.db import migrations, models


def names_to_rows(apps, schema_editor):
    Function = apps.get_model("orgs", "Function")
    Category = apps.get_model("events", "Category")
    for cat in Category.objects.exclude(department_name=""):
        cat.function, _ = Function.objects.get_or_create(name=cat.department_name)
        cat.save(update_fields=["function"])


def rows_to_names(apps, schema_editor):
    Category = apps.get_model("events", "Category")
    for cat in Category.objects.exclude(function=None).select_related("function"):
        cat.department_name = cat.function.name
        cat.save(update_fields=["department_name"])


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0003_per_caller_keys"),
        ("orgs", "0003_department_function"),
    ]

    operations = [
        migrations.AddField(
            model_name="category",
            name="function",
            field=models.ForeignKey(blank=True, help_text="The function whose department, most local to the event, handles it.", null=True, on_delete=django.db.models.deletion.PROTECT, related_name="categories", to="orgs.function", verbose_name="department function"),
        ),
        migrations.RunPython(names_to_rows, rows_to_names),
        migrations.RemoveField(model_name="category", name="department_name"),
    ]
