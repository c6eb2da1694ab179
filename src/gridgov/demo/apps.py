from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "gridgov.demo"
    label = "gridgov_demo"
