"""The crypto provider: one place that knows which algorithms protect gridgov's data.

Defaults follow the 密评 profile in shared/reference/security.md: HMAC-SM3 for keyed hashes
(audit chain, blind indexes). SM4 for field encryption arrives with the sensitive registers.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hmac
from django.conf import settings


def keyed_hash(data: bytes, key: bytes | None = None) -> str:
    """HMAC-SM3 of ``data`` as lowercase hex."""
    mac = hmac.HMAC(key if key is not None else settings.AUDIT_KEY.encode(), hashes.SM3())
    mac.update(data)
    return mac.finalize().hex()
