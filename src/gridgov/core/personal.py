"""Personal data: one normalisation and one masking rule for every page, export and API.

DESIGN §8: phone 3+4 (``138****1234``), ID number 3+4, names surname + ``*``. Presenters call
these; pages and the API never mask by themselves.
"""

from __future__ import annotations

import re

_NON_DIGITS = re.compile(r"\D")


def normalize_phone(phone: str) -> str:
    """Digits only, without China's +86: the form blind indexes are computed on."""
    digits = _NON_DIGITS.sub("", phone or "")
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def mask_phone(phone: str) -> str:
    digits = normalize_phone(phone)
    if len(digits) >= 7:
        return digits[:3] + "****" + digits[-4:]
    return "*" * len(digits)


def mask_name(name: str) -> str:
    name = (name or "").strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def mask_id_number(number: str) -> str:
    number = (number or "").strip()
    if len(number) < 8:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def mask_openid(openid: str) -> str:
    openid = (openid or "").strip()
    return openid[:4] + "****" if openid else ""
