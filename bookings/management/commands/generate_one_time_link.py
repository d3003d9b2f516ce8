"""Print one-time booking links for a calendar, one URL a line (for scripts and integrations).

python manage.py generate_one_time_link intro-call --contact ana@example.com --expires-in 7d \
    --uses 2 --from 2027-03-01 --until 2027-03-14 --lock-to-contact
"""

from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from bookings.models import OneTimeLink
from bookings.services.one_time_links import (
    one_time_link_generate,
    one_time_link_url,
    parse_expires_in,
)
from calendars.models import Calendar
from contacts.models import Contact
from contacts.services import contact_upsert

MAX_COUNT = 1000


class Command(BaseCommand):
    help = "Generate one-time booking links for a calendar and print their URLs, one a line."

    def add_arguments(self, parser):
        parser.add_argument("calendar_slug", help="The calendar's slug (as in /book/<slug>/).")
        parser.add_argument(
            "--contact",
            metavar="EMAIL",
            help="Make the links for this contact (created if new); the page prefills them.",
        )
        parser.add_argument(
            "--expires-in",
            metavar="DURATION",
            help="Lifetime such as 30m, 12h or 7d. Default: no expiry.",
        )
        parser.add_argument("--count", type=int, default=1, help="How many links (default 1).")
        parser.add_argument("--label", default="", help="A note shown to staff in the admin.")
        parser.add_argument(
            "--uses", type=int, default=1, help="Bookings each link takes (1-100, default 1)."
        )
        parser.add_argument(
            "--from",
            dest="bookable_from",
            type=_date,
            metavar="DATE",
            help="First bookable date (YYYY-MM-DD, the calendar's timezone).",
        )
        parser.add_argument(
            "--until",
            dest="bookable_until",
            type=_date,
            metavar="DATE",
            help="Last bookable date (YYYY-MM-DD, the calendar's timezone).",
        )
        parser.add_argument(
            "--lock-to-contact",
            action="store_true",
            help="Only the contact's email can book (needs --contact).",
        )

    def handle(self, *args, **options):
        count = options["count"]
        if not 1 <= count <= MAX_COUNT:
            raise CommandError(f"--count must be between 1 and {MAX_COUNT}, got {count}.")
        expires_at = None
        if options["expires_in"] is not None:
            try:
                expires_at = timezone.now() + parse_expires_in(options["expires_in"])
            except ValueError as exc:
                raise CommandError(f"--expires-in: {exc}") from exc
        calendar = Calendar.objects.filter(slug=options["calendar_slug"]).first()
        if calendar is None:
            raise CommandError(f"No calendar with the slug {options['calendar_slug']!r}.")

        try:
            with transaction.atomic():
                contact = None
                if options["contact"]:
                    # The calendar owner's contact, as a booking on the calendar would file it.
                    contact, _ = contact_upsert(
                        owner=calendar.owner,
                        email=options["contact"],
                        origin=Contact.Origin.COMMAND,
                    )
                links = [
                    one_time_link_generate(
                        calendar=calendar,
                        created_by_process="manage.py generate_one_time_link",
                        source=OneTimeLink.Source.CLI,
                        contact=contact,
                        label=options["label"],
                        expires_at=expires_at,
                        max_uses=options["uses"],
                        bookable_from=options["bookable_from"],
                        bookable_until=options["bookable_until"],
                        lock_to_contact=options["lock_to_contact"],
                    )
                    for _ in range(count)
                ]
        except ValidationError as exc:
            raise CommandError(_describe(exc)) from exc
        for link in links:
            self.stdout.write(one_time_link_url(link=link))


def _describe(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from exc
