"""A local fake of WeChat's API server, spoken to over HTTP by wechatpy's own client: the access
token, temporary media, template and customer-service messages. It checks what WeChat checks
(credentials, the access token, required fields) and records what it was sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from ...loopback import http_server

APPID, SECRET = "wx1234567890abcdef", "fake-app-secret"


@dataclass
class WeChatApi:
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # id -> (type, bytes)
    failures: dict[str, int] = field(default_factory=dict)  # media id -> 500s before success
    sent: list[dict[str, Any]] = field(default_factory=list)
    token_fetches: int = 0
    tokens: set[str] = field(default_factory=set)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin/"

    def templates(self) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["kind"] == "template"]

    def texts(self) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["kind"] == "custom"]


def _handler(api: WeChatApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, body: dict[str, Any], status: int = 200) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _query(self) -> tuple[str, dict[str, str]]:
            url = urlparse(self.path)
            return url.path, {k: v[0] for k, v in parse_qs(url.query).items()}

        def _authorised(self, q: dict[str, str]) -> bool:
            if q.get("access_token") in api.tokens:
                return True
            self._json({"errcode": 40001, "errmsg": "invalid credential"})
            return False

        def do_GET(self) -> None:
            path, q = self._query()
            if path == "/cgi-bin/token":
                if q.get("appid") != APPID or q.get("secret") != SECRET:
                    return self._json({"errcode": 40125, "errmsg": "invalid appsecret"})
                api.token_fetches += 1
                token = f"token-{api.token_fetches}"
                api.tokens.add(token)
                return self._json({"access_token": token, "expires_in": 7200})
            if path == "/cgi-bin/media/get":
                if not self._authorised(q):
                    return None
                media_id = q.get("media_id", "")
                if api.failures.get(media_id, 0) > 0:
                    api.failures[media_id] -= 1
                    return self._json({"errcode": -1, "errmsg": "system busy"}, status=500)
                if media_id not in api.media:
                    return self._json({"errcode": 40007, "errmsg": "invalid media_id"})
                ctype, data = api.media[media_id]
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return None
            return self._json({"errcode": 404, "errmsg": "not found"}, status=404)

        def do_POST(self) -> None:
            path, q = self._query()
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            if not self._authorised(q):
                return None
            if path == "/cgi-bin/message/template/send":
                if not (body.get("touser") and body.get("template_id") and body.get("data")):
                    return self._json({"errcode": 47001, "errmsg": "data format error"})
                api.sent.append({"kind": "template", **body})
                return self._json({"errcode": 0, "errmsg": "ok", "msgid": len(api.sent)})
            if path == "/cgi-bin/message/custom/send":
                if body.get("msgtype") != "text" or not body.get("touser"):
                    return self._json({"errcode": 47001, "errmsg": "data format error"})
                api.sent.append({"kind": "custom", **body})
                return self._json({"errcode": 0, "errmsg": "ok"})
            return self._json({"errcode": 404, "errmsg": "not found"}, status=404)

    return Handler


@contextmanager
def running() -> Iterator[WeChatApi]:
    api = WeChatApi()
    with http_server(_handler(api)) as api.port:
        yield api
