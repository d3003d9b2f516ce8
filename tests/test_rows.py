"""config.rows: the hot-path INSERT and select_related, checked against what the ORM does."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from bookings.models import Booking, BookingSource, OutboxMessage
from calendars.models import Calendar
from config import rows
from contacts.models import Contact
from tests.calendars.factories import CalendarFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory()


def test_it_inserts_a_row_and_sets_its_key_and_state(owner):
    contact = Contact(owner=owner, email="jamie@example.com", first_name="Jamie")

    assert rows.insert_one(contact) is True

    assert contact.pk is not None
    assert contact._state.adding is False
    stored = Contact.objects.get(pk=contact.pk)
    assert (stored.email, stored.first_name) == ("jamie@example.com", "Jamie")


def test_it_runs_the_fields_pre_save(owner):
    contact = Contact(owner=owner, email="jamie@example.com")
    assert contact.updated_at is None

    rows.insert_one(contact)

    assert Contact.objects.get(pk=contact.pk).updated_at is not None  # auto_now


def test_it_skips_a_conflicting_row_and_leaves_the_instance_unsaved(owner):
    rows.insert_one(Contact(owner=owner, email="jamie@example.com"))
    again = Contact(owner=owner, email="JAMIE@example.com")  # the unique index is on lower(email)

    assert rows.insert_one(again, skip_conflicts=True) is False

    assert again.pk is None
    assert again._state.adding is True
    assert Contact.objects.count() == 1


def test_it_raises_on_a_broken_constraint_unless_told_to_skip(owner):
    rows.insert_one(Contact(owner=owner, email="jamie@example.com"))

    with pytest.raises(IntegrityError), transaction.atomic():
        rows.insert_one(Contact(owner=owner, email="jamie@example.com"))


def test_it_inserts_several_rows_in_one_statement_returning_the_columns_asked(
    django_assert_num_queries,
):
    messages = [
        OutboxMessage(key=f"test:{n}", to="a@example.com", subject="Hi", body_text="Hello")
        for n in range(3)
    ]

    with django_assert_num_queries(1):
        written = rows.insert_many(OutboxMessage, messages, returning=("key", "id"))

    stored = dict(OutboxMessage.objects.values_list("key", "id"))
    assert dict(written) == stored
    assert sorted(stored) == ["test:0", "test:1", "test:2"]


def test_it_inserts_nothing_for_no_instances(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert rows.insert_many(OutboxMessage, []) == []


def booking_for(calendar, hour: int) -> Booking:
    start = timezone.now().replace(hour=hour, minute=0, second=0, microsecond=0)
    return Booking(
        calendar=calendar,
        start=start,
        end=start + timedelta(minutes=30),
        source=BookingSource.API,
        invitee_name="Jamie",
        invitee_email="jamie@example.com",
        timezone="UTC",
    )


@pytest.mark.postgres  # SQLite has no INSERT inside WITH: sent one by one
def test_it_sends_the_inserts_of_a_together_block_as_one_statement(django_assert_num_queries):
    booking = booking_for(CalendarFactory(), 10)
    message = OutboxMessage(key="test:1", to="a@example.com", subject="Hi", body_text="x")

    with django_assert_num_queries(1), rows.together():
        saved = rows.insert_one_deferred(booking)
        written = rows.insert_many_deferred(OutboxMessage, [message], returning=("key", "id"))

    assert saved.result() is True
    assert Booking.objects.get().pk == booking.pk
    assert written.result() == [("test:1", OutboxMessage.objects.get().pk)]


@pytest.mark.postgres  # SQLite has no INSERT inside WITH: sent one by one
def test_it_returns_no_row_for_an_insert_skipped_in_a_together_block():
    OutboxMessage.objects.create(key="test:1", to="a@example.com", subject="Hi", body_text="x")
    again = OutboxMessage(key="test:1", to="b@example.com", subject="Hi", body_text="x")

    with rows.together():
        booked = rows.insert_one_deferred(booking_for(CalendarFactory(), 10))
        skipped = rows.insert_many_deferred(OutboxMessage, [again], skip_conflicts=True)

    assert booked.result() is True
    assert skipped.result() == []
    assert OutboxMessage.objects.get().to == "a@example.com"


@pytest.mark.postgres  # SQLite has no INSERT inside WITH: sent one by one
def test_it_writes_none_of_a_together_blocks_inserts_when_one_fails():
    calendar = CalendarFactory()
    rows.insert_one(booking_for(calendar, 10))
    message = OutboxMessage(key="test:1", to="a@example.com", subject="Hi", body_text="x")

    with (
        pytest.raises(IntegrityError, match="booking_one_confirmed_per_seat"),
        transaction.atomic(),
        rows.together(),
    ):
        rows.insert_many_deferred(OutboxMessage, [message])
        rows.insert_one_deferred(booking_for(calendar, 10))  # the same seat

    assert not OutboxMessage.objects.exists()
    assert Booking.objects.count() == 1


@pytest.mark.postgres  # SQLite has no INSERT inside WITH: sent one by one
def test_it_sends_nothing_when_a_together_block_raises():
    message = OutboxMessage(key="test:1", to="a@example.com", subject="Hi", body_text="x")

    with pytest.raises(ValueError, match="changed my mind"), rows.together():
        rows.insert_many_deferred(OutboxMessage, [message])
        raise ValueError("changed my mind")

    assert not OutboxMessage.objects.exists()


@pytest.mark.postgres  # SQLite has no INSERT inside WITH: sent one by one
def test_it_refuses_to_read_a_together_insert_before_the_block_ends():
    message = OutboxMessage(key="test:1", to="a@example.com", subject="Hi", body_text="x")

    with pytest.raises(RuntimeError, match="after its together"), rows.together():
        rows.insert_many_deferred(OutboxMessage, [message]).result()


NAME_OF = "(SELECT name FROM calendars_calendar WHERE id = %s)"


@pytest.mark.postgres  # SQLite has no INSERT inside WITH: sent one by one
def test_it_sends_a_read_with_the_inserts_of_a_together_block(django_assert_num_queries):
    calendar = CalendarFactory()
    message = OutboxMessage(key="test:1", to="a@example.com", subject="Hi", body_text="x")

    with django_assert_num_queries(1), rows.together():
        written = rows.insert_many_deferred(OutboxMessage, [message], returning=("key",))
        name = rows.read_deferred(NAME_OF, [calendar.pk])

    assert written.result() == [("test:1",)]
    assert name.result() == calendar.name


def test_it_reads_at_once_outside_a_together_block(django_assert_num_queries):
    calendar = CalendarFactory()

    with django_assert_num_queries(1):
        name = rows.read_deferred(NAME_OF, [calendar.pk])

    assert name.result() == calendar.name


@pytest.mark.postgres  # SQLite has no INSERT inside WITH: sent one by one
def test_it_sends_reads_alone_as_one_select(django_assert_num_queries):
    first, second = CalendarFactory(), CalendarFactory()

    with django_assert_num_queries(1) as captured, rows.together():
        names = [rows.read_deferred(NAME_OF, [first.pk]), rows.read_deferred(NAME_OF, [second.pk])]

    assert [name.result() for name in names] == [first.name, second.name]
    assert captured.captured_queries[0]["sql"].startswith("SELECT (SELECT name")


@pytest.fixture
def rider_source():
    answers: list = []
    asked = {"rider": True}

    def source() -> rows.Rider | None:
        if not asked["rider"]:
            return None
        return rows.Rider(sql="(SELECT %s::text)", params=["hello"], answer=answers.append)

    rows.add_rider(source)
    yield answers, asked
    rows.remove_rider(source)


@pytest.mark.postgres  # SQLite has no INSERT inside WITH: sent one by one
def test_it_adds_a_riders_read_to_a_together_statement(rider_source, django_assert_num_queries):
    answers, _ = rider_source
    message = OutboxMessage(key="test:1", to="a@example.com", subject="Hi", body_text="x")

    with django_assert_num_queries(1), rows.together():
        written = rows.insert_many_deferred(OutboxMessage, [message])

    assert answers == ["hello"]
    assert written.result() == [(OutboxMessage.objects.get().pk,)]


@pytest.mark.postgres  # SQLite has no INSERT inside WITH: sent one by one
def test_it_leaves_out_a_rider_with_nothing_to_ask(rider_source, django_assert_num_queries):
    answers, asked = rider_source
    asked["rider"] = False
    message = OutboxMessage(key="test:1", to="a@example.com", subject="Hi", body_text="x")

    with django_assert_num_queries(1) as captured, rows.together():
        rows.insert_many_deferred(OutboxMessage, [message])

    assert answers == []
    assert "WITH" not in captured.captured_queries[0]["sql"]


def test_it_gives_riders_nothing_outside_a_together_block(rider_source, owner):
    answers, _ = rider_source

    rows.insert_one(Contact(owner=owner, email="jamie@example.com"))
    with rows.together():
        pass  # nothing inserted: no statement to ride on

    assert answers == []


def test_it_sends_an_insert_at_once_outside_a_together_block(django_assert_num_queries):
    message = OutboxMessage(key="test:1", to="a@example.com", subject="Hi", body_text="x")

    with django_assert_num_queries(1):
        written = rows.insert_many_deferred(OutboxMessage, [message])

    assert OutboxMessage.objects.exists()  # before result() is asked for
    assert written.result() == [(OutboxMessage.objects.get().pk,)]


def test_it_loads_a_row_with_its_related_rows_as_select_related_does():
    calendar = CalendarFactory()

    found = rows.fetch_one(Calendar, related=["owner"], where="t0.id = %s", params=[calendar.pk])

    expected = Calendar.objects.select_related("owner").get(pk=calendar.pk)
    assert found == expected
    assert found.name == expected.name
    assert found.owner.username == expected.owner.username
    assert found._state.adding is False


def test_it_finds_no_row():
    assert rows.fetch_one(Calendar, where="t0.id = %s", params=[0]) is None


@pytest.mark.parametrize("model", [Booking, Contact, OutboxMessage])
def test_no_receiver_listens_to_saves_of_the_models_it_inserts(model):
    # insert_one does not send pre_save/post_save: a receiver added for these models
    # would silently miss the bookings, contacts and emails made on the hot path.
    assert not pre_save.has_listeners(model)
    assert not post_save.has_listeners(model)
