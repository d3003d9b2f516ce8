from io import StringIO

import pytest
from django.core.management import call_command


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

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("bookings", "0001_initial")]
    after = [("bookings", "0002_booking_holds_its_one_time_link")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        apps = executor.loader.project_state(before).apps
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

        executor = MigrationExecutor(connection)
        executor.migrate(after)
        apps = executor.loader.project_state(after).apps
        Booking = apps.get_model("bookings", "Booking")
        assert Booking.objects.get(pk=booking.pk).one_time_link_id == used.pk
        assert not Booking.objects.filter(one_time_link_id=unused.pk).exists()

        executor = MigrationExecutor(connection)
        executor.migrate(before)
        apps = executor.loader.project_state(before).apps
        OneTimeLink = apps.get_model("bookings", "OneTimeLink")
        assert OneTimeLink.objects.get(pk=used.pk).booking_id == booking.pk
        assert OneTimeLink.objects.get(pk=unused.pk).booking_id is None
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def _booking_indexes_on(columns: list[str]) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "bookings_booking")
    return [
        name
        for name, info in found.items()
        if info["index"] and not info["unique"] and info["columns"] == columns
    ]


@pytest.mark.django_db(transaction=True)
def test_it_drops_the_calendar_index_the_composite_covers_and_puts_it_back():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("bookings", "0002_booking_holds_its_one_time_link")]
    after = [("bookings", "0003_booking_calendar_index_covered_by_composite")]
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        assert _booking_indexes_on(["calendar_id"]) == []
        assert _booking_indexes_on(["calendar_id", "status", "start"]) != []
        # The foreign key itself stays.
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, "bookings_booking")
        assert any(
            info["foreign_key"] == ("calendars_calendar", "id") for info in constraints.values()
        )

        executor = MigrationExecutor(connection)
        executor.migrate(before)
        assert _booking_indexes_on(["calendar_id"]) == ["bookings_booking_calendar_id_2ce3af4f"]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_it_turns_drf_authtoken_keys_into_digests_that_still_work():
    from datetime import UTC, datetime

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from rest_framework.test import APIClient

    from accounts.models import APIToken

    before = [("accounts", "0001_api_tokens_as_digests")]
    after = [("accounts", "0002_forget_plain_keys")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
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

    executor = MigrationExecutor(connection)
    executor.migrate(after)

    assert "authtoken_token" not in connection.introspection.table_names()
    token = APIToken.objects.get()
    assert (token.user_id, token.prefix) == (user.pk, key[:8])
    assert key not in token.digest
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/calendars/").status_code == 200
