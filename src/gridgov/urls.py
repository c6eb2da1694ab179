from django.contrib import admin
from django.urls import path

from . import views
from .api import api

admin.site.site_header = "gridgov 网格化服务管理平台"
admin.site.site_title = "gridgov"

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
