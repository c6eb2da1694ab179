"""wechatpy's API client, pointed where the settings say, its access token shared by every
process through the database (WeChat limits how often a token may be fetched)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from .models import Kept

TIMEOUT = 10  # seconds per API call; the outbox and the media job retry


class SharedStorage:
    """wechatpy's session storage over a table every process shares (models.Kept): one access
    token for the web workers and the ticker, not one each taking turns to invalidate the
    others'."""

    def get(self, key: str, default: Any = None) -> Any:
        row = Kept.objects.filter(key=f"session:{key}", expires_at__gt=timezone.now()).first()
        return json.loads(row.value) if row else default

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        until = timezone.now() + timedelta(seconds=ttl or 7200)
        Kept.objects.update_or_create(
            key=f"session:{key}", defaults={"value": json.dumps(value), "expires_at": until}
        )

    def delete(self, key: str) -> None:
        Kept.objects.filter(key=f"session:{key}").delete()

    def __getitem__(self, key: str) -> Any:
        return self.get(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.set(key, value)

    def __delitem__(self, key: str) -> None:
        self.delete(key)


def client() -> Any:
    """A WeChatClient for the configured account; raises when the account is not configured."""
    from wechatpy import WeChatClient

    if not (settings.WECHAT_APPID and settings.WECHAT_SECRET):
        raise RuntimeError("GRIDGOV_WECHAT_APPID and GRIDGOV_WECHAT_SECRET are not set")

    class Client(WeChatClient):
        API_BASE_URL = settings.WECHAT_API_BASE or WeChatClient.API_BASE_URL

        def fetch_access_token(self) -> Any:
            # wechatpy names WeChat's host here, not API_BASE_URL: follow the setting
            return self._fetch_access_token(
                url=self.API_BASE_URL + "token",
                params={
                    "grant_type": "client_credential",
                    "appid": self.appid,
                    "secret": self.secret,
                },
            )

    made = Client(
        settings.WECHAT_APPID, settings.WECHAT_SECRET, session=SharedStorage(), timeout=TIMEOUT
    )
    _always_time_out(made._http)
    return made


def _always_time_out(http: Any) -> None:
    """wechatpy fetches the access token without a timeout; a hung peer must not hang a job."""
    request = http.request

    def with_timeout(method: str, url: str, **kwargs: Any) -> Any:
        kwargs["timeout"] = kwargs.get("timeout") or TIMEOUT
        return request(method, url, **kwargs)

    http.request = with_timeout
