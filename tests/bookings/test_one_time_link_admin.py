"""The one-time link admin list and the calendar Share panel: generate, copy, revoke."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from bookings.models import OneTimeLink
from bookings.services.one_time_links import one_time_link_get_by_token, one_time_link_url
from contacts.models import Contact
from tests.bookings.factories import OneTimeLinkFactory
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.contacts.factories import ContactFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/bookings/onetimelink/"


def share_url(calendar) -> str:
    return reverse("admin:calendar-share", kwargs={"calendar_id": calendar.pk})


@pytest.fixture
def calendar():
    return CalendarFactory()


@pytest.fixture
def owner_client(client, calendar):
    client.force_login(calendar.owner)
    return client


def input_value(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}" value="([^"]*)"', html)
    assert match, f"no input #{element_id}"
    return match[1]


def test_it_shows_the_share_panel_with_its_four_tabs(owner_client, calendar, settings):
    response = owner_client.get(share_url(calendar))

    assert response.status_code == 200
    html = response.content.decode()
    for tab in ["Scheduling link", "Permanent link", "Embed code", "One-Time Link"]:
        assert f">{tab}</button>" in html
    assert (
        input_value(html, "share-scheduling-url") == settings.SITE_URL + f"/book/{calendar.slug}/"
    )
    assert input_value(html, "share-permanent-url") == (
        settings.SITE_URL + f"/c/{calendar.public_id}/"
    )
    assert f"/embed/{calendar.slug}/" in html
    assert 'data-copy-target="share-embed-code"' in html
    assert "js/share.js" in html
    assert "no-store" in response.headers["Cache-Control"]


def test_it_hides_another_staffs_calendar_share_panel(client, calendar):
    client.force_login(UserFactory())

    response = client.get(share_url(calendar))

    assert response.status_code == 404


def test_it_refuses_the_share_panel_to_another_staffs_generate_post(client, calendar):
    client.force_login(UserFactory())

    response = client.post(share_url(calendar), {"action": "generate"})

    assert response.status_code == 404
    assert not OneTimeLink.objects.exists()


def test_it_shows_any_calendar_share_panel_to_a_superuser(client, calendar):
    client.force_login(UserFactory(is_superuser=True))

    response = client.get(share_url(calendar))

    assert response.status_code == 200


def test_it_sends_anonymous_visitors_to_the_login_page(client, calendar):
    response = client.get(share_url(calendar))

    assert response.status_code == 302
    assert "/admin/login/" in response.headers["Location"]


def test_it_generates_a_link_and_shows_it_to_copy(owner_client, calendar):
    response = owner_client.post(share_url(calendar), {"action": "generate"})

    assert response.status_code == 302
    link = OneTimeLink.objects.get(calendar=calendar)
    assert link.created_by == calendar.owner
    assert link.contact is None
    assert link.expires_at is None
    page = owner_client.get(response.headers["Location"])
    html = page.content.decode()
    assert "New one-time link generated." in html
    copied = input_value(html, "share-one-time-url")
    assert copied == one_time_link_url(link=link)
    assert 'data-copy-target="share-one-time-url"' in html
    assert one_time_link_get_by_token(token=copied.rstrip("/").rsplit("/", 1)[1]) == link


def test_it_generates_a_link_for_a_contact_with_an_expiry(client, calendar):
    contact = ContactFactory(owner=calendar.owner, email="ana@example.com")

    with time_machine.travel("2030-01-07 10:00:00+00:00", tick=False):
        client.force_login(calendar.owner)
        response = client.post(
            share_url(calendar),
            {"action": "generate", "contact_email": "ANA@example.com", "expires_in": "7d"},
        )
        expected_expiry = timezone.now() + timedelta(days=7)

    assert response.status_code == 302
    link = OneTimeLink.objects.get(calendar=calendar)
    assert link.contact == contact
    assert link.expires_at == expected_expiry


def test_it_asks_for_the_name_of_a_new_contact(owner_client, calendar):
    response = owner_client.post(
        share_url(calendar), {"action": "generate", "contact_email": "nobody@example.com"}
    )

    assert response.status_code == 400
    assert "Give the new contact&#x27;s name" in response.content.decode()
    assert not OneTimeLink.objects.exists()
    assert not Contact.objects.filter(email="nobody@example.com").exists()


def test_it_refuses_an_unknown_expiry_choice(owner_client, calendar):
    response = owner_client.post(share_url(calendar), {"action": "generate", "expires_in": "7x"})

    assert response.status_code == 400
    assert not OneTimeLink.objects.exists()


def test_it_shows_the_newest_active_link_as_current(owner_client, calendar):
    panel = OneTimeLink.Source.PANEL
    OneTimeLinkFactory(
        calendar=calendar, source=panel, created_at=timezone.now() - timedelta(days=2)
    )
    newest = OneTimeLinkFactory(
        calendar=calendar, source=panel, created_at=timezone.now() - timedelta(days=1)
    )
    OneTimeLinkFactory(calendar=calendar, source=panel, used_at=timezone.now())

    html = owner_client.get(share_url(calendar)).content.decode()

    assert input_value(html, "share-one-time-url") == one_time_link_url(link=newest)


def test_it_lists_recent_links_with_their_state(owner_client, calendar):
    contact = ContactFactory()
    used = OneTimeLinkFactory(calendar=calendar, contact=contact, used_at=timezone.now())
    revoked = OneTimeLinkFactory(calendar=calendar, revoked_at=timezone.now())
    OneTimeLinkFactory()  # another calendar's

    html = owner_client.get(share_url(calendar)).content.decode()

    assert f'id="share-link-{used.pk}" data-state="used"' in html
    assert f'id="share-link-{revoked.pk}" data-state="revoked"' in html
    assert contact.email in html
    assert html.count('id="share-link-') == 2


def test_it_revokes_a_link_from_the_share_panel(owner_client, calendar):
    link = OneTimeLinkFactory(calendar=calendar)

    response = owner_client.post(share_url(calendar), {"action": "revoke", "link": link.pk})

    assert response.status_code == 302
    link.refresh_from_db()
    assert link.state == OneTimeLink.State.REVOKED
    page = owner_client.get(response.headers["Location"]).content.decode()
    assert "Revoked 1 one-time link." in page
    assert 'id="share-no-active-link"' in page


def test_it_refuses_to_revoke_another_calendars_link_from_the_share_panel(owner_client, calendar):
    other = OneTimeLinkFactory()

    response = owner_client.post(share_url(calendar), {"action": "revoke", "link": other.pk})

    assert response.status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


def test_it_lists_only_own_calendars_links(owner_client, calendar):
    own = OneTimeLinkFactory(calendar=calendar)
    other = OneTimeLinkFactory()

    response = owner_client.get(LIST_URL)

    assert response.status_code == 200
    ids = {row.pk for row in response.context["cl"].result_list}
    assert ids == {own.pk}
    assert other.pk not in ids


@pytest.mark.parametrize("state", ["active", "used", "expired", "revoked"])
def test_it_filters_the_admin_list_by_state(owner_client, calendar, state):
    now = timezone.now()
    links = {
        "active": OneTimeLinkFactory(calendar=calendar),
        "used": OneTimeLinkFactory(calendar=calendar, used_at=now),
        "expired": OneTimeLinkFactory(calendar=calendar, expires_at=now - timedelta(minutes=1)),
        "revoked": OneTimeLinkFactory(calendar=calendar, revoked_at=now),
    }

    response = owner_client.get(LIST_URL, {"state": state})

    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [links[state].pk]


def test_it_filters_the_admin_list_by_calendar(client):
    user = UserFactory(is_superuser=True)
    first, second = OneTimeLinkFactory(), OneTimeLinkFactory()
    client.force_login(user)

    response = client.get(LIST_URL, {"calendar__id__exact": first.calendar_id})

    assert [row.pk for row in response.context["cl"].result_list] == [first.pk]
    assert second.pk != first.pk


def test_it_shows_a_copy_button_for_active_links_in_the_list(owner_client, calendar):
    link = OneTimeLinkFactory(calendar=calendar)

    html = owner_client.get(LIST_URL).content.decode()

    assert input_value(html, f"otl-url-{link.pk}") == one_time_link_url(link=link)
    assert f'data-copy-target="otl-url-{link.pk}"' in html


def test_it_revokes_selected_links_with_the_admin_action(owner_client, calendar):
    active = [OneTimeLinkFactory(calendar=calendar) for _ in range(2)]
    used = OneTimeLinkFactory(calendar=calendar, used_at=timezone.now())

    response = owner_client.post(
        LIST_URL,
        {
            "action": "revoke_links",
            "confirm": "yes",
            "_selected_action": [link.pk for link in [*active, used]],
        },
        follow=True,
    )

    assert response.status_code == 200
    assert "Revoked 2 one-time links." in response.content.decode()
    for link in active:
        link.refresh_from_db()
        assert link.state == OneTimeLink.State.REVOKED
    used.refresh_from_db()
    assert used.revoked_at is None


def test_it_does_not_revoke_another_staffs_links_through_the_action(owner_client):
    other = OneTimeLinkFactory()

    owner_client.post(
        LIST_URL, {"action": "revoke_links", "confirm": "yes", "_selected_action": [other.pk]}
    )

    other.refresh_from_db()
    assert other.revoked_at is None


def test_it_has_no_add_or_change_form_for_links(owner_client, calendar):
    link = OneTimeLinkFactory(calendar=calendar)

    add = owner_client.get(LIST_URL + "add/")
    change = owner_client.post(
        reverse("admin:bookings_onetimelink_change", args=[link.pk]), {"label": "edited"}
    )

    assert add.status_code == 403
    assert change.status_code == 403
    link.refresh_from_db()
    assert link.label == ""


def test_it_shows_a_links_details_read_only_with_its_url_to_copy(owner_client, calendar):
    link = OneTimeLinkFactory(calendar=calendar, label="for Ana")

    response = owner_client.get(reverse("admin:bookings_onetimelink_change", args=[link.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert input_value(html, f"otl-url-{link.pk}") == one_time_link_url(link=link)
    assert "for Ana" in html
    assert 'name="_save"' not in html


def test_it_hides_another_staffs_link_details(owner_client):
    other = OneTimeLinkFactory()

    response = owner_client.get(reverse("admin:bookings_onetimelink_change", args=[other.pk]))

    # The admin's answer for an object outside get_queryset: back to the index, no details.
    assert response.status_code == 302
    assert other.token not in owner_client.get(response.headers["Location"]).content.decode()


def test_it_redirects_an_out_of_range_date_drill_down_like_a_bad_filter(owner_client, calendar):
    # A range ending in year 10000 was a 500 (OverflowError in Django's date hierarchy).
    response = owner_client.get(f"{LIST_URL}?created_at__year=9999&created_at__month=12")

    assert response.status_code == 302
    assert response["Location"] == f"{LIST_URL}?e=1"


# Second edition: the current link is a general one, made from the panel.


@pytest.mark.parametrize(
    "made_elsewhere",
    [
        {"source": OneTimeLink.Source.WORKFLOW, "label": "Workflow: Onboarding"},
        {"source": OneTimeLink.Source.API},
        {"source": OneTimeLink.Source.CLI},
        {"source": OneTimeLink.Source.PANEL, "for_contact": True},
    ],
)
def test_it_never_offers_a_contacts_or_another_interfaces_link_as_current(
    owner_client, calendar, made_elsewhere
):
    general = OneTimeLinkFactory(
        calendar=calendar,
        source=OneTimeLink.Source.PANEL,
        created_at=timezone.now() - timedelta(days=1),
    )
    extra = dict(made_elsewhere)
    if extra.pop("for_contact", False):
        extra["contact"] = ContactFactory(owner=calendar.owner)
    newer = OneTimeLinkFactory(calendar=calendar, **extra)

    html = owner_client.get(share_url(calendar)).content.decode()

    assert input_value(html, "share-one-time-url") == one_time_link_url(link=general)
    assert one_time_link_url(link=newer) not in html.split('id="share-one-time-url"')[1][:300]


def test_it_offers_no_current_link_when_only_a_workflow_made_one(owner_client, calendar):
    OneTimeLinkFactory(
        calendar=calendar, source=OneTimeLink.Source.WORKFLOW, contact=ContactFactory()
    )

    html = owner_client.get(share_url(calendar)).content.decode()

    assert 'id="share-no-active-link"' in html
    assert 'id="share-one-time-url"' not in html


def test_it_generates_a_general_panel_link_that_becomes_current(owner_client, calendar):
    previous = OneTimeLinkFactory(calendar=calendar, source=OneTimeLink.Source.PANEL)

    response = owner_client.post(share_url(calendar), {"action": "generate"})

    assert response.status_code == 302
    link = OneTimeLink.objects.exclude(pk=previous.pk).get()
    assert (link.source, link.contact, link.max_uses) == (OneTimeLink.Source.PANEL, None, 1)
    previous.refresh_from_db()
    assert previous.state == OneTimeLink.State.ACTIVE  # stays usable until used
    html = owner_client.get(response["Location"]).content.decode()
    assert input_value(html, "share-one-time-url") == one_time_link_url(link=link)
    assert "The previous link stays usable until used" in html
    assert 'id="share-revoke-current"' in html
    assert "data-confirm=" in html


def test_it_generates_a_link_with_uses_range_and_lock_for_a_contact(owner_client, calendar):
    contact = ContactFactory(owner=calendar.owner, email="ana@example.com")

    response = owner_client.post(
        share_url(calendar),
        {
            "action": "generate",
            "contact_email": "ANA@example.com",
            "max_uses": "3",
            "bookable_from": "2030-01-09",
            "bookable_until": "2030-01-10",
            "lock_to_contact": "on",
        },
    )

    assert response.status_code == 302
    link = OneTimeLink.objects.get()
    assert link.contact == contact
    assert (link.max_uses, link.lock_to_contact) == (3, True)
    assert str(link.bookable_from) == "2030-01-09"


def test_it_creates_a_new_contact_from_an_email_and_name(owner_client, calendar):
    response = owner_client.post(
        share_url(calendar),
        {"action": "generate", "contact_email": "new@example.com", "contact_name": "Nova Lee"},
    )

    assert response.status_code == 302
    contact = Contact.objects.get(email="new@example.com")
    assert (contact.first_name, contact.last_name) == ("Nova", "Lee")
    assert contact.origin == "admin"
    assert OneTimeLink.objects.get().contact == contact


@pytest.mark.parametrize(
    ("data", "field_text"),
    [
        ({"max_uses": "101"}, "less than or equal to 100"),
        ({"bookable_from": "2099-01-10", "bookable_until": "2099-01-09"}, "ends before it starts"),
        ({"bookable_until": "2001-01-09"}, "must not end before today"),
        ({"lock_to_contact": "on"}, "Only a link made for a contact can be locked"),
    ],
)
def test_it_refuses_bad_options_in_the_panel(owner_client, calendar, data, field_text):
    response = owner_client.post(share_url(calendar), {"action": "generate", **data})

    assert response.status_code == 400
    assert field_text in response.content.decode()
    assert not OneTimeLink.objects.exists()


def test_it_lists_source_uses_and_first_open_in_recent_links(owner_client, calendar):
    opened = timezone.now() - timedelta(hours=2)
    OneTimeLinkFactory(
        calendar=calendar,
        source=OneTimeLink.Source.WORKFLOW,
        label="Workflow: Onboarding",
        max_uses=3,
        uses=1,
        first_opened_at=opened,
        open_count=4,
    )
    OneTimeLinkFactory(calendar=calendar, source=OneTimeLink.Source.CLI)

    html = owner_client.get(share_url(calendar)).content.decode()

    assert "Workflow: Onboarding" in html
    assert "Command line" in html
    assert "1 of 3" in html
    assert "4 opens" in html
    assert "Not opened" in html


def test_it_filters_the_admin_list_by_source(owner_client, calendar):
    workflow = OneTimeLinkFactory(calendar=calendar, source=OneTimeLink.Source.WORKFLOW)
    panel = OneTimeLinkFactory(calendar=calendar, source=OneTimeLink.Source.PANEL)

    response = owner_client.get(LIST_URL, {"source": "workflow"})

    assert response.status_code == 200
    shown = {link.pk for link in response.context["cl"].result_list}
    assert shown == {workflow.pk}
    assert panel.pk not in shown


def test_it_searches_the_admin_list_by_contact_email(owner_client, calendar):
    ana = OneTimeLinkFactory(
        calendar=calendar, contact=ContactFactory(owner=calendar.owner, email="ana@example.com")
    )
    OneTimeLinkFactory(
        calendar=calendar, contact=ContactFactory(owner=calendar.owner, email="bo@example.com")
    )

    response = owner_client.get(LIST_URL, {"q": "ana@example"})

    assert {link.pk for link in response.context["cl"].result_list} == {ana.pk}


def test_it_does_not_make_a_link_for_another_owners_contact(owner_client, calendar):
    ContactFactory(email="ana@example.com")  # someone else's contact

    response = owner_client.post(
        share_url(calendar), {"action": "generate", "contact_email": "ana@example.com"}
    )

    # Their contact is not mine: the email reads as a new contact, which needs a name.
    assert response.status_code == 400
    assert "Give the new contact&#x27;s name" in response.content.decode()
    assert not OneTimeLink.objects.exists()


def test_it_offers_only_the_calendar_owners_contacts_to_pick(owner_client, calendar):
    ContactFactory(owner=calendar.owner, email="mine@example.com")
    ContactFactory(email="theirs@example.com")

    html = owner_client.get(share_url(calendar)).content.decode()

    assert "mine@example.com" in html
    assert "theirs@example.com" not in html


def test_it_asks_to_confirm_before_revoking(owner_client, calendar):
    link = OneTimeLinkFactory(calendar=calendar)

    response = owner_client.post(
        LIST_URL, {"action": "revoke_links", "_selected_action": [link.pk]}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Revoke these one-time links?" in html
    assert 'name="confirm" value="yes"' in html
    link.refresh_from_db()
    assert link.revoked_at is None


def test_it_shows_link_times_with_their_timezone(owner_client, calendar):
    link = OneTimeLinkFactory(calendar=calendar)

    response = owner_client.get(f"{LIST_URL}{link.pk}/change/")

    assert response.status_code == 200
    created = timezone.localtime(link.created_at)
    assert f"{created:%Y}" in response.content.decode()
    assert re.search(r"\d (a\.m\.|p\.m\.|noon|midnight) UTC", response.content.decode())


def test_it_shows_share_panel_times_in_the_calendars_timezone(owner_client, calendar):
    calendar.timezone = "Europe/Berlin"
    calendar.save()
    OneTimeLinkFactory(calendar=calendar)

    response = owner_client.get(f"/admin/bookings/onetimelink/share/{calendar.pk}/")

    assert response.status_code == 200
    assert re.search(r"(a\.m\.|p\.m\.|noon|midnight) CES?T", response.content.decode())
