from datetime import date, time

import pytest
from django.urls import reverse

from calendars.models import Calendar
from tests.calendars.factories import CalendarFactory, DateOverrideFactory, UserFactory

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:calendars_calendar_add")
LIST_URL = reverse("admin:calendars_calendar_changelist")


def change_url(calendar: Calendar) -> str:
    return reverse("admin:calendars_calendar_change", args=[calendar.pk])


def inline(prefix: str, rows: list[dict], initial: int = 0) -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"{prefix}-{index}-{key}"] = value
    return data


def form_data(weekly=None, overrides=None, **fields) -> dict:
    data = {
        "name": "Consult",
        "slug": "consult",
        "description": "",
        "is_active": "on",
        "timezone": "Europe/Berlin",
        "duration_minutes": "30",
        "slot_interval_minutes": "",
        "buffer_before_minutes": "0",
        "buffer_after_minutes": "0",
        "min_notice_minutes": "0",
        "booking_window_days": "60",
        "seats_per_slot": "1",
        "max_bookings_per_day": "",
        "consent_text": "",
    }
    data.update(fields)
    weekly = (
        weekly
        if weekly is not None
        else [
            {"weekday": "0", "start": "09:00", "end": "12:00"},
            {"weekday": "0", "start": "13:00", "end": "17:00"},
        ]
    )
    data.update(inline("weekly_hours", weekly))
    data.update(inline("date_overrides", overrides or []))
    return data


@pytest.fixture
def staff():
    return UserFactory()


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def form_errors(response) -> str:
    """Every error on the page (calendar fields and inline rows), as one string."""
    adminform = response.context["adminform"].form
    texts = [str(adminform.errors)]
    for formset in response.context["inline_admin_formsets"]:
        texts.append(str(formset.formset.errors))
        texts.append(str(formset.formset.non_form_errors()))
    return " ".join(texts)


def test_it_adds_a_calendar_with_hours_and_a_closed_date(admin_client, staff):
    overrides = [
        {"date": "2027-03-16", "start": "", "end": ""},
        {"date": "2027-03-17", "start": "10:00", "end": "12:00"},
    ]
    response = admin_client.post(ADD_URL, form_data(overrides=overrides))
    assert response.status_code == 302
    calendar = Calendar.objects.get(slug="consult")
    assert calendar.owner == staff
    assert calendar.slot_interval_minutes == 30
    assert list(calendar.weekly_hours.values_list("weekday", "start", "end")) == [
        (0, time(9), time(12)),
        (0, time(13), time(17)),
    ]
    assert list(calendar.date_overrides.values_list("date", "start", "end")) == [
        (date(2027, 3, 16), None, None),
        (date(2027, 3, 17), time(10), time(12)),
    ]


def test_it_lets_a_superuser_pick_the_owner(client):
    client.force_login(UserFactory(is_superuser=True))
    other = UserFactory()
    response = client.post(ADD_URL, form_data(owner=str(other.pk)))
    assert response.status_code == 302
    assert Calendar.objects.get(slug="consult").owner == other


def test_it_refuses_overlapping_weekly_hours(admin_client):
    weekly = [
        {"weekday": "0", "start": "09:00", "end": "12:00"},
        {"weekday": "0", "start": "11:00", "end": "13:00"},
    ]
    response = admin_client.post(ADD_URL, form_data(weekly=weekly))
    assert response.status_code == 200
    assert "11:00-13:00 overlaps 09:00-12:00." in form_errors(response)
    assert not Calendar.objects.exists()


def test_it_refuses_weekly_hours_ending_before_they_start(admin_client):
    weekly = [{"weekday": "1", "start": "12:00", "end": "09:00"}]
    response = admin_client.post(ADD_URL, form_data(weekly=weekly))
    assert response.status_code == 200
    assert "The end must be after the start." in form_errors(response)
    assert not Calendar.objects.exists()


def test_it_refuses_a_closed_date_that_also_has_hours(admin_client):
    overrides = [
        {"date": "2027-03-16", "start": "", "end": ""},
        {"date": "2027-03-16", "start": "10:00", "end": "12:00"},
    ]
    response = admin_client.post(ADD_URL, form_data(overrides=overrides))
    assert response.status_code == 200
    assert "A closed date cannot also have hours" in form_errors(response)
    assert not Calendar.objects.exists()


