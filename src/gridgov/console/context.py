"""What every console page's header needs: the person's posts, the chosen one, their surfaces."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from gridgov.accounts import notifications
from gridgov.accounts.middleware import ACTIVE_POST
from gridgov.accounts.scope import active_posts, all_posts

from . import surfaces


def work(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not request.path.startswith("/console/"):
        return {}
    chosen = request.session.get(ACTIVE_POST)
    # Without a chosen post the request already read all of them (the scope's own list).
    posts = active_posts(user) if chosen is None else all_posts(user)
    return {
        "posts": posts,
        "active_post": chosen,
        "has_queue": surfaces.has_queue(user),
        "has_inbox": surfaces.has_inbox(user),
        "has_board": surfaces.has_board(user),
        "has_patrols": surfaces.has_patrols(user),
        "unread": notifications.unread(user),
    }
