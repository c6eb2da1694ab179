"""Texts the pages' scripts show, translated on the server and put into each page (the
scripts hold no language of their own)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

STRINGS = {
    "locating": _("Finding your position…"),
    "located": _("Position found (about %s m). Drag the pin if it is not right."),
    "no_position": _("Could not get your position. Tap the map where it is."),
    "pin_set": _("Place set on the map."),
    "need_place": _("Set the place: use your position or tap the map."),
    "need_words": _("Describe the problem in words or record your voice."),
    "preparing": _("Getting ready to send…"),
    "sending": _("Sending…"),
    "uploading": _("Sending photo %s of %s…"),
    "sent": _("Received. Your case number:"),
    "failed": _("Not sent: %s"),
    "offline": _("No network. Please try again when you have a signal."),
    "too_many": _("You have sent a lot in a short time. Please try again in %s minutes."),
    "recording": _("Recording… %s s (tap again to stop)"),
    "recorded": _("Voice recorded (%s s)."),
    "no_mic": _("The microphone is not available; please describe in words."),
    "remove": _("Remove"),
    "not_found": _("No report with this number and these digits."),
    "need_digits": _("Enter the last four digits of the phone you gave."),
    "withdrawn": _("Your report was withdrawn."),
    "rated": _("Thank you for your rating."),
    "confirm_withdraw": _("Withdraw this report?"),
    "events_here": _("%s events here"),
    "zoom_in": _("Zoom in to see them one by one."),
    "reported_on": _("Reported"),
    "closed_on": _("Done"),
    "reply": _("Reply"),
    "nothing_here": _("Nothing to show here."),
    "step_reported": _("Received"),
    "step_accepted": _("Accepted"),
    "step_dispatched": _("Sent to the handler"),
    "step_handling": _("Being handled"),
    "step_closed": _("Done"),
    "step_reopened": _("Reopened"),
    "step_rejected": _("Not accepted"),
    "step_merged": _("Merged with a report of the same problem"),
    "step_withdrawn": _("Withdrawn"),
    "step_rated": _("Rated"),
    "rating_satisfied": _("satisfied"),
    "rating_basically": _("basically satisfied"),
    "rating_unsatisfied": _("unsatisfied"),
    "my_reports": _("My reports"),
}


def strings() -> dict[str, str]:
    return {key: str(text) for key, text in STRINGS.items()}
