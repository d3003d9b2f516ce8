import pytest
from django.core.exceptions import ValidationError

from contacts.models import Contact
from contacts.services import contact_create, contact_get_by_email, contact_upsert
from contacts.signals import contact_created
from tests.calendars.factories import UserFactory
from tests.concurrency import run_together
from tests.contacts.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def created():
    received = []

    def receiver(sender, contact_id, **kwargs):
        received.append(contact_id)

    contact_created.connect(receiver)
    yield received
    contact_created.disconnect(receiver)


def test_it_creates_a_new_contact_and_tells_the_receivers(
    created, django_capture_on_commit_callbacks, owner
):
    with django_capture_on_commit_callbacks(execute=True):
        contact, was_created = contact_upsert(
            owner=owner, origin="api", email="Jamie@Example.COM", first_name="Jamie"
        )

    assert was_created is True
    contact.refresh_from_db()
    assert (contact.email, contact.first_name, contact.owner) == (
        "Jamie@example.com",
        "Jamie",
        owner,
    )
    assert created == [contact.pk]


def test_it_returns_the_contact_with_the_same_email_in_any_case(
    created, django_capture_on_commit_callbacks, owner
):
    existing = ContactFactory(owner=owner, email="jamie@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        contact, was_created = contact_upsert(
            owner=owner, origin="api", email="JAMIE@example.com", first_name="Other"
        )

    assert was_created is False
    assert contact.pk == existing.pk
    assert Contact.objects.count() == 1
    assert created == []


def test_it_fills_blank_fields_but_never_overwrites_known_ones(owner):
    existing = ContactFactory(owner=owner, email="jamie@example.com", first_name="Jamie", phone="")

    contact_upsert(
        owner=owner,
        origin="api",
        email="jamie@example.com",
        first_name="James",
        phone="+1 555 0100",
    )

    existing.refresh_from_db()
    assert (existing.first_name, existing.phone) == ("Jamie", "+1 555 0100")


def test_it_refuses_a_bad_email_with_a_field_error(owner):
    with pytest.raises(ValidationError) as caught:
        contact_upsert(owner=owner, origin="api", email="not-an-email")

    assert "email" in caught.value.message_dict
    assert not Contact.objects.exists()


def test_it_upserts_a_new_contact_in_a_few_queries(django_assert_max_num_queries, owner):
    with django_assert_max_num_queries(4):  # look up, then INSERT in a savepoint
        contact_upsert(owner=owner, origin="api", email="new@example.com", first_name="New")

    assert Contact.objects.filter(email="new@example.com").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_makes_one_contact_when_upserts_of_one_email_race():
    owner = UserFactory()

    def upsert(index: int):
        return contact_upsert(
            owner=owner,
            origin="api",
            email=f"{'RACE' if index % 2 else 'race'}@example.com",
            first_name=f"R{index}",
        )

    results = run_together(upsert, 20)

    assert not [r for r in results if isinstance(r, Exception)]
    assert Contact.objects.count() == 1
    assert sum(1 for _, was_created in results if was_created) == 1
    assert {contact.pk for contact, _ in results} == {Contact.objects.get().pk}


def test_it_finds_a_returning_contact_in_one_query(django_assert_num_queries, owner):
    existing = ContactFactory(owner=owner, email="jamie@example.com", first_name="Jamie")

    with django_assert_num_queries(1):  # nothing to fill in: no write
        contact, was_created = contact_upsert(
            owner=owner, origin="api", email="Jamie@EXAMPLE.com", first_name="Jamie"
        )

    assert (contact.pk, was_created) == (existing.pk, False)
    assert contact.first_name == "Jamie"


def test_it_keeps_one_contact_per_owner_for_the_same_email(owner):
    theirs = ContactFactory(email="jamie@example.com")

    contact, was_created = contact_upsert(owner=owner, origin="api", email="JAMIE@example.com")

    assert was_created is True
    assert contact.pk != theirs.pk
    assert contact.owner == owner
    theirs.refresh_from_db()
    assert theirs.owner != owner


def test_it_never_fills_in_another_owners_contact(owner):
    theirs = ContactFactory(email="jamie@example.com", phone="")

    contact_upsert(owner=owner, origin="api", email="jamie@example.com", phone="+1 555 0100")

    theirs.refresh_from_db()
    assert theirs.phone == ""


def test_it_refuses_a_second_contact_with_the_same_email_for_one_owner(owner):
    ContactFactory(owner=owner, email="jamie@example.com")

    with pytest.raises(ValidationError):
        contact_create(owner=owner, origin="api", email="Jamie@EXAMPLE.com")

    assert Contact.objects.filter(owner=owner).count() == 1


def test_it_finds_a_contact_by_email_only_among_the_owners(owner):
    ContactFactory(email="jamie@example.com")
    mine = ContactFactory(owner=owner, email="other@example.com")

    assert contact_get_by_email(owner=owner, email="jamie@example.com") is None
    assert contact_get_by_email(owner=owner, email="OTHER@example.com") == mine
