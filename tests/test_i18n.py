"""Public pages and invitee emails in English, German, Spanish and French.

The catalogues are complete (every entry translated, placeholders kept), and every public
page and invitee email, rendered in each language, shows no text of its English rendering
except data (names, addresses, zones) and words a catalogue translates to themselves. A
string left out of the catalogues (never wrapped) is caught here too: it reads the same in
every language.
"""

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone, translation

from bookings.forms import BookingForm, add_service_errors
from bookings.models import Booking, OutboxMessage
from bookings.notifications import booking_message_render, booking_notify
from config import i18n
from config.locale_build import ROOT, problems
from tests.bookings.factories import BookingFactory, OneTimeLinkFactory
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.contacts.factories import ContactFactory

LANGUAGES = ("de", "es", "fr")
NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # a Monday
SLOT = datetime(2030, 1, 8, 10, 0, tzinfo=UTC)
CATALOGUES = sorted(Path(ROOT, "locale").glob("*/LC_MESSAGES/django.po"))


def catalogue(lang: str) -> polib.POFile:
    return polib.pofile(str(ROOT / "locale" / lang / "LC_MESSAGES" / "django.po"))


def test_it_has_a_catalogue_for_each_offered_language():
    assert sorted(p.parts[-3] for p in CATALOGUES) == sorted(LANGUAGES)
    assert {code for code, _ in i18n.settings.LANGUAGES} == {"en", *LANGUAGES}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_it_translates_every_catalogue_entry_keeping_its_placeholders(lang):
    assert problems(catalogue(lang)) == []


def test_it_has_the_same_entries_in_every_catalogue():
    ids = [
        {(e.msgid, e.msgid_plural) for e in catalogue(lang) if not e.obsolete} for lang in LANGUAGES
    ]
    assert ids[0] == ids[1] == ids[2]
    assert len(ids[0]) > 100


class VisibleText(HTMLParser):
    """Text a visitor reads or hears: text nodes and the labelling attributes, without
    scripts, the timezone list and the language menu (endonyms, the same everywhere)."""

    SKIP = {"script", "style", "select"}
    ATTRIBUTES = {"aria-label", "title", "alt", "placeholder", "abbr"}

    def __init__(self):
        super().__init__()
        self.skipping = 0
        self.strings: set[str] = set()

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        for name, value in attrs:
            if name in self.ATTRIBUTES and value:
                self.add(value)

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.add(data)

    def add(self, text):
        text = " ".join(text.split())
        if text:
            self.strings.add(text)


def visible(html: str) -> set[str]:
    parser = VisibleText()
    parser.feed(html)
    return parser.strings


def text_lines(text: str) -> set[str]:
    return {" ".join(line.split()) for line in text.splitlines() if line.strip()}


WORDY = re.compile(r"[A-Za-z]{3,}")


def untranslated(lang: str, english: set[str], translated: set[str], data: set[str]) -> set[str]:
    same_by_design = {e.msgid for e in catalogue(lang) if e.msgstr == e.msgid}
    allowed = data | same_by_design | {"Onceslot", "UTC"}

    def is_data(text: str) -> bool:
        stripped = text
        for value in sorted(allowed, key=len, reverse=True):
            stripped = stripped.replace(value, " ")
        # What is left: digits, punctuation, URLs, zones (Area/City), durations ("30 min").
        stripped = re.sub(r"https?://\S+|\b\w+/\w+\b|\bmin\b|\b\d+\b", " ", stripped)
        return not WORDY.search(stripped)

    return {text for text in translated & english if WORDY.search(text) and not is_data(text)}


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db, frozen):
    owner = UserFactory(first_name="Robin", last_name="Okafor", email="robin@example.com")
    calendar = CalendarFactory(owner=owner, name="Onceslot Demo", slug="demo", description="")
    empty = CalendarFactory(owner=owner, name="Onceslot Leer", slug="leer", hours=[])
    booking = BookingFactory(
        calendar=calendar,
        start=SLOT + timedelta(hours=2),
        invitee_name="Jamie Rivera",
        invitee_email="jamie@example.com",
        timezone="Europe/Berlin",
    )
    cancelled = BookingFactory(
        calendar=calendar,
        start=SLOT + timedelta(hours=3),
        invitee_name="Jamie Rivera",
        invitee_email="jamie@example.com",
        status=Booking.Status.CANCELLED,
        cancelled_at=NOW,
    )
    link = OneTimeLinkFactory(calendar=calendar)
    used = OneTimeLinkFactory(calendar=calendar, used_at=NOW - timedelta(hours=1))
    spent = {
        "revoked": OneTimeLinkFactory(calendar=calendar, revoked_at=NOW - timedelta(hours=1)),
        "expired": OneTimeLinkFactory(calendar=calendar, expires_at=NOW - timedelta(hours=1)),
        "inactive": OneTimeLinkFactory(
            calendar=CalendarFactory(owner=owner, name="Onceslot Demo", is_active=False)
        ),
    }
    locked = OneTimeLinkFactory(
        calendar=calendar,
        contact=ContactFactory(owner=owner, email="jamie@example.com"),
        lock_to_contact=True,
    )
    data = {
        "Onceslot Demo",
        "Onceslot Leer",
        "Robin Okafor",
        "R",
        "Jamie Rivera",
        "jamie@example.com",
        "robin@example.com",
        "<jamie@example.com>",
    }
    return {"calendar": calendar, "empty": empty, "booking": booking, "cancelled": cancelled,
            "link": link, "used": used, "spent": spent, "locked": locked,
            "data": data}  # fmt: skip


