"""Contacts admin: saved through the services (triggers fire), search, tag filter, email
uniqueness, and the "Add to workflow" action."""

import pytest

from contacts.models import Contact, Tag
from contacts.services import contact_tag_add
from tests.calendars.factories import UserFactory
from tests.contacts.factories import ContactFactory
from tests.workflows.conftest import enqueued  # noqa: F401 (a fixture shared with workflows)
from tests.workflows.support import make_workflow
from workflows.models import Enrollment

pytestmark = pytest.mark.django_db

LIST = "/admin/contacts/contact/"


@pytest.fixture
def staff(client):
    user = UserFactory()
    client.force_login(user)
    return user


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks, enqueued):  # noqa: F811
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_it_creates_a_contact_that_enters_contact_created_workflows(client, staff, after_commit):
    workflow = make_workflow(user=staff, trigger={"type": "contact_created", "config": {}})
    tag = Tag.objects.create(name="lead")
    with after_commit():
        response = client.post(
            f"{LIST}add/",
            {
                "first_name": "Ada",
                "last_name": "L",
                "email": "ada@EXAMPLE.com",
                "phone": "",
                "tags": [tag.pk],
            },
        )

    assert response.status_code == 302
    contact = Contact.objects.get()
    assert contact.email == "ada@example.com"
    assert list(contact.tags.all()) == [tag]
    assert Enrollment.objects.get().workflow == workflow


def test_it_fires_tag_triggers_for_tags_added_in_the_admin(client, staff, after_commit):
    make_workflow(user=staff, trigger={"type": "contact_tag_added", "config": {"tag": "vip"}})
    contact = ContactFactory(owner=staff)
    vip = Tag.objects.create(name="vip")
    with after_commit():
        response = client.post(
            f"{LIST}{contact.pk}/change/",
            {
                "first_name": "New",
                "last_name": contact.last_name,
                "email": contact.email,
                "phone": "",
                "tags": [vip.pk],
            },
        )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.first_name == "New"
    assert Enrollment.objects.get().trigger_data == {"tag": "vip"}


