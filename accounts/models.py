"""Staff API tokens, stored as digests only (see accounts/services.py)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.text import validate_single_line


class APIToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True, validators=[validate_single_line])
    # The key's first characters: they find the row and tell tokens apart in the admin, and
    # are useless without the rest of the key.
    prefix = models.CharField(max_length=8, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: valid until revoked."
    )

    class Meta:
        verbose_name = "API token"
        indexes = [models.Index(fields=["prefix"], name="accounts_apitoken_prefix")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or self.user})"

    def is_expired(self, *, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())
