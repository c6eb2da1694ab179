"""The conversation as data: what a user's words and menu clicks mean, and what they are told.

A report is put together from messages: words (or voice), photos, a place, then 提交. The
draft lives while the user keeps talking and is abandoned after WECHAT_DRAFT_TTL."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# Commands, compared after trimming spaces and punctuation; anything else is part of the report.
COMMANDS: dict[str, str] = {
    "提交": "submit",
    "确认": "submit",
    "submit": "submit",
    "取消": "cancel",
    "cancel": "cancel",
    "进度": "progress",
    "查询": "progress",
    "progress": "progress",
    "帮助": "help",
    "help": "help",
    "上报": "start",
    "report": "start",
}

# Menu buttons (EventKey of a CLICK event) the account's menu may carry.
MENU: dict[str, str] = {
    "REPORT": "start",
    "PROGRESS": "progress",
    "HELP": "help",
}

MAX_TEXT = 2000  # what a report's description keeps from the conversation's words
MAX_MEDIA = 9  # photos and voice messages per report (intake's limit)
PROGRESS_ROWS = 5  # reports listed by 进度

TEXTS = {
    "welcome": _(
        "Welcome. To report a problem, send a description (words or voice), photos, then your "
        "location, and reply 提交 (submit). Reply 进度 to follow your reports."
    ),
    "help": _(
        "Send a description (words or voice), photos if you have them, and your location "
        "(+ → Location), then reply 提交. Reply 取消 to start over, 进度 to follow your reports."
    ),
    "started": _("Please describe the problem in words or by voice, then send your location."),
    "noted_text": _("Noted. Add photos or your location, then reply 提交 (submit)."),
    "noted_voice": _("Voice received. Add photos or your location, then reply 提交 (submit)."),
    "noted_photo": _("Photo {n} received. Send your location, then reply 提交 (submit)."),
    "noted_place": _("Location received: {label}. Reply 提交 (submit) when you are done."),
    "too_many_media": _("A report takes at most 9 photos and voice messages."),
    "outside": _("This place lies outside the area we serve. Please send another location."),
    "need_words": _("Please describe the problem in words or by voice first."),
    "need_place": _("Please send your location (+ → Location) first."),
    "nothing": _("There is no report in progress. Describe the problem to start one."),
    "cancelled": _("Your draft has been discarded."),
    "submitted": _(
        "Thank you. Your report is registered as {code}. You will be told of its progress; "
        "reply 进度 at any time."
    ),
    "waiting_media": _(
        "Thank you. We are still receiving your photos; your case number follows in a moment."
    ),
    "busy": _("You have sent a lot in a short time. Please try again in a while."),
    "no_reports": _("You have no reports yet."),
    "progress_line": _("{code} · {date} · {state}"),
    "failed": _("Sorry, the report could not be registered: {reason}"),
    "media_lost": _(
        "Sorry, one of your photos or voice messages could not be received. Please send it again."
    ),
    "receipt": _("Your report is registered as {code}. Reply 进度 to follow it."),
    "progress_push": _("Your report {code}: {state}."),
}
