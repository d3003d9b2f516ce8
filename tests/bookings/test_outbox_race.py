"""Concurrent deliveries of one outbox row on a real PostgreSQL: one claim wins, one email."""

import pytest
from django.db import transaction

from bookings.models import OutboxMessage
from bookings.services.outbox import outbox_deliver, outbox_enqueue
from tests import concurrency

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RACERS = 8


def run_together(target, count: int = RACERS) -> list:
    return concurrency.run_together(lambda index: target(), count, timeout=60)


@pytest.mark.smtp
def test_it_sends_once_when_deliveries_race_for_one_row(smtp_server):
    message = outbox_enqueue(
        key="race:1", to="jamie@example.com", subject="Hi", body_text="Once.", deliver=False
    )

    results = run_together(lambda: outbox_deliver(message_id=message.pk))

    assert results.count(True) == 1
    assert results.count(False) == RACERS - 1
    assert len(smtp_server.wait_for(1)) == 1
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    assert message.attempts == 1


def test_it_records_one_row_when_enqueues_of_one_key_race():
    def enqueue() -> int:
        with transaction.atomic():
            return outbox_enqueue(
                key="race:2", to="jamie@example.com", subject="Hi", body_text="x", deliver=False
            ).pk

    results = run_together(enqueue)

    assert all(isinstance(result, int) for result in results), results
    assert len(set(results)) == 1
    assert OutboxMessage.objects.filter(key="race:2").count() == 1
