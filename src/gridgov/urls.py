from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

from . import views
from .accounts import views as account_views
from .api import api
from .console import views as console_views

admin.site.site_header = "gridgov 网格化服务管理平台"
admin.site.site_title = "gridgov"

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", console_views.SignIn.as_view(), name="signin"),
    path("accounts/logout/", console_views.SignOut.as_view(), name="signout"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("console/", include("gridgov.console.urls")),
    path("m/", include("gridgov.mobile.urls")),
    path("r/", include("gridgov.public.urls")),
    path("wechat/", include("gridgov.channels.wechat.urls")),
    path("open311/v2/", include("gridgov.channels.open311.urls")),
    path("exchange/v1/", include("gridgov.channels.exchange.urls")),
    # Over the admin's own: every signed-in account may change its password, audited.
    path("admin/password_change/", account_views.OwnPasswordChange.as_view()),
    path("admin/password_change/done/", account_views.OwnPasswordChangeDone.as_view()),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
