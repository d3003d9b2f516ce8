"""One-time links whose expiry passed unused: told once each to the apps above
(`one_time_link_expired_unused`, e.g. a workflow that sends the contact a fresh link).

A periodic task (beat, every 30 s) runs the sweep; each link is claimed by a conditional
UPDATE of its `expiry_reported` flag, so two sweeps at once, or one run twice, report a
link once. The flag is set in the same transaction that queues the signal (sent after
commit). A revoked link is marked without a report: staff ended it on purpose.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from bookings import signals
from bookings.models import OneTimeLink
from config.signals import send_on_commit


def one_time_links_report_expired(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Report every link that expired unused by `now` and was not reported yet; returns
    how many were reported."""
    now = now or timezone.now()
    # The partial index one_time_link_expiry_pending holds exactly these rows.
    pending = (
        OneTimeLink.objects.filter(
            expiry_reported=False,
            used_at__isnull=True,
            expires_at__isnull=False,
            expires_at__lte=now,
        )
        .order_by("expires_at")
        .values_list("pk", "calendar_id", "contact_id", "revoked_at")[:limit]
    )
    reported = 0
    for link_id, calendar_id, contact_id, revoked_at in pending:
        with transaction.atomic():
            claimed = OneTimeLink.objects.filter(
                pk=link_id, expiry_reported=False, used_at__isnull=True
            ).update(expiry_reported=True)
            if claimed and revoked_at is None:
                send_on_commit(
                    signals.one_time_link_expired_unused,
                    sender=OneTimeLink,
                    link_id=link_id,
                    calendar_id=calendar_id,
                    contact_id=contact_id,
                )
                reported += 1
    return reported
