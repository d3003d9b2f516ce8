"""`manage.py drf_create_token <user>`: DRF's command, for our digest-only tokens.

Prints `Generated token <key> for user <user>` once, as DRF's did (scripts read it); the key
cannot be shown again. Each run makes a new token; --reset revokes the user's others.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.services import api_token_create


class Command(BaseCommand):
    help = "Create a staff API token for a user and print its key (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username", type=str)
        parser.add_argument(
            "-r",
            "--reset",
            action="store_true",
            dest="reset_token",
            help="Revoke the user's existing tokens first.",
        )
        parser.add_argument("--name", default="", help="A label shown in the admin.")
        parser.add_argument(
            "--expires-in-days", type=int, default=None, help="Expire after this many days."
        )

    def handle(self, *args, **options):
        username = options["username"]
        User = get_user_model()
        try:
            user = User._default_manager.get_by_natural_key(username)
        except User.DoesNotExist as exc:
            raise CommandError(f"Cannot create the Token: user {username} does not exist") from exc
        days = options["expires_in_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-in-days must be 1 or more.")
        _token, key = api_token_create(
            user=user,
            name=options["name"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
            replace=options["reset_token"],
        )
        self.stdout.write(f"Generated token {key} for user {username}")
