"""Seed a demo: a staff user and one calendar with weekday hours. Safe to run again."""

import secrets
from datetime import time, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.services import api_token_create
from calendars.models import Calendar, WeeklyInterval
from config.mail import mail_dir


def demo_password() -> str:
    """The demo user's password, made once and kept in var/demo-password (owner-only)."""
    path = Path(settings.VAR_DIR) / "demo-password"
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password


class Command(BaseCommand):
    help = "Create (or refresh) the demo staff user and demo calendar."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        user, _ = User.objects.get_or_create(
            username="demo", defaults={"email": "demo@example.com", "first_name": "Demo"}
        )
        # Only a hash is stored in the database, so the demo password is kept in var/ to be
        # printed on every run. It is set again only when it does not match: a new hash
        # would change the session's auth hash and sign the demo user out of open browsers.
        password = demo_password()
        if not user.check_password(password):
            user.set_password(password)
        user.is_staff = user.is_superuser = True
        user.save()
        # Likewise the API token: only its digest is stored, so each run makes a new one.
        _token, key = api_token_create(user=user, name="demo", replace=True)

        calendar, created = Calendar.objects.get_or_create(
            slug="intro-call",
            defaults={
                "owner": user,
                "name": "Intro call",
                "timezone": settings.TIME_ZONE,
                "description": "A 30-minute introduction.",
                "duration_minutes": 30,
                "buffer_after_minutes": 10,
                "min_notice_minutes": 60,
                "booking_window_days": 60,
            },
        )
        if created:
            for weekday in range(5):
                WeeklyInterval.objects.create(
                    calendar=calendar, weekday=weekday, start=time(9), end=time(12)
                )
                WeeklyInterval.objects.create(
                    calendar=calendar, weekday=weekday, start=time(13), end=time(17)
                )
        site = settings.SITE_URL
        self.stdout.write(self.style.SUCCESS("Demo ready."))
        self.stdout.write(f"  Admin:        {site}/admin/  user 'demo', password '{password}'")
        self.stdout.write(f"  API token:    {key}")
        self.stdout.write(f"  Booking page: {site}{calendar.scheduling_path()}")
        if settings.EMAIL_BACKEND == "config.mail.ConsoleBackend":
            self.stdout.write(f"  Emails:       printed here, and kept in {mail_dir()}/")
        today = timezone.localdate()
        self.stdout.write(
            f"  Slots API:    {site}/api/public/calendars/{calendar.slug}/slots/"
            f"?start={today}&end={today + timedelta(days=6)}"
        )
