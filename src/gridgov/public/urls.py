from django.urls import path

from . import views

app_name = "public"

urlpatterns = [
    path("", views.report, name="report"),
    path("track/", views.track, name="track"),
    path("square/", views.square, name="square"),
]
