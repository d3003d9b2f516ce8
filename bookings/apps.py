from django.apps import AppConfig


class BookingsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bookings"

    def ready(self) -> None:
        # Both connect receivers: the calendar write-back and the answers' versions.
        from bookings import calendar_sync, slot_versions  # noqa: F401
