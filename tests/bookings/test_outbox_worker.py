"""Email delivery end to end: a real Celery worker on Redis and a real SMTP server."""

import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from bookings.models import BookingSource, OutboxMessage
from bookings.services.bookings import booking_create
from bookings.services.outbox import outbox_enqueue
from bookings.tasks import deliver_outbox_message, sweep_outbox
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.celery_worker import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.smtp, pytest.mark.postgres]


def succeeded(worker, task: str) -> int:
    return len(re.findall(rf"Task {re.escape(task)}\[[^\]]+\] succeeded", worker.log()))


def enqueue(key: str = "worker:1", deliver: bool = True) -> OutboxMessage:
    with transaction.atomic():
        return outbox_enqueue(
            key=key,
            to="jamie@example.com",
            subject="Confirmed",
            body_text="See you.",
            body_html="<p>See you.</p>",
            deliver=deliver,
        )


def test_it_sends_once_when_the_task_is_delivered_twice(smtp_server, celery_worker_factory):
    worker = celery_worker_factory(concurrency=4)
    message = enqueue(deliver=False)

    for _ in range(3):
        deliver_outbox_message.delay(message.pk)

    wait_until(
        lambda: succeeded(worker, "bookings.tasks.deliver_outbox_message") == 3,
        what="three task runs",
        worker=worker,
    )
    assert len(smtp_server.messages) == 1
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    assert message.attempts == 1


def test_it_retries_with_backoff_until_the_server_recovers(
    smtp_server, celery_worker_factory, settings
):
    settings.OUTBOX_RETRY_BACKOFF_SECONDS = 0.4
    settings.OUTBOX_RETRY_BACKOFF_MAX_SECONDS = 5
    worker = celery_worker_factory()
    smtp_server.refuse_next(2)

    message = enqueue()

    [received] = smtp_server.wait_for(1, timeout=60)
    assert received["Subject"] == "Confirmed"
    assert smtp_server.refused == 2
    # Two failed tries, then the third succeeds: each wait at least half its backoff step.
    first, second = smtp_server.refused_at
    assert second - first >= 0.2
    wait_until(
        lambda: OutboxMessage.objects.get(pk=message.pk).status == OutboxMessage.Status.SENT,
        what="the row marked sent",
        worker=worker,
    )
    message.refresh_from_db()
    assert message.attempts == 3
    assert worker.log().count("Retry in") == 2


def test_it_delivers_after_the_server_was_unreachable(smtp_server, celery_worker_factory, settings):
    settings.OUTBOX_RETRY_BACKOFF_SECONDS = 0.2
    settings.OUTBOX_RETRY_BACKOFF_MAX_SECONDS = 1
    smtp_server.stop()
    worker = celery_worker_factory()

    message = enqueue()
    wait_until(
        lambda: OutboxMessage.objects.get(pk=message.pk).attempts >= 2,
        what="two failed attempts",
        worker=worker,
    )
    assert smtp_server.messages == []
    smtp_server.start()

    assert len(smtp_server.wait_for(1)) == 1
    wait_until(
        lambda: OutboxMessage.objects.get(pk=message.pk).status == OutboxMessage.Status.SENT,
        what="the row marked sent",
        worker=worker,
    )
    message.refresh_from_db()
    assert "ConnectionRefusedError" not in message.last_error


def test_it_sweeps_a_message_whose_task_the_broker_lost(smtp_server, celery_worker_factory):
    # The delivery task is never published (as if Redis restarted and lost it).
    message = enqueue(deliver=False)
    OutboxMessage.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    worker = celery_worker_factory()

    sweep_outbox.delay()

    assert len(smtp_server.wait_for(1)) == 1
    wait_until(
        lambda: OutboxMessage.objects.get(pk=message.pk).status == OutboxMessage.Status.SENT,
        what="the row marked sent",
        worker=worker,
    )


