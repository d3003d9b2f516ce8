"""Encrypt connected calendars' stored addresses and passwords again under the current
SECRET_KEY: run it after a rotation, then drop the old key from SECRET_KEY_FALLBACKS."""

from django.core.management.base import BaseCommand, CommandError

from calendars.connections import connection_secrets_reencrypt


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options) -> None:
        rewritten, unreadable = connection_secrets_reencrypt()
        self.stdout.write(f"Encrypted {rewritten} connection rows again under SECRET_KEY.")
        if unreadable:
            raise CommandError(
                f"No key in SECRET_KEY or SECRET_KEY_FALLBACKS opens {', '.join(unreadable)}: "
                "left as they are. Remove those connections and add them again."
            )
