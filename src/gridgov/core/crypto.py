"""The crypto provider: the one place that knows which algorithms protect gridgov's data.

The 密评 profile of shared/reference/security.md: HMAC-SM3 for keyed hashes (audit chain, blind
indexes), SM4 for fields encrypted at rest. SM4 runs in GCM mode, so a changed ciphertext fails
to decrypt instead of decrypting to garbage; the field's name is bound in as associated data,
so a value cannot be moved to another column. Keys come from the key ring (core/keyring.py).
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings

# Ciphertext: PREFIX + key id + "$" + base64(nonce ‖ ciphertext ‖ tag)
PREFIX = "sm4g1$"
NONCE_BYTES = 12
TAG_BYTES = 16


class DecryptionError(ValueError):
    """A stored value does not decrypt: wrong key, unknown key id or a changed ciphertext."""


def keyed_hash(data: bytes, key: bytes) -> str:
    """HMAC-SM3 of ``data`` as lowercase hex."""
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize().hex()


def audit_hash(seq: int, data: bytes) -> str:
    """The audit chain's keyed hash for the row at ``seq`` (the key depends on ``seq``)."""
    return keyed_hash(data, settings.KEYS.audit_key_for(seq))


def blind_index(kind: str, value: str) -> str:
    """A searchable keyed hash: equal values give equal indexes, the value stays unknown."""
    if not value:
        return ""
    return keyed_hash(f"{kind}\x00{value}".encode(), settings.KEYS.index_key())


def encrypt(plaintext: str, purpose: str) -> str:
    """SM4-GCM under the current field key; empty stays empty (blank checks keep working)."""
    if not plaintext:
        return ""
    key_id, keys = settings.KEYS.field_keys()
    nonce = os.urandom(NONCE_BYTES)
    enc = Cipher(algorithms.SM4(keys[key_id]), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(purpose.encode())
    body = enc.update(plaintext.encode()) + enc.finalize()
    blob = base64.b64encode(nonce + body + enc.tag).decode("ascii")
    return f"{PREFIX}{key_id}${blob}"


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)


def key_id_of(stored: str) -> str:
    return stored[len(PREFIX) :].split("$", 1)[0] if is_encrypted(stored) else ""


def decrypt(stored: str, purpose: str) -> str:
    if not stored:
        return ""
    if not is_encrypted(stored):
        raise DecryptionError("value is not encrypted")
    try:
        key_id, blob = stored[len(PREFIX) :].split("$", 1)
        raw = base64.b64decode(blob, validate=True)
    except ValueError:
        raise DecryptionError("malformed ciphertext") from None
    keys = settings.KEYS.field_keys()[1]
    if key_id not in keys:
        raise DecryptionError(f"unknown field key {key_id!r}")
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("malformed ciphertext")
    nonce, body, tag = raw[:NONCE_BYTES], raw[NONCE_BYTES:-TAG_BYTES], raw[-TAG_BYTES:]
    dec = Cipher(algorithms.SM4(keys[key_id]), modes.GCM(nonce, tag)).decryptor()
    dec.authenticate_additional_data(purpose.encode())
    try:
        return (dec.update(body) + dec.finalize()).decode()
    except (InvalidTag, UnicodeDecodeError):
        raise DecryptionError("ciphertext does not authenticate") from None


def secret_digest(secret: str) -> str:
    """SHA-256 of a secret handed to a person (a receipt's secret), as stored to check it."""
    import hashlib

    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
