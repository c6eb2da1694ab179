from django.apps import AppConfig


class PlainConfig(AppConfig):
    name = "gridgov.bench.plain"
    label = "plainbench"
    default_auto_field = "django.db.models.BigAutoField"