def test_it_refuses_an_override_with_only_one_time(admin_client):
    overrides = [{"date": "2027-03-16", "start": "10:00", "end": ""}]
    response = admin_client.post(ADD_URL, form_data(overrides=overrides))
    assert response.status_code == 200
    assert "Give both a start and an end" in form_errors(response)
    assert not Calendar.objects.exists()


def test_it_refuses_an_unknown_timezone_on_the_field(admin_client):
    response = admin_client.post(ADD_URL, form_data(timezone="Mars/Olympus"))
    assert response.status_code == 200
    assert "timezone" in response.context["adminform"].form.errors
    assert not Calendar.objects.exists()


def test_it_refuses_a_zero_duration_on_the_field(admin_client):
    response = admin_client.post(ADD_URL, form_data(duration_minutes="0"))
    assert response.status_code == 200
    assert "duration_minutes" in response.context["adminform"].form.errors
    assert not Calendar.objects.exists()


def test_it_ignores_a_deleted_row_when_checking_overlaps(admin_client, staff):
    calendar = CalendarFactory(owner=staff, hours=[])
    weekly = [
        {"weekday": "0", "start": "09:00", "end": "12:00"},
        {"weekday": "0", "start": "10:00", "end": "11:00", "DELETE": "on"},
    ]
    data = form_data(weekly=weekly, slug=calendar.slug, name=calendar.name)
    response = admin_client.post(change_url(calendar), data)
    assert response.status_code == 302
    assert calendar.weekly_hours.count() == 1


def test_it_lists_only_own_calendars(admin_client, staff):
    mine = CalendarFactory(owner=staff)
    theirs = CalendarFactory()
    response = admin_client.get(LIST_URL)
    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == [mine]
    assert theirs.name not in response.content.decode()


def test_it_lists_every_calendar_for_a_superuser(client):
    CalendarFactory()
    CalendarFactory()
    client.force_login(UserFactory(is_superuser=True))
    response = client.get(LIST_URL)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 2


def test_it_shows_links_in_the_list(admin_client, staff):
    calendar = CalendarFactory(owner=staff)
    response = admin_client.get(LIST_URL)
    assert calendar.scheduling_path() in response.content.decode()
    assert calendar.permanent_path() in response.content.decode()


def test_it_hides_another_staff_users_calendar(admin_client):
    calendar = CalendarFactory()
    response = admin_client.get(change_url(calendar))
    assert response.status_code == 302
    assert response.url == reverse("admin:index")


def test_it_does_not_save_changes_to_another_staff_users_calendar(admin_client):
    calendar = CalendarFactory()
    response = admin_client.post(change_url(calendar), form_data(slug=calendar.slug, name="Mine"))
    assert response.status_code == 302
    calendar.refresh_from_db()
    assert calendar.name != "Mine"


def test_it_does_not_delete_another_staff_users_calendar(admin_client):
    calendar = CalendarFactory()
    url = reverse("admin:calendars_calendar_delete", args=[calendar.pk])
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert Calendar.objects.filter(pk=calendar.pk).exists()


def test_it_keeps_non_staff_out(client):
    client.force_login(UserFactory(is_staff=False))
    response = client.get(LIST_URL)
    assert response.status_code == 302
    assert "/login/" in response.url


def test_it_shows_the_share_button_and_the_override_help(admin_client, staff):
    calendar = CalendarFactory(owner=staff)
    DateOverrideFactory(calendar=calendar, date=date(2027, 3, 16), start=None, end=None)
    response = admin_client.get(change_url(calendar))
    assert response.status_code == 200
    page = response.content.decode()
    assert reverse("admin:calendar-share", args=[calendar.pk]) in page
    assert calendar.scheduling_path() in page
    assert "leave times empty to close the date" in page.lower()


