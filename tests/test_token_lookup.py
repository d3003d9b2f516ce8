"""One lookup for every kind of token (config.tokens.lookup): found for the right token,
None for a forged or unknown one, and an unknown locator costs the same HMACs as a known
one, so the time of an answer does not tell which exist."""

from unittest import mock

import pytest

from bookings.services.one_time_links import one_time_link_get_by_token
from bookings.views.manage import booking_from_token
from config import tokens
from tests.bookings.factories import BookingFactory, OneTimeLinkFactory
from tests.workflows.factories import WorkflowFactory
from workflows.models import TriggerType
from workflows.selectors import workflow_get_by_webhook_token

pytestmark = pytest.mark.django_db


def find_booking(token):
    from django.http import Http404

    try:
        return booking_from_token(token)
    except Http404:
        return None


KINDS = {
    "one-time link": (
        lambda: OneTimeLinkFactory(),
        lambda row: row.token,
        lambda token: one_time_link_get_by_token(token=token),
    ),
    "booking": (lambda: BookingFactory(), lambda row: row.token, find_booking),
    "workflow webhook": (
        lambda: WorkflowFactory(trigger_type=TriggerType.INBOUND_WEBHOOK),
        lambda row: row.webhook_token,
        lambda token: workflow_get_by_webhook_token(token=token),
    ),
}


def forged(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def unknown(token: str) -> str:
    return ("Z" if token[0] != "Z" else "Y") + token[1:]


@pytest.mark.parametrize("kind", KINDS)
def test_it_finds_the_row_of_a_genuine_token(kind):
    make, token_of, find = KINDS[kind]
    row = make()

    assert find(token_of(row)) == row


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("tamper", [forged, unknown])
def test_it_finds_nothing_for_a_forged_or_unknown_token(kind, tamper):
    make, token_of, find = KINDS[kind]
    row = make()

    assert find(tamper(token_of(row))) is None


@pytest.mark.parametrize("kind", KINDS)
def test_it_computes_as_many_macs_for_an_unknown_locator_as_for_a_known_one(kind, settings):
    settings.SECRET_KEY_FALLBACKS = ["an-older-key-" * 4]
    make, token_of, find = KINDS[kind]
    token = token_of(make())
    counts = []
    for attempt in (forged(token), unknown(token)):
        with mock.patch.object(tokens, "_mac", wraps=tokens._mac) as mac:
            assert find(attempt) is None
        counts.append(mac.call_count)

    assert counts[0] == counts[1] == 2  # SECRET_KEY and the fallback, either way


def test_it_answers_false_for_a_missing_row_even_with_a_matching_mac():
    mac = tokens._mac(
        purpose="x", locator="L" * 12, nonce=tokens._DUMMY_NONCE, secret=settings_key()
    )

    assert tokens.verify(purpose="x", locator="L" * 12, nonce=None, mac=mac) is False


def settings_key() -> str:
    from django.conf import settings

    return settings.SECRET_KEY
