"""Bearer tokens for secret URLs (one-time links, booking management links).

A token is `<locator><mac>`: the locator (12 chars) is a random value stored on the row to
find it; the mac (22 chars, 128 bits) is an HMAC of the row's locator and random nonce under
SECRET_KEY. Nothing stored in the database is the token, so a copy of the database alone
yields no usable link, while the server can still rebuild an active link's URL for staff to
copy again later (a stored hash could not). Verification tries SECRET_KEY and then every
SECRET_KEY_FALLBACKS entry, so rotating the key does not break links already sent; URLs
shown after a rotation are built with the new key. Comparison is constant-time.

Every kind of token (one-time links, booking management links, workflow webhook secrets) is
found with `lookup` (or checked with `verify` after a claim found the row): a locator that
matches no row still pays for the same HMACs against a dummy nonce, so the time of an answer
does not tell which locators exist.
"""

import base64
import re
import secrets
from typing import TypeVar

from django.conf import settings
from django.db.models import Model, QuerySet
from django.utils.crypto import constant_time_compare, salted_hmac

LOCATOR_LENGTH = 12  # 9 random bytes, base64url
MAC_LENGTH = 22  # 16 bytes of HMAC-SHA256, base64url, no padding
TOKEN_LENGTH = LOCATOR_LENGTH + MAC_LENGTH
_TOKEN_RE = re.compile(rf"[A-Za-z0-9_\-]{{{TOKEN_LENGTH}}}")
# Checked when no row has the locator: a nonce no row has (nonces are 32 hex characters).
_DUMMY_NONCE = "-" * 32

M = TypeVar("M", bound=Model)


def new_locator() -> str:
    return secrets.token_urlsafe(9)


def new_nonce() -> str:
    return secrets.token_hex(16)


def _mac(*, purpose: str, locator: str, nonce: str, secret: str) -> str:
    digest = salted_hmac(
        f"onceslot.tokens.{purpose}", f"{locator}:{nonce}", secret=secret, algorithm="sha256"
    ).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def make_token(*, purpose: str, locator: str, nonce: str) -> str:
    return locator + _mac(purpose=purpose, locator=locator, nonce=nonce, secret=settings.SECRET_KEY)


def split_token(token: str) -> tuple[str, str] | None:
    """The (locator, mac) of a well-formed token, or None for anything else (any length,
    any character): callers answer both the same way so nothing hints at which exist."""
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        return None
    return token[:LOCATOR_LENGTH], token[LOCATOR_LENGTH:]


def check_mac(*, purpose: str, locator: str, nonce: str, mac: str) -> bool:
    for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
        expected = _mac(purpose=purpose, locator=locator, nonce=nonce, secret=secret)
        if constant_time_compare(expected, mac):
            return True
    return False


def verify(*, purpose: str, locator: str, nonce: str | None, mac: str) -> bool:
    """Whether `mac` is the token MAC of a row with this locator and nonce. nonce=None (no
    such row) checks against a dummy nonce, costs the same and answers False."""
    valid = check_mac(purpose=purpose, locator=locator, nonce=nonce or _DUMMY_NONCE, mac=mac)
    return valid and nonce is not None


def lookup(
    queryset: QuerySet[M],
    token: str,
    *,
    purpose: str,
    locator_field: str = "locator",
    nonce_field: str = "nonce",
) -> M | None:
    """The row of `queryset` behind `token`, or None for a malformed, unknown or forged one
    (callers answer all three the same way)."""
    parts = split_token(token)
    if parts is None:
        return None
    locator, mac = parts
    row = queryset.filter(**{locator_field: locator}).first()
    nonce = getattr(row, nonce_field) if row is not None else None
    return row if verify(purpose=purpose, locator=locator, nonce=nonce, mac=mac) else None
