"""The expired-unused sweep: each one-time link whose expiry passed with no booking is
reported once (one_time_link_expired_unused), however many sweeps run."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from bookings import signals
from bookings.models import OneTimeLink
from bookings.services.link_expiry import one_time_links_report_expired
from bookings.tasks import report_expired_links
from tests.bookings.factories import OneTimeLinkFactory
from tests.concurrency import run_together
from tests.contacts.factories import ContactFactory

NOW = datetime(2027, 3, 15, 11, 0, tzinfo=UTC)


@pytest.fixture
def reports():
    received = []

    def receiver(sender, **kwargs):
        received.append((kwargs["link_id"], kwargs["contact_id"]))

    signals.one_time_link_expired_unused.connect(receiver, dispatch_uid="test-expiry")
    yield received
    signals.one_time_link_expired_unused.disconnect(dispatch_uid="test-expiry")


@pytest.mark.django_db
def test_it_reports_a_link_that_expired_unused_once(reports, django_capture_on_commit_callbacks):
    contact = ContactFactory()
    link = OneTimeLinkFactory(contact=contact, expires_at=NOW - timedelta(seconds=5))

    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert one_time_links_report_expired() == 1
        assert one_time_links_report_expired() == 0

    assert reports == [(link.pk, contact.pk)]
    link.refresh_from_db()
    assert link.expiry_reported is True


@pytest.mark.django_db
def test_it_leaves_used_revoked_unexpired_and_endless_links_unreported(
    reports, django_capture_on_commit_callbacks
):
    past = NOW - timedelta(minutes=1)
    OneTimeLinkFactory(expires_at=past, used_at=past - timedelta(minutes=5))
    revoked = OneTimeLinkFactory(expires_at=past, revoked_at=past - timedelta(minutes=5))
    OneTimeLinkFactory(expires_at=NOW + timedelta(minutes=1))
    OneTimeLinkFactory(expires_at=None)

    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert one_time_links_report_expired() == 0

    assert reports == []
    revoked.refresh_from_db()
    assert revoked.expiry_reported is True  # looked at once, never again


@pytest.mark.django_db
def test_it_runs_the_sweep_as_a_celery_task(reports, django_capture_on_commit_callbacks):
    OneTimeLinkFactory(expires_at=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert report_expired_links.apply().get() == 1

    assert len(reports) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_reports_each_link_once_when_sweeps_race(reports):
    links = [OneTimeLinkFactory(expires_at=timezone.now() - timedelta(seconds=1)) for _ in range(5)]

    results = run_together(lambda index: one_time_links_report_expired(), 8)

    assert not [r for r in results if isinstance(r, Exception)]
    assert sum(results) == 5
    assert sorted(link_id for link_id, _ in reports) == sorted(link.pk for link in links)
    assert OneTimeLink.objects.filter(expiry_reported=True).count() == 5
