"""Move the link <-> booking relation from OneTimeLink.booking to Booking.one_time_link.

Consuming a link then writes only its used_at (an unindexed column, so PostgreSQL updates the
row in place) and the booking's INSERT carries the reference. Existing pairs are copied over
before the old column goes; the reverse migration copies them back.
"""

import django.db.models.deletion
from django.db import migrations, models


def forwards(apps, schema_editor):
    OneTimeLink = apps.get_model("bookings", "OneTimeLink")
    Booking = apps.get_model("bookings", "Booking")
    pairs = OneTimeLink.objects.filter(booking__isnull=False).values_list("pk", "booking_id")
    for link_id, booking_id in pairs.iterator():
        Booking.objects.filter(pk=booking_id).update(one_time_link_id=link_id)


def backwards(apps, schema_editor):
    OneTimeLink = apps.get_model("bookings", "OneTimeLink")
    Booking = apps.get_model("bookings", "Booking")
    pairs = Booking.objects.filter(one_time_link__isnull=False).values_list(
        "pk", "one_time_link_id"
    )
    for booking_id, link_id in pairs.iterator():
        OneTimeLink.objects.filter(pk=link_id).update(booking_id=booking_id)


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0001_initial"),
    ]

    operations = [
        # No reverse accessor yet: the old OneTimeLink.booking still holds the name.
        migrations.AddField(
            model_name="booking",
            name="one_time_link",
            field=models.OneToOneField(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="bookings.onetimelink",
            ),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField(
            model_name="onetimelink",
            name="booking",
        ),
        migrations.AlterField(
            model_name="booking",
            name="one_time_link",
            field=models.OneToOneField(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="booking",
                to="bookings.onetimelink",
            ),
        ),
    ]
