"""Django's browser middleware, passed by for bearer-token API calls (core.middleware.
``browser_only``): settings.MIDDLEWARE names these in place of Django's own."""

from __future__ import annotations

from django.contrib.auth.middleware import AuthenticationMiddleware as _Auth
from django.contrib.messages.middleware import MessageMiddleware as _Messages
from django.contrib.sessions.middleware import SessionMiddleware as _Session
from django.middleware.csrf import CsrfViewMiddleware as _Csrf

from .middleware import browser_only

SessionMiddleware = browser_only(_Session)
CsrfViewMiddleware = browser_only(_Csrf)
AuthenticationMiddleware = browser_only(_Auth)
MessageMiddleware = browser_only(_Messages)
