"""The callback WeChat's servers call: GET to verify the URL, POST for each message.

Not WeChat's (bad signature, stale timestamp, plain when safe mode is on) → 403, nothing stored.
Unreadable but signed → logged, answered with an empty success so WeChat does not retry it.
Everything else is answered at once (services.do_receive does only quick work)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import protocol, services

log = logging.getLogger(__name__)


def _params(request: HttpRequest) -> dict[str, str]:
    values = {k: request.GET.get(k, "") for k in request.GET}
    return {k: v for k, v in values.items() if isinstance(v, str) and len(v) <= 512}


@csrf_exempt
@require_http_methods(["GET", "POST"])
def callback(request: HttpRequest) -> HttpResponse:
    if not settings.WECHAT_TOKEN:
        raise Http404  # the door is closed until an account is configured
    params = _params(request)
    try:
        if request.method == "GET":  # the URL check, plain in both modes
            protocol.verify(params)
            return HttpResponse(params.get("echostr", ""), content_type="text/plain")
        xml = protocol.check(params, request.body)
    except protocol.BadRequest as exc:
        log.warning("wechat callback refused: %s", exc)
        return HttpResponse("forbidden", status=403, content_type="text/plain")
    except protocol.Malformed as exc:
        log.warning("wechat callback unreadable: %s", exc)
        return _success()
    return _answer(xml, params)


def _answer(xml: str, params: dict[str, str]) -> HttpResponse:
    try:
        incoming = protocol.parse(xml)
    except protocol.Malformed as exc:
        log.warning("wechat message unreadable: %s", exc)
        return _success()
    body = protocol.reply(incoming, services.do_receive(incoming))
    if not body:
        return _success()
    if settings.WECHAT_AES_KEY:
        body = protocol.encrypt(body, params["nonce"], params["timestamp"])
    return HttpResponse(body, content_type="application/xml; charset=utf-8")


def _success() -> HttpResponse:
    """WeChat's "received, no reply" answer."""
    return HttpResponse("success", content_type="text/plain")