def test_it_refuses_an_email_differing_only_in_case_with_a_field_error(client, staff):
    ContactFactory(owner=staff, email="ada@example.com")
    response = client.post(f"{LIST}add/", {"email": "ADA@example.com"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == [
        "A contact with this email already exists."
    ]


def test_it_searches_and_filters_by_tag(client, staff):
    ada = ContactFactory(owner=staff, first_name="Ada", email="ada@example.com")
    bob = ContactFactory(owner=staff, first_name="Bob", email="bob@example.com")
    contact_tag_add(contact=bob, name="vip")

    found = client.get(LIST, {"q": "ada"}).context["cl"].result_list
    assert list(found) == [ada]
    tag = Tag.objects.get(name="vip")
    found = client.get(LIST, {"tags__id__exact": tag.pk}).context["cl"].result_list
    assert list(found) == [bob]


def test_it_asks_which_workflow_before_adding_contacts(client, staff):
    workflow = make_workflow(user=staff, name="Onboarding")
    make_workflow(user=staff, name="Automatic", trigger={"type": "contact_created", "config": {}})
    make_workflow(user=UserFactory(), name="Someone else's")
    contact = ContactFactory(owner=staff)

    response = client.post(LIST, {"action": "add_to_workflow", "_selected_action": [contact.pk]})

    assert response.status_code == 200
    choices = list(response.context["form"].fields["workflow"].queryset)
    assert choices == [workflow]
    assert Enrollment.objects.count() == 0


def test_it_adds_the_selected_contacts_to_the_chosen_workflow(client, staff):
    workflow = make_workflow(user=staff)
    contacts = [ContactFactory(owner=staff), ContactFactory(owner=staff)]
    already = Enrollment.objects.create(
        workflow=workflow, contact=contacts[0], trigger_type="manual", actions=[]
    )

    response = client.post(
        LIST,
        {
            "action": "add_to_workflow",
            "_selected_action": [c.pk for c in contacts],
            "workflow": workflow.pk,
            "apply": "1",
        },
        follow=True,
    )

    assert response.status_code == 200
    assert set(Enrollment.objects.exclude(pk=already.pk).values_list("contact", flat=True)) == {
        contacts[1].pk
    }
    content = response.content.decode()
    assert "1 contact(s) added" in content and "1 contact(s) skipped" in content


def test_it_refuses_a_workflow_that_is_not_offered(client, staff):
    foreign = make_workflow(user=UserFactory())
    contact = ContactFactory(owner=staff)
    response = client.post(
        LIST,
        {
            "action": "add_to_workflow",
            "_selected_action": [contact.pk],
            "workflow": foreign.pk,
            "apply": "1",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["workflow"]
    assert Enrollment.objects.count() == 0


def test_it_is_for_staff_only(client):
    client.force_login(UserFactory(is_staff=False))
    assert client.get(LIST).status_code == 302


def test_it_redirects_an_out_of_range_date_drill_down_like_a_bad_filter(client, staff):
    # A range ending in year 10000 was a 500 (OverflowError in Django's date hierarchy).
    query = "created_at__year=9999&created_at__month=12&created_at__day=31"

    response = client.get(f"{LIST}?{query}")

    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?e=1"


def test_it_lets_the_owner_delete_their_contact(client, staff):
    contact = ContactFactory(owner=staff)

    response = client.post(f"{LIST}{contact.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()


def test_it_lets_a_superuser_delete_a_contact(client):
    client.force_login(UserFactory(is_superuser=True))
    contact = ContactFactory()

    response = client.post(f"{LIST}{contact.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()


# Ownership: each staff user sees and changes only their own contacts.


def test_it_lists_only_the_users_own_contacts(client, staff):
    mine = ContactFactory(owner=staff)
    ContactFactory()

    found = client.get(LIST).context["cl"].result_list

    assert list(found) == [mine]


@pytest.mark.parametrize("page", ["change/", "delete/", "history/"])
def test_it_does_not_show_another_staff_users_contact(client, staff, page):
    theirs = ContactFactory()

    response = client.get(f"{LIST}{theirs.pk}/{page}")

    # The admin redirects to its index with "doesn't exist" for an object it cannot find.
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_it_does_not_change_another_staff_users_contact(client, staff):
    theirs = ContactFactory(first_name="Ada", email="ada@example.com")

    client.post(
        f"{LIST}{theirs.pk}/change/",
        {"first_name": "Mallory", "last_name": "", "email": "mallory@example.com", "phone": ""},
    )

    theirs.refresh_from_db()
    assert (theirs.first_name, theirs.email) == ("Ada", "ada@example.com")


def test_it_does_not_delete_another_staff_users_contact(client, staff):
    theirs = ContactFactory()

    client.post(f"{LIST}{theirs.pk}/delete/", {"post": "yes"})

    assert Contact.objects.filter(pk=theirs.pk).exists()


def test_it_files_a_new_contact_under_its_creator(client, staff):
    ContactFactory(email="ada@example.com")  # another owner's: no clash

    response = client.post(f"{LIST}add/", {"email": "ada@example.com"})

    assert response.status_code == 302
    assert Contact.objects.get(owner=staff).email == "ada@example.com"


def test_it_does_not_add_another_staff_users_contact_to_a_workflow(client, staff):
    workflow = make_workflow(user=staff)
    theirs = ContactFactory()

    client.post(
        LIST,
        {
            "action": "add_to_workflow",
            "_selected_action": [theirs.pk],
            "workflow": workflow.pk,
            "apply": "1",
        },
    )

    assert Enrollment.objects.count() == 0


def test_it_lets_a_superuser_file_a_contact_under_another_owner(client):
    client.force_login(UserFactory(is_superuser=True))
    owner = UserFactory()
    ContactFactory(owner=owner, email="ada@example.com")

    refused = client.post(f"{LIST}add/", {"owner": owner.pk, "email": "ADA@example.com"})
    response = client.post(f"{LIST}add/", {"owner": owner.pk, "email": "grace@example.com"})

    assert refused.context["adminform"].form.errors["email"] == [
        "A contact with this email already exists."
    ]
    assert response.status_code == 302
    assert Contact.objects.get(email="grace@example.com").owner == owner


def test_it_lets_a_superuser_hand_a_contact_to_another_owner(client):
    client.force_login(UserFactory(is_superuser=True))
    contact = ContactFactory(email="ada@example.com")
    owner = UserFactory()

    response = client.post(
        f"{LIST}{contact.pk}/change/",
        {"owner": owner.pk, "first_name": "", "last_name": "", "email": contact.email, "phone": ""},
    )

    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.owner == owner


def test_it_ignores_an_owner_posted_by_staff(client, staff):
    contact = ContactFactory(owner=staff, email="ada@example.com")

    response = client.post(
        f"{LIST}{contact.pk}/change/",
        {"owner": UserFactory().pk, "first_name": "", "last_name": "", "email": "ada@example.com"},
    )

    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.owner == staff
