from django.urls import path

from . import views

urlpatterns = [
    path("items", views.items, name="exchange-items"),
    path("nodes", views.nodes, name="exchange-nodes"),
]
