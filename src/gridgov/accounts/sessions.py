"""Staff sessions in the database, read with one fixed statement.

Every console request (the 800 open consoles' polls above all) reads its session: Django's
database store asks the ORM, which compiles the same lookup on every request. This store runs
that lookup as a statement built once (core.sql); everything else is Django's.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.core.exceptions import SuspiciousOperation
from django.db import connection
from django.utils import timezone

from gridgov.core import sql

_WHERE = "session_key = %s AND expire_date > %s"


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Any:
        key = self.session_key
        if key is None:
            return None
        expire = Session._meta.get_field("expire_date")
        now = expire.get_db_prep_value(timezone.now(), connection)
        try:
            found = sql.select(
                Session, ["session_key", "session_data", "expire_date"], _WHERE, [key, now]
            )
        except SuspiciousOperation as e:  # as Django's own store
            logging.getLogger(f"django.security.{e.__class__.__name__}").warning(str(e))
            found = []
        if not found:
            self._session_key = None
            return None
        return found[0]
