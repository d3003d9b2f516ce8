"""Any change to a calendar's hours gives the calendar a new rules_version, so the rules
cached under the old one are never served after a change (bulk writes in
calendars.services save the calendar itself in the same transaction).

And the calendars app's own event for the apps above it (sent after commit, ids only):
`write_calendar_changed`, when an owner picks a new calendar to write bookings to."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal, receiver

from calendars.models import Calendar, DateOverride, WeeklyInterval, new_rules_version

# kwargs: owner_id: int (their write calendar is now another one, not none)
write_calendar_changed = Signal()


@receiver(post_save, sender=WeeklyInterval)
@receiver(post_delete, sender=WeeklyInterval)
@receiver(post_save, sender=DateOverride)
@receiver(post_delete, sender=DateOverride)
def hours_changed(sender, instance, **kwargs) -> None:
    Calendar.objects.filter(pk=instance.calendar_id).update(rules_version=new_rules_version())
