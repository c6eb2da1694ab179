"""The states of an event (the closed loop, DESIGN §5) and the step clock each starts."""

from __future__ import annotations

from enum import StrEnum

from django.utils.translation import gettext_lazy as _


class State(StrEnum):
    REPORTED = "reported"
    VERIFYING = "verifying"
    REGISTERED = "registered"
    DISPATCHED = "dispatched"
    RETURNED = "returned"
    IN_PROGRESS = "in_progress"
    SUSPENDED = "suspended"
    AWAITING_CHECK = "awaiting_check"
    CLOSED = "closed"
    ARCHIVED = "archived"
    REJECTED = "rejected"
    MERGED = "merged"
    CANCELLED = "cancelled"


STATE_LABELS = {
    State.REPORTED: _("awaiting acceptance"),
    State.VERIFYING: _("awaiting verification"),
    State.REGISTERED: _("registered"),
    State.DISPATCHED: _("awaiting signature"),
    State.RETURNED: _("returned, awaiting review"),
    State.IN_PROGRESS: _("being handled"),
    State.SUSPENDED: _("suspended"),
    State.AWAITING_CHECK: _("awaiting check"),
    State.CLOSED: _("closed"),
    State.ARCHIVED: _("archived"),
    State.REJECTED: _("not accepted"),
    State.MERGED: _("merged"),
    State.CANCELLED: _("cancelled"),
}

TERMINAL = frozenset({State.ARCHIVED, State.REJECTED, State.MERGED, State.CANCELLED})
OPEN = frozenset(State) - TERMINAL - {State.CLOSED}
# States in which a step clock runs (suspended pauses it; closed waits only for the return visit).
CLOCKED = OPEN - {State.SUSPENDED}

# Accepted by a centre and not withdrawn, refused or merged: what the square map may show, under
# three public stages.
PUBLIC_STAGES: dict[str, frozenset[State]] = {
    "accepted": frozenset({State.REGISTERED, State.DISPATCHED, State.RETURNED}),
    "handling": frozenset({State.IN_PROGRESS, State.SUSPENDED, State.AWAITING_CHECK}),
    "done": frozenset({State.CLOSED, State.ARCHIVED}),
}
PUBLIC_STAGE_LABELS = {
    "accepted": _("accepted"),
    "handling": _("being handled"),
    "done": _("done"),
}
PUBLIC_STATES = frozenset().union(*PUBLIC_STAGES.values())
STAGE_OF_STATE = {state: stage for stage, states in PUBLIC_STAGES.items() for state in states}

# The step whose clock starts when an event enters a state (see sla.STEP_LIMITS).
STEP_OF_STATE: dict[State, str] = {
    State.REPORTED: "accept",
    State.VERIFYING: "verify",
    State.REGISTERED: "dispatch",
    State.DISPATCHED: "sign",
    State.RETURNED: "review",
    State.IN_PROGRESS: "handle",
    State.AWAITING_CHECK: "check",
    State.CLOSED: "revisit",
}
