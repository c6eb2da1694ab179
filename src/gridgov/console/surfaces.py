"""Which work surface a signed-in person lands on, by the roles of their active posts."""

from __future__ import annotations

from typing import Any

from gridgov.accounts.roles import ADMIN_ROLES, Role
from gridgov.accounts.scope import active_posts

# Centres triage and dispatch from the queue; whoever receives work answers it in the inbox.
QUEUE_ROLES = frozenset({Role.OPERATOR, Role.CENTRE_LEADER, Role.LEADER})
INBOX_ROLES = frozenset({Role.DEPT_HANDLER, Role.GRID_WORKER, Role.GRID_LEADER})
# Who patrolled where: the centres, the leaders, and a grid leader for their grids.
PATROL_ROLES = frozenset({Role.OPERATOR, Role.CENTRE_LEADER, Role.LEADER, Role.GRID_LEADER})


def roles(user: Any) -> set[str]:
    return {p.role for p in active_posts(user)}


def has_queue(user: Any) -> bool:
    return bool(roles(user) & QUEUE_ROLES)


def has_inbox(user: Any) -> bool:
    return bool(roles(user) & INBOX_ROLES)


def has_board(user: Any) -> bool:
    """The supervision board is the centres' and the leaders' (those who urge)."""
    return bool(roles(user) & QUEUE_ROLES)


def has_patrols(user: Any) -> bool:
    return bool(roles(user) & PATROL_ROLES)


def landing(user: Any) -> str:
    """The URL name of the person's own work, or "" when none of their posts has one here."""
    if has_queue(user):
        return "console:queue"
    if has_inbox(user):
        return "console:inbox"
    if roles(user) & ADMIN_ROLES:
        return "admin:index"
    return ""
