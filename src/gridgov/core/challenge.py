"""A cheap proof of work for doors without an account (the citizens' report pages).

The server hands out a signed challenge (a random nonce, the number of leading zero bits
wanted, an expiry); the browser finds a counter such that SHA-256("<token>:<counter>")
starts with that many zero bits (about 2**bits hashes: a fraction of a second on a phone),
and sends the token and the counter with its report. Each token is spent once. A person
never notices it; a script that posts in a loop pays for every report. No third-party
service, no state kept until a token is spent (the spent ones sit in the rate-counter
table until they expire).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

from . import throttle

SALT = "gridgov.challenge"
MAX_COUNTER_DIGITS = 12


@dataclass(frozen=True)
class Challenge:
    token: str
    bits: int
    expires_in: int


def issue() -> Challenge:
    bits = int(settings.PUBLIC_CHALLENGE_BITS)
    ttl = int(settings.PUBLIC_CHALLENGE_TTL)
    payload = {"n": secrets.token_urlsafe(12), "b": bits, "e": int(time.time()) + ttl}
    return Challenge(signing.dumps(payload, salt=SALT, compress=False), bits, ttl)


def leading_zero_bits(digest: bytes) -> int:
    n = 0
    for byte in digest:
        if byte == 0:
            n += 8
            continue
        return n + 8 - byte.bit_length()
    return n


def solve(token: str, bits: int) -> str:
    """The counter a browser would find (for tests and benchmarks)."""
    counter = 0
    while leading_zero_bits(hashlib.sha256(f"{token}:{counter}".encode()).digest()) < bits:
        counter += 1
    return str(counter)


@dataclass(frozen=True)
class Solved:
    nonce: str
    expires: int


def verify(token: str, counter: str) -> Solved | str:
    """The solved challenge when the token is genuine, unexpired and solved by ``counter``;
    else what is wrong, for the field error. Nothing is written: see ``spend``."""
    try:
        payload = signing.loads(token, salt=SALT)
        nonce, bits, expires = str(payload["n"]), int(payload["b"]), int(payload["e"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return "not a challenge of this server"
    if expires < time.time():
        return "the challenge has expired; ask for a new one"
    if not (counter.isascii() and counter.isdigit() and len(counter) <= MAX_COUNTER_DIGITS):
        return "the answer is a whole number"
    if leading_zero_bits(hashlib.sha256(f"{token}:{counter}".encode()).digest()) < bits:
        return "the answer does not solve the challenge"
    return Solved(nonce, expires)


def spend(solved: Solved) -> bool:
    """Use the challenge up; False if it was used before. In the caller's transaction, so a
    report refused after this keeps its challenge."""
    return _spend(solved.nonce, solved.expires)


def _spend(nonce: str, expires: int) -> bool:
    """Mark the nonce used (a counter row kept until the token expires); False when it was
    used before."""
    return throttle.bump("challenge", nonce, 0, expires) == 1
