"""config/ownership.py and config.admin.OwnedAdminMixin: the one ownership rule."""

import pytest
from django.contrib import admin
from django.contrib.admin.sites import AdminSite
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from bookings.models import Booking, OneTimeLink
from calendars.models import Calendar
from config.admin import OwnedAdminMixin
from config.ownership import is_visible_to, owner_id_of, user_sees_owner
from contacts.models import Contact
from tests.bookings.factories import OneTimeLinkFactory
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.contacts.factories import ContactFactory
from tests.workflows.factories import EnrollmentFactory
from workflows.models import Enrollment, Workflow

pytestmark = pytest.mark.django_db


def test_it_shows_a_staff_user_only_their_own_rows():
    staff = UserFactory()
    mine, _theirs = CalendarFactory(owner=staff), CalendarFactory()

    assert list(Calendar.objects.visible_to(staff)) == [mine]


def test_it_follows_the_owner_lookup_of_each_model():
    link = OneTimeLinkFactory()
    enrollment = EnrollmentFactory()
    OneTimeLinkFactory()
    EnrollmentFactory()

    assert list(OneTimeLink.objects.visible_to(link.calendar.owner)) == [link]
    assert list(Enrollment.objects.visible_to(enrollment.workflow.created_by)) == [enrollment]
    assert owner_id_of(link) == link.calendar.owner_id
    assert owner_id_of(enrollment) == enrollment.workflow.created_by_id


def test_it_shows_an_active_superuser_everything():
    CalendarFactory(), CalendarFactory()

    assert Calendar.objects.visible_to(UserFactory(is_superuser=True)).count() == 2
    assert Calendar.objects.visible_to(UserFactory(is_superuser=True, is_active=False)).count() == 0


@pytest.mark.parametrize("user_kwargs", [None, {"is_active": False}])
def test_it_shows_anonymous_and_inactive_users_nothing(user_kwargs):
    calendar = CalendarFactory()
    user = AnonymousUser() if user_kwargs is None else calendar.owner
    if user_kwargs:
        user.is_active = False
        user.save()

    assert not Calendar.objects.visible_to(user).exists()
    assert not is_visible_to(calendar, user)


def test_it_gives_a_row_without_owner_to_superusers_only():
    workflow = Workflow.objects.create(name="Orphan", created_by=None)

    assert not Workflow.objects.visible_to(UserFactory()).exists()
    assert not user_sees_owner(UserFactory(), None)
    assert list(Workflow.objects.visible_to(UserFactory(is_superuser=True))) == [workflow]


def test_it_finds_the_rows_whose_owner_sees_an_owners_object():
    owner = UserFactory()
    mine = Workflow.objects.create(name="Mine", created_by=owner)
    Workflow.objects.create(name="Theirs", created_by=UserFactory())
    superusers = Workflow.objects.create(name="Admin", created_by=UserFactory(is_superuser=True))
    orphan = Workflow.objects.create(name="Orphan", created_by=None)

    found = set(Workflow.objects.owned_by_one_who_sees(owner.pk))

    assert found == {mine, superusers, orphan}


class BookingTestAdmin(OwnedAdminMixin, admin.ModelAdmin):
    pass


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def test_it_offers_only_the_users_own_objects_in_foreign_keys():
    staff = UserFactory()
    mine = CalendarFactory(owner=staff)
    CalendarFactory()
    my_contact = ContactFactory(owner=staff)
    ContactFactory()
    model_admin = BookingTestAdmin(Booking, AdminSite())

    calendar_field = model_admin.formfield_for_foreignkey(
        Booking._meta.get_field("calendar"), _request(staff)
    )
    contact_field = model_admin.formfield_for_foreignkey(
        Booking._meta.get_field("contact"), _request(staff)
    )

    assert list(calendar_field.queryset) == [mine]
    assert list(contact_field.queryset) == [my_contact]


def test_it_gives_staff_the_permissions_for_their_own_objects_only():
    staff = UserFactory()
    model_admin = BookingTestAdmin(Contact, AdminSite())
    mine, theirs = ContactFactory(owner=staff), ContactFactory()
    request = _request(staff)

    assert model_admin.has_module_permission(request)
    assert model_admin.has_add_permission(request)
    for check in ("view", "change", "delete"):
        has = getattr(model_admin, f"has_{check}_permission")
        assert has(request, mine) and not has(request, theirs)
    assert list(model_admin.get_queryset(request)) == [mine]


def test_it_gives_non_staff_no_permission():
    user = UserFactory(is_staff=False)
    model_admin = BookingTestAdmin(Contact, AdminSite())
    contact = ContactFactory(owner=user)
    request = _request(user)

    assert not model_admin.has_module_permission(request)
    assert not model_admin.has_view_permission(request, contact)
