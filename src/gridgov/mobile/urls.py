from django.urls import path

from . import views

app_name = "mobile"

urlpatterns = [
    path("", views.shell, name="app"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="sw"),
    path("icon-<int:size>.png", views.icon, name="icon"),
]
