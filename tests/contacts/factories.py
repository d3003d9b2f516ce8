import factory

from contacts.models import Contact, Tag
from tests.calendars.factories import UserFactory


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    name = factory.Sequence(lambda n: f"tag-{n}")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    owner = factory.SubFactory(UserFactory)
    first_name = "Jamie"
    origin = Contact.Origin.ADMIN
    last_name = factory.Sequence(lambda n: f"Invitee{n}")
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
