import pytest
from django.core.exceptions import ValidationError

from contacts.models import Contact
from contacts.services import contact_upsert
from contacts.signals import contact_created
from tests.concurrency import run_together
from tests.contacts.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def created():
    received = []

    def receiver(sender, contact_id, **kwargs):
        received.append(contact_id)

    contact_created.connect(receiver)
    yield received
    contact_created.disconnect(receiver)


def test_it_creates_a_new_contact_and_tells_the_receivers(
    created, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        contact, was_created = contact_upsert(
            origin="api", email="Jamie@Example.COM", first_name="Jamie"
        )

    assert was_created is True
    contact.refresh_from_db()
    assert (contact.email, contact.first_name) == ("Jamie@example.com", "Jamie")
    assert created == [contact.pk]


def test_it_returns_the_contact_with_the_same_email_in_any_case(
    created, django_capture_on_commit_callbacks
):
    existing = ContactFactory(email="jamie@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        contact, was_created = contact_upsert(
            origin="api", email="JAMIE@example.com", first_name="Other"
        )

    assert was_created is False
    assert contact.pk == existing.pk
    assert Contact.objects.count() == 1
    assert created == []


def test_it_fills_blank_fields_but_never_overwrites_known_ones():
    existing = ContactFactory(email="jamie@example.com", first_name="Jamie", phone="")

    contact_upsert(origin="api", email="jamie@example.com", first_name="James", phone="+1 555 0100")

    existing.refresh_from_db()
    assert (existing.first_name, existing.phone) == ("Jamie", "+1 555 0100")


def test_it_refuses_a_bad_email_with_a_field_error():
    with pytest.raises(ValidationError) as caught:
        contact_upsert(origin="api", email="not-an-email")

    assert "email" in caught.value.message_dict
    assert not Contact.objects.exists()


def test_it_upserts_a_new_contact_in_one_query(django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        contact_upsert(origin="api", email="new@example.com", first_name="New")

    assert Contact.objects.filter(email="new@example.com").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_makes_one_contact_when_upserts_of_one_email_race():
    def upsert(index: int):
        return contact_upsert(
            origin="api",
            email=f"{'RACE' if index % 2 else 'race'}@example.com",
            first_name=f"R{index}",
        )

    results = run_together(upsert, 20)

    assert not [r for r in results if isinstance(r, Exception)]
    assert Contact.objects.count() == 1
    assert sum(1 for _, was_created in results if was_created) == 1
    assert {contact.pk for contact, _ in results} == {Contact.objects.get().pk}


def test_it_finds_a_returning_contact_in_two_queries(django_assert_num_queries):
    existing = ContactFactory(email="jamie@example.com", first_name="Jamie", last_name="R")

    with django_assert_num_queries(2):
        contact, was_created = contact_upsert(
            origin="api", email="Jamie@EXAMPLE.com", first_name="Jamie"
        )

    assert (contact.pk, was_created) == (existing.pk, False)
    assert contact.first_name == "Jamie"
