from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from . import fake
from .helpers import TOKEN


@pytest.fixture
def wechat(settings: Any) -> Iterator[fake.WeChatApi]:
    """The account configured (plain mode) against a running fake of WeChat's API server."""
    with fake.running() as api:
        settings.WECHAT_TOKEN = TOKEN
        settings.WECHAT_AES_KEY = ""
        settings.WECHAT_APPID = fake.APPID
        settings.WECHAT_SECRET = fake.SECRET
        settings.WECHAT_API_BASE = api.base
        settings.WECHAT_TEMPLATE_PROGRESS = "TPL-progress"
        settings.PUBLIC_URL = "https://grid.example"
        yield api
