from django.urls import path

from . import command, notices, patrols, views

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("post/", views.switch_post, name="switch_post"),
    path("queue/", views.queue, name="queue"),
    path("inbox/", views.inbox, name="inbox"),
    path("poll/", views.poll, name="poll"),
    path("notices/", notices.notices_page, name="notices"),
    path("notices/ticket/", notices.ticket, name="notices_ticket"),
    path("events/<str:code>/", views.event_page, name="event"),
    path("events/<str:code>/act/<str:action>/", views.act, name="act"),
    path("events/<str:code>/reporter/", views.unmask, name="unmask"),
    path("events/<str:code>/sheet/", views.sheet, name="sheet"),
    path("events/<str:code>/map.json", views.event_map, name="event_map"),
    path("attachments/<uuid:pk>/", views.attachment_file, name="attachment"),
    path("board/", command.board, name="board"),
    path("map/", command.map_page, name="map"),
    path("map/events.json", command.map_events, name="map_events"),
    path("map/grids.json", command.map_grids, name="map_grids"),
    path("wall/", command.wall, name="wall"),
    path("wall/data.json", command.wall_data, name="wall_data"),
    path("grids/", command.grids, name="grids"),
    path("grids/<str:code>/", command.grid_page, name="grid"),
    path("grids/<str:code>/assign/", command.grid_assign, name="grid_assign"),
    path("grids/<str:code>/end/<int:post_id>/", command.grid_unassign, name="grid_unassign"),
    path("patrols/", patrols.patrols, name="patrols"),
    path("patrols/map.json", patrols.patrols_map, name="patrols_map"),
    path("patrols/<uuid:pk>/", patrols.patrol_page, name="patrol"),
]