def pages(world) -> dict[str, tuple[str, str, dict]]:
    """name -> (method, path, post data)."""
    booking, cancelled = world["booking"], world["cancelled"]
    day = SLOT.date().isoformat()
    return {
        "home": ("get", "/", {}),
        "booking page": ("get", f"/book/demo/?date={day}&time={SLOT.isoformat()}", {}),
        "booking page, 12-hour clock": ("get", f"/book/demo/?date={day}&clock=12", {}),
        "booking page, form errors": ("post", "/book/demo/", {"start": SLOT.isoformat(), "tz": "UTC"}),  # noqa: E501
        "booking page, time taken": ("get", f"/book/demo/?time={booking.start.isoformat()}", {}),
        "nothing open": ("get", "/book/leer/", {}),
        "embed": ("get", "/embed/demo/", {}),
        "one-time link": ("get", f"/l/{world['link'].token}/", {}),
        "expired link": ("get", f"/l/{world['used'].token}/", {}),
        **{f"{reason} link": ("get", f"/l/{link.token}/", {})
           for reason, link in world["spent"].items()},
        "renewal form errors": ("post", f"/l/{world['used'].token}/", {"action": "renew"}),
        "renewal requested": ("get", f"/l/{world['used'].token}/?requested=1", {}),
        "one-time link for a contact": ("get", f"/l/{world['locked'].token}/?date={day}", {}),
        "confirmation": ("get", f"/b/{booking.token}/", {}),
        "moved": ("get", f"/b/{booking.token}/?rescheduled=1", {}),
        "cancel": ("get", f"/b/{booking.token}/cancel/", {}),
        "cancelled": ("get", f"/b/{cancelled.token}/cancel/", {}),
        "reschedule": ("get", f"/b/{booking.token}/reschedule/", {}),
        "reschedule, cancelled": ("get", f"/b/{cancelled.token}/reschedule/", {}),
        "not found": ("get", "/book/no-such-calendar/", {}),
    }  # fmt: skip


def render(lang: str, method: str, path: str, data: dict) -> str:
    # ?lang=: a booking's own pages otherwise follow the language it was booked in.
    path += ("&" if "?" in path else "?") + f"lang={lang}"
    client = Client(HTTP_ACCEPT_LANGUAGE=lang)
    response = client.post(path, data) if method == "post" else client.get(path)
    assert response["Content-Language"] == lang
    return response.content.decode()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_it_renders_every_public_page_without_untranslated_text(world, lang):
    found = {}
    for name, (method, path, data) in pages(world).items():
        english = visible(render("en", method, path, data))
        translated = visible(render(lang, method, path, data))
        assert translated != english, name
        left = untranslated(lang, english, translated, world["data"])
        if left:
            found[name] = sorted(left)
    assert found == {}


def emails(booking: Booking) -> list[OutboxMessage]:
    messages = []
    for event in ("confirmed", "rescheduled", "cancelled"):
        ids = booking_notify(booking=booking, event=event)
        messages += list(OutboxMessage.objects.filter(pk__in=ids, to=booking.invitee_email))
    return messages


@pytest.mark.parametrize("lang", LANGUAGES)
def test_it_writes_invitee_emails_without_untranslated_text(world, lang):
    english_booking = world["booking"]
    booking = BookingFactory(
        calendar=english_booking.calendar, start=english_booking.start + timedelta(days=1),
        invitee_name="Jamie Rivera", invitee_email="jamie@example.com",
        timezone="Europe/Berlin", language=lang, cancel_reason="",
    )  # fmt: skip
    english_booking.language = "en"
    english_booking.save()

    english = [booking_message_render(m) | {"subject": m.subject} for m in emails(english_booking)]
    translated = [booking_message_render(m) | {"subject": m.subject} for m in emails(booking)]

    found = {}
    for index, (en, tr) in enumerate(zip(english, translated, strict=True)):
        for part in ("body_text", "subject"):
            left = untranslated(lang, text_lines(en[part]), text_lines(tr[part]), world["data"])
            if left:
                found[f"{index}:{part}"] = sorted(left)
        left = untranslated(lang, visible(en["body_html"]), visible(tr["body_html"]), world["data"])
        if left:
            found[f"{index}:html"] = sorted(left)
        assert tr["body_text"] != en["body_text"]
    assert found == {}


