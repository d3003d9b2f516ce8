from django.db import migrations, models


def guess_origin(apps, schema_editor):
    # Contacts made before origins were recorded: one who has booked most likely came in
    # by booking; the rest were added by staff (admin or API) as far as anyone can tell.
    Contact = apps.get_model("contacts", "Contact")
    Booking = apps.get_model("bookings", "Booking")
    booked = Booking.objects.filter(contact__isnull=False).values("contact_id")
    Contact.objects.filter(pk__in=booked).update(origin="booking")


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0005_single_line_fields"),
        ("bookings", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="origin",
            field=models.CharField(
                choices=[
                    ("booking", "Booking"),
                    ("api", "API"),
                    ("admin", "Admin"),
                    ("webhook", "Inbound webhook"),
                    ("import", "Import"),
                    ("command", "Command line"),
                ],
                default="admin",
                editable=False,
                max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(guess_origin, migrations.RunPython.noop),
    ]
