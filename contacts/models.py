from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class Tag(models.Model):
    name = models.CharField(max_length=64)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_unique_ci")]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    class Origin(models.TextChoices):
        """How the contact first came in; `contact_created` workflows filter on it."""

        BOOKING = "booking", "Booking"
        API = "api", "API"
        ADMIN = "admin", "Admin"
        WEBHOOK = "webhook", "Inbound webhook"
        IMPORT = "import", "Import"
        COMMAND = "command", "Command line"

    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(max_length=254)
    phone = models.CharField(max_length=40, blank=True)
    origin = models.CharField(max_length=16, choices=Origin.choices, editable=False)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(Lower("email"), name="contact_email_unique_ci")]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()
