from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from config.ownership import OwnedQuerySet
from config.text import validate_single_line


class Tag(models.Model):
    name = models.CharField(max_length=64, validators=[validate_single_line])

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_unique_ci")]

    def __str__(self) -> str:
        return self.name


class ContactQuerySet(OwnedQuerySet):
    owner_path = "owner"


class Contact(models.Model):
    class Origin(models.TextChoices):
        """How the contact first came in; `contact_created` workflows filter on it."""

        BOOKING = "booking", "Booking"
        API = "api", "API"
        ADMIN = "admin", "Admin"
        WEBHOOK = "webhook", "Inbound webhook"
        IMPORT = "import", "Import"
        COMMAND = "command", "Command line"

    # The staff user whose invitee or lead this is: a booking files its invitee under the
    # calendar's owner, and each owner sees, edits and automates only their own contacts.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="contacts"
    )
    first_name = models.CharField(max_length=100, blank=True, validators=[validate_single_line])
    last_name = models.CharField(max_length=100, blank=True, validators=[validate_single_line])
    email = models.EmailField(max_length=254, validators=[validate_single_line])
    phone = models.CharField(max_length=40, blank=True, validators=[validate_single_line])
    origin = models.CharField(max_length=16, choices=Origin.choices, editable=False)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Two owners may each have a contact with the same email; one owner has one.
            models.UniqueConstraint(
                "owner", Lower("email"), name="contact_email_unique_per_owner_ci"
            )
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()
