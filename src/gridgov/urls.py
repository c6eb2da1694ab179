from django.contrib import admin
from django.urls import path

from . import views
from .accounts import views as account_views
from .api import api

admin.site.site_header = "gridgov 网格化服务管理平台"
admin.site.site_title = "gridgov"

urlpatterns = [
    path("", views.home, name="home"),
    # Over the admin's own: every signed-in account may change its password, audited.
    path("admin/password_change/", account_views.OwnPasswordChange.as_view()),
    path("admin/password_change/done/", account_views.OwnPasswordChangeDone.as_view()),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
