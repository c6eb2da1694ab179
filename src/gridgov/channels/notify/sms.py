"""SMS through Tencent Cloud's SMS API with its own SDK (tencentcloud-sdk-python-sms).

Text messages in mainland China go only through an approved signature (签名) and approved
templates; each of ours takes two parameters: the case number and the kind of notice."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from gridgov.events import notices as texts

# Answers meaning this number will never take the message: retrying cannot help.
UNDELIVERABLE = {
    "FailedOperation.PhoneNumberInBlacklist",
    "InvalidParameterValue.IncorrectPhoneNumber",
    "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
}


log = logging.getLogger(__name__)


class SmsError(Exception):
    pass


def _client() -> Any:
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.sms.v20210111 import sms_client

    if not (settings.SMS_SECRET_ID and settings.SMS_SECRET_KEY and settings.SMS_APP_ID):
        raise SmsError("GRIDGOV_SMS_SECRET_ID, _SECRET_KEY and _APP_ID are not set")
    http = HttpProfile(protocol=settings.SMS_SCHEME, reqTimeout=10)
    if settings.SMS_ENDPOINT:
        http.endpoint = settings.SMS_ENDPOINT
    cred = credential.Credential(settings.SMS_SECRET_ID, settings.SMS_SECRET_KEY)
    return sms_client.SmsClient(cred, settings.SMS_REGION, ClientProfile(httpProfile=http))


def send(phone: str, topic: str, payload: dict[str, Any], session: str) -> None:
    """One message to one mainland number; raises SmsError (to be retried) on failure."""
    from tencentcloud.sms.v20210111 import models

    template = settings.SMS_TEMPLATES.get(topic) or settings.SMS_TEMPLATE_DEFAULT
    if not template:
        raise SmsError(f"no SMS template for {topic} and no GRIDGOV_SMS_TEMPLATE_DEFAULT")
    req = models.SendSmsRequest()
    req.SmsSdkAppId = settings.SMS_APP_ID
    req.SignName = settings.SMS_SIGN
    req.TemplateId = template
    req.TemplateParamSet = [str(payload.get("code", ""))[:20], texts.subject(topic)[:12]]
    req.PhoneNumberSet = [phone if phone.startswith("+") else f"+86{phone}"]
    req.SessionContext = session  # our outbox id, echoed in the vendor's receipts
    status = _client().SendSms(req).SendStatusSet[0]
    if status.Code == "Ok":
        return
    if status.Code in UNDELIVERABLE:
        log.warning("SMS %s not deliverable: %s", session, status.Code)
        return
    raise SmsError(f"{status.Code}: {status.Message}")
