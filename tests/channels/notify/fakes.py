"""Real peers on loopback for the notification adapters: an SMTP server (aiosmtpd) and a fake
of Tencent Cloud's SMS API that checks the TC3-HMAC-SHA256 signature as Tencent documents it."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler
from typing import Any

from ...loopback import http_server

SECRET_ID, SECRET_KEY, APP_ID = "AKIDfake", "fake-secret-key", "1400000001"


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    from gridgov.bench.webserver import free_port

    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class SmsApi:
    sent: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    answer_code: str = "Ok"
    port: int = 0


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_signature(secret: str, headers: dict[str, str], body: bytes, service: str) -> str:
    """Tencent Cloud's API signature v3, from its documentation (签名方法 v3)."""
    timestamp = headers["x-tc-timestamp"]
    date = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{headers['content-type']}\nhost:{headers['host']}\n",
            "content-type;host",
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(("TC3" + secret).encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _sms_handler(api: SmsApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, response: dict[str, Any]) -> None:
            data = json.dumps({"Response": {"RequestId": "fake-1", **response}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            auth = headers.get("authorization", "")
            want = tc3_signature(SECRET_KEY, headers, body, "sms")
            if f"Credential={SECRET_ID}/" not in auth or f"Signature={want}" not in auth:
                api.bad_signatures += 1
                return self._answer(
                    {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad"}}
                )
            if headers.get("x-tc-action") != "SendSms":
                return self._answer({"Error": {"Code": "InvalidAction", "Message": "?"}})
            req = json.loads(body)
            api.sent.append(req)
            return self._answer(
                {
                    "SendStatusSet": [
                        {
                            "SerialNo": f"serial-{len(api.sent)}",
                            "PhoneNumber": number,
                            "Fee": 1,
                            "SessionContext": req.get("SessionContext", ""),
                            "Code": api.answer_code,
                            "Message": "send success" if api.answer_code == "Ok" else "no",
                            "IsoCode": "CN",
                        }
                        for number in req["PhoneNumberSet"]
                    ]
                }
            )

    return Handler


@contextmanager
def sms_server() -> Iterator[SmsApi]:
    api = SmsApi()
    with http_server(_sms_handler(api)) as api.port:
        yield api
