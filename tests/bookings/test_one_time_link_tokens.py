"""Tokens of one-time links: lookup, tampering, malformed input, database dumps, rotation."""

import string

import pytest
from django.test import override_settings

from bookings.models import OneTimeLink
from bookings.services.one_time_links import one_time_link_get_by_token, one_time_link_url
from config import tokens
from tests.bookings.factories import OneTimeLinkFactory

pytestmark = pytest.mark.django_db

TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"


def test_it_finds_a_link_by_its_token():
    link = OneTimeLinkFactory()

    assert one_time_link_get_by_token(token=link.token) == link


def test_it_makes_tokens_url_safe_with_at_least_128_bits_of_mac():
    link = OneTimeLinkFactory()

    assert len(link.token) == tokens.TOKEN_LENGTH
    assert set(link.token) <= set(TOKEN_ALPHABET)
    assert tokens.MAC_LENGTH * 6 >= 128


def test_it_builds_the_url_from_site_url_and_the_token(settings):
    link = OneTimeLinkFactory()

    assert one_time_link_url(link=link) == f"{settings.SITE_URL}/l/{link.token}/"


def test_it_rejects_every_single_character_change_of_a_valid_token():
    link = OneTimeLinkFactory()
    token = link.token
    tried = 0
    for position in range(len(token)):
        for char in TOKEN_ALPHABET:
            if char == token[position]:
                continue
            tampered = token[:position] + char + token[position + 1 :]
            assert one_time_link_get_by_token(token=tampered) is None, (position, char)
            tried += 1

    assert tried == len(token) * (len(TOKEN_ALPHABET) - 1)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "a",
        "short",
        "x" * (tokens.TOKEN_LENGTH - 1),
        "x" * (tokens.TOKEN_LENGTH + 1),
        "x" * 10_000,
        "!" * tokens.TOKEN_LENGTH,
        "é" * tokens.TOKEN_LENGTH,
        ("a/b" * 20)[: tokens.TOKEN_LENGTH],
        " " * tokens.TOKEN_LENGTH,
        "\x00" * tokens.TOKEN_LENGTH,
    ],
)
def test_it_returns_nothing_for_malformed_tokens(bad):
    OneTimeLinkFactory()

    assert one_time_link_get_by_token(token=bad) is None


def test_it_rejects_a_valid_token_with_trailing_garbage():
    link = OneTimeLinkFactory()

    assert one_time_link_get_by_token(token=link.token + "A") is None
    assert one_time_link_get_by_token(token=link.token[:-1]) is None


def test_it_cannot_turn_a_database_dump_into_a_url():
    link = OneTimeLinkFactory(label="for Ana")
    row = OneTimeLink.objects.filter(pk=link.pk).values().get()
    stored = [str(value) for value in row.values() if value is not None]

    # No stored value is (or contains) the token or its MAC...
    mac = link.token[tokens.LOCATOR_LENGTH :]
    assert not any(link.token in value or mac in value for value in stored)
    # ...and rebuilding the MAC from the row needs the key: a guessed key gives a token
    # that is refused.
    with override_settings(SECRET_KEY="an-attacker-guess-at-the-key-0123456789"):
        forged = tokens.make_token(
            purpose=OneTimeLink.TOKEN_PURPOSE, locator=row["locator"], nonce=row["nonce"]
        )
    assert forged != link.token
    assert one_time_link_get_by_token(token=forged) is None


def test_it_accepts_links_made_under_a_rotated_key_listed_in_fallbacks(settings):
    old_key = settings.SECRET_KEY
    link = OneTimeLinkFactory()
    old_token = link.token

    with override_settings(
        SECRET_KEY="the-new-key-after-rotation-0123456789", SECRET_KEY_FALLBACKS=[old_key]
    ):
        assert one_time_link_get_by_token(token=old_token) == link
        # URLs shown from now on use the new key, and work too.
        assert link.token != old_token
        assert one_time_link_get_by_token(token=link.token) == link


def test_it_rejects_links_made_under_a_key_removed_from_fallbacks(settings):
    link = OneTimeLinkFactory()
    old_token = link.token

    with override_settings(
        SECRET_KEY="the-new-key-after-rotation-0123456789", SECRET_KEY_FALLBACKS=[]
    ):
        assert one_time_link_get_by_token(token=old_token) is None


def test_it_keeps_one_time_link_and_booking_tokens_apart():
    link = OneTimeLinkFactory()
    as_booking = tokens.make_token(purpose="booking", locator=link.locator, nonce=link.nonce)

    assert as_booking != link.token
    assert one_time_link_get_by_token(token=as_booking) is None