def test_it_writes_the_calendar_and_its_hours_through_the_calendar_service(
    admin_client, staff, monkeypatch
):
    from calendars import admin as calendar_admin

    calls = []
    real = calendar_admin.calendar_update

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(calendar_admin, "calendar_update", spy)
    calendar = CalendarFactory(owner=staff, hours=[])
    version = calendar.rules_version
    weekly = [{"weekday": "2", "start": "08:00", "end": "10:00"}]

    response = admin_client.post(
        change_url(calendar), form_data(weekly=weekly, slug=calendar.slug, name="Renamed")
    )

    assert response.status_code == 302
    calendar.refresh_from_db()
    assert calendar.name == "Renamed"
    assert calendar.rules_version != version
    assert list(calendar.weekly_hours.values_list("weekday", "start", "end")) == [
        (2, time(8), time(10))
    ]
    assert len(calls) == 1
    assert calls[0]["weekly_hours"] == [(2, time(8), time(10))]
    assert calls[0]["name"] == "Renamed"


def test_it_keeps_the_unchanged_hours_when_editing_other_fields(admin_client, staff):
    calendar = CalendarFactory(owner=staff, hours=[(0, time(9), time(12)), (1, time(13), time(17))])
    rows = [
        {"id": str(row.pk), "calendar": str(calendar.pk), "weekday": str(row.weekday),
         "start": row.start.strftime("%H:%M"), "end": row.end.strftime("%H:%M")}
        for row in calendar.weekly_hours.all()
    ]  # fmt: skip
    data = form_data(slug=calendar.slug, name="Renamed", weekly=[])
    data.update(inline("weekly_hours", rows, initial=len(rows)))

    response = admin_client.post(change_url(calendar), data)

    assert response.status_code == 302
    assert list(calendar.weekly_hours.values_list("weekday", "start", "end")) == [
        (0, time(9), time(12)),
        (1, time(13), time(17)),
    ]


def test_it_lets_a_superuser_hand_a_calendar_to_another_owner(client):
    client.force_login(UserFactory(is_superuser=True))
    calendar = CalendarFactory(hours=[])
    other = UserFactory()

    response = client.post(
        change_url(calendar),
        form_data(slug=calendar.slug, name=calendar.name, owner=str(other.pk), weekly=[]),
    )

    assert response.status_code == 302
    calendar.refresh_from_db()
    assert calendar.owner == other


def test_it_does_not_show_the_hours_of_another_staff_users_calendar_inline(admin_client, staff):
    from django.contrib.admin.sites import site
    from django.test import RequestFactory

    from calendars.admin import WeeklyIntervalInline
    from calendars.models import WeeklyInterval

    CalendarFactory()  # someone else's, with hours
    mine = CalendarFactory(owner=staff)
    request = RequestFactory().get("/")
    request.user = staff

    inline_admin = WeeklyIntervalInline(WeeklyInterval, site)

    assert {row.calendar_id for row in inline_admin.get_queryset(request)} == {mine.pk}
    assert not inline_admin.has_change_permission(request, CalendarFactory())
    assert inline_admin.has_change_permission(request, mine)


def test_it_shows_a_real_example_url_in_the_slug_help(admin_client, staff, settings):
    settings.SITE_URL = "https://book.example.com"
    calendar = CalendarFactory(owner=staff, slug="roof-consult")

    add_page = admin_client.get(ADD_URL).content.decode()
    change_page = admin_client.get(change_url(calendar)).content.decode()

    assert "https://book.example.com/book/intro-call/" in add_page
    assert "https://book.example.com/book/roof-consult/" in change_page
    assert "&lt;slug&gt;" not in change_page


def test_it_saves_a_calendar_without_hours_with_a_warning(admin_client):
    response = admin_client.post(ADD_URL, form_data(weekly=[]), follow=True)

    assert response.status_code == 200
    calendar = Calendar.objects.get(slug="consult")
    assert calendar.weekly_hours.count() == 0
    messages = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert any(tag == "warning" and "has no weekly hours" in text for tag, text in messages)


def test_it_saves_a_calendar_with_hours_without_a_warning(admin_client):
    response = admin_client.post(ADD_URL, form_data(), follow=True)

    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert not any("has no weekly hours" in text for text in messages)
