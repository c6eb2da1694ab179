from django.urls import path

from . import views

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("post/", views.switch_post, name="switch_post"),
    path("queue/", views.queue, name="queue"),
    path("inbox/", views.inbox, name="inbox"),
    path("poll/", views.poll, name="poll"),
    path("events/<str:code>/", views.event_page, name="event"),
    path("events/<str:code>/act/<str:action>/", views.act, name="act"),
    path("events/<str:code>/reporter/", views.unmask, name="unmask"),
    path("events/<str:code>/sheet/", views.sheet, name="sheet"),
    path("events/<str:code>/map.json", views.event_map, name="event_map"),
    path("attachments/<uuid:pk>/", views.attachment_file, name="attachment"),
]
