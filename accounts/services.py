"""Staff API tokens: created, checked and revoked here, stored as a SHA-256 digest only.

The key (40 hex characters, as DRF's authtoken gave) is shown once, when it is created;
the row keeps its first 8 characters to find it and the digest of the whole key to check
it, so a copy of the database authenticates nobody. A plain digest is enough: the key is
160 random bits, out of reach of any guessing, and a digest that does not depend on
SECRET_KEY keeps tokens valid across a key rotation.
"""

import hashlib
import secrets
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts.models import APIToken

PREFIX_LENGTH = 8


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(
    *,
    user: AbstractBaseUser,
    name: str = "",
    expires_at: datetime | None = None,
    replace: bool = False,
) -> tuple[APIToken, str]:
    """A new token for `user` and its key, which is never shown again. replace=True revokes
    the user's other tokens in the same transaction."""
    key = secrets.token_hex(20)
    token = APIToken(
        user=user,
        name=name,
        prefix=key[:PREFIX_LENGTH],
        digest=_digest(key),
        expires_at=expires_at,
    )
    token.full_clean()
    with transaction.atomic():
        if replace:
            APIToken.objects.filter(user=user).delete()
        token.save()
    return token, key


def api_token_authenticate(*, key: str, now: datetime | None = None) -> APIToken | None:
    """The live token whose key this is (with its user), or None. The digest is computed
    whether or not the prefix is known, so the answer takes as long either way."""
    digest = _digest(key if isinstance(key, str) else "")
    candidates = APIToken.objects.select_related("user").filter(prefix=str(key)[:PREFIX_LENGTH])
    found = None
    for token in candidates:
        if constant_time_compare(token.digest, digest):
            found = token
    if found is None or found.is_expired(now=now or timezone.now()):
        return None
    return found


def api_token_revoke(*, tokens) -> int:
    """Revoke (delete) the given tokens; the number revoked."""
    deleted, _ = APIToken.objects.filter(pk__in=[t.pk for t in tokens]).delete()
    return deleted