def test_it_mails_the_invitee_and_owner_after_a_booking(smtp_server, celery_worker_factory):
    worker = celery_worker_factory()
    owner = UserFactory(email="owner@example.com")
    calendar = CalendarFactory(owner=owner, name="Roof consult", timezone="Europe/Berlin")
    local = next_weekday_at(
        (timezone.now() + timedelta(days=7)).astimezone(ZoneInfo(calendar.timezone)), hour=10
    )
    start = local.astimezone(UTC)

    booking = booking_create(
        calendar=calendar,
        start=start,
        name="Jamie Rivera",
        email="jamie@example.com",
        timezone="America/New_York",
        source=BookingSource.SCHEDULING_LINK,
    )

    smtp_server.wait_for(2)
    [invitee] = smtp_server.to("jamie@example.com")
    [to_owner] = smtp_server.to("owner@example.com")
    parts = {part.get_content_type(): part for part in invitee.walk()}
    assert booking.token in parts["text/plain"].get_content()
    assert booking.token in parts["text/html"].get_content()
    assert parts["text/calendar"].get_param("method") == "REQUEST"
    [event] = icalendar.Calendar.from_ical(parts["text/calendar"].get_content()).walk("VEVENT")
    assert event.decoded("DTSTART") == start
    assert "10:00 (Europe/Berlin)" in to_owner["Subject"]
    ny = start.astimezone(ZoneInfo("America/New_York"))
    assert f"{ny:%H:%M} (America/New_York)" in invitee["Subject"]
    wait_until(
        lambda: (
            set(OutboxMessage.objects.values_list("status", flat=True))
            == {OutboxMessage.Status.SENT}
        ),
        what="both rows marked sent",
        worker=worker,
    )


def test_it_mails_each_booking_through_one_task(smtp_server, celery_worker_factory):
    worker = celery_worker_factory()
    calendar = CalendarFactory(owner=UserFactory(email="owner@example.com"), timezone="UTC")
    day = next_weekday_at(timezone.now() + timedelta(days=7), hour=9)

    for n in range(6):
        booking_create(
            calendar=calendar,
            start=day + timedelta(hours=n),
            name=f"Invitee {n}",
            email=f"invitee{n}@example.com",
            timezone="UTC",
            source=BookingSource.API,
        )

    assert len(smtp_server.wait_for(12)) == 12
    wait_until(
        lambda: OutboxMessage.objects.filter(status=OutboxMessage.Status.SENT).count() == 12,
        what="all rows marked sent",
        worker=worker,
    )
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(
        [f"invitee{n}@example.com" for n in range(6)] + ["owner@example.com"] * 6
    )
    wait_until(
        lambda: succeeded(worker, "bookings.tasks.deliver_outbox_messages") == 6,
        what="one task per booking",
        worker=worker,
    )


def next_weekday_at(local: datetime, *, hour: int) -> datetime:
    while local.weekday() >= 5:
        local += timedelta(days=1)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0)


# A confirmation reaches the mail server within 3 s of the booking: one task published at
# the booking's commit, picked up by a worker on Redis or on `make run`'s filesystem broker.
CONFIRMATION_WITHIN = 3.0


@pytest.fixture
def filesystem_broker(celery_worker_factory, tmp_path):
    """This process publishes to kombu's filesystem transport with `make run`'s options
    (config.settings.filesystem_broker_options) in a folder of its own; Redis after."""
    from config.celery import app
    from config.settings import filesystem_broker_options

    options = filesystem_broker_options(tmp_path / "broker")
    names = ("broker_url", "broker_write_url", "broker_transport_options")
    saved = {name: app.conf[name] for name in names}
    app.conf.update(
        broker_url="filesystem://",
        broker_write_url="filesystem://",
        broker_transport_options=options,
    )
    app._pool = None  # the next publish connects with the settings above
    app.amqp._producer_pool = None
    yield options
    app.conf.update(saved)
    app._pool = None
    app.amqp._producer_pool = None


def book_and_time_confirmation(smtp_server) -> float:
    calendar = CalendarFactory(owner=UserFactory(email="owner@example.com"), timezone="UTC")
    start = next_weekday_at(timezone.now() + timedelta(days=7), hour=9)
    body = {"start": start.isoformat(), "name": "Jamie", "email": "jamie@example.com"}
    began = time.monotonic()

    response = APIClient().post(
        f"/api/public/calendars/{calendar.slug}/bookings/", {**body, "timezone": "UTC"}
    )

    assert response.status_code == 201
    smtp_server.wait_for(2, timeout=30)
    return time.monotonic() - began


def test_it_mails_the_confirmation_within_3_seconds_on_redis(smtp_server, celery_worker_factory):
    celery_worker_factory()

    elapsed = book_and_time_confirmation(smtp_server)

    assert elapsed <= CONFIRMATION_WITHIN, f"{elapsed:.2f} s"


def test_it_mails_the_confirmation_within_3_seconds_on_the_filesystem_broker(
    smtp_server, celery_worker_factory, filesystem_broker
):
    worker = celery_worker_factory(
        broker_url="filesystem://", CELERY_BROKER_TRANSPORT_OPTIONS=filesystem_broker
    )
    assert "filesystem://" in worker.log()

    elapsed = book_and_time_confirmation(smtp_server)

    assert elapsed <= CONFIRMATION_WITHIN, f"{elapsed:.2f} s"
