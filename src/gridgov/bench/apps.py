from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "gridgov.bench"
    label = "gridgov_bench"
