from django.urls import re_path

from . import views

# ".json" or ".xml"; no suffix answers XML (the spec's required format).
FMT = r"(?:\.(?P<fmt>json|xml))?"

urlpatterns = [
    re_path(rf"^services{FMT}$", views.service_list),
    re_path(rf"^services/(?P<code>[A-Za-z0-9_-]{{1,32}}){FMT}$", views.service_definition),
    re_path(rf"^requests{FMT}$", views.requests),
    re_path(rf"^requests/(?P<request_id>[A-Za-z0-9_-]{{1,64}}){FMT}$", views.request_detail),
    re_path(rf"^tokens/(?P<token>[A-Za-z0-9_-]{{1,64}}){FMT}$", views.token),
    re_path(r"^(?P<rest>.*)$", views.unknown),  # every other path: 404 in the spec's format
]
