from contextlib import contextmanager
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets: list[tuple[str, str]]):
    """Migrate the test database to `targets`; the historical models there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@contextmanager
def migrated(targets: list[tuple[str, str]]):
    """The database at `targets` for the block, then at the latest migrations again."""
    try:
        yield migrate(targets)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db
def test_it_has_a_migration_for_every_model_change():
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exc:  # --check exits non-zero when a migration is missing
        pytest.fail(f"models and migrations differ:\n{out.getvalue()}", pytrace=False)
        raise AssertionError from exc


@pytest.mark.django_db(transaction=True)
def test_it_moves_each_link_booking_pair_to_the_booking_side_and_back():
    from datetime import UTC, datetime, timedelta

    before = [("bookings", "0001_initial")]
    after = [("bookings", "0002_booking_holds_its_one_time_link")]
    with migrated(before) as apps:
        User = apps.get_model("auth", "User")
        Calendar = apps.get_model("calendars", "Calendar")
        Booking = apps.get_model("bookings", "Booking")
        OneTimeLink = apps.get_model("bookings", "OneTimeLink")
        owner = User.objects.create(username="owner")
        calendar = Calendar.objects.create(owner=owner, name="Intro", slug="intro")
        start = datetime(2030, 1, 8, 10, tzinfo=UTC)
        booking = Booking.objects.create(
            calendar=calendar,
            start=start,
            end=start + timedelta(minutes=30),
            source="one_time_link",
            invitee_name="Ana",
            invitee_email="ana@example.com",
            timezone="UTC",
        )
        used = OneTimeLink.objects.create(calendar=calendar, used_at=start, booking=booking)
        unused = OneTimeLink.objects.create(calendar=calendar)

        apps = migrate(after)
        Booking = apps.get_model("bookings", "Booking")
        assert Booking.objects.get(pk=booking.pk).one_time_link_id == used.pk
        assert not Booking.objects.filter(one_time_link_id=unused.pk).exists()

        apps = migrate(before)
        OneTimeLink = apps.get_model("bookings", "OneTimeLink")
        assert OneTimeLink.objects.get(pk=used.pk).booking_id == booking.pk
        assert OneTimeLink.objects.get(pk=unused.pk).booking_id is None


def _booking_indexes_on(columns: list[str]) -> list[str]:

    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "bookings_booking")
    return [
        name
        for name, info in found.items()
        if info["index"] and not info["unique"] and info["columns"] == columns
    ]


@pytest.mark.django_db(transaction=True)
def test_it_drops_the_calendar_index_the_composite_covers_and_puts_it_back():
    before = [("bookings", "0002_booking_holds_its_one_time_link")]
    after = [("bookings", "0003_booking_calendar_index_covered_by_composite")]
    with migrated(after):
        assert _booking_indexes_on(["calendar_id"]) == []
        assert _booking_indexes_on(["calendar_id", "status", "start"]) != []
        # The foreign key itself stays.
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, "bookings_booking")
        assert any(
            info["foreign_key"] == ("calendars_calendar", "id") for info in constraints.values()
        )

        migrate(before)
        assert _booking_indexes_on(["calendar_id"]) == ["bookings_booking_calendar_id_2ce3af4f"]


# Contacts before and after they got an owner (contacts 0002-0004).
BEFORE_CONTACT_OWNERS = [
    ("contacts", "0001_initial"),
    ("bookings", "0003_booking_calendar_index_covered_by_composite"),
    ("workflows", "0001_initial"),
]
AFTER_CONTACT_OWNERS = [("contacts", "0004_contact_owner_required")]


@pytest.mark.django_db(transaction=True)
def test_it_splits_shared_contacts_per_owner_and_merges_them_back():
    from datetime import UTC, datetime, timedelta

    before, after = BEFORE_CONTACT_OWNERS, AFTER_CONTACT_OWNERS
    with migrated(before) as apps:
        User = apps.get_model("auth", "User")
        Calendar = apps.get_model("calendars", "Calendar")
        Booking = apps.get_model("bookings", "Booking")
        OneTimeLink = apps.get_model("bookings", "OneTimeLink")
        Contact = apps.get_model("contacts", "Contact")
        Tag = apps.get_model("contacts", "Tag")
        Workflow = apps.get_model("workflows", "Workflow")
        Enrollment = apps.get_model("workflows", "Enrollment")
        staff = User.objects.create(username="staff", is_staff=True)
        admin = User.objects.create(username="admin", is_staff=True, is_superuser=True)
        ana_owner = User.objects.create(username="ana-owner", is_staff=True)
        bo_owner = User.objects.create(username="bo-owner", is_staff=True)
        ana_calendar = Calendar.objects.create(owner=ana_owner, name="A", slug="a")
        bo_calendar = Calendar.objects.create(owner=bo_owner, name="B", slug="b")
        created = datetime(2029, 5, 1, 9, tzinfo=UTC)
        shared = Contact.objects.create(
            email="Sam@example.com", first_name="Sam", phone="1", created_at=created
        )
        vip = Tag.objects.create(name="vip")
        shared.tags.add(vip)
        only_bo = Contact.objects.create(email="only@example.com", first_name="Only")
        unused = Contact.objects.create(email="nobody@example.com")
        start = datetime(2030, 1, 8, 10, tzinfo=UTC)
        booking_a = Booking.objects.create(
            calendar=ana_calendar,
            contact=shared,
            start=start,
            end=start + timedelta(minutes=30),
            source="api",
            invitee_name="Sam",
            invitee_email="sam@example.com",
            timezone="UTC",
        )
        link_b = OneTimeLink.objects.create(calendar=bo_calendar, contact=shared)
        only_link = OneTimeLink.objects.create(calendar=bo_calendar, contact=only_bo)
        staff_flow = Workflow.objects.create(name="S", created_by=staff)
        orphan_flow = Workflow.objects.create(name="O", created_by=None)
        enrolled_s = Enrollment.objects.create(
            workflow=staff_flow, contact=shared, trigger_type="manual"
        )
        enrolled_o = Enrollment.objects.create(
            workflow=orphan_flow, contact=shared, trigger_type="manual"
        )

        apps = migrate(after)
        Contact = apps.get_model("contacts", "Contact")
        Booking = apps.get_model("bookings", "Booking")
        OneTimeLink = apps.get_model("bookings", "OneTimeLink")
        Enrollment = apps.get_model("workflows", "Enrollment")

        # Used by three owners (ids in creation order: staff < ana < bo): three contacts.
        copies = list(Contact.objects.filter(email="Sam@example.com").order_by("owner_id"))
        assert [c.owner_id for c in copies] == [staff.pk, ana_owner.pk, bo_owner.pk]
        assert copies[0].pk == shared.pk  # the lowest owner keeps the row
        for copy in copies:
            assert (copy.first_name, copy.phone, copy.created_at) == ("Sam", "1", created)
            assert list(copy.tags.values_list("name", flat=True)) == ["vip"]
        by_owner = {c.owner_id: c.pk for c in copies}
        assert Booking.objects.get(pk=booking_a.pk).contact_id == by_owner[ana_owner.pk]
        assert OneTimeLink.objects.get(pk=link_b.pk).contact_id == by_owner[bo_owner.pk]
        assert Enrollment.objects.get(pk=enrolled_s.pk).contact_id == by_owner[staff.pk]
        # A workflow without an owner changes no owner: it stays with the kept row.
        assert Enrollment.objects.get(pk=enrolled_o.pk).contact_id == shared.pk
        assert Contact.objects.get(pk=only_bo.pk).owner_id == bo_owner.pk
        assert OneTimeLink.objects.get(pk=only_link.pk).contact_id == only_bo.pk
        # Used by nobody: the first superuser's.
        assert Contact.objects.get(pk=unused.pk).owner_id == admin.pk
        assert Contact.objects.count() == 5

        apps = migrate(before)
        Contact = apps.get_model("contacts", "Contact")
        Booking = apps.get_model("bookings", "Booking")
        OneTimeLink = apps.get_model("bookings", "OneTimeLink")
        Enrollment = apps.get_model("workflows", "Enrollment")
        assert Contact.objects.count() == 3
        assert Booking.objects.get(pk=booking_a.pk).contact_id == shared.pk
        assert OneTimeLink.objects.get(pk=link_b.pk).contact_id == shared.pk
        assert Enrollment.objects.get(pk=enrolled_s.pk).contact_id == shared.pk


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_give_contacts_an_owner_when_there_is_no_user():
    before, after = BEFORE_CONTACT_OWNERS, AFTER_CONTACT_OWNERS
    with migrated(before) as apps:
        Contact = apps.get_model("contacts", "Contact")
        Contact.objects.create(email="nobody@example.com")
        try:
            with pytest.raises(RuntimeError, match="create a superuser"):
                migrate(after)
        finally:
            Contact.objects.all().delete()  # or the way back up refuses as well


@pytest.mark.django_db(transaction=True)
def test_it_turns_drf_authtoken_keys_into_digests_that_still_work():
    from datetime import UTC, datetime

    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from accounts.models import APIToken

    before = [("accounts", "0001_api_tokens_as_digests")]
    after = [("accounts", "0002_forget_plain_keys")]
    migrate(before)
    key = "0123456789abcdef0123456789abcdef01234567"
    user = get_user_model().objects.create(username="ci", is_staff=True)
    with connection.cursor() as cursor:  # the table DRF's authtoken left behind
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "created timestamptz NOT NULL, user_id integer NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, %s, %s)",
            [key, datetime(2026, 1, 1, tzinfo=UTC), user.pk],
        )

    migrate(after)

    assert "authtoken_token" not in connection.introspection.table_names()
    token = APIToken.objects.get()
    assert (token.user_id, token.prefix) == (user.pk, key[:8])
    assert key not in token.digest
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/calendars/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_it_records_the_write_calendar_as_the_home_of_confirmed_bookings_events():
    from datetime import UTC, datetime, timedelta

    before = [
        ("bookings", "0008_booking_language"),
        ("calendars", "0005_calendar_bookings_version"),
    ]
    after = [("bookings", "0009_booking_event_calendar")]
    with migrated(before) as apps:
        User = apps.get_model("auth", "User")
        Calendar = apps.get_model("calendars", "Calendar")
        Connection = apps.get_model("calendars", "Connection")
        ConnectedCalendar = apps.get_model("calendars", "ConnectedCalendar")
        Booking = apps.get_model("bookings", "Booking")
        start = datetime(2030, 1, 8, 10, tzinfo=UTC)

        def booking(calendar, status):
            return Booking.objects.create(
                calendar=calendar,
                start=start,
                end=start + timedelta(minutes=30),
                status=status,
                source="api",
                invitee_name="Ana",
                invitee_email="ana@example.com",
                timezone="UTC",
            )

        writer, other = User.objects.create(username="w"), User.objects.create(username="o")
        account = Connection.objects.create(owner=writer, kind="caldav", url="https://dav.example")
        target = ConnectedCalendar.objects.create(
            connection=account, owner=writer, url="https://dav.example/w/", write=True
        )
        mine = Calendar.objects.create(owner=writer, name="Mine", slug="mine")
        theirs = Calendar.objects.create(owner=other, name="Theirs", slug="theirs")
        confirmed = booking(mine, "confirmed")
        cancelled = booking(mine, "cancelled")
        elsewhere = booking(theirs, "confirmed")

        Booking = migrate(after).get_model("bookings", "Booking")
        assert Booking.objects.get(pk=confirmed.pk).event_calendar_id == target.pk
        assert Booking.objects.get(pk=cancelled.pk).event_calendar_id is None
        assert Booking.objects.get(pk=elsewhere.pk).event_calendar_id is None

        Booking = migrate(before).get_model("bookings", "Booking")  # the column goes
        assert (
            Booking.objects.filter(pk__in=[confirmed.pk, cancelled.pk, elsewhere.pk]).count() == 3
        )


@pytest.mark.django_db(transaction=True)
def test_it_encrypts_connection_addresses_and_decrypts_them_back():

    from config import crypto

    secret = "https://calendar.example.com/ical/private-0123456789abcdef0123456789abcdef/basic.ics"
    dav = "https://dav.example.com/ana/home/"
    before = [("calendars", "0005_calendar_bookings_version")]
    after = [("calendars", "0006_connection_urls_encrypted")]
    with migrated(before) as apps:
        owner = apps.get_model("auth", "User").objects.create(username="owner")
        Connection = apps.get_model("calendars", "Connection")
        ConnectedCalendar = apps.get_model("calendars", "ConnectedCalendar")
        ics = Connection.objects.create(owner=owner, kind="ics", url=secret)
        caldav = Connection.objects.create(
            owner=owner, kind="caldav", url="https://dav.example.com/"
        )
        ConnectedCalendar.objects.create(connection=ics, owner=owner, url=secret)
        ConnectedCalendar.objects.create(connection=caldav, owner=owner, url=dav)
        ConnectedCalendar.objects.create(connection=caldav, owner=owner, url=dav + "work/")

        apps = migrate(after)
        stored = {
            name: list(apps.get_model("calendars", name).objects.order_by("pk").values())
            for name in ("Connection", "ConnectedCalendar")
        }
        assert "private-0123456789abcdef" not in str(stored) and dav not in str(stored)
        assert [crypto.decrypt(r["url_encrypted"]) for r in stored["Connection"]] == [
            secret,
            "https://dav.example.com/",
        ]
        assert [crypto.decrypt(r["url_encrypted"]) for r in stored["ConnectedCalendar"]] == [
            secret,
            dav,
            dav + "work/",
        ]

        apps = migrate(before)
        ConnectedCalendar = apps.get_model("calendars", "ConnectedCalendar")
        assert list(
            apps.get_model("calendars", "Connection").objects.order_by("pk").values_list("url")
        ) == [(secret,), ("https://dav.example.com/",)]
        assert list(ConnectedCalendar.objects.order_by("pk").values_list("url", flat=True)) == [
            secret,
            dav,
            dav + "work/",
        ]