def test_it_writes_dates_in_the_invitees_language(world):
    booking = world["booking"]
    booking.language = "de"
    booking.save()
    [message] = [m for m in emails(booking) if ":confirmed:" in m.key]

    body = booking_message_render(message)["body_text"]

    assert "Hallo Jamie Rivera," in body
    assert "Dienstag, 8. Januar 2030, 13:00\N{EN DASH}13:30 (Europe/Berlin)" in body
    assert message.subject.startswith("Bestätigt: Onceslot Demo am Dienstag, 8. Januar 2030")


def test_it_keeps_the_owners_email_in_english(world):
    booking = world["booking"]
    booking.language = "fr"
    booking.save()

    ids = booking_notify(booking=booking, event="confirmed")
    owner_message = OutboxMessage.objects.get(pk__in=ids, to="robin@example.com")

    assert owner_message.subject.startswith("New booking: Jamie Rivera, Tuesday, 8 January 2030")
    assert "New booking on Onceslot Demo" in booking_message_render(owner_message)["body_text"]


def test_it_records_the_language_a_booking_was_made_in(world):
    client = Client(HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9")
    response = client.post(
        "/book/demo/",
        {"start": SLOT.isoformat(), "tz": "UTC", "name": "Ana", "email": "ana@example.com"},
    )

    assert response.status_code == 303
    booking = Booking.objects.get(invitee_email="ana@example.com")
    assert booking.language == "es"
    page = client.get(response["Location"])
    assert "Reserva hecha" in page.content.decode()


def test_it_uses_a_calendars_fixed_language_for_visitors_who_chose_none(world):
    calendar = world["calendar"]
    calendar.language = "fr"
    calendar.save()

    fixed = Client(HTTP_ACCEPT_LANGUAGE="de").get("/book/demo/")
    chosen = Client(HTTP_ACCEPT_LANGUAGE="de").get("/book/demo/?lang=es")

    assert fixed["Content-Language"] == "fr" and "Confirmer la réservation" in fixed.text
    assert chosen["Content-Language"] == "es" and "Confirmar la reserva" in chosen.text


def test_it_remembers_a_language_picked_on_the_page(world):
    client = Client(HTTP_ACCEPT_LANGUAGE="en-US")

    client.get("/book/demo/?lang=de")
    later = client.get("/book/demo/")

    assert later["Content-Language"] == "de"
    assert 'lang="de"' in later.text


def test_it_keeps_staff_pages_in_english(world, client):
    client.force_login(world["calendar"].owner)

    response = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="de")

    assert response.status_code == 200
    assert "Log out" in response.text
    assert "Abmelden" not in response.text


@pytest.mark.parametrize(
    ("accept", "expected"),
    [("en-US,en;q=0.9", "9:00\u00a0AM"), ("en-GB,en;q=0.9", "09:00"), ("de-DE", "09:00"),
     ("es-MX", "9:00\u00a0a.\u00a0m."), ("fr-FR", "09:00"), ("", "09:00")],
)  # fmt: skip
def test_it_uses_the_locales_clock(world, accept, expected):
    response = Client(HTTP_ACCEPT_LANGUAGE=accept).get(f"/book/demo/?date={SLOT.date()}")

    labels = re.findall(r'class="time-btn" for="time-\d+">([^<]+)<', response.text)
    assert labels[0] == expected


def test_it_switches_between_12_and_24_hour_times(world):
    client = Client(HTTP_ACCEPT_LANGUAGE="en-US")
    first = client.get(f"/book/demo/?date={SLOT.date()}")
    switch = re.search(r'<a href="([^"]+)" rel="nofollow">24h</a>', first.text).group(1)

    switched = client.get(switch.replace("&amp;", "&"))
    later = client.get(f"/book/demo/?date={SLOT.date()}")

    for response in (switched, later):
        labels = re.findall(r'class="time-btn" for="time-\d+">([^<]+)<', response.text)
        assert labels[0] == "09:00"
    assert timezone.now() == NOW


def test_it_shows_a_services_message_in_the_pages_language(world):
    form = BookingForm(data={})

    with translation.override("fr"):
        add_service_errors(
            form, ValidationError({"start": "The start needs a UTC offset or timezone."})
        )

    assert (
        form.errors["start"][-1] == "Le début doit indiquer un décalage UTC ou un fuseau horaire."
    )


def test_it_refuses_to_move_a_cancelled_booking_in_the_invitees_language(world):
    cancelled = world["cancelled"]
    cancelled.language = "es"
    cancelled.save()

    response = Client().post(
        f"/b/{cancelled.token}/reschedule/", {"start": SLOT.isoformat(), "tz": "UTC"}
    )

    assert response.status_code == 409
    assert "Esta reserva fue cancelada, así que no se puede cambiar de hora." in response.text
