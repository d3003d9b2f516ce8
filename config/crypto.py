"""Secrets kept at rest (connected calendars' passwords and addresses): encrypted with keys
derived from SECRET_KEY, then each SECRET_KEY_FALLBACKS entry, so rotating SECRET_KEY keeps
old values readable (MultiFernet decrypts with any key and encrypts with the first). A copy
of the database alone gives nothing usable; re-saving a value re-encrypts it with the
current key.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils.crypto import salted_hmac

__all__ = ["InvalidToken", "decrypt", "encrypt", "encrypted_property", "reencrypt"]


def _fernet(secret: str) -> Fernet:
    # A key per purpose, not SECRET_KEY itself: salted_hmac derives 32 bytes (SHA-256).
    digest = salted_hmac("onceslot.crypto.fernet", "v1", secret=secret, algorithm="sha256")
    return Fernet(base64.urlsafe_b64encode(digest.digest()))


def _multi() -> MultiFernet:
    return MultiFernet([_fernet(s) for s in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]])


def encrypt(value: str) -> str:
    return _multi().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(value: str) -> str:
    """The plain text; cryptography.fernet.InvalidToken when no key opens it."""
    return _multi().decrypt(value.encode("ascii")).decode("utf-8")


def reencrypt(value: str) -> str:
    """`value` encrypted again under the current SECRET_KEY (InvalidToken when no key opens
    it): once every stored value is, the old keys can leave SECRET_KEY_FALLBACKS."""
    return _multi().rotate(value.encode("ascii")).decode("ascii")


def encrypted_property(field: str) -> property:
    """A model attribute whose value lives only as ciphertext in the text field `field`:
    reading decrypts (InvalidToken when no key opens it), assigning encrypts, "" stays "".
    A property, so Model(**kwargs) and factories accept it like a field; the ORM does not
    (filter(<name>=...) is a FieldError: ciphertext differs at every write, so a lookup in
    SQL could never match and must be made in Python)."""

    def get(instance) -> str:
        value = getattr(instance, field)
        return decrypt(value) if value else ""

    def put(instance, value: str) -> None:
        setattr(instance, field, encrypt(value) if value else "")

    return property(get, put)
