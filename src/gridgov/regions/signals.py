"""Signals other apps subscribe to when the map changes."""

from django.dispatch import Signal

# Sent inside the import transaction after grids were redrawn, with
# revision=GridRevision, ended={old grid id: code}, created={code: new grid id}.
# Open work (events, patrols) moves to the new grids in the same transaction.
grids_redrawn = Signal()
