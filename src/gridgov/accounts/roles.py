"""Roles (DESIGN §1) and what each may do to which kind of record, as data."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    GRID_WORKER = "grid_worker", _("grid worker")
    GRID_LEADER = "grid_leader", _("grid leader")
    OPERATOR = "operator", _("seat operator")
    CENTRE_LEADER = "centre_leader", _("centre leader")
    DEPT_HANDLER = "dept_handler", _("department handler")
    MEDIATOR = "mediator", _("mediator")
    LEADER = "leader", _("leader / analyst")
    SYS_ADMIN = "sys_admin", _("system administrator")
    SECURITY_ADMIN = "security_admin", _("security administrator")
    AUDIT_ADMIN = "audit_admin", _("audit administrator")
    # An account a channel (WeChat official account, Open311 gateway, the public web page)
    # uses to report for the public; it reads nothing.
    CHANNEL = "channel", _("channel account")


# 三员分立: no account may hold two of these.
ADMIN_ROLES = frozenset({Role.SYS_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN})

READ_ACTIONS = ("view", "list", "search", "export", "map", "stats")
ALL_ACTIONS = (*READ_ACTIONS, "change")

_READ = frozenset(READ_ACTIONS)
_ALL = frozenset(ALL_ACTIONS)

# Every staff role reads the map's reference data; only the system administrator changes it.
_REFERENCE: dict[str, frozenset[str]] = {
    Role.GRID_WORKER: _READ,
    Role.GRID_LEADER: _READ,
    Role.OPERATOR: _READ,
    Role.CENTRE_LEADER: _READ,
    Role.DEPT_HANDLER: _READ,
    Role.MEDIATOR: _READ,
    Role.LEADER: _READ,
    Role.SYS_ADMIN: _ALL,
}

# resource -> role -> allowed actions. Anything absent is refused.
PERMISSIONS: dict[str, dict[str, frozenset[str]]] = {
    "region": _REFERENCE,
    "grid": _REFERENCE,
    "orgunit": {
        Role.OPERATOR: _READ,
        Role.CENTRE_LEADER: _READ,
        Role.LEADER: _READ,
        Role.SYS_ADMIN: _ALL,
    },
    "post": {
        # A centre leader puts grid workers on the grids of their area (accounts.services).
        Role.CENTRE_LEADER: _READ | {"assign"},
        Role.SYS_ADMIN: _ALL,
        Role.SECURITY_ADMIN: _READ,
    },
    "event": {
        Role.GRID_WORKER: _READ,
        Role.GRID_LEADER: _READ,
        # Seat operators phone reporters back (回访), so they may unmask them, with a reason.
        Role.OPERATOR: _READ | {"unmask"},
        Role.CENTRE_LEADER: _READ | {"unmask"},
        Role.DEPT_HANDLER: _READ,  # narrowed to their unit's events (events.apps)
        Role.LEADER: _READ,
    },
    # Patrols (巡查): grid staff walk them (narrowed to a grid worker's own, patrol.apps); the
    # centres and leaders of the area read them. Checkpoints are reference data.
    "patrol": {
        Role.GRID_WORKER: _READ | {"start"},
        Role.GRID_LEADER: _READ | {"start"},
        Role.OPERATOR: _READ,
        Role.CENTRE_LEADER: _READ,
        Role.LEADER: _READ,
    },
    "checkpoint": _REFERENCE,
    "audit": {
        Role.AUDIT_ADMIN: frozenset({"view", "list", "search", "export", "stats"}),
    },
    # Sign-in lockouts: security policy is the security administrator's (accounts/signin.py).
    "signin": {
        Role.SECURITY_ADMIN: frozenset({"view", "list", "change"}),
    },
}


def allowed(resource: str, role: str, action: str) -> bool:
    return action in PERMISSIONS.get(resource, {}).get(role, frozenset())
