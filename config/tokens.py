"""Bearer tokens for secret URLs (one-time links, booking management links).

A token is `<locator><mac>`: the locator (12 chars) is a random value stored on the row to
find it; the mac (22 chars, 128 bits) is an HMAC of the row's locator and random nonce under
SECRET_KEY. Nothing stored in the database is the token, so a copy of the database alone
yields no usable link, while the server can still rebuild an active link's URL for staff to
copy again later (a stored hash could not). Verification tries SECRET_KEY and then every
SECRET_KEY_FALLBACKS entry, so rotating the key does not break links already sent; URLs
shown after a rotation are built with the new key. Comparison is constant-time.
"""

import base64
import re
import secrets

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

LOCATOR_LENGTH = 12  # 9 random bytes, base64url
MAC_LENGTH = 22  # 16 bytes of HMAC-SHA256, base64url, no padding
TOKEN_LENGTH = LOCATOR_LENGTH + MAC_LENGTH
_TOKEN_RE = re.compile(rf"[A-Za-z0-9_\-]{{{TOKEN_LENGTH}}}")


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
