from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "gridgov.ops"
    label = "gridgov_ops"
